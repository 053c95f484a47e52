/**
 * The numeric kernels behind every index. They work on byte offsets ("pointers") into one
 * WebAssembly.Memory so that the WASM SIMD build and the plain TypeScript reference are
 * interchangeable and can be run on the very same data, and so that worker threads sharing
 * that memory can scan without copying.
 *
 * Conventions, shared by both implementations:
 * - vectors are f32, row-major, `d` floats per row, rows contiguous;
 * - a *score* is "smaller is better": squared L2 for METRIC_L2, the negated inner product for
 *   METRIC_IP;
 * - a top-k *heap* is two arrays at `heapD` (f32 scores) and `heapI` (i32 labels) of capacity k,
 *   kept as a binary max-heap on (score, label) so the worst kept candidate sits at index 0; a
 *   row enters when the heap is not full or when (score, label) < (heapD[0], heapI[0]);
 * - the label of row `r` of a scan is `rowOffset + r`, or, after setLabelMap(p) with p ≠ 0, the
 *   i32 at p + 4·(rowOffset + r): heaps then hold (and break ties on) the caller's ids.
 */
export const METRIC_L2 = 0;
export const METRIC_IP = 1;
export type MetricCode = typeof METRIC_L2 | typeof METRIC_IP;

export interface Kernels {
  /** 'native': the WASM kernels with batchTopK run by the native addon (./native.ts). */
  readonly name: 'native' | 'wasm-simd' | 'reference';
  readonly memory: WebAssembly.Memory;

  /**
   * Scans `n` rows at `base` against the query at `q` with the direct formula
   * (Σ(q−x)² or −Σq·x), pushing into the heap that currently holds `size` entries.
   * Returns the heap's new size (≤ k).
   */
  scanTopK(metric: MetricCode, q: number, base: number, n: number, d: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number;

  /**
   * scanTopK over the n rows whose row numbers are the i32 at `rows` (rows of d floats at
   * `base`), each pushed with its row number as label (through the label map): one call for a
   * filtered scan of scattered rows. Returns the heap's new size.
   */
  scanTopKRows(metric: MetricCode, q: number, base: number, d: number, rows: number, n: number, k: number, heapD: number, heapI: number, size: number): number;

  /**
   * The scores of the query at `q` against the n rows whose row numbers are the i32 at `rows`
   * (rows of d floats at `base`), written as f32 to `out`: the very scores scanTopK computes
   * for those rows (what a graph search over centroids needs to rank as the exhaustive scan).
   */
  scoresAt(metric: MetricCode, q: number, base: number, d: number, rows: number, n: number, out: number): void;

  /**
   * Blocked many-queries-by-many-rows scan. For METRIC_L2 the score is
   * qnorms[i] + xnorms[j] − 2⟨q_i, x_j⟩ (both norms squared, precomputed by `norms`); for
   * METRIC_IP it is −⟨q_i, x_j⟩ and the norm arrays are not read. Query i owns the heap at
   * heapsD + 4·i·k / heapsI + 4·i·k with its current size in the i32 at sizes + 4·i, which is
   * updated.
   */
  batchTopK(
    metric: MetricCode,
    Q: number,
    nq: number,
    qnorms: number,
    base: number,
    xnorms: number,
    n: number,
    d: number,
    k: number,
    heapsD: number,
    heapsI: number,
    sizes: number,
    rowOffset: number,
  ): void;

  /** Where labels come from in later scans: 0 for row numbers, else an i32 array of labels by row. */
  setLabelMap(ptr: number): void;

  /**
   * Starts a reservoir for one query's scans (large k): until reservoirEnd, the scans' pushes go
   * to cap (> k) pairs at bufD (f32) / bufI (i32) instead of the heap; the heap's slots are
   * scratch meanwhile, and the sizes the scans return only mean "full or not". Same answer as
   * the heap, fewer operations per accepted candidate (no sift).
   */
  reservoirBegin(bufD: number, bufI: number, cap: number): void;

  /**
   * Ends the reservoir: the best min(k, candidates) pairs by (score, label), in increasing
   * order, at heapD/heapI (sorted: the query's final answer, not a heap to push into); returns
   * how many. `size` is the size the scans returned last (the reference kernels, which keep
   * the heap throughout, sort that many).
   */
  reservoirEnd(heapD: number, heapI: number, k: number, size: number): number;

  /** out[i] = Σ_j X[i,j]² for n rows. */
  norms(X: number, n: number, d: number, out: number): void;

  /**
   * k-means update step: for each row i, sums[assign[i]] += X[i] (f32 rows of d) and
   * counts[assign[i]] += 1 (i32). Rows whose assignment is negative are skipped.
   */
  accumulate(X: number, n: number, d: number, assign: number, sums: number, counts: number): void;

  /** out[i] = a[i] + alpha·b[i] for n floats (f32 multiply, then f32 add); out may be a or b. */
  madd(n: number, a: number, alpha: number, b: number, out: number): void;

  /**
   * Product-quantizer lookup tables: for each sub-vector q_j (dsub floats) of the query at q and
   * each codeword C_jc of sub-quantizer j (cb: m×ksub×dsub floats),
   * out[j·ksub + c] = ‖q_j − C_jc‖² for METRIC_L2, −⟨q_j, C_jc⟩ for METRIC_IP.
   */
  pqTables(metric: MetricCode, q: number, cb: number, m: number, dsub: number, ksub: number, out: number): void;

  /**
   * Asymmetric-distance scan of n PQ codes (m bytes each, 256 codewords per sub-quantizer) at
   * `codes` with the table at `lut` (m×256 f32): score = bias + ((s0 + s1) + (s2 + s3)) where
   * s_t is the f32 sum, in increasing j, of lut[j·256 + code_j] over j ≡ t (mod 4). Heap and
   * labels as scanTopK; returns the heap's new size.
   */
  pqScan(lut: number, codes: number, n: number, m: number, bias: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number;

  /**
   * 4-bit PQ ("fast scan"): quantizes the m×16 f32 table at `lut` (sub-quantizer j's 16 entries
   * at j·16) to m×16 bytes at `out`: q[j][c] = min(255, ⌊f32(f32(lut[j][c] − min_j)·a) + 0.5⌋)
   * with R = max_j f32(max_j − min_j) and a = f32(255 / R) (0 when R is 0). Writes two f32 at
   * `params`: base = bias + Σ_j min_j (f32, in increasing j) and step = f32(R / 255) (0 when R is 0).
   */
  pq4Quantize(lut: number, m: number, bias: number, out: number, params: number): void;

  /**
   * Scan of n 4-bit PQ codes of m/2 bytes at `codes` (sub-code 2j in the low nibble of byte j,
   * 2j+1 in the high one) with the byte table at `qlut` (m×16) and the base and step pq4Quantize
   * wrote at `params` (read here, so a caller never views the memory between the two calls):
   * score = f32(f32(base + bias) + f32(f32(Σ_j qlut[j·16 + c_j]) · step)), the sum exact in
   * integers. m even, at most 256. Heap and labels as scanTopK, codes pushed in order; returns
   * the heap's new size.
   */
  pq4Scan(
    qlut: number,
    params: number,
    bias: number,
    codes: number,
    n: number,
    m: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;

  /**
   * Scan of n 8-bit scalar-quantizer codes (d bytes each) at `codes`, decoded on the fly.
   * METRIC_L2: score = bias + Σ_j (qp_j − c_j·sc_j)²; METRIC_IP: score = bias − Σ_j c_j·qp_j
   * (sc is not read). Heap and labels as scanTopK; returns the heap's new size.
   */
  sq8Scan(
    metric: MetricCode,
    qp: number,
    sc: number,
    codes: number,
    n: number,
    d: number,
    bias: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;
  /**
   * Scan of n rows of d halves (IEEE binary16, little-endian, 2·d bytes each) at `codes`,
   * widened to float32 on the fly. METRIC_L2: score = bias + Σ_j (q_j − x_j)²; METRIC_IP:
   * score = bias − Σ_j q_j·x_j. Heap and labels as scanTopK; returns the heap's new size.
   */
  f16Scan(
    metric: MetricCode,
    q: number,
    codes: number,
    n: number,
    d: number,
    bias: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;
}
