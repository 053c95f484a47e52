/**
 * The index of one partition of one feature space, kept in step with the catalogue by
 * generation: built from the partition's rows (a FlatIndex, or an IVFIndex on the shared
 * centroids when the collection has them), then brought forward with the partition's
 * `changesSince` deltas — removed ids (tombstones) out, added rows in. A new version of the
 * shared centroids means a rebuild. Whatever a refresh does, the (index, generation) pair a
 * search takes is changed in one synchronous step, so an answer's generation is always the
 * generation of the index that gave it.
 */
import type { ClusterCatalogStore, FeatureSpace, Partition } from '../catalog/types.js';
import { COLLECTION_METRIC } from '../collection/index-manager.js';
import { SYNC_SEARCH_MAX_WORK } from '../collection/search.js';
import { DEFAULT_NPROBE } from '../collection/types.js';
import { NitamonoError } from '../errors.js';
import { FlatIndex } from '../search/flat.js';
import { IVFIndex } from '../search/ivf.js';
import type { SearchParams, VectorIndex } from '../search/types.js';
import { checkK, checkVectors } from '../validate.js';
import { formatPartition } from './partition.js';
import { loadSharedQuantizer, SHARED_CENTROIDS } from './quantizer.js';

type PartitionStore = Pick<ClusterCatalogStore, 'generation' | 'vectorDim' | 'partitionSnapshot' | 'partitionChangesSince' | 'trainedVersion' | 'getTrained'>;

export interface PartitionIndexOptions {
  store: PartitionStore;
  space: FeatureSpace;
  partition: Partition;
  /** Worker threads of a search (default: all cores). */
  threads?: number;
  /** Told about rebuilds and deltas (for a log). */
  onEvent?: (message: string) => void;
}

export interface PartitionSearchOptions {
  nprobe?: number;
  /** Scan every list of an IVF index. */
  exact?: boolean;
}

export interface PartitionSearchResult {
  generation: number;
  size: number;
  index: 'flat' | 'ivf' | 'empty';
  nq: number;
  k: number;
  labels: Int32Array;
  distances: Float32Array;
  distancesComputed: number;
  nprobe?: number;
  nlist?: number;
  quantizerVersion?: number;
  searchMs: number;
  warnings: string[];
}

const ADD_CHUNK = 8192;

export class PartitionIndex {
  private index: VectorIndex | undefined;
  /** The catalogue generation `index` reflects; -1 before the first load. */
  private gen = -1;
  /** The shared centroids version the index was built for (0: none). */
  private builtFor = 0;
  private loaded = false;
  private lastError: string | undefined;
  private readonly leases = new Map<VectorIndex, number>();
  private readonly retired = new Set<VectorIndex>();
  private tail: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: PartitionIndexOptions) {}

  get ready(): boolean {
    return this.loaded;
  }
  get generation(): number {
    return this.gen;
  }
  get size(): number {
    return this.index?.size ?? 0;
  }
  get dim(): number | undefined {
    return this.index?.dim;
  }
  get kind(): 'flat' | 'ivf' | 'empty' {
    return this.index ? (this.index.kind as 'flat' | 'ivf') : 'empty';
  }
  get nlist(): number | undefined {
    return this.index?.describe({ lists: false }).nlist;
  }
  get quantizerVersion(): number {
    return this.builtFor;
  }
  /** The last failure to follow the catalogue (cleared by the next success). */
  get error(): string | undefined {
    return this.lastError;
  }

  /**
   * Brings the index to the catalogue's current generation (and shared centroids). Refreshes
   * run one at a time; asking while one runs queues one more (several asks share it).
   */
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.tail.then(() => {
      this.queued = undefined;
      return this.refreshNow();
    });
    this.queued = run;
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Refreshes until the index reflects `generation` or `timeoutMs` passes; resolves to whether it does. */
  async waitForGeneration(generation: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.gen < generation && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = await Promise.race([
        this.refresh().then(
          () => false,
          () => false,
        ),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), left);
        }),
      ]);
      clearTimeout(timer);
      if (gaveUp) break;
      // the catalogue itself is not there yet (the caller's commit is still in flight): look again shortly
      if (this.gen < generation) await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
    return this.gen >= generation;
  }

  private async refreshNow(): Promise<void> {
    if (this.closed) return;
    const { store, space } = this.o;
    try {
      const [version, generation] = [await store.trainedVersion(space, SHARED_CENTROIDS), await store.generation()];
      if (this.loaded && version === this.builtFor && generation === this.gen) return;
      if (!this.loaded || version !== this.builtFor || !this.index) await this.rebuild(version, generation);
      else await this.applyChanges();
      this.loaded = true;
      this.lastError = undefined;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  private async rebuild(version: number, generation: number): Promise<void> {
    const { store, space, partition } = this.o;
    const dim = await store.vectorDim(space);
    if (dim === undefined) {
      // no vectors in this space yet: an empty partition, rebuilt when the generation moves
      this.swap(undefined, generation, version);
      return;
    }
    let q = version > 0 ? await loadSharedQuantizer(store, space) : undefined;
    if (q && q.dim !== dim) {
      this.o.onEvent?.(`shared centroids version ${q.version} are ${q.dim}-d but the vectors are ${dim}-d: ignored (flat index)`);
      q = undefined;
    }
    const snap = await store.partitionSnapshot(space, dim, partition);
    const n = snap.ids.length;
    let idx: VectorIndex;
    if (q) {
      const ivf = new IVFIndex(dim, { metric: COLLECTION_METRIC, nlist: q.nlist });
      ivf.setCentroids(q.centroids, q.nlist);
      idx = ivf;
    } else {
      idx = new FlatIndex(dim, { metric: COLLECTION_METRIC });
    }
    try {
      for (let i = 0; i < n; i += ADD_CHUNK) {
        const m = Math.min(ADD_CHUNK, n - i);
        idx.add(snap.vectors.subarray(i * dim, (i + m) * dim), snap.ids.subarray(i, i + m));
      }
    } catch (err) {
      idx.dispose();
      throw err;
    }
    this.swap(idx, snap.generation, q?.version ?? version);
    this.o.onEvent?.(
      `shard ${formatPartition(partition)}: ${n} vectors in a ${idx.kind} index${q ? ` (shared centroids v${q.version}, nlist ${q.nlist})` : ''} at generation ${snap.generation}`,
    );
  }

  private async applyChanges(): Promise<void> {
    const idx = this.index!;
    const { store, space, partition } = this.o;
    const ch = await store.partitionChangesSince(space, idx.dim, this.gen, partition);
    if (this.index !== idx) return; // closed meanwhile
    // one synchronous step: removals, additions and the generation change together
    const removed = ch.removed.length > 0 ? idx.remove(ch.removed) : 0;
    const keep: number[] = [];
    for (let i = 0; i < ch.added.ids.length; i++) if (!idx.has(ch.added.ids[i]!)) keep.push(i);
    if (keep.length > 0) {
      const d = idx.dim;
      const ids = new Int32Array(keep.length);
      const vecs = new Float32Array(keep.length * d);
      keep.forEach((src, j) => {
        ids[j] = ch.added.ids[src]!;
        vecs.set(ch.added.vectors.subarray(src * d, (src + 1) * d), j * d);
      });
      idx.add(vecs, ids);
    }
    const from = this.gen;
    this.gen = ch.generation;
    if (removed > 0 || keep.length > 0) {
      this.o.onEvent?.(`shard ${formatPartition(partition)}: generation ${from} → ${ch.generation}: +${keep.length} −${removed}, ${idx.size} vectors`);
    }
  }

  private swap(idx: VectorIndex | undefined, generation: number, version: number): void {
    const old = this.index;
    this.index = idx;
    this.gen = generation;
    this.builtFor = version;
    if (old && old !== idx) this.retire(old);
  }

  /**
   * Searches the partition: `queries` is nq×dim. Small scans run on this thread, larger ones on
   * worker threads (searchAsync), so the event loop is never held for long. Pads with -1/NaN to k.
   */
  async search(queries: Float32Array, dim: number, k: number, opts: PartitionSearchOptions = {}): Promise<PartitionSearchResult> {
    checkK(k);
    const nq = checkVectors(queries, dim, 'queries');
    // taken together, synchronously: the answer's generation is the searched index's
    const idx = this.index;
    const generation = this.gen;
    const warnings: string[] = [];
    const empty = (): PartitionSearchResult => ({
      generation,
      size: 0,
      index: idx ? (idx.kind as 'flat' | 'ivf') : 'empty',
      nq,
      k,
      labels: new Int32Array(nq * k).fill(-1),
      distances: new Float32Array(nq * k).fill(Number.NaN),
      distancesComputed: 0,
      searchMs: 0,
      warnings,
    });
    if (!idx) return empty();
    if (idx.dim !== dim) {
      throw new NitamonoError('DIMENSION_MISMATCH', `queries are ${dim}-d but the ${this.o.space.kind} vectors (${this.o.space.model}) are ${idx.dim}-d`);
    }
    if (idx.size === 0) return empty();
    const params: SearchParams = {};
    if (this.o.threads !== undefined) params.threads = this.o.threads;
    let nlist: number | undefined;
    if (idx.kind === 'ivf') {
      nlist = idx.describe({ lists: false }).nlist ?? 1;
      const asked = opts.exact ? nlist : (opts.nprobe ?? DEFAULT_NPROBE);
      if (asked > nlist && !opts.exact) warnings.push(`nprobe ${asked} is more than the ${nlist} lists; used ${nlist}`);
      params.nprobe = Math.min(asked, nlist);
    }
    const kk = Math.min(k, idx.size);
    return this.lease(idx, async () => {
      const t0 = performance.now();
      const r = idx.queryCost(params) * nq <= SYNC_SEARCH_MAX_WORK ? idx.search(queries, kk, params) : await idx.searchAsync(queries, kk, params);
      const searchMs = performance.now() - t0;
      let labels = r.labels;
      let distances = r.distances;
      if (kk < k) {
        labels = new Int32Array(nq * k).fill(-1);
        distances = new Float32Array(nq * k).fill(Number.NaN);
        for (let i = 0; i < nq; i++) {
          labels.set(r.labels.subarray(i * kk, (i + 1) * kk), i * k);
          distances.set(r.distances.subarray(i * kk, (i + 1) * kk), i * k);
        }
      }
      return {
        generation,
        size: idx.size,
        index: idx.kind as 'flat' | 'ivf',
        nq,
        k,
        labels,
        distances,
        distancesComputed: r.distancesComputed,
        ...(params.nprobe !== undefined ? { nprobe: params.nprobe } : {}),
        ...(nlist !== undefined ? { nlist, quantizerVersion: this.builtFor } : {}),
        searchMs,
        warnings,
      };
    });
  }

  /** Runs `fn` while `idx` cannot be freed (a rebuild retires the old index only after its searches end). */
  private async lease<T>(idx: VectorIndex, fn: () => Promise<T>): Promise<T> {
    this.leases.set(idx, (this.leases.get(idx) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const left = this.leases.get(idx)! - 1;
      if (left > 0) this.leases.set(idx, left);
      else {
        this.leases.delete(idx);
        if (this.retired.delete(idx)) idx.dispose();
      }
    }
  }

  private retire(idx: VectorIndex): void {
    this.retired.add(idx);
    // never synchronously: a search that has just taken `idx` gets to lease it first
    setImmediate(() => {
      if (!this.leases.has(idx) && this.retired.delete(idx)) idx.dispose();
    });
  }

  /** Frees the index (once the searches in flight end); refreshes stop. */
  close(): void {
    this.closed = true;
    if (this.index) this.retire(this.index);
    this.index = undefined;
  }
}
