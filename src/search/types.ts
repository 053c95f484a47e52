/** Public types shared by every index kind. */
export type Metric = 'l2' | 'ip';

export interface SearchResult {
  /** Number of queries. */
  nq: number;
  /** Results per query (the k asked for). */
  k: number;
  /** nq×k ids, best first; -1 where fewer than k vectors exist. */
  labels: Int32Array;
  /** nq×k: squared L2 distance ('l2', ascending) or inner product ('ip', descending); NaN pads. */
  distances: Float32Array;
  /** Distance computations made over all queries (centroids + scanned vectors), the seed's cost. */
  distancesComputed: number;
  /** Probes actually used (IVF only, after clamping to nlist). */
  nprobe?: number;
  /** Warnings worth showing the user, e.g. nprobe clamped. */
  warnings?: string[];
}

/** Search parameters every kind takes. */
export interface BaseSearchParams {
  /** searchAsync: worker threads to use (default: all cores). */
  threads?: number;
  /**
   * Filtered search: only these ids are candidates (any order; ids the index does not hold are
   * ignored). Applied inside the scan (./subset.ts tells how the scan is chosen): results are
   * the k best of the subset — exact for the exact kinds — and k of them whenever the subset
   * holds k.
   */
  allowed?: ArrayLike<number>;
}

export type FlatSearchParams = BaseSearchParams;

export interface IVFSearchParams extends BaseSearchParams {
  /** Inverted lists to scan per query (default 1, clamped to nlist). */
  nprobe?: number;
  /**
   * HNSW coarse quantizer (IVF{n}_HNSW{M}): candidates the graph search keeps (at least
   * nprobe; default the quantizer's efSearch). Ignored by an exhaustive coarse step.
   */
  efSearch?: number;
}

/** Search parameters of the compressed kinds (sq8, pq, ivf-sq8, ivf-pq). */
export interface CodedSearchParams extends IVFSearchParams {
  /**
   * Re-rank: take refineFactor·k candidates (rounded up) from the codes, re-score them with the
   * exact distance to their full vectors (setRefineVectors) and keep the best k. A number ≥ 1;
   * default: the index's refineFactor when refine vectors are attached, else no re-ranking.
   * nprobe is read by the IVF kinds only.
   */
  refineFactor?: number;
}

/**
 * What code holding an index of unknown kind may pass: every kind's parameters. Each kind reads
 * its own and ignores the others, so one set of parameters can be sent to any index.
 */
export type SearchParams = FlatSearchParams & IVFSearchParams & CodedSearchParams;

/** The former name of SearchParams. */
export type SearchOptions = SearchParams;

/** What an index kind can do, so callers decide without knowing the kind (as Faiss's index traits). */
export interface IndexCapabilities {
  /** Needs train() before add() and search(). */
  readonly trainable: boolean;
  /** Supports remove(). */
  readonly removable: boolean;
  /** Stores vectors lossily: reconstruct() returns an approximation and distances are estimates. */
  readonly compressed: boolean;
  /** Answers are only as good as the codes unless re-ranked against the original vectors, which the caller must keep. */
  readonly needsRefineVectors: boolean;
}

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

/** The facts about an index that reports and stats need, whatever its kind. */
/** What `describe` computes: list statistics cost O(nlist), so per-query callers leave them out. */
export interface DescribeOptions {
  /** Include `lists` (default true). */
  lists?: boolean;
}

export interface IndexDescription {
  kind: string;
  dim: number;
  metric: Metric;
  size: number;
  memoryBytes: number;
  /** WebAssembly memories (of at most 4 GiB each) the index spans, when more than one. */
  arenas?: number;
  /** Bytes of the full vectors kept outside the index for re-ranking (compressed kinds; 0 when none are attached). */
  refineBytes?: number;
  /** Inverted lists (kinds with a coarse quantizer; 0 before training). */
  nlist?: number;
  lists?: ListStats;
  /** How codes are made and scanned, where the kind alone does not say (PQ: sub-quantizers, bits, fast scan). */
  codec?: string;
}

export interface AddOptions {
  /** Worker threads the call uses (default: all cores). */
  threads?: number;
}

export interface VectorIndex<P extends BaseSearchParams = SearchParams> {
  /** The registered kind ('flat', 'ivf', …) that wrote and reads its files. */
  readonly kind: string;
  readonly capabilities: IndexCapabilities;
  readonly dim: number;
  readonly metric: Metric;
  /** Vectors stored. */
  readonly size: number;
  /** Bytes the index holds in memory (vectors or codes, ids, centroids, codebooks, list offsets, tables). */
  readonly memoryBytes: number;
  /** Bytes of the full vectors it re-ranks with, kept outside its memory (on disk); 0 or absent when none. */
  readonly refineBytes?: number;
  /** Ready for add() and search(): always for kinds that need no training. */
  readonly isTrained: boolean;
  /** Learns what a trainable kind needs (centroids, codebooks) from sample vectors, which are not added. */
  train?(vectors: Float32Array, options?: object): Promise<void>;
  add(vectors: Float32Array, ids?: ArrayLike<number>): void;
  /**
   * The same as add() (the same lists, codes and ids), with the per-vector work — list
   * assignment, encoding, rotation — on worker threads; absent on kinds with none. `vectors`
   * must not change until the promise settles.
   */
  addAsync?(vectors: Float32Array, ids?: ArrayLike<number>, options?: AddOptions): Promise<void>;
  /** Removes the given ids; returns how many were present. */
  remove(ids: ArrayLike<number>): number;
  has(id: number): boolean;
  /** Every stored id (a copy), in storage order. */
  ids(): Int32Array;
  /** The stored vector of an id (a copy; an approximation for compressed kinds). */
  reconstruct(id: number): Float32Array;
  /** Synchronous search on the calling thread. */
  search(queries: Float32Array, k: number, params?: P): SearchResult;
  /** The same search spread over worker threads; never blocks the event loop on the scan. */
  searchAsync(queries: Float32Array, k: number, params?: P): Promise<SearchResult>;
  /** Expected multiply-adds of one query with these parameters (what deciding sync vs worker search needs). */
  queryCost(params?: P): number;
  describe(options?: DescribeOptions): IndexDescription;
  /**
   * Atomic write of the versioned, checksummed index file, holding the index as it is at the
   * call: changes (add, remove, dispose, …) made before the promise settles never reach it.
   */
  save(path: string): Promise<void>;
  /** Frees the index's memory; the index is unusable afterwards. */
  dispose(): void;
}

/** True when `index` must be trained before it takes vectors. */
export function needsTraining(index: Pick<VectorIndex, 'capabilities' | 'isTrained'>): boolean {
  return index.capabilities.trainable && !index.isTrained;
}
