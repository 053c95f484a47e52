/**
 * The coarse quantizer of an inverted file (Faiss's Level1Quantizer): nlist centroids learnt by
 * k-means, which decide the list a vector is stored in (assign) and the lists a query looks at
 * (probe). Centroids and their squared norms live in the index's arena, where the search loops
 * of ./scan.ts — on the main thread or on workers — read them in place.
 */

import { NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import type { Kernels, MetricCode } from '../kernels/types.js';
import { checkPositiveInt, checkVectors } from '../validate.js';
import { type KMeansOptions, type KMeansResult, kmeans } from './kmeans.js';
import { BATCH_MIN_QUERIES, type FlatLayout, flatSearchRange, type QueryBlock } from './scan.js';

export class CoarseQuantizer {
  private count = 0;
  /** f32 nlist×d */
  centroids = 0;
  /** f32 nlist: squared norms, for the batched assignment */
  norms = 0;

  /**
   * `releaseLater` frees a region once no search in flight can still read it (the owner knows
   * when that is).
   */
  constructor(
    private readonly arena: Arena,
    private readonly K: Kernels,
    readonly d: number,
    readonly metric: MetricCode,
    private readonly releaseLater: (ptr: number) => void,
  ) {}

  /** Lists (centroids); 0 before training. */
  get nlist(): number {
    return this.count;
  }
  get isTrained(): boolean {
    return this.count > 0;
  }
  get memoryBytes(): number {
    return this.count * (this.d + 1) * 4;
  }

  /** The centroids, nlist×d (a view of the arena: copy to keep). */
  centroidsView(): Float32Array {
    return this.arena.f32(this.centroids, this.count * this.d);
  }

  /** Learns nlist centroids from `vectors` with k-means and takes them. */
  async train(vectors: Float32Array, nlist: number, options: KMeansOptions): Promise<KMeansResult> {
    const result = await kmeans(vectors, this.d, nlist, options);
    this.set(result.centroids, nlist);
    return result;
  }

  /** Takes given centroids (nlist×d). */
  set(centroids: Float32Array, nlist: number): void {
    checkPositiveInt('nlist', nlist);
    checkVectors(centroids, this.d, 'centroids');
    if (centroids.length !== nlist * this.d) {
      throw new NitamonoError('INVALID_ARGUMENT', `expected ${nlist}×${this.d} centroids, got ${centroids.length / this.d} rows`);
    }
    if (this.centroids) this.releaseLater(this.centroids);
    if (this.norms) this.releaseLater(this.norms);
    this.centroids = this.arena.alloc(nlist * this.d * 4);
    this.arena.f32(this.centroids, nlist * this.d).set(centroids);
    this.norms = this.arena.alloc(nlist * 4);
    this.K.norms(this.centroids, nlist, this.d, this.norms);
    this.count = nlist;
  }

  /** The nearest list of each of the n rows of `vectors` (n×d). */
  assign(vectors: Float32Array, n: number = vectors.length / this.d): Int32Array {
    this.requireTrained();
    const a = this.arena,
      d = this.d;
    const at = [n * d * 4, n * 4, n * 4, n * 4, n * 4].map((b) => a.alloc(Math.max(4, b)));
    const block: QueryBlock = { queries: at[0]!, queryNorms: at[1]!, heapsD: at[2]!, heapsI: at[3]!, sizes: at[4]!, k: 1 };
    try {
      a.f32(block.queries, n * d).set(vectors.subarray(0, n * d));
      // the blocked kernel: assigning a large batch is the N·K·D part of adding to an inverted file
      flatSearchRange(this.K, this.layout(), block, 0, n, n >= BATCH_MIN_QUERIES);
      return a.i32(block.heapsI, n).slice();
    } finally {
      for (const p of at) a.release(p);
    }
  }

  /** The `nprobe` lists nearest to `query` (d floats), nearest first; ties go to the lower list. */
  probe(query: Float32Array, nprobe: number): Int32Array {
    this.requireTrained();
    checkVectors(query, this.d, 'query');
    const np = Math.min(checkPositiveInt('nprobe', nprobe), this.count);
    const a = this.arena;
    const q = a.alloc(this.d * 4),
      hd = a.alloc(np * 4),
      hi = a.alloc(np * 4);
    try {
      a.f32(q, this.d).set(query.subarray(0, this.d));
      this.K.setLabelMap(0);
      const size = this.K.scanTopK(this.metric, q, this.centroids, this.count, this.d, np, hd, hi, 0, 0);
      const scores = a.f32(hd, size),
        lists = a.i32(hi, size);
      const order = Array.from({ length: size }, (_, j) => j).sort((x, y) => scores[x]! - scores[y]! || lists[x]! - lists[y]!);
      return Int32Array.from(order, (j) => lists[j]!);
    } finally {
      for (const p of [q, hd, hi]) a.release(p);
    }
  }

  /** The centroids as rows of an exact scan (labels are list numbers). */
  layout(): FlatLayout {
    return { metric: this.metric, d: this.d, n: this.count, vectors: this.centroids, norms: this.norms, ids: 0 };
  }

  private requireTrained(): void {
    if (!this.isTrained) throw new NitamonoError('NOT_TRAINED', 'the coarse quantizer has no centroids yet (train first)');
  }
}
