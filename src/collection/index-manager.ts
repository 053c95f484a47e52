/**
 * The per-kind engine index files: derived caches of the vectors in the catalogue.
 *
 * Files, per feature kind K (in the collection folder):
 * - `K.index`        the primary index (flat or IVF, chosen by `collection.json` `index`),
 * - `K.ivf.index`    an IVF built on demand when a flat collection is asked for an IVF search
 *                    (method 'ivf', `nitamono eval`); never built otherwise,
 * - `<file>.json`    a sidecar: the catalogue generation the file reflects, its kind, nlist and
 *                    the number of vectors the IVF was trained on.
 *
 * Staleness: sidecar generation < catalogue generation → the removals and additions made since
 * are applied (cheap, no retraining) and the file is saved again. A missing, unreadable or
 * mismatching file is rebuilt from the catalogue. The index file is written before its sidecar
 * (both atomically), and applying a delta is idempotent, so a crash between the two writes only
 * makes the next open re-apply changes that are already in. An IVF is retrained (a full rebuild)
 * when the collection has grown or shrunk by more than 2× since training, or (primary, `auto`)
 * when it crosses AUTO_FLAT_MAX so flat ↔ IVF switches.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogStore, FeatureSpace } from '../catalog/types.js';
import { writeFileAtomic } from '../persist/atomic.js';
import { FlatIndex } from '../search/flat.js';
import { IVFIndex } from '../search/ivf.js';
import { loadIndex } from '../search/load.js';
import type { VectorIndex } from '../search/types.js';
import { AUTO_FLAT_MAX, type CollectionConfig, type FeatureKind } from './config.js';
import { type Progress, silentProgress } from './progress.js';

/** Any registered index kind; the collection asks it (`kind`, `describe()`, `queryCost()`), never tests its class. */
export type EngineIndex = VectorIndex;
export type SlotRole = 'primary' | 'ivf';

export interface Sidecar {
  format: 'nitamono-index-sidecar';
  version: 1;
  feature: FeatureKind;
  generation: number;
  index: 'flat' | 'ivf';
  nlist: number | null;
  trained_n: number | null;
  size: number;
  dim: number;
  saved_at: string;
}

/** Metric of every collection index: squared L2 ("distance", smaller = closer), as in the seed. */
export const COLLECTION_METRIC = 'l2' as const;
const TRAIN_SEED = 42;

/** The seed's K ≈ √N, which minimises D·(K + N/K). */
export function autoNlist(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(Math.max(1, n))));
}

// Indexes being searched right now, so a rebuild never frees one under an in-flight search.
const inUse = new Map<EngineIndex, number>();
const retired = new Set<EngineIndex>();

/** Runs `fn` (a search on `idx`) while keeping `idx` alive. */
export async function useIndex<T>(idx: EngineIndex, fn: () => T | Promise<T>): Promise<T> {
  inUse.set(idx, (inUse.get(idx) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    const left = inUse.get(idx)! - 1;
    if (left > 0) inUse.set(idx, left);
    else {
      inUse.delete(idx);
      if (retired.delete(idx)) idx.dispose();
    }
  }
}

/**
 * Frees `idx` once no search uses it. Never synchronously: a caller that has just been handed
 * `idx` (its `await` is resumed in a later microtask) must get to take its lease first.
 */
function retireIndex(idx: EngineIndex): void {
  retired.add(idx);
  setImmediate(() => {
    if (!inUse.has(idx) && retired.delete(idx)) idx.dispose();
  });
}

export class IndexSlot {
  index: EngineIndex | undefined;
  /** Catalogue generation the in-memory index reflects. */
  generation = -1;
  /** Generation of the file on disk (sidecar), -1 if none. */
  savedGeneration = -1;
  trainedN: number | null = null;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly kind: FeatureKind,
    readonly role: SlotRole,
  ) {}

  get file(): string {
    return join(this.dir, this.role === 'primary' ? `${this.kind}.index` : `${this.kind}.ivf.index`);
  }

  get sidecarFile(): string {
    return `${this.file}.json`;
  }

  /** Serialises operations on this slot. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  get dirty(): boolean {
    return this.index !== undefined && this.generation !== this.savedGeneration;
  }

  dispose(): void {
    if (this.index) retireIndex(this.index);
    this.index = undefined;
    this.generation = -1;
  }
}

export async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as Sidecar;
    if (s && s.format === 'nitamono-index-sidecar' && typeof s.generation === 'number') return s;
  } catch {
    // missing or broken sidecar: the index is treated as stale
  }
  return undefined;
}

export async function fileBytes(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** What a slot should hold for `n` searchable vectors. */
export function wantedKind(role: SlotRole, config: CollectionConfig, n: number): { kind: 'flat' | 'ivf'; nlist: number | null } {
  if (role === 'ivf') return { kind: 'ivf', nlist: config.nlist ?? autoNlist(n) };
  const choice = config.index;
  const kind = choice === 'auto' ? (n < AUTO_FLAT_MAX ? 'flat' : 'ivf') : choice;
  return { kind, nlist: kind === 'ivf' ? (config.nlist ?? autoNlist(n)) : null };
}

/**
 * Rebuild policy: no index yet, the wrong kind for the policy and size, or an IVF whose size has
 * moved more than 2× from what it was trained on (nlist = ⌈√N⌉ would then be far off), or whose
 * nlist differs from an explicitly configured one.
 */
function needsRebuild(slot: IndexSlot, config: CollectionConfig, n: number): boolean {
  const idx = slot.index;
  if (!idx) return true;
  if (idx.kind !== wantedKind(slot.role, config, n).kind) return true;
  const nlist = idx.describe({ lists: false }).nlist;
  if (idx.capabilities.trainable && nlist !== undefined) {
    const t = slot.trainedN ?? idx.size;
    if (n > 2 * Math.max(t, 1) || n < t / 2) return true;
    if (config.nlist !== null && nlist !== Math.min(config.nlist, Math.max(1, t))) return true;
  }
  return false;
}

export interface IndexManagerOptions {
  dir: string;
  store: CatalogStore;
  /** The collection's configuration (read at each use: the policy may change). */
  config: () => CollectionConfig;
  space: (kind: FeatureKind) => FeatureSpace;
  dim: (kind: FeatureKind) => Promise<number | undefined>;
  /** The dimension when known without a read (saves an await per search). */
  knownDim?: (kind: FeatureKind) => number | undefined;
  threads: number;
  progress: Progress;
}

/**
 * Holds the loaded indexes of a collection and keeps them in step with the catalogue: loads
 * files, applies deltas, rebuilds, saves. Never writes a file except through `save`.
 */
export class IndexManager {
  private readonly primaries = new Map<FeatureKind, IndexSlot>();
  private readonly aux = new Map<FeatureKind, IndexSlot>();
  /** Index files that could not be written, with the reason (shown as search warnings). */
  private readonly saveProblems = new Map<string, string>();
  /** Things worth telling once (a corrupt file rebuilt), by kind. */
  private readonly notices = new Map<FeatureKind, string[]>();

  /** Why the index files of `kind` could not be saved, if they could not. */
  problems(kind: FeatureKind): string[] {
    const out: string[] = [];
    for (const s of [this.primaries.get(kind), this.aux.get(kind)]) {
      const p = s && this.saveProblems.get(s.file);
      if (p) out.push(p);
    }
    out.push(...(this.notices.get(kind) ?? []));
    this.notices.delete(kind);
    return out;
  }

  constructor(private readonly o: IndexManagerOptions) {}

  private slot(kind: FeatureKind, role: SlotRole): IndexSlot {
    const map = role === 'primary' ? this.primaries : this.aux;
    let s = map.get(kind);
    if (!s) {
      s = new IndexSlot(this.o.dir, kind, role);
      map.set(kind, s);
    }
    return s;
  }

  /** The primary index of `kind`, current with the catalogue; undefined while no dimension is known. */
  async primary(kind: FeatureKind, progress = this.o.progress): Promise<{ slot: IndexSlot; index: EngineIndex } | undefined> {
    const dim = this.o.knownDim?.(kind) ?? (await this.o.dim(kind));
    if (dim === undefined) return undefined;
    const slot = this.slot(kind, 'primary');
    return { slot, index: await this.ensure(slot, dim, progress) };
  }

  /** The inverted file of `kind`: the primary if it is one, else the on-demand auxiliary (saved when first built). */
  async ivf(kind: FeatureKind, progress = this.o.progress, current?: { slot: IndexSlot; index: EngineIndex }): Promise<EngineIndex | undefined> {
    const p = current ?? (await this.primary(kind, progress));
    if (!p) return undefined;
    if (p.index.kind === 'ivf') return p.index;
    const slot = this.slot(kind, 'ivf');
    const fresh = !slot.index;
    // the primary was just brought to the catalogue's generation: no need to read it again
    const idx = await this.ensure(slot, p.index.dim, progress, p.slot.generation);
    // A search must not fail because its cache file cannot be written (read-only folder, full
    // disk): the index works from memory, and the reason is kept for the caller to show.
    if (fresh) await this.trySave(slot);
    return idx;
  }

  /** Loaded slots (for stats): never loads or builds anything. */
  loaded(kind: FeatureKind): { primary?: IndexSlot; ivf?: IndexSlot } {
    const p = this.primaries.get(kind),
      a = this.aux.get(kind);
    return { ...(p?.index ? { primary: p } : {}), ...(a?.index ? { ivf: a } : {}) };
  }

  /** Brings every primary (and every loaded auxiliary) index up to date and saves what changed. */
  async sync(kinds: readonly FeatureKind[], progress = this.o.progress): Promise<void> {
    for (const k of kinds) {
      const p = await this.primary(k, progress);
      if (p) await this.saveSlot(p.slot);
      const a = this.aux.get(k);
      if (a?.index) {
        await this.ensure(a, a.index.dim, progress);
        await this.saveSlot(a);
      }
    }
  }

  /** Applies catalogue changes (from this or another process) to the indexes held in memory. */
  async refreshLoaded(): Promise<void> {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) if (s.index) await this.ensure(s, s.index.dim, this.o.progress);
  }

  /**
   * Saves every index changed in memory since its last save. A file that cannot be written is
   * recorded (see `problems`), not thrown: these files are caches of the catalogue, rebuilt
   * when missing, and closing a collection must not fail over one.
   */
  async save(): Promise<void> {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) await this.trySave(s);
  }

  private async trySave(slot: IndexSlot): Promise<void> {
    try {
      if (await this.saveSlot(slot)) this.saveProblems.delete(slot.file);
    } catch (err) {
      this.saveProblems.set(
        slot.file,
        `${slot.file} could not be saved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it is rebuilt in memory when needed`,
      );
    }
  }

  dispose(): void {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) s.dispose();
  }

  /**
   * Brings `slot` up to the catalogue's current generation: loads the file if needed, applies
   * the delta, rebuilds when missing, mismatching or (IVF) badly out of balance. Does not save.
   */
  private async ensure(slot: IndexSlot, dim: number, progress: Progress, generation?: number): Promise<EngineIndex> {
    const { store } = this.o;
    // Fast path (every search): one cached, indexed read (or none, when the caller has just
    // read the generation), without queueing behind the slot's other work. Whatever the slow
    // path does happens while the generation or the rebuild policy disagrees, so a match here
    // means the index is current.
    const now = generation ?? (await store.generation());
    if (slot.index && slot.generation === now && !needsRebuild(slot, this.o.config(), slot.index.size)) return slot.index;
    return slot.exclusive(async () => {
      const config = this.o.config();
      const space = this.o.space(slot.kind);
      let generation = await store.generation();
      if (slot.index && slot.generation === generation && !needsRebuild(slot, config, slot.index.size)) return slot.index;
      let n = await store.okCount();

      if (!slot.index) await this.load(slot, dim);

      if (slot.index && slot.generation !== generation) {
        const delta = await store.changesSince(space, dim, slot.generation);
        if (delta.removed.length > 0) slot.index.remove(delta.removed);
        const keep: number[] = [];
        for (let i = 0; i < delta.added.ids.length; i++) if (!slot.index.has(delta.added.ids[i]!)) keep.push(i);
        if (keep.length === delta.added.ids.length) {
          if (keep.length > 0) slot.index.add(delta.added.vectors, delta.added.ids);
        } else if (keep.length > 0) {
          const ids = new Int32Array(keep.length);
          const vecs = new Float32Array(keep.length * dim);
          keep.forEach((src, j) => {
            ids[j] = delta.added.ids[src]!;
            vecs.set(delta.added.vectors.subarray(src * dim, (src + 1) * dim), j * dim);
          });
          slot.index.add(vecs, ids);
        }
        slot.generation = delta.generation;
        generation = delta.generation;
        n = slot.index.size;
      }

      if (needsRebuild(slot, config, n)) await this.rebuild(slot, dim, progress);
      return slot.index!;
    });
  }

  /** Takes the saved file when its sidecar matches; a bad file is left for the rebuild. */
  private async load(slot: IndexSlot, dim: number): Promise<void> {
    const side = await readSidecar(slot.sidecarFile);
    if (!side || side.dim !== dim || side.feature !== slot.kind) return;
    try {
      const idx = await loadIndex(slot.file);
      if (idx.dim === dim && idx.kind === side.index) {
        slot.index = idx;
        slot.generation = side.generation;
        slot.savedGeneration = side.generation;
        slot.trainedN = side.trained_n;
      } else {
        idx.dispose();
      }
    } catch (err) {
      // an unreadable or corrupt cache is rebuilt from the catalogue, and said so once
      const said = this.notices.get(slot.kind) ?? [];
      said.push(`${slot.file} was unreadable (${(err as Error).message}); rebuilt from the catalogue`);
      this.notices.set(slot.kind, said);
    }
  }

  private async rebuild(slot: IndexSlot, dim: number, progress: Progress = silentProgress): Promise<void> {
    const data = await this.o.store.snapshot(this.o.space(slot.kind), dim);
    const n = data.ids.length;
    const want = wantedKind(slot.role, this.o.config(), n);
    let idx: EngineIndex;
    if (want.kind === 'ivf' && n > 0) {
      const nlist = Math.max(1, Math.min(want.nlist ?? autoNlist(n), n));
      const ivf = new IVFIndex(dim, { metric: COLLECTION_METRIC, nlist });
      const bar = progress.step(`training IVF (k-means, nlist=${nlist}, ${n} vectors)`, 1, '');
      await ivf.train(data.vectors, { seed: TRAIN_SEED, threads: this.o.threads });
      bar.increment();
      bar.stop();
      idx = ivf;
      slot.trainedN = n;
    } else {
      // No vectors yet: an IVF cannot be trained, so an empty flat stands in until there are some.
      idx = new FlatIndex(dim, { metric: COLLECTION_METRIC });
      slot.trainedN = null;
    }
    if (n > 0) {
      const bar = progress.step('adding', n, 'vectors');
      const chunk = 8192;
      for (let i = 0; i < n; i += chunk) {
        const m = Math.min(chunk, n - i);
        idx.add(data.vectors.subarray(i * dim, (i + m) * dim), data.ids.subarray(i, i + m));
        bar.increment(m);
      }
      bar.stop();
    }
    slot.dispose(); // the old index (freed once no search uses it)
    slot.index = idx;
    slot.generation = data.generation;
    slot.savedGeneration = -1; // a new index: the file on disk (if any) is not it
  }

  /** Saves the slot's index and sidecar if they changed since the last save. */
  private saveSlot(slot: IndexSlot): Promise<boolean> {
    return slot.exclusive(async () => {
      if (!slot.index || !slot.dirty) return false;
      const idx = slot.index;
      await idx.save(slot.file);
      const side: Sidecar = {
        format: 'nitamono-index-sidecar',
        version: 1,
        feature: slot.kind,
        generation: slot.generation,
        index: idx.kind as Sidecar['index'],
        nlist: idx.describe({ lists: false }).nlist ?? null,
        trained_n: slot.trainedN,
        size: idx.size,
        dim: idx.dim,
        saved_at: new Date().toISOString(),
      };
      await writeFileAtomic(slot.sidecarFile, `${JSON.stringify(side, null, 2)}\n`);
      slot.savedGeneration = slot.generation;
      return true;
    });
  }
}
