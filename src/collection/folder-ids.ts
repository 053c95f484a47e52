/**
 * The ids under each folder, in memory, kept current from the catalogue's path changes
 * (`pathChangesSince`) instead of asking SQL per folder: the first search in a folder then
 * costs a Set copy (≈ 0.01 ms for 1,000 images) rather than an index range read (≈ 0.1 ms),
 * which is what kept that search above 0.1× an unfiltered one (BENCHMARKS.md, filtered search).
 *
 * Read once (every searchable path, ≈ 0.4 s per 100,000 images, on the first folder search),
 * then only the changes of each new generation: rows are never renamed in place (a move is a new
 * id), so a change is an id added under its path or an id removed. The first read goes in pages
 * of FIRST_READ_PAGE paths with the event loop free between them where the store reads pages
 * (SQLite), so a server answers other requests meanwhile instead of stalling for the whole read.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CatalogStore, PathChanges } from '../catalog/types.js';

/** Collections above this many searchable images resolve folders by SQL (the index would hold ~100 bytes per image per folder level). */
export const FOLDER_IDS_MAX_IMAGES = 1 << 21;

/** Paths per page of the first read (≈ 2–5 ms of SQL and Set work each at 100,000 images; 2,000 measured stalls of 10–24 ms). */
export const FIRST_READ_PAGE = 500;

type Store = Pick<CatalogStore, 'pathChangesSince' | 'okCount'> & Partial<Pick<CatalogStore, 'pathsPage' | 'generation'>>;

export class FolderIds {
  private generation = -1;
  private readonly members = new Map<string, Set<number>>();
  private readonly paths = new Map<number, string>();
  /** Sorted ids per folder list, until the next change. */
  private readonly sorted = new Map<string, Int32Array>();
  /** The first read in pages, shared by the searches that arrive while it runs. */
  private firstRead: Promise<void> | undefined;

  /**
   * The ids under any of `folders` at generation `generation` or later (the caller's read, with
   * the index it searches), ascending; undefined when the store cannot list path changes or the
   * collection is too large to hold. The array is shared: callers must not write to it.
   */
  async resolve(store: Store, folders: readonly string[], generation: number): Promise<Int32Array | undefined> {
    if (!store.pathChangesSince) return undefined;
    if (generation > this.generation) {
      if (this.generation < 0) {
        if ((await store.okCount()) > FOLDER_IDS_MAX_IMAGES) return undefined;
        this.firstRead ??= this.readPages(store);
        await this.firstRead;
      }
      this.apply(await store.pathChangesSince(this.generation));
    }
    const key = folders.length === 1 ? folders[0]! : [...folders].sort().join('\0');
    let ids = this.sorted.get(key);
    if (!ids) {
      ids = this.collect(folders);
      this.sorted.set(key, ids);
    }
    return ids;
  }

  /**
   * The paths of `ids` when the index holds the catalogue's generation `generation` exactly
   * (the paths of the ids an index of that generation returns): a filtered search maps its top
   * k to paths here rather than by a catalogue read (negative ids, no result, are skipped).
   * Undefined when it does not, or when an id is not searchable at that generation.
   */
  pathsAt(ids: ArrayLike<number>, generation: number): Map<number, string> | undefined {
    if (generation !== this.generation) return undefined;
    const out = new Map<number, string>();
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      if (id < 0) continue;
      const path = this.paths.get(id);
      if (path === undefined) return undefined;
      out.set(id, path);
    }
    return out;
  }

  /**
   * Every path of the catalogue's generation now, page by page with the event loop free between
   * pages; the changes made meanwhile come with the pathChangesSince that follows. A store
   * without pages is read whole by that call instead.
   */
  private async readPages(store: Store): Promise<void> {
    if (!store.pathsPage || !store.generation) return;
    try {
      const generation = await store.generation();
      for (let after = -1; ; ) {
        const page = await store.pathsPage(generation, after, FIRST_READ_PAGE);
        this.add(page);
        if (page.length < FIRST_READ_PAGE) break;
        after = page[page.length - 1]![0];
        await yieldToLoop();
      }
      this.generation = generation;
    } catch (err) {
      // the next search starts over
      this.members.clear();
      this.paths.clear();
      this.firstRead = undefined;
      throw err;
    }
  }

  private apply(delta: PathChanges): void {
    // a delta read before one already applied (two searches following the same write) is older news
    if (delta.generation <= this.generation) return;
    for (const id of delta.removed) {
      const path = this.paths.get(id);
      if (path === undefined) continue;
      this.paths.delete(id);
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) this.members.get(path.slice(0, i))?.delete(id);
    }
    this.add(delta.added);
    this.generation = delta.generation;
    if (delta.removed.length || delta.added.length) this.sorted.clear();
  }

  private add(added: readonly [number, string][]): void {
    for (const [id, path] of added) {
      this.paths.set(id, path);
      // the folders the path is under ('a/b/c.png': 'a', 'a/b'), as a filter names them
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
        const f = path.slice(0, i);
        const s = this.members.get(f);
        if (s) s.add(id);
        else this.members.set(f, new Set([id]));
      }
    }
  }

  private collect(folders: readonly string[]): Int32Array {
    let n = 0;
    for (const f of folders) n += this.members.get(f)?.size ?? 0;
    const out = new Int32Array(n);
    let m = 0;
    let increasing = true;
    for (const f of folders)
      for (const id of this.members.get(f) ?? []) {
        if (m > 0 && id <= out[m - 1]!) increasing = false;
        out[m++] = id;
      }
    // a folder's Set holds its ids in the order they came: by id, unless ids were reused
    if (!increasing) out.sort();
    // nested folders (a and a/b) list an id twice
    let w = 0;
    for (let i = 0; i < n; i++) if (i === 0 || out[i] !== out[w - 1]) out[w++] = out[i]!;
    return w === n ? out : out.slice(0, w);
  }
}
