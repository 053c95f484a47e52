/**
 * A filtered search's ids, resolved by the catalogue once per (filter, catalogue generation)
 * and kept for the searches that follow (a user searching one folder again and again): the SQL
 * that resolves a 1 % folder of 100,000 images costs about as much as scanning its rows.
 *
 * Every commit that changes the searchable set (an image added, removed, excluded, moved or
 * re-indexed) bumps the generation, by whichever process makes it; the cache keeps one
 * generation and starts over when it sees another, so it never answers with ids of an older
 * catalogue. Only filters the generation fully determines are kept: folders, ids and names
 * (an id's path never changes while it exists). Date and size ranges are resolved every time,
 * since a file touched in place updates its mtime and size without a new generation.
 */
import type { CheckedFilter } from '../catalog/filter.js';
import type { CatalogStore } from '../catalog/types.js';
import { FolderIds } from './folder-ids.js';

/** Filters remembered (least recently used dropped first). */
export const FILTER_CACHE_ENTRIES = 64;
/** Ids remembered over all filters (16 MB). */
export const FILTER_CACHE_IDS = 1 << 22;

export class FilterIdCache {
  /** Map order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Int32Array>();
  private generation = -1;
  private held = 0;
  private readonly folders = new FolderIds();

  constructor(
    private readonly maxEntries = FILTER_CACHE_ENTRIES,
    private readonly maxIds = FILTER_CACHE_IDS,
  ) {}

  /** How many filters are remembered now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The ids `filter` selects at catalogue generation `generation` (read by the caller just
   * before, with the index it searches): remembered, or resolved by `store` and remembered when
   * the generation did not move meanwhile. The array is shared: callers must not write to it.
   */
  async resolve(
    store: Pick<CatalogStore, 'filterIds' | 'generation' | 'pathChangesSince' | 'okCount' | 'pathsPage'>,
    filter: CheckedFilter,
    generation: number,
  ): Promise<Int32Array> {
    // folders alone: from the in-memory folder index when the store keeps one current (./folder-ids.ts)
    if (filter.folders && !filter.ids && !filter.mtime && !filter.size && !filter.name) {
      const ids = await this.folders.resolve(store, filter.folders, generation);
      if (ids) return ids;
    }
    const key = cacheKey(filter);
    if (key === undefined) return store.filterIds(filter);
    if (generation !== this.generation) this.clear(generation);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const ids = await store.filterIds(filter);
    // a commit between the caller's read and this one: the ids may be of either generation, so not kept
    if ((await store.generation()) !== generation || generation !== this.generation || ids.length > this.maxIds) return ids;
    this.entries.set(key, ids);
    this.held += ids.length;
    for (const [k, v] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.held <= this.maxIds) break;
      this.entries.delete(k);
      this.held -= v.length;
    }
    return ids;
  }

  /** The paths of `ids` from the folder index, when it holds exactly generation `generation` (./folder-ids.ts `pathsAt`). */
  pathsAt(ids: ArrayLike<number>, generation: number): Map<number, string> | undefined {
    return this.folders.pathsAt(ids, generation);
  }

  private clear(generation: number): void {
    this.entries.clear();
    this.held = 0;
    this.generation = generation;
  }
}

/** The key of a filter the generation determines, undefined for one with a date or size range. */
function cacheKey(f: CheckedFilter): string | undefined {
  if (f.mtime || f.size) return undefined;
  return JSON.stringify([f.folders ? [...f.folders].sort() : null, f.ids ?? null, f.name ?? null]);
}
