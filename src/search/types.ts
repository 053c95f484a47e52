/** Public types shared by FlatIndex and IVFIndex. */
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

export interface SearchOptions {
  /** IVF: inverted lists to scan per query (default 1, clamped to nlist). */
  nprobe?: number;
  /** searchAsync: worker threads to use (default: all cores). */
  threads?: number;
}

export interface VectorIndex {
  readonly kind: 'flat' | 'ivf';
  readonly dim: number;
  readonly metric: Metric;
  /** Vectors stored. */
  readonly size: number;
  /** Bytes the index holds in memory (vectors, norms, ids, centroids, list offsets). */
  readonly memoryBytes: number;
  add(vectors: Float32Array, ids?: ArrayLike<number>): void;
  /** Removes the given ids; returns how many were present. */
  remove(ids: ArrayLike<number>): number;
  has(id: number): boolean;
  /** The stored vector of an id (a copy). */
  reconstruct(id: number): Float32Array;
  /** Synchronous search on the calling thread. */
  search(queries: Float32Array, k: number, options?: SearchOptions): SearchResult;
  /** The same search spread over worker threads; never blocks the event loop on the scan. */
  searchAsync(queries: Float32Array, k: number, options?: SearchOptions): Promise<SearchResult>;
  /** Atomic write of the versioned, checksummed index file. */
  save(path: string): Promise<void>;
  /** Frees the index's memory; the index is unusable afterwards. */
  dispose(): void;
}
