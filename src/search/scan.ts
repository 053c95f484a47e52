/**
 * The search loops shared by the main thread (synchronous search) and the worker threads
 * (searchAsync, k-means). They only see a Kernels instance and pointers into its memory, so
 * the same code runs wherever that memory is attached.
 */
import { NitamonoError } from '../errors.js';
import { type Kernels, METRIC_L2, type MetricCode } from '../kernels/types.js';

/** Where an index's rows live in its arena. Rows are contiguous, `n` rows of `d` floats. */
export interface FlatLayout {
  metric: MetricCode;
  d: number;
  n: number;
  /** f32 n×d */
  vectors: number;
  /** f32 n: squared norms, for the batched L2 form */
  norms: number;
  /** i32 n: the id of each row, which heaps hold; 0 when labels are row numbers (k-means). */
  ids: number;
}

/**
 * Scores the query at `q` against `n` codes of one inverted list at `codes`, pushing into the
 * query's heap (which holds `size` entries); returns the heap's new size. Same heap and label
 * conventions as Kernels.scanTopK.
 */
export type ListScanner = (
  K: Kernels,
  metric: MetricCode,
  q: number,
  codes: number,
  n: number,
  d: number,
  k: number,
  heapD: number,
  heapI: number,
  size: number,
  rowOffset: number,
) => number;

/**
 * The list scanners, by the name a codec gives (VectorCodec.scanner). A name rather than a
 * function travels in the layout, so worker threads find the same scanner.
 */
export const LIST_SCANNERS = {
  // raw float32 rows: the direct-formula scan of exact search
  f32: (K, metric, q, codes, n, d, k, heapD, heapI, size, rowOffset) => K.scanTopK(metric, q, codes, n, d, k, heapD, heapI, size, rowOffset),
} satisfies Record<string, ListScanner>;

export type ListScannerName = keyof typeof LIST_SCANNERS;

/** An inverted file: codes grouped by list; list l holds rows listOffsets[l] .. listOffsets[l+1]. */
export interface IVFLayout {
  metric: MetricCode;
  d: number;
  /** Rows in all lists. */
  n: number;
  /** n codes of codeSize bytes each */
  codes: number;
  codeSize: number;
  /** How to score a query against the codes. */
  scanner: ListScannerName;
  /** i32 n: the id of each row */
  ids: number;
  nlist: number;
  /** f32 nlist×d */
  centroids: number;
  /** f32 nlist */
  centroidNorms: number;
  /** i32 nlist+1 */
  listOffsets: number;
}

/** Where a range of queries and their result heaps live. Heaps are k-wide per query. */
export interface QueryBlock {
  /** f32 nq×d, all queries of the call */
  queries: number;
  /** f32 nq, squared query norms (batched L2 only) */
  queryNorms: number;
  heapsD: number;
  heapsI: number;
  /** i32 nq: heap sizes */
  sizes: number;
  k: number;
}

/** Below this many queries a call scans query by query (direct formula, no norm tables). */
export const BATCH_MIN_QUERIES = 8;

/** Exact search for queries [q0, q1). Returns the distances computed. */
export function flatSearchRange(K: Kernels, L: FlatLayout, B: QueryBlock, q0: number, q1: number, batched: boolean): number {
  const { d, n } = L;
  if (n === 0 || q1 <= q0) return 0;
  K.setLabelMap(L.ids);
  if (batched) {
    const off = q0 * 4;
    if (L.metric === METRIC_L2) K.norms(B.queries + q0 * d * 4, q1 - q0, d, B.queryNorms + off);
    K.batchTopK(
      L.metric,
      B.queries + q0 * d * 4,
      q1 - q0,
      B.queryNorms + off,
      L.vectors,
      L.norms,
      n,
      d,
      B.k,
      B.heapsD + off * B.k,
      B.heapsI + off * B.k,
      B.sizes + off,
      0,
    );
  } else {
    const sizes = new Int32Array(K.memory.buffer, B.sizes, q1);
    for (let i = q0; i < q1; i++) {
      sizes[i] = K.scanTopK(L.metric, B.queries + i * d * 4, L.vectors, n, d, B.k, B.heapsD + i * B.k * 4, B.heapsI + i * B.k * 4, sizes[i]!, 0);
    }
  }
  return (q1 - q0) * n;
}

/**
 * Inverted-file search for queries [q0, q1): rank the nlist centroids, then scan the nprobe
 * nearest lists with the codec's list scanner into one heap per query. `probeD`/`probeI` are
 * scratch of nprobe entries.
 * Returns the distances computed (centroids + scanned rows).
 */
export function ivfSearchRange(K: Kernels, L: IVFLayout, B: QueryBlock, q0: number, q1: number, nprobe: number, probeD: number, probeI: number): number {
  const { d, codeSize } = L;
  const scanList: ListScanner | undefined = LIST_SCANNERS[L.scanner];
  if (!scanList) throw new NitamonoError('UNSUPPORTED', `no list scanner '${String(L.scanner)}' (an index made by another version?)`);
  let computed = 0;
  const offsets = new Int32Array(K.memory.buffer, L.listOffsets, L.nlist + 1);
  const probes = new Int32Array(K.memory.buffer, probeI, nprobe);
  const sizes = new Int32Array(K.memory.buffer, B.sizes, q1);
  // Centroid ranking uses L2 for both metrics only when centroids came from L2 k-means on an
  // L2 index; for IP indexes Faiss ranks centroids by inner product too, as done here.
  for (let i = q0; i < q1; i++) {
    const q = B.queries + i * d * 4;
    K.setLabelMap(0);
    const np = K.scanTopK(L.metric, q, L.centroids, L.nlist, d, nprobe, probeD, probeI, 0, 0);
    computed += L.nlist;
    let size = sizes[i]!;
    K.setLabelMap(L.ids);
    for (let p = 0; p < np; p++) {
      const list = probes[p]!;
      const start = offsets[list]!,
        len = offsets[list + 1]! - start;
      if (len === 0) continue;
      size = scanList(K, L.metric, q, L.codes + start * codeSize, len, d, B.k, B.heapsD + i * B.k * 4, B.heapsI + i * B.k * 4, size, start);
      computed += len;
    }
    sizes[i] = size;
  }
  return computed;
}
