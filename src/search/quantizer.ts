/**
 * The coarse quantizer of an inverted file (Faiss's Level1Quantizer): nlist centroids learnt by
 * k-means, which decide the list a vector is stored in (assign) and the lists a query looks at
 * (probe). Centroids and their squared norms live in the index's arena, where the search loops
 * of ./scan.ts — on the main thread or on workers — read them in place.
 */

import { NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import type { Kernels, MetricCode } from '../kernels/types.js';
import { sortPairs } from '../util/pair-sort.js';
import { checkPositiveInt, checkVectors } from '../validate.js';
import { batchedFor, prepareHere, prepareOnWorkers, type RowPlan } from './add-rows.js';
import { buildHNSW, buildScratchBytes, checkGraph, checkHNSWParams, graphOffsets, type HNSWLayout, hnswScratchBytes, hnswSearch } from './hnsw.js';
import { type KMeansOptions, type KMeansResult, kmeans } from './kmeans.js';
import type { CoarseLayout, FlatLayout } from './scan.js';

/** What an index file records of its coarse quantizer beyond the centroids. */
export type CoarseSpec = { kind: 'flat' } | { kind: 'hnsw'; M: number; efConstruction: number; efSearch: number; entry: number; maxLevel: number };

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
    protected readonly arena: Arena,
    protected readonly K: Kernels,
    readonly d: number,
    readonly metric: MetricCode,
    protected readonly releaseLater: (ptr: number) => void,
  ) {}

  /** How the coarse step searches the centroids: every one ('flat'), or a graph. */
  get spec(): CoarseSpec {
    return { kind: 'flat' };
  }

  /** The coarse step as the search loops read it. */
  coarseLayout(): CoarseLayout {
    return { metric: this.metric, d: this.d, nlist: this.count, centroids: this.centroids, hnsw: null };
  }

  /** Arena scratch bytes one search range needs besides the probes (the graph search's). */
  get searchScratchBytes(): number {
    return 0;
  }

  /** Centroids the coarse step scores per query (all of them here). */
  coarseCost(_nprobe: number, _ef?: number): number {
    return this.count;
  }

  /** Candidates the coarse step keeps (HNSW efSearch); 0 for the exhaustive scan. */
  resolveEf(_ef: number | undefined, _nprobe: number): number {
    return 0;
  }

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

  /**
   * The nearest list of each of the n rows of `vectors` (n×d), in units copied into the
   * arena (./add-rows.ts): the blocked kernel, the N·K·D part of adding to an inverted file.
   */
  assign(vectors: Float32Array, n: number = vectors.length / this.d): Int32Array {
    return prepareHere(this.K, this.arena, this.assignPlan(n), vectors, n, null).lists;
  }

  /** The same on the worker pool (the same lists): the calling thread only copies. */
  async assignAsync(vectors: Float32Array, n: number, threads: number): Promise<Int32Array> {
    return (await prepareOnWorkers(this.arena, this.assignPlan(n), vectors, n, null, threads)).lists;
  }

  /** How rows of a call of n rows are assigned: see RowPlan. */
  assignPlan(n: number, rotation = 0, byResidual = false): RowPlan {
    this.requireTrained();
    return { d: this.d, rotation, coarse: this.assignStep(), batched: batchedFor(n), byResidual };
  }

  /** The coarse step of assignment: every centroid scored. */
  protected assignStep(): NonNullable<RowPlan['coarse']> {
    return { layout: this.layout(), hnsw: null, ef: 0 };
  }

  /** The `nprobe` lists nearest to `query` (d floats), nearest first; ties go to the lower list. */
  probe(query: Float32Array, nprobe: number, _ef?: number): Int32Array {
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
      const scores = a.f32(hd, size).slice(),
        lists = a.i32(hi, size).slice();
      sortPairs(scores, lists, size);
      return lists;
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

export interface HNSWQuantizerOptions {
  /** Neighbours per node on the upper levels (2M on level 0); Faiss's HNSW{M}. */
  M: number;
  /** Candidates kept while inserting (default 40, as Faiss). */
  efConstruction?: number;
  /** Candidates kept per search, and for assigning vectors to lists (default 64); a search may ask for more. */
  efSearch?: number;
}

/**
 * The coarse quantizer of Faiss's IVF{n}_HNSW{M}: the same k-means centroids, searched through
 * an HNSW graph (./hnsw.ts) built over them once they are set. Probing and assigning vectors
 * to lists keep efSearch candidates (at least nprobe), so both are approximate: a vector may go
 * to its second-nearest list, as in Faiss. The graph is saved with the index.
 */
export class HNSWQuantizer extends CoarseQuantizer {
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  private graph: { levels: number; offsets: number; neighbors: number; entry: number; maxLevel: number; slots: number } | undefined;

  constructor(arena: Arena, K: Kernels, d: number, metric: MetricCode, releaseLater: (ptr: number) => void, options: HNSWQuantizerOptions) {
    super(arena, K, d, metric, releaseLater);
    const efConstruction = options.efConstruction ?? 40,
      efSearch = options.efSearch ?? 64;
    checkHNSWParams(options.M, efConstruction, efSearch);
    this.M = options.M;
    this.efConstruction = efConstruction;
    this.efSearch = efSearch;
  }

  override get spec(): CoarseSpec {
    const g = this.graph;
    return { kind: 'hnsw', M: this.M, efConstruction: this.efConstruction, efSearch: this.efSearch, entry: g?.entry ?? -1, maxLevel: g?.maxLevel ?? -1 };
  }

  override get memoryBytes(): number {
    const g = this.graph;
    return super.memoryBytes + (g ? (2 * this.nlist + 1 + g.slots) * 4 : 0);
  }

  override get searchScratchBytes(): number {
    return hnswScratchBytes(this.M);
  }

  override resolveEf(ef: number | undefined, nprobe: number): number {
    return Math.max(ef ?? this.efSearch, nprobe);
  }

  /** About ef nodes expanded on level 0, each scoring up to 2M neighbours (plus the greedy descent). */
  override coarseCost(nprobe: number, ef?: number): number {
    if (!this.graph) return super.coarseCost(nprobe, ef);
    return Math.min(this.nlist, this.resolveEf(ef, nprobe) * 2 * this.M + (this.graph.maxLevel + 1) * this.M);
  }

  private hnswLayout(): HNSWLayout {
    const g = this.graph!;
    return { n: this.nlist, M: this.M, entry: g.entry, maxLevel: g.maxLevel, levels: g.levels, offsets: g.offsets, neighbors: g.neighbors };
  }

  override coarseLayout(): CoarseLayout {
    return { ...super.coarseLayout(), hnsw: this.graph ? this.hnswLayout() : null };
  }

  /** The graph's levels and neighbour slots (copies), for saving. */
  graphArrays(): { levels: Int32Array; neighbors: Int32Array } | undefined {
    const g = this.graph;
    if (!g) return undefined;
    return { levels: this.arena.i32(g.levels, this.nlist), neighbors: this.arena.i32(g.neighbors, g.slots) };
  }

  /** Takes centroids and builds the graph over them. */
  override set(centroids: Float32Array, nlist: number): void {
    super.set(centroids, nlist);
    const scratch = this.arena.alloc(buildScratchBytes(this.M, this.efConstruction));
    try {
      const g = buildHNSW(this.K, this.metric, this.d, this.centroids, nlist, { M: this.M, efConstruction: this.efConstruction }, scratch);
      this.place(g.levels, g.offsets, g.neighbors, g.entry, g.maxLevel);
    } finally {
      this.arena.release(scratch);
    }
  }

  /** Takes centroids and a graph read from a file; returns what is wrong with the graph, if anything. */
  setWithGraph(centroids: Float32Array, nlist: number, levels: Int32Array, neighbors: Int32Array, entry: number, maxLevel: number): string | undefined {
    const problem = checkGraph(nlist, this.M, levels, neighbors, entry, maxLevel);
    if (problem) return problem;
    super.set(centroids, nlist);
    this.place(levels, graphOffsets(this.M, levels), neighbors, entry, maxLevel);
    return undefined;
  }

  private place(levels: Int32Array, offsets: Int32Array, neighbors: Int32Array, entry: number, maxLevel: number): void {
    const old = this.graph;
    if (old) for (const p of [old.levels, old.offsets, old.neighbors]) this.releaseLater(p);
    const a = this.arena;
    const g = {
      levels: a.alloc(Math.max(4, levels.byteLength)),
      offsets: a.alloc(offsets.byteLength),
      neighbors: a.alloc(Math.max(4, neighbors.byteLength)),
      entry,
      maxLevel,
      slots: neighbors.length,
    };
    a.i32(g.levels, levels.length).set(levels);
    a.i32(g.offsets, offsets.length).set(offsets);
    a.i32(g.neighbors, neighbors.length).set(neighbors);
    this.graph = g;
  }

  /** The list of each vector: the graph's nearest centroid with efSearch candidates. */
  protected override assignStep(): NonNullable<RowPlan['coarse']> {
    return { ...super.assignStep(), ...(this.graph ? { hnsw: this.hnswLayout(), ef: this.efSearch } : {}) };
  }

  /** The `nprobe` lists the graph finds nearest to `query`, nearest first, with `ef` candidates (default efSearch). */
  override probe(query: Float32Array, nprobe: number, ef?: number): Int32Array {
    if (!this.graph) return super.probe(query, nprobe);
    checkVectors(query, this.d, 'query');
    const np = Math.min(checkPositiveInt('nprobe', nprobe), this.nlist);
    const a = this.arena;
    const q = a.alloc(this.d * 4),
      hd = a.alloc(np * 4),
      hi = a.alloc(np * 4),
      scratch = a.alloc(this.searchScratchBytes);
    try {
      a.f32(q, this.d).set(query.subarray(0, this.d));
      const r = hnswSearch(this.K, this.metric, this.d, this.centroids, this.hnswLayout(), q, np, this.resolveEf(ef, np), hd, hi, scratch);
      return a.i32(hi, r.found).slice();
    } finally {
      for (const p of [q, hd, hi, scratch]) a.release(p);
    }
  }
}
