/**
 * What every index kept in a shared arena has in common, whatever its storage: the arena and
 * its kernels, the id → row map, input checks, query blocks, turning heaps into sorted results,
 * and running a scan on this thread or on the worker pool without freeing memory under it.
 */

import { invalid, NitamonoError } from '../errors.js';
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import { type Kernels, METRIC_IP, METRIC_L2, type MetricCode } from '../kernels/types.js';
import { type ContainerInput, writeContainer } from '../persist/container.js';
import { splitRange } from '../util/ranges.js';
import { checkDim, checkIds, checkK, checkMetric, checkVectors, MAX_ID } from '../validate.js';
import { forgetArena, sharedPool, type Task } from './pool.js';
import type { QueryBlock } from './scan.js';
import type { BaseSearchParams, DescribeOptions, IndexCapabilities, IndexDescription, Metric, SearchResult, VectorIndex } from './types.js';

export function metricCode(metric: Metric): MetricCode {
  return checkMetric(metric) === 'ip' ? METRIC_IP : METRIC_L2;
}

/** A section of an index file written straight from an arena region: `view` lies in `region` (as alloc returned it; 0 for none). */
export interface RegionSection {
  region: number;
  view: ArrayBufferView;
}

/** A query block and the arena regions this one call owns (released when it ends). */
interface Queries {
  block: QueryBlock;
  nq: number;
  ptrs: number[];
}

export abstract class ArenaIndex<P extends BaseSearchParams> implements VectorIndex<P> {
  abstract readonly kind: string;
  abstract readonly capabilities: IndexCapabilities;
  readonly dim: number;
  readonly metric: Metric;
  protected readonly code: MetricCode;
  protected readonly arena: Arena;
  protected readonly K: Kernels;
  /** id → row; rebuilt whenever rows move. */
  protected idToRow = new Map<number, number>();
  protected nextId = 0;
  private inflight = 0;
  private scratch?: { block: QueryBlock; nq: number; k: number; ptrs: number[] };
  private deferred: number[] = [];
  /** Regions saves in flight are writing out, with how many saves read each. */
  private pinned = new Map<number, number>();
  private disposed = false;

  constructor(dim: number, metric: Metric = 'l2') {
    this.dim = checkDim(dim);
    this.metric = metric;
    this.code = metricCode(metric);
    this.arena = new Arena(1 << 20);
    this.K = createKernels(this.arena.memory);
  }

  abstract get size(): number;
  abstract get memoryBytes(): number;
  /** Bytes of full vectors kept outside the index for re-ranking: none unless a kind re-ranks. */
  get refineBytes(): number {
    return 0;
  }
  /** Kinds that need training override this. */
  get isTrained(): boolean {
    return true;
  }

  /** Which kernels run this index ('wasm-simd' or 'reference'). */
  get kernels(): string {
    return this.K.name;
  }

  /** The id of every row (a view of the arena). */
  protected abstract rowIds(): Int32Array;
  /** Writes the vector of row r into `out` (dim floats). */
  protected abstract decodeRow(r: number, out: Float32Array): void;

  abstract add(vectors: Float32Array, ids?: ArrayLike<number>): void;
  abstract remove(ids: ArrayLike<number>): number;
  abstract search(queries: Float32Array, k: number, params?: P): SearchResult;
  abstract searchAsync(queries: Float32Array, k: number, params?: P): Promise<SearchResult>;
  abstract queryCost(params?: P): number;
  abstract save(path: string): Promise<void>;

  has(id: number): boolean {
    return this.idToRow.has(id);
  }

  reconstruct(id: number): Float32Array {
    const r = this.idToRow.get(id);
    if (r === undefined) throw new NitamonoError('NOT_FOUND', `id ${id} is not in the index`);
    const out = new Float32Array(this.dim);
    this.decodeRow(r, out);
    return out;
  }

  /** All stored ids, in row order. */
  ids(): Int32Array {
    return this.rowIds().slice();
  }

  describe(_options?: DescribeOptions): IndexDescription {
    return { kind: this.kind, dim: this.dim, metric: this.metric, size: this.size, memoryBytes: this.memoryBytes };
  }

  /**
   * Nothing a save or search in flight reads is freed here: the arena's memory goes when the
   * last view of it does, and they hold theirs until they settle.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    forgetArena(this.arena);
  }

  /**
   * Writes an index file whose sections are streamed from arena regions in place, and which
   * holds the index as it is at this call whatever the caller does before the promise settles.
   * `sections` must be views taken at this call (synchronously, before any await).
   *
   * The regions are pinned rather than copied: a copy would double the memory of every save
   * (gigabytes for a large index) to guard against changes that are rare. Pinned, a save costs
   * nothing extra unless the index changes meanwhile, and then at most the replaced regions of
   * the sections it writes (one copy of the saved data per save in flight), held until it ends;
   * regions made and replaced while it runs are freed at once, unlike during an async search.
   * This is sound only because saved bytes are never rewritten in place: add/remove/load move
   * rows to fresh regions and free the old ones through release(), which holds back pinned
   * ones, and RowStore.append writes only into spare capacity past the n rows a view covers.
   * The checksum is computed while streaming, so over these same unchanging bytes.
   */
  protected async writeRegions(path: string, file: Omit<ContainerInput, 'sections'>, sections: Record<string, RegionSection>): Promise<void> {
    this.assertUsable();
    const regions = Object.values(sections)
      .map((s) => s.region)
      .filter((p) => p !== 0);
    const views: Record<string, ArrayBufferView> = {};
    for (const [name, s] of Object.entries(sections)) views[name] = s.view;
    for (const p of regions) this.pinned.set(p, (this.pinned.get(p) ?? 0) + 1);
    try {
      await writeContainer(path, { ...file, sections: views });
    } finally {
      for (const p of regions) {
        const left = this.pinned.get(p)! - 1;
        if (left > 0) this.pinned.set(p, left);
        else this.pinned.delete(p);
      }
      this.releaseDeferred();
    }
  }

  protected assertUsable(): void {
    if (this.disposed) throw invalid('this index has been disposed');
  }

  /** Checks vectors and ids for add(); returns the ids to store. */
  protected prepareAdd(vectors: Float32Array, ids?: ArrayLike<number>): Int32Array {
    this.assertUsable();
    const n = checkVectors(vectors, this.dim, 'vectors to add');
    if (ids !== undefined) return checkIds(ids, n, (id) => this.idToRow.has(id));
    if (this.nextId + n - 1 > MAX_ID) throw invalid('automatic ids exhausted the int32 range');
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextId + i;
    return out;
  }

  protected noteIds(ids: Int32Array): void {
    for (const id of ids) if (id >= this.nextId) this.nextId = id + 1;
  }

  protected reindexIds(): void {
    this.idToRow = new Map();
    const ids = this.rowIds();
    for (let r = 0; r < ids.length; r++) this.idToRow.set(ids[r]!, r);
  }

  /** The rows holding any of `ids` (absent ids are ignored). */
  protected rowsOf(ids: ArrayLike<number>): Set<number> {
    const rows = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      const r = this.idToRow.get(ids[i]!);
      if (r !== undefined) rows.add(r);
    }
    return rows;
  }

  /**
   * Copies queries into the arena and makes room for nq heaps of k. A synchronous call reuses
   * one scratch block sized for its largest (nq, k) so far: one-query-at-a-time search then
   * allocates nothing. Async calls get their own block (several may be in flight).
   */
  protected queryBlock(queries: Float32Array, k: number, reuse = false): Queries {
    this.assertUsable();
    checkK(k);
    const nq = checkVectors(queries, this.dim, 'queries');
    const d = this.dim;
    let block: QueryBlock, ptrs: number[];
    if (reuse && this.scratch && this.scratch.nq >= nq && this.scratch.k >= k) {
      block = { ...this.scratch.block, k };
      ptrs = [];
      this.arena.i32(block.sizes, nq).fill(0);
    } else {
      const m = Math.max(1, nq);
      const at = [m * d * 4, m * 4, m * k * 4, m * k * 4, m * 4].map((b) => this.arena.alloc(b));
      block = { queries: at[0]!, queryNorms: at[1]!, heapsD: at[2]!, heapsI: at[3]!, sizes: at[4]!, k };
      ptrs = at;
      if (reuse && nq <= 64) {
        // keep this block as the new scratch instead of releasing it
        if (this.scratch) for (const p of this.scratch.ptrs) this.release(p);
        this.scratch = { block, nq: m, k, ptrs: at };
        ptrs = [];
      }
    }
    this.arena.f32(block.queries, nq * d).set(queries);
    return { block, nq, ptrs };
  }

  /** Runs `scan` (which returns the distances it computed) on this thread and collects the heaps. */
  protected scanHere(q: Queries, scan: (block: QueryBlock, nq: number) => number): SearchResult {
    try {
      return this.collect(q.block, q.nq, scan(q.block, q.nq));
    } finally {
      for (const p of q.ptrs) this.arena.release(p);
    }
  }

  /**
   * Runs one task per range of queries on the worker pool and collects the heaps. `task` may
   * take scratch regions with `alloc`; they, and the query block, are released when the search
   * ends, whether it succeeded or not, and never while a worker may still write into them.
   * Regions the index replaces meanwhile are kept until then (see release).
   */
  protected scanOnWorkers(q: Queries, threads: number, task: (q0: number, q1: number, alloc: (bytes: number) => number) => Task): Promise<SearchResult> {
    const alloc = (bytes: number): number => {
      const p = this.arena.alloc(bytes);
      q.ptrs.push(p);
      return p;
    };
    return this.guarded(async () => {
      try {
        const tasks = splitRange(q.nq, threads).map(([q0, q1]) => task(q0, q1, alloc));
        const counts = await sharedPool().run(this.arena, tasks);
        return this.collect(
          q.block,
          q.nq,
          counts.reduce((a, b) => a + b, 0),
        );
      } finally {
        for (const p of q.ptrs) this.arena.release(p);
      }
    });
  }

  /** Sorts each heap (which holds ids) best-first and turns scores into distances. */
  protected collect(block: QueryBlock, nq: number, computed: number): SearchResult {
    const k = block.k;
    const labels = new Int32Array(nq * k).fill(-1);
    const distances = new Float32Array(nq * k).fill(NaN);
    // one `buffer` read: on a shared memory each read makes a new object
    const buf = this.arena.memory.buffer;
    const hd = new Float32Array(buf, block.heapsD, nq * k),
      hi = new Int32Array(buf, block.heapsI, nq * k);
    const sizes = new Int32Array(buf, block.sizes, nq);
    const l2 = this.code === METRIC_L2;
    for (let i = 0; i < nq; i++) {
      const m = sizes[i]!,
        base = i * k;
      if (m > 64) {
        const order = Array.from({ length: m }, (_, j) => base + j);
        order.sort((a, b) => hd[a]! - hd[b]! || hi[a]! - hi[b]!);
        for (let j = 0; j < m; j++) {
          distances[base + j] = hd[order[j]!]!;
          labels[base + j] = hi[order[j]!]!;
        }
      }
      // insertion sort by (score, id) for the usual small k
      for (let j = 0; j < (m > 64 ? 0 : m); j++) {
        const s = hd[base + j]!,
          id = hi[base + j]!;
        let t = j;
        while (t > 0) {
          const ps = distances[base + t - 1]!,
            pid = labels[base + t - 1]!;
          if (ps < s || (ps === s && pid < id)) break;
          distances[base + t] = ps;
          labels[base + t] = pid;
          t--;
        }
        distances[base + t] = s;
        labels[base + t] = id;
      }
      for (let j = 0; j < m; j++) {
        const s = distances[base + j]!;
        distances[base + j] = l2 ? Math.max(s, 0) : -s;
      }
    }
    return { nq, k, labels, distances, distancesComputed: computed };
  }

  /** Runs an async search while holding off releases of regions the workers read. */
  private async guarded<T>(fn: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) this.releaseDeferred();
    }
  }

  /**
   * Frees an index region now, or once nothing in flight reads it: a search may read any
   * region its layout names, a save only the regions it pinned.
   */
  protected release(ptr: number): void {
    if (this.inflight > 0 || this.pinned.has(ptr)) this.deferred.push(ptr);
    else this.arena.release(ptr);
  }

  private releaseDeferred(): void {
    if (this.inflight > 0) return;
    const held: number[] = [];
    for (const p of this.deferred) {
      if (this.pinned.has(p)) held.push(p);
      else this.arena.release(p);
    }
    this.deferred = held;
  }
}
