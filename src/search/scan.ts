/**
 * The search loops shared by the main thread (synchronous search) and the worker threads
 * (searchAsync, k-means). They only see a Kernels instance and pointers into its memory, so
 * the same code runs wherever that memory is attached.
 */
import { NitamonoError } from '../errors.js';
import { type Kernels, METRIC_IP, METRIC_L2, type MetricCode } from '../kernels/types.js';
import { type HNSWLayout, hnswSearch } from './hnsw.js';

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
  /**
   * A filtered search (./subset.ts): the only rows to score (in any order: ties break on the
   * label), as i32 at this address of the arena (`allowedCount` of them); absent: every row.
   */
  allowedAt?: number;
  allowedCount?: number;
}

/** 8-bit PQ sub-quantizers have 2^8 codewords each. */
export const PQ_KSUB = 256;
/** 4-bit ("fast scan") PQ sub-quantizers have 2^4. */
export const PQ4_KSUB = 16;

/**
 * Scores a query against the codes of inverted lists, in place in the shared arena, on any
 * thread. A scanner is told about each query once (setQuery: compute a lookup table, subtract
 * offsets) and then about each list it scans (scanList: add the list's centroid terms, push the
 * list's codes into the query's heap). It keeps what it prepares in `scratch`, scratchFloats(L)
 * floats of the caller's, so the same scanner object serves every thread and every index.
 */
export interface ListScanner {
  /** Scores do not depend on the list (raw rows): a filtered scan may take allowed rows of several lists at once. */
  readonly listFree?: boolean;
  /** Its kernels push through the WASM module's push (no other heap code): a reservoir may stand in for the heap (Kernels.reservoirBegin). */
  readonly reservoir?: boolean;
  /** f32 scratch one query needs (prepared query, lookup tables); 0 when none. */
  scratchFloats(L: IVFLayout): number;
  /** Prepares for the query at `q` (d floats), before its lists are scanned. */
  setQuery(K: Kernels, L: IVFLayout, q: number, scratch: number): void;
  /**
   * Scores the `n` codes of list `list`, which start at `codes` and at row `start` of all lists,
   * pushing (score, id) into the query's heap (holding `size` entries); returns the heap's new
   * size. `coarse` is the query's score against the list's centroid (0 without a coarse quantizer).
   * Same heap and label conventions as Kernels.scanTopK.
   */
  scanList(
    K: Kernels,
    L: IVFLayout,
    q: number,
    scratch: number,
    list: number,
    coarse: number,
    codes: number,
    n: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    start: number,
  ): number;
}

const noScratch = (): number => 0;
const noQuery = (): void => {};

/** Raw float32 rows: the direct-formula scan of exact search. */
const f32Scanner: ListScanner = {
  listFree: true,
  scratchFloats: noScratch,
  setQuery: noQuery,
  scanList: (K, L, q, _s, _l, _c, codes, n, k, heapD, heapI, size, start) => K.scanTopK(L.metric, q, codes, n, L.d, k, heapD, heapI, size, start),
};

/**
 * 8-bit scalar quantizer (./sq8.ts): x̂_j = [c_j +] off_j + code_j·sc_j, with sc then off at
 * codecParams. L2 scans (q − [c] − off) against code·sc; IP scores −⟨q, x̂⟩ as
 * −⟨q, c⟩ − ⟨q, off⟩ − Σ code_j·(q_j·sc_j), the first term being the coarse score.
 * Scratch: qb (d: q − off, or q·sc for IP), qp (d: qb − c, per list), then the query's bias.
 */
const sq8Scanner: ListScanner = {
  scratchFloats: (L) => 2 * L.d + 4,
  setQuery(K, L, q, scratch) {
    const d = L.d,
      sc = L.codecParams,
      off = sc + d * 4;
    if (L.metric === METRIC_L2) {
      K.madd(d, q, -1, off, scratch);
      return;
    }
    const buf = K.memory.buffer;
    const Q = new Float32Array(buf, q, d),
      S = new Float32Array(buf, sc, d),
      O = new Float32Array(buf, off, d),
      qb = new Float32Array(buf, scratch, 2 * d + 1);
    let dot = 0;
    for (let j = 0; j < d; j++) {
      qb[j] = Q[j]! * S[j]!;
      dot += Q[j]! * O[j]!;
    }
    qb[2 * d] = -dot;
  },
  scanList(K, L, _q, scratch, list, coarse, codes, n, k, heapD, heapI, size, start) {
    const d = L.d;
    if (L.metric === METRIC_L2) {
      let qp = scratch;
      if (L.byResidual) {
        qp = scratch + d * 4;
        K.madd(d, scratch, -1, L.centroids + list * d * 4, qp);
      }
      return K.sq8Scan(L.metric, qp, L.codecParams, codes, n, d, 0, k, heapD, heapI, size, start);
    }
    const bias = new Float32Array(K.memory.buffer, scratch + 2 * d * 4, 1)[0]! + (L.byResidual ? coarse : 0);
    return K.sq8Scan(L.metric, scratch, L.codecParams, codes, n, d, bias, k, heapD, heapI, size, start);
  },
};

/**
 * Half precision (./fp16.ts): rows of d halves, widened on the fly and scored like raw rows.
 * L2 by residual scans q − c (scratch, per list); IP by residual adds the coarse score −⟨q, c⟩.
 */
const f16Scanner: ListScanner = {
  // sized from d alone: the index asks before it knows its layout (coded.ts)
  scratchFloats: (L) => L.d,
  setQuery: noQuery,
  scanList(K, L, q, scratch, list, coarse, codes, n, k, heapD, heapI, size, start) {
    if (!L.byResidual) return K.f16Scan(L.metric, q, codes, n, L.d, 0, k, heapD, heapI, size, start);
    if (L.metric !== METRIC_L2) return K.f16Scan(L.metric, q, codes, n, L.d, coarse, k, heapD, heapI, size, start);
    K.madd(L.d, q, -1, L.centroids + list * L.d * 4, scratch);
    return K.f16Scan(L.metric, scratch, codes, n, L.d, 0, k, heapD, heapI, size, start);
  },
};

/**
 * Product quantizer (./pq.ts), asymmetric distance: a table of m×256 sub-distances per query
 * (or per list), then m lookups per code. Codebooks (m×256×dsub) at codecParams.
 * - no coarse quantizer, or IP by residual: one table per query (IP adds the coarse −⟨q, c⟩);
 * - L2 by residual with the precomputed table (Faiss's trick): ‖q − c − r‖² =
 *   ‖q − c‖² + (‖r‖² + 2⟨c, r⟩) − 2⟨q, r⟩: the middle term per list and codeword is
 *   L.precomputed, the last is twice the query's IP table, the first the coarse score;
 * - L2 by residual without it: the table of (q − c) for each list.
 * Scratch: lut (m·256), the query's table t (m·256), q − c (d).
 */
const pqScanner: ListScanner = {
  reservoir: true,
  scratchFloats: (L) => 2 * L.m * PQ_KSUB + L.d,
  setQuery(K, L, q, scratch) {
    queryTable(K, L, q, scratch, PQ_KSUB);
  },
  scanList(K, L, q, scratch, list, coarse, codes, n, k, heapD, heapI, size, start) {
    let bias = 0;
    if (L.byResidual) bias = L.metric === METRIC_L2 ? residualL2Table(K, L, q, scratch, list, coarse, PQ_KSUB) : coarse;
    return K.pqScan(scratch, codes, n, L.m, bias, k, heapD, heapI, size, start);
  },
};

/**
 * A PQ query's f32 table, made once per query (ksub codewords a sub-quantizer): for L2 residuals,
 * the query's IP table at scratch + m·ksub floats, the per-query half of the precomputed-table
 * formula (nothing without that table); else the whole table at `scratch`, which then serves
 * every list. Returns whether it made the whole table.
 */
function queryTable(K: Kernels, L: IVFLayout, q: number, scratch: number, ksub: number): boolean {
  const residualL2 = L.byResidual && L.metric === METRIC_L2;
  if (residualL2 && !L.precomputed) return false;
  const at = residualL2 ? scratch + L.m * ksub * 4 : scratch;
  K.pqTables(L.byResidual ? METRIC_IP : L.metric, q, L.codecParams, L.m, L.d / L.m, ksub, at);
  return !residualL2;
}

/**
 * A probed list's f32 table at `scratch` when the codes are L2 residuals: the list's row of the
 * precomputed table plus twice the query's IP table (queryTable), else the table of q − c (q − c
 * kept at scratch + 2·m·ksub floats). Returns what to add to each code's sum: the coarse score
 * ‖q − c‖² with the precomputed table, else nothing.
 */
function residualL2Table(K: Kernels, L: IVFLayout, q: number, scratch: number, list: number, coarse: number, ksub: number): number {
  const m = L.m,
    entries = m * ksub;
  if (L.precomputed) {
    K.madd(entries, L.precomputed + list * entries * 4, 2, scratch + entries * 4, scratch);
    return coarse;
  }
  const d = L.d,
    qr = scratch + 2 * entries * 4;
  K.madd(d, q, -1, L.centroids + list * d * 4, qr);
  K.pqTables(METRIC_L2, qr, L.codecParams, m, d / m, ksub, scratch);
  return 0;
}

/**
 * 4-bit product quantizer, fast scan (./pq.ts with nbits 4; Faiss's IndexPQFastScan,
 * IndexIVFPQFastScan): the f32 table is m×16, built as pqScanner builds its m×256 one, then
 * quantized to bytes (pq4Quantize: one step for all sub-quantizers, so sums of bytes order the
 * codes as sums of floats do, to within m/2 steps) and scanned by byte shuffles (pq4Scan). A
 * table that does not depend on the list (no coarse quantizer; IP by residual, which adds the
 * coarse score to the base) is quantized once per query; L2 by residual, once per probed list.
 * Scratch: lut (m·16), the query's table t (m·16), q − c (d), the byte table (m·16 bytes), base
 * and step (2).
 */
const pq4Scanner: ListScanner = {
  reservoir: true,
  scratchFloats: (L) => pq4ScratchFloats(L.m, L.d),
  setQuery(K, L, q, scratch) {
    if (!queryTable(K, L, q, scratch, PQ4_KSUB)) return;
    const qlut = pq4Table(L.m, L.d, scratch);
    K.pq4Quantize(scratch, L.m, 0, qlut, pq4Params(qlut, L.m));
  },
  scanList(K, L, q, scratch, list, coarse, codes, n, k, heapD, heapI, size, start) {
    const m = L.m,
      qlut = pq4Table(m, L.d, scratch),
      params = pq4Params(qlut, m);
    const residualL2 = L.byResidual && L.metric === METRIC_L2;
    if (residualL2) K.pq4Quantize(scratch, m, residualL2Table(K, L, q, scratch, list, coarse, PQ4_KSUB), qlut, params);
    // IP by residual: the table is the query's, the list's coarse score is added to its base
    const bias = residualL2 || !L.byResidual ? 0 : coarse;
    return K.pq4Scan(qlut, params, bias, codes, n, m, k, heapD, heapI, size, start);
  },
};

/** Floats of pq4Scanner's scratch. */
function pq4ScratchFloats(m: number, d: number): number {
  return 2 * m * PQ4_KSUB + d + (m * PQ4_KSUB) / 4 + 2;
}

/** Where pq4Scanner keeps the byte table in its scratch, after the f32 tables and q − c; its (base, step) follow it (pq4Params). */
function pq4Table(m: number, d: number, scratch: number): number {
  return scratch + 2 * m * PQ4_KSUB * 4 + d * 4;
}

/** The (base, step) pair after the byte table at qlut. */
const pq4Params = (qlut: number, m: number): number => qlut + m * PQ4_KSUB;

/**
 * The list scanners, by the name a codec gives (VectorCodec.scanner). A name rather than a
 * function travels in the layout, so worker threads find the same scanner.
 */
export const LIST_SCANNERS = {
  f32: f32Scanner,
  sq8: sq8Scanner,
  f16: f16Scanner,
  pq: pqScanner,
  pq4: pq4Scanner,
} satisfies Record<string, ListScanner>;

export type ListScannerName = keyof typeof LIST_SCANNERS;

/**
 * From this k a query's candidates go to a reservoir rather than a heap (a re-ranked search
 * keeps refineFactor·k of them): a PQ scan of a few thousand codes accepts about k·ln(n/k)
 * candidates, each a sift of log k levels in a heap, an append in a reservoir. Below it the
 * heap's early rejections win.
 */
export const RESERVOIR_MIN_K = 64;

/** A reservoir's capacity for k: room for 3k more before each selection (2k measured 1.09×, 4k 1.19×, 8k 1.16× the heap's q/s, IVF256,PQ16 refine 32 on Fashion-MNIST). */
const reservoirCap = (k: number): number => 4 * k;

/** Bytes of the reservoir scratch ivfSearchRange takes for k candidates from these parts; 0 when heaps serve. */
export function reservoirFor(parts: readonly IVFLayout[], k: number): number {
  const first = parts[0];
  // not for a filtered scan: it also pushes from scanTopKRows, which may be native code with a heap of its own
  if (!first || k < RESERVOIR_MIN_K || parts.some((L) => L.allowed)) return 0;
  return LIST_SCANNERS[first.scanner].reservoir === true ? reservoirCap(k) * 8 : 0;
}

/**
 * One part of an inverted file (./parts.ts), in one arena: codes grouped by list; list l holds
 * rows listOffsets[l] .. listOffsets[l+1] of the part. Without a coarse quantizer (centroids 0)
 * there is one list, scanned whole: a flat index of codes. What the scanner reads besides the
 * codes (centroids, codec parameters, the precomputed table) is the copy in the part's arena.
 */
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
  /** f32 nlist×d; 0 when there is no coarse quantizer (then nlist is 1) */
  centroids: number;
  /** i32 nlist+1 */
  listOffsets: number;
  /** f32 region of the codec's trained parameters its scanner reads (0: none) */
  codecParams: number;
  /** PQ sub-quantizers (0 for other codecs) */
  m: number;
  /** Codes encode vector − its list's centroid. */
  byResidual: boolean;
  /** IVF-PQ, L2, by residual: f32 nlist×m×256 table of ‖C_jc‖² + 2⟨c_j, C_jc⟩; 0 when not used */
  precomputed: number;
  /** A filtered search (./subset.ts): the only rows of this part to score, increasing; absent: every row. */
  allowed?: Int32Array;
}

/**
 * The coarse quantizer as a search reads it (in the main arena): nlist centroids scanned
 * exhaustively, or searched through an HNSW graph over them (./hnsw.ts).
 */
export interface CoarseLayout {
  metric: MetricCode;
  d: number;
  nlist: number;
  /** f32 nlist×d */
  centroids: number;
  hnsw: HNSWLayout | null;
}

/**
 * The lists each query probes, nprobe per query: list numbers at `i` (i32 nq×nprobe, -1 for
 * none) and the query's score against each list's centroid at `d` (f32 nq×nprobe).
 */
export interface Probes {
  nprobe: number;
  d: number;
  i: number;
}

/** Where a range of queries and their result heaps live. Heaps are k-wide per query. */
export interface QueryBlock {
  /** f32 nq×d, all queries of the call */
  queries: number;
  /** f32 nq, squared query norms (batched L2 only) */
  queryNorms: number;
  /** The query norms are already there (k-means: the same points every iteration), not to be recomputed. */
  normsReady?: boolean;
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
  if (L.allowedAt !== undefined) return flatSubsetRange(K, L, L.allowedAt, L.allowedCount ?? 0, B, q0, q1);
  if (batched) {
    const off = q0 * 4;
    if (L.metric === METRIC_L2 && !B.normsReady) K.norms(B.queries + q0 * d * 4, q1 - q0, d, B.queryNorms + off);
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
 * Exact search of the allowed rows only, one kernel call per query over the row list (its
 * labels stay the rows' ids, through the label map), so a subset costs |S|·d and scores exactly
 * as the full scan would score those rows, however scattered they are.
 */
function flatSubsetRange(K: Kernels, L: FlatLayout, rows: number, count: number, B: QueryBlock, q0: number, q1: number): number {
  const d = L.d;
  const sizes = new Int32Array(K.memory.buffer, B.sizes, q1);
  for (let i = q0; i < q1; i++) {
    sizes[i] = K.scanTopKRows(L.metric, B.queries + i * d * 4, L.vectors, d, rows, count, B.k, B.heapsD + i * B.k * 4, B.heapsI + i * B.k * 4, sizes[i]!);
  }
  return (q1 - q0) * count;
}

/** Rows gathered at a time from a list of a filtered inverted-file search (its `gather` scratch: GATHER_ROWS·(codeSize + 4) bytes). */
export const GATHER_ROWS = 256;

/** The first index of the increasing `rows` whose value is ≥ r. */
export function lowerBound(rows: Int32Array, r: number, lo = 0): number {
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]! < r) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The coarse step for queries [q0, q1): each query's nprobe nearest lists, with their scores,
 * into `P` (in heap order: the order lists are scanned in does not change the answer).
 * Exhaustive, or through the HNSW graph keeping `ef` candidates (graphScratch: hnswScratchBytes).
 * Returns the centroid scores computed.
 */
export function coarseRange(K: Kernels, C: CoarseLayout, B: QueryBlock, q0: number, q1: number, P: Probes, ef: number, graphScratch: number): number {
  const { d, nprobe } = { d: C.d, nprobe: P.nprobe };
  let computed = 0;
  K.setLabelMap(0);
  for (let i = q0; i < q1; i++) {
    const q = B.queries + i * d * 4;
    const pd = P.d + i * nprobe * 4,
      pi = P.i + i * nprobe * 4;
    let np: number;
    if (C.hnsw) {
      const r = hnswSearch(K, C.metric, d, C.centroids, C.hnsw, q, nprobe, ef, pd, pi, graphScratch);
      np = r.found;
      computed += r.computed;
    } else {
      np = K.scanTopK(C.metric, q, C.centroids, C.nlist, d, nprobe, pd, pi, 0, 0);
      computed += C.nlist;
    }
    if (np < nprobe) new Int32Array(K.memory.buffer, pi + np * 4, nprobe - np).fill(-1);
  }
  return computed;
}

/** Views a filtered scan reads through (made once per call: on a shared memory each `buffer` read is a new object). */
interface GatherViews {
  bytes: Uint8Array;
  /** The part's ids. */
  ids: Int32Array;
  /** The gathered rows' ids (GATHER_ROWS, after their codes in the gather scratch). */
  outIds: Int32Array;
}

/**
 * Scans the allowed rows of one list of one part: the list whole when all its rows are
 * allowed; raw rows in place, their row numbers GATHER_ROWS at a time to `gather` (scanTopKRows); codes copied GATHER_ROWS at a time with their ids to
 * `gather` and scanned there (the label map then points at the copied ids, and the scanner sees
 * contiguous codes as always). A masked row costs nothing but a binary search.
 */
function scanAllowed(
  K: Kernels,
  scanner: ListScanner,
  L: IVFLayout,
  allowed: Int32Array,
  views: GatherViews,
  q: number,
  scratch: number,
  list: number,
  score: number,
  start: number,
  len: number,
  B: QueryBlock,
  i: number,
  size: number,
  gather: number,
): { size: number; scanned: number } {
  const a = lowerBound(allowed, start),
    b = lowerBound(allowed, start + len, a);
  const heapD = B.heapsD + i * B.k * 4,
    heapI = B.heapsI + i * B.k * 4;
  const cs = L.codeSize;
  if (b - a === len) {
    K.setLabelMap(L.ids);
    return { size: scanner.scanList(K, L, q, scratch, list, score, L.codes + start * cs, len, B.k, heapD, heapI, size, start), scanned: len };
  }
  if (b === a) return { size, scanned: 0 };
  if (gather === 0) throw new Error('a filtered list scan needs gather scratch');
  const { bytes, ids, outIds } = views;
  const gIds = gather + GATHER_ROWS * cs;
  if (scanner.listFree) {
    // raw rows, scored in place as a flat index does: their row numbers go GATHER_ROWS at a time to the scratch, one kernel call each
    K.setLabelMap(L.ids);
    for (let c = a; c < b; c += GATHER_ROWS) {
      const m = Math.min(GATHER_ROWS, b - c);
      outIds.set(allowed.subarray(c, c + m));
      size = K.scanTopKRows(L.metric, q, L.codes, L.d, gIds, m, B.k, heapD, heapI, size);
    }
    return { size, scanned: b - a };
  }
  K.setLabelMap(gIds);
  for (let c = a; c < b; c += GATHER_ROWS) {
    const m = Math.min(GATHER_ROWS, b - c);
    for (let j = 0; j < m; j++) {
      const r = allowed[c + j]!;
      bytes.copyWithin(gather + j * cs, L.codes + r * cs, L.codes + (r + 1) * cs);
      outIds[j] = ids[r]!;
    }
    size = scanner.scanList(K, L, q, scratch, list, score, gather, m, B.k, heapD, heapI, size, 0);
  }
  return { size, scanned: b - a };
}

/**
 * Inverted-file search for queries [q0, q1): the coarse step when `coarse` is given (else the
 * probes are read from `P`, filled by the main arena's coarse step), then each probed list of
 * every part is scanned with the codec's list scanner into one heap per query. Without probes
 * (the flat compressed kinds) each part's one list is scanned whole. `scratch` is the
 * scanner's per-query floats (scratchFloats); `reservoir`, reservoirFor(parts, B.k) bytes or
 * 0, lets an unfiltered query's candidates collect without a heap. Returns the distances computed
 * (centroids + scanned rows).
 */
export function ivfSearchRange(
  K: Kernels,
  coarse: CoarseLayout | null,
  parts: IVFLayout[],
  B: QueryBlock,
  q0: number,
  q1: number,
  P: Probes | null,
  ef = 0,
  scratch = 0,
  graphScratch = 0,
  gather = 0,
  reservoir = 0,
): number {
  let computed = 0;
  if (coarse && P) computed += coarseRange(K, coarse, B, q0, q1, P, ef, graphScratch);
  if (parts.length === 0) return computed;
  const L0 = parts[0]!;
  const scanner: ListScanner | undefined = LIST_SCANNERS[L0.scanner];
  if (!scanner) throw new NitamonoError('UNSUPPORTED', `no list scanner '${String(L0.scanner)}' (an index made by another version?)`);
  if (q1 <= q0) return computed;
  const { d, codeSize } = L0;
  const buf = K.memory.buffer;
  const offsets = parts.map((L) => new Int32Array(buf, L.listOffsets, L.nlist + 1));
  const nprobe = P ? P.nprobe : 1;
  const probes = P ? new Int32Array(buf, P.i, q1 * nprobe) : null,
    probeScores = P ? new Float32Array(buf, P.d, q1 * nprobe) : null;
  const sizes = new Int32Array(buf, B.sizes, q1);
  const bytes = new Uint8Array(buf);
  const views: (GatherViews | null)[] = parts.map((L) =>
    L.allowed && gather !== 0
      ? { bytes, ids: new Int32Array(buf, L.ids, L.n), outIds: new Int32Array(buf, gather + GATHER_ROWS * codeSize, GATHER_ROWS) }
      : null,
  );
  const scanQuery = (i: number, q: number, size: number): number => {
    for (let p = 0; p < nprobe; p++) {
      const list = probes ? probes[i * nprobe + p]! : 0;
      if (list < 0) continue;
      const score = probeScores ? probeScores[i * nprobe + p]! : 0;
      for (let j = 0; j < parts.length; j++) {
        const L = parts[j]!,
          off = offsets[j]!;
        // a filtered scan without probes takes the allowed rows of the whole part (one list, or a list-free scanner)
        const whole = !probes && L.allowed !== undefined;
        const start = whole ? 0 : off[list]!,
          len = whole ? L.n : off[list + 1]! - start;
        if (len === 0) continue;
        if (L.allowed) {
          const r = scanAllowed(K, scanner, L, L.allowed, views[j]!, q, scratch, list, score, start, len, B, i, size, gather);
          size = r.size;
          computed += r.scanned;
          continue;
        }
        K.setLabelMap(L.ids);
        size = scanner.scanList(
          K,
          L,
          q,
          scratch,
          list,
          score,
          L.codes + start * codeSize,
          len,
          B.k,
          B.heapsD + i * B.k * 4,
          B.heapsI + i * B.k * 4,
          size,
          start,
        );
        computed += len;
      }
    }
    return size;
  };
  // the caller gives room only where reservoirFor allows one (never a filtered scan)
  const cap = reservoir !== 0 ? reservoirCap(B.k) : 0;
  for (let i = q0; i < q1; i++) {
    const q = B.queries + i * d * 4;
    scanner.setQuery(K, L0, q, scratch);
    let size = sizes[i]!;
    const pooled = cap !== 0 && size === 0;
    if (pooled) K.reservoirBegin(reservoir, reservoir + cap * 4, cap);
    try {
      size = scanQuery(i, q, size);
    } finally {
      // also after a throw: a reservoir left open would take the next search's pushes
      if (pooled) size = K.reservoirEnd(B.heapsD + i * B.k * 4, B.heapsI + i * B.k * 4, B.k, size);
    }
    sizes[i] = size;
  }
  return computed;
}
