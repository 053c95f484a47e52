/**
 * IVFIndex: the seed's "cheat a little" search, an inverted file like Faiss's IndexIVFFlat.
 * k-means splits the vectors into nlist groups (default ⌈√N⌉, which minimises D·(K + N/K));
 * a query is compared with the nlist centroids, then only with the vectors of the nprobe
 * nearest groups. Rows are stored contiguously, grouped by list.
 */
import { ArenaIndex, checkK } from './base.js';
import { BATCH_MIN_QUERIES, ivfSearchRange, flatSearchRange, type IVFLayout, type QueryBlock, type FlatLayout } from './scan.js';
import { kmeans, type KMeansOptions, type KMeansResult } from './kmeans.js';
import { resolveThreads, sharedPool, type Task } from './pool.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { NitamonoError, invalid } from '../errors.js';
import { checkVectors } from '../vectors/matrix.js';
import { readContainer, writeContainer } from '../persist/container.js';
import { sections } from './flat.js';

export const IVF_FORMAT_VERSION = 1;

export interface IVFIndexOptions {
  metric?: Metric;
  /** Number of inverted lists K; default ⌈√N⌉ of the training set. */
  nlist?: number;
}

export type IVFTrainOptions = Omit<KMeansOptions, 'metric'>;

export interface ListStats {
  nlist: number;
  min: number;
  max: number;
  mean: number;
  /** Lists holding no vector. */
  empty: number;
  /** Σ size² / N: the expected vectors scanned per probe when queries follow the data (Faiss's imbalance factor × N/K). */
  expectedScanPerProbe: number;
  imbalance: number;
}

export class IVFIndex extends ArenaIndex implements VectorIndex {
  readonly kind = 'ivf' as const;
  private requestedNlist: number | undefined;
  private k = 0;
  private centroids = 0;
  private centroidNorms = 0;
  private listOffsets = 0;
  /** Probe heap of synchronous searches. */
  private probeScratch = { cap: 0, d: 0, i: 0 };
  /** Summary of the last training, for reports. */
  training?: Pick<KMeansResult, 'objective' | 'trainedOn' | 'splits' | 'warnings'>;

  constructor(dim: number, options: IVFIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
    if (options.nlist !== undefined && (!Number.isInteger(options.nlist) || options.nlist < 1)) {
      throw invalid(`nlist must be a positive integer, got ${options.nlist}`);
    }
    this.requestedNlist = options.nlist;
  }

  get isTrained(): boolean { return this.k > 0; }
  /** Lists (k-means clusters); 0 before training. */
  get nlist(): number { return this.k; }

  get memoryBytes(): number {
    return this.rows.n * (this.dim + 2) * 4 + this.k * (this.dim + 2) * 4 + 4;
  }

  /** The trained centroids (a copy), nlist×dim. */
  getCentroids(): Float32Array { return this.arena.f32(this.centroids, this.k * this.dim).slice(); }

  /**
   * Learns the nlist centroids with k-means on `vectors` (which are not added). Retraining a
   * non-empty index is refused: its lists would no longer match.
   */
  async train(vectors: Float32Array, options: IVFTrainOptions = {}): Promise<void> {
    this.assertUsable();
    if (this.rows.n > 0) throw invalid('cannot retrain an IVF index that holds vectors; build a new index');
    const n = checkVectors(vectors, this.dim, 'training vectors');
    const nlist = this.requestedNlist ?? Math.max(1, Math.ceil(Math.sqrt(n)));
    const result = await kmeans(vectors, this.dim, nlist, { ...options, metric: this.metric });
    this.setCentroids(result.centroids, nlist);
    this.training = { objective: result.objective, trainedOn: result.trainedOn, splits: result.splits, warnings: result.warnings };
  }

  /** Uses given centroids instead of training (e.g. shared with another index). */
  setCentroids(centroids: Float32Array, nlist: number): void {
    this.assertUsable();
    if (this.rows.n > 0) throw invalid('cannot replace the centroids of an IVF index that holds vectors');
    checkVectors(centroids, this.dim, 'centroids');
    if (centroids.length !== nlist * this.dim) throw invalid(`expected ${nlist}×${this.dim} centroids, got ${centroids.length / this.dim} rows`);
    for (const p of [this.centroids, this.centroidNorms, this.listOffsets]) if (p) this.release(p);
    this.k = nlist;
    this.centroids = this.arena.alloc(nlist * this.dim * 4);
    this.arena.f32(this.centroids, nlist * this.dim).set(centroids);
    this.centroidNorms = this.arena.alloc(nlist * 4);
    this.K.norms(this.centroids, nlist, this.dim, this.centroidNorms);
    this.listOffsets = this.arena.alloc((nlist + 1) * 4);
  }

  private requireTrained(what: string): void {
    if (!this.isTrained) throw new NitamonoError('NOT_TRAINED', `cannot ${what}: the IVF index is not trained (call train() first)`);
  }

  private offsets(): Int32Array { return this.arena.i32(this.listOffsets, this.k + 1); }

  /** Sizes of the nlist inverted lists. */
  listSizes(): Int32Array {
    const o = this.offsets(), out = new Int32Array(this.k);
    for (let l = 0; l < this.k; l++) out[l] = o[l + 1]! - o[l]!;
    return out;
  }

  listStats(): ListStats {
    const s = this.listSizes();
    let min = Infinity, max = 0, empty = 0, sq = 0;
    for (const v of s) { min = Math.min(min, v); max = Math.max(max, v); if (v === 0) empty++; sq += v * v; }
    const n = this.rows.n, k = this.k;
    return {
      nlist: k, min: k ? min : 0, max, mean: k ? n / k : 0, empty,
      expectedScanPerProbe: n ? sq / n : 0,
      imbalance: n ? (sq * k) / (n * n) : 0,
    };
  }

  /** Nearest list of each row (n×dim, already in the arena at `ptr`). */
  private assignLists(ptr: number, n: number): Int32Array {
    const block: QueryBlock = {
      queries: ptr, queryNorms: this.arena.alloc(n * 4), heapsD: this.arena.alloc(n * 4),
      heapsI: this.arena.alloc(n * 4), sizes: this.arena.alloc(n * 4), k: 1,
    };
    const layout: FlatLayout = { metric: this.code, d: this.dim, n: this.k, vectors: this.centroids, norms: this.centroidNorms, ids: 0 };
    // the blocked kernel: assignment of a large batch is the N·K·D part of add()
    flatSearchRange(this.K, layout, block, 0, n, n >= BATCH_MIN_QUERIES);
    const lists = this.arena.i32(block.heapsI, n).slice();
    for (const p of [block.queryNorms, block.heapsD, block.heapsI, block.sizes]) this.arena.release(p);
    return lists;
  }

  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    this.requireTrained('add vectors');
    const idArr = this.prepareAdd(vectors, ids);
    const m = idArr.length, d = this.dim;
    if (m === 0) return;
    const tmp = this.arena.alloc(m * d * 4);
    this.arena.f32(tmp, m * d).set(vectors);
    const lists = this.assignLists(tmp, m);
    this.arena.release(tmp);

    // counting sort: old rows of list l, then the new rows of list l
    const oldOff = this.offsets().slice();
    const add = new Int32Array(this.k + 1);
    for (let i = 0; i < m; i++) add[lists[i]! + 1]!++;
    const newOff = new Int32Array(this.k + 1);
    for (let l = 0; l < this.k; l++) newOff[l + 1] = newOff[l]! + (oldOff[l + 1]! - oldOff[l]!) + add[l + 1]!;
    const n = this.rows.n + m;
    const oldVec = this.rows.vectorsView(), oldIds = this.rows.idsView();
    this.rows.rebuild(n, (v, idv) => {
      const cursor = new Int32Array(this.k);
      for (let l = 0; l < this.k; l++) {
        const a = oldOff[l]!, b = oldOff[l + 1]!, dst = newOff[l]!;
        v.set(oldVec.subarray(a * d, b * d), dst * d);
        idv.set(oldIds.subarray(a, b), dst);
        cursor[l] = dst + (b - a);
      }
      for (let i = 0; i < m; i++) {
        const r = cursor[lists[i]!]!++;
        v.set(vectors.subarray(i * d, (i + 1) * d), r * d);
        idv[r] = idArr[i]!;
      }
    });
    this.offsets().set(newOff);
    this.reindexIds();
    this.noteIds(idArr);
  }

  remove(ids: ArrayLike<number>): number {
    this.assertUsable();
    if (!this.isTrained) return 0;
    const kept = this.keptRows(ids);
    if (!kept) return 0;
    // rows stay grouped since `keep` is in row order; recount each list's end
    const off = this.offsets();
    const newOff = new Int32Array(this.k + 1);
    let l = 0;
    for (let i = 0; i < kept.keep.length; i++) {
      const r = kept.keep[i]!;
      while (r >= off[l + 1]!) l++;
      newOff[l + 1]!++;
    }
    for (let j = 0; j < this.k; j++) newOff[j + 1]! += newOff[j]!;
    this.rows.rebuild(kept.keep.length, (v, i) => this.copyRows(kept.keep, v, i));
    this.offsets().set(newOff);
    this.reindexIds();
    return kept.removed;
  }

  private layout(): IVFLayout {
    return {
      metric: this.code, d: this.dim, n: this.rows.n, vectors: this.rows.vectors, norms: this.rows.norms, ids: this.rows.ids,
      nlist: this.k, centroids: this.centroids, centroidNorms: this.centroidNorms, listOffsets: this.listOffsets,
    };
  }

  /** Resolves nprobe: default 1, clamped to nlist with a warning. */
  private probes(options: SearchOptions): { nprobe: number; warnings: string[] } {
    const warnings: string[] = [];
    let nprobe = options.nprobe ?? 1;
    if (!Number.isInteger(nprobe) || nprobe < 1) throw invalid(`nprobe must be a positive integer, got ${nprobe}`);
    if (nprobe > this.k) {
      warnings.push(`nprobe ${nprobe} is more than nlist ${this.k}; using ${this.k} (exact search)`);
      nprobe = this.k;
    }
    return { nprobe, warnings };
  }

  search(queries: Float32Array, k: number, options: SearchOptions = {}): SearchResult {
    this.requireTrained('search');
    checkK(k);
    const { nprobe, warnings } = this.probes(options);
    const { block, nq, ptrs } = this.queryBlock(queries, k, true);
    if (this.probeScratch.cap < nprobe) {
      // sized for every list at once so it is allocated once per index
      for (const p of [this.probeScratch.d, this.probeScratch.i]) if (p) this.release(p);
      this.probeScratch = { cap: this.k, d: this.arena.alloc(this.k * 4), i: this.arena.alloc(this.k * 4) };
    }
    const computed = ivfSearchRange(this.K, this.layout(), block, 0, nq, nprobe, this.probeScratch.d, this.probeScratch.i);
    return { ...this.collect(block, nq, ptrs, computed), nprobe, ...(warnings.length ? { warnings } : {}) };
  }

  searchAsync(queries: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchResult> {
    this.requireTrained('search');
    checkK(k);
    const threads = resolveThreads(options.threads);
    const { nprobe, warnings } = this.probes(options);
    const { block, nq, ptrs } = this.queryBlock(queries, k);
    const layout = this.layout();
    const ranges = ArenaIndex.ranges(nq, threads);
    const scratch = ranges.map(() => [this.arena.alloc(nprobe * 4), this.arena.alloc(nprobe * 4)] as const);
    return this.guarded(async () => {
      const tasks: Task[] = ranges.map(([q0, q1], t) => ({ op: 'ivf', layout, block, q0, q1, nprobe, probeD: scratch[t]![0], probeI: scratch[t]![1] }));
      const counts = await sharedPool().run(this.arena, tasks);
      for (const [a, b] of scratch) { this.arena.release(a); this.arena.release(b); }
      return { ...this.collect(block, nq, ptrs, counts.reduce((a, b) => a + b, 0)), nprobe, ...(warnings.length ? { warnings } : {}) };
    });
  }

  async save(path: string): Promise<void> {
    this.assertUsable();
    const sectionsOut: Record<string, ArrayBufferView> = {
      ids: this.rows.idsView(), vectors: this.rows.vectorsView(),
    };
    if (this.isTrained) {
      sectionsOut['centroids'] = this.arena.f32(this.centroids, this.k * this.dim);
      sectionsOut['listOffsets'] = this.offsets();
    }
    await writeContainer(path, {
      kind: 'ivf',
      version: IVF_FORMAT_VERSION,
      meta: { metric: this.metric, dim: this.dim, count: this.rows.n, nlist: this.k, requestedNlist: this.requestedNlist ?? null, nextId: this.nextId },
      sections: sectionsOut,
    });
  }

  static async load(path: string): Promise<IVFIndex> {
    return IVFIndex.fromContainer(path, await readContainer(path, { kind: 'ivf', maxVersion: IVF_FORMAT_VERSION }));
  }

  /** Builds the index from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: { meta: unknown; sections: Record<string, Uint8Array> }): IVFIndex {
    const meta = c.meta as { metric: Metric; dim: number; count: number; nlist: number; requestedNlist: number | null; nextId: number };
    const index = new IVFIndex(meta.dim, { metric: meta.metric, ...(meta.requestedNlist ? { nlist: meta.requestedNlist } : {}) });
    if (meta.nlist > 0) {
      const cs = c.sections['centroids'], os = c.sections['listOffsets'];
      if (!cs || cs.byteLength !== meta.nlist * meta.dim * 4 || !os || os.byteLength !== (meta.nlist + 1) * 4) {
        throw new NitamonoError('BAD_FILE', `${path}: centroid or list sections do not match the header (nlist ${meta.nlist})`);
      }
      index.setCentroids(new Float32Array(cs.buffer, cs.byteOffset, meta.nlist * meta.dim), meta.nlist);
      const off = new Int32Array(os.buffer, os.byteOffset, meta.nlist + 1);
      for (let l = 0; l < meta.nlist; l++) {
        if (off[l]! > off[l + 1]! || off[0] !== 0 || off[meta.nlist] !== meta.count) {
          throw new NitamonoError('BAD_FILE', `${path}: list offsets are inconsistent`);
        }
      }
      const { vectors, ids } = sections(path, c.sections, meta.dim, meta.count);
      // rows are stored grouped by list already: take them as they are
      index.prepareAdd(vectors, ids);
      index.rows.rebuild(meta.count, (v, i) => { v.set(vectors); i.set(ids); });
      index.offsets().set(off);
      index.reindexIds();
      index.noteIds(ids);
    }
    index.nextId = Math.max(index.nextId, meta.nextId ?? 0);
    return index;
  }
}
