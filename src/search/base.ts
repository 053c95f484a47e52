/**
 * What FlatIndex and IVFIndex share: rows (vectors, squared norms, ids) in a shared arena,
 * the id → row map, input checks, query blocks, and turning heaps into sorted results.
 */
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import { type Kernels, type MetricCode, METRIC_IP, METRIC_L2 } from '../kernels/types.js';
import { NitamonoError, invalid } from '../errors.js';
import { checkVectors } from '../vectors/matrix.js';
import type { Metric, SearchOptions, SearchResult } from './types.js';
import type { QueryBlock } from './scan.js';
import { forgetArena } from './pool.js';

export const MAX_ID = 0x7fffffff;

export function metricCode(metric: Metric): MetricCode {
  if (metric === 'l2') return METRIC_L2;
  if (metric === 'ip') return METRIC_IP;
  throw invalid(`unknown metric '${String(metric)}' (expected 'l2' or 'ip')`);
}

export function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) throw invalid(`dimension must be a positive integer, got ${dim}`);
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw invalid(`k must be a positive integer, got ${k}`);
}

/** Row storage in an arena. Regions are reallocated, never resized in place. */
export class RowStore {
  n = 0;
  cap = 0;
  vectors = 0;
  norms = 0;
  ids = 0;

  constructor(private readonly arena: Arena, private readonly K: Kernels, readonly d: number,
    private readonly releaseLater: (ptr: number) => void) {}

  idsView(): Int32Array { return this.arena.i32(this.ids, this.n); }
  vectorsView(): Float32Array { return this.arena.f32(this.vectors, this.n * this.d); }

  /** Appends rows, growing by 1.5× so a stream of small adds stays amortised O(rows). */
  append(data: Float32Array, ids: Int32Array): void {
    const m = ids.length, need = this.n + m;
    if (need > this.cap) this.realloc(this.n === 0 ? need : Math.max(need, Math.ceil(this.cap * 1.5)));
    this.arena.f32(this.vectors + this.n * this.d * 4, m * this.d).set(data);
    this.arena.i32(this.ids + this.n * 4, m).set(ids);
    this.K.norms(this.vectors + this.n * this.d * 4, m, this.d, this.norms + this.n * 4);
    this.n = need;
  }

  /**
   * Replaces all rows by `n` rows that `fill` writes into fresh regions (used to reorder by
   * list and to compact after removals). Old regions are released once no search reads them.
   */
  rebuild(n: number, fill: (vectors: Float32Array, ids: Int32Array) => void): void {
    const old = [this.vectors, this.norms, this.ids];
    const vectors = this.arena.alloc(Math.max(1, n) * this.d * 4);
    const norms = this.arena.alloc(Math.max(1, n) * 4);
    const ids = this.arena.alloc(Math.max(1, n) * 4);
    fill(this.arena.f32(vectors, n * this.d), this.arena.i32(ids, n));
    this.K.norms(vectors, n, this.d, norms);
    for (const p of old) if (p) this.releaseLater(p);
    Object.assign(this, { vectors, norms, ids, n, cap: n });
  }

  private realloc(cap: number): void {
    const n = this.n, d = this.d;
    const vectors = this.arena.alloc(cap * d * 4);
    const norms = this.arena.alloc(cap * 4);
    const ids = this.arena.alloc(cap * 4);
    if (n > 0) {
      this.arena.f32(vectors, n * d).set(this.arena.f32(this.vectors, n * d));
      this.arena.f32(norms, n).set(this.arena.f32(this.norms, n));
      this.arena.i32(ids, n).set(this.arena.i32(this.ids, n));
    }
    for (const p of [this.vectors, this.norms, this.ids]) if (p) this.releaseLater(p);
    Object.assign(this, { vectors, norms, ids, cap });
  }
}

export abstract class ArenaIndex {
  readonly dim: number;
  readonly metric: Metric;
  protected readonly code: MetricCode;
  protected readonly arena: Arena;
  protected readonly K: Kernels;
  protected readonly rows: RowStore;
  /** id → row; rebuilt whenever rows move. */
  protected idToRow = new Map<number, number>();
  protected nextId = 0;
  private inflight = 0;
  private scratch?: { block: QueryBlock; nq: number; k: number; ptrs: number[] };
  private deferred: number[] = [];
  private disposed = false;

  constructor(dim: number, metric: Metric = 'l2') {
    checkDim(dim);
    this.dim = dim;
    this.metric = metric;
    this.code = metricCode(metric);
    this.arena = new Arena(1 << 20);
    this.K = createKernels(this.arena.memory);
    this.rows = new RowStore(this.arena, this.K, dim, (p) => this.release(p));
  }

  get size(): number { return this.rows.n; }

  /** Which kernels run this index ('wasm-simd' or 'reference'). */
  get kernels(): string { return this.K.name; }

  has(id: number): boolean { return this.idToRow.has(id); }

  reconstruct(id: number): Float32Array {
    const r = this.idToRow.get(id);
    if (r === undefined) throw new NitamonoError('NOT_FOUND', `id ${id} is not in the index`);
    return this.arena.f32(this.rows.vectors + r * this.dim * 4, this.dim).slice();
  }

  /** All stored ids, in row order. */
  ids(): Int32Array { return this.rows.idsView().slice(); }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    forgetArena(this.arena);
  }

  protected assertUsable(): void {
    if (this.disposed) throw invalid('this index has been disposed');
  }

  /** Checks vectors and ids for add(); returns the ids to store. */
  protected prepareAdd(vectors: Float32Array, ids?: ArrayLike<number>): Int32Array {
    this.assertUsable();
    const n = checkVectors(vectors, this.dim, 'vectors to add');
    let out: Int32Array;
    if (ids === undefined) {
      if (this.nextId + n - 1 > MAX_ID) throw invalid('automatic ids exhausted the int32 range');
      out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = this.nextId + i;
    } else {
      if (ids.length !== n) throw invalid(`got ${n} vectors but ${ids.length} ids`);
      out = new Int32Array(n);
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw invalid(`id ${id} at position ${i} is not an integer in [0, ${MAX_ID}]`);
        if (this.idToRow.has(id) || seen.has(id)) throw invalid(`id ${id} is already in the index`);
        seen.add(id);
        out[i] = id;
      }
    }
    return out;
  }

  protected noteIds(ids: Int32Array): void {
    for (const id of ids) if (id >= this.nextId) this.nextId = id + 1;
  }

  protected reindexIds(): void {
    this.idToRow = new Map();
    const ids = this.rows.idsView();
    for (let r = 0; r < ids.length; r++) this.idToRow.set(ids[r]!, r);
  }

  /** Row numbers to keep after removing `ids`; null if none of them is present. */
  protected keptRows(ids: ArrayLike<number>): { keep: Int32Array; removed: number } | null {
    const drop = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      const r = this.idToRow.get(ids[i]!);
      if (r !== undefined) drop.add(r);
    }
    if (drop.size === 0) return null;
    const keep = new Int32Array(this.rows.n - drop.size);
    let j = 0;
    for (let r = 0; r < this.rows.n; r++) if (!drop.has(r)) keep[j++] = r;
    return { keep, removed: drop.size };
  }

  /** Copies rows `keep` (in that order) into `vectors`/`ids`. */
  protected copyRows(keep: Int32Array, vectors: Float32Array, ids: Int32Array): void {
    const d = this.dim;
    const src = this.rows.vectorsView(), srcIds = this.rows.idsView();
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i]!;
      vectors.set(src.subarray(r * d, (r + 1) * d), i * d);
      ids[i] = srcIds[r]!;
    }
  }

  /**
   * Copies queries into the arena and makes room for nq heaps of k. A synchronous call reuses
   * one scratch block sized for its largest (nq, k) so far: one-query-at-a-time search then
   * allocates nothing. Async calls get their own block (several may be in flight).
   */
  protected queryBlock(queries: Float32Array, k: number, reuse = false): { block: QueryBlock; nq: number; ptrs: number[] } {
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

  /** Sorts each heap (which holds ids) best-first, turns scores into distances, frees the block. */
  protected collect(block: QueryBlock, nq: number, ptrs: number[], computed: number): SearchResult {
    const k = block.k;
    const labels = new Int32Array(nq * k).fill(-1);
    const distances = new Float32Array(nq * k).fill(NaN);
    // one `buffer` read: on a shared memory each read makes a new object
    const buf = this.arena.memory.buffer;
    const hd = new Float32Array(buf, block.heapsD, nq * k), hi = new Int32Array(buf, block.heapsI, nq * k);
    const sizes = new Int32Array(buf, block.sizes, nq);
    const l2 = this.code === METRIC_L2;
    for (let i = 0; i < nq; i++) {
      const m = sizes[i]!, base = i * k;
      if (m > 64) {
        const order = Array.from({ length: m }, (_, j) => base + j);
        order.sort((a, b) => hd[a]! - hd[b]! || hi[a]! - hi[b]!);
        for (let j = 0; j < m; j++) { distances[base + j] = hd[order[j]!]!; labels[base + j] = hi[order[j]!]!; }
      }
      // insertion sort by (score, id) for the usual small k
      for (let j = 0; j < (m > 64 ? 0 : m); j++) {
        const s = hd[base + j]!, id = hi[base + j]!;
        let t = j;
        while (t > 0) {
          const ps = distances[base + t - 1]!, pid = labels[base + t - 1]!;
          if (ps < s || (ps === s && pid < id)) break;
          distances[base + t] = ps; labels[base + t] = pid; t--;
        }
        distances[base + t] = s; labels[base + t] = id;
      }
      for (let j = 0; j < m; j++) {
        const s = distances[base + j]!;
        distances[base + j] = l2 ? (s > 0 ? s : 0) : -s;
      }
    }
    for (const p of ptrs) this.arena.release(p);
    return { nq, k, labels, distances, distancesComputed: computed };
  }

  /** Runs an async search while holding off releases of regions the workers read. */
  protected async guarded<T>(fn: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) {
        for (const p of this.deferred) this.arena.release(p);
        this.deferred = [];
      }
    }
  }

  protected release(ptr: number): void {
    if (this.inflight > 0) this.deferred.push(ptr); else this.arena.release(ptr);
  }

  /** Splits [0, nq) into up to `parts` contiguous ranges. */
  protected static ranges(nq: number, parts: number): Array<[number, number]> {
    const p = Math.max(1, Math.min(parts, nq));
    const out: Array<[number, number]> = [];
    for (let t = 0; t < p; t++) {
      const a = Math.floor((t * nq) / p), b = Math.floor(((t + 1) * nq) / p);
      if (b > a) out.push([a, b]);
    }
    return out;
  }

  abstract search(queries: Float32Array, k: number, options?: SearchOptions): SearchResult;
}
