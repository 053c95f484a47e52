/**
 * The product quantizer (Jégou, Douze, Schmid 2011; Matsui et al.'s survey, 2018; Faiss's
 * ProductQuantizer): a d-dimensional vector is cut into m sub-vectors of dsub = d/m floats, and
 * each is replaced by the number of its nearest codeword among the 2^nbits that k-means learnt
 * for that sub-space. A code is m bytes (nbits = 8), against 4·d for the floats, or m/2 bytes
 * (nbits = 4: sub-code 2j in the low nibble of byte j, 2j+1 in the high one).
 *
 * Distances are asymmetric (ADC): the query stays exact; per query, a table of its m×256
 * sub-distances to every codeword is computed once, and the distance to a code is the sum of
 * its m table entries — m lookups and adds instead of d multiply-adds. The scanner is 'pq' in
 * ./scan.ts (tables and scan in WASM SIMD, ../kernels). With 4 bits (André, Kermarrec, Le Scouarnec's
 * "fast scan"; Faiss's PQ{m}x4fs) a table is m×16: quantized to bytes, it fits SIMD registers and
 * is looked up 16 codes at a time by a byte shuffle (scanner 'pq4').
 */
import { NitamonoError } from '../errors.js';
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import { type Kernels, METRIC_L2 } from '../kernels/types.js';
import { samplePermutation } from '../util/random.js';
import { checkDim, checkInt, checkPositiveInt, checkVectors } from '../validate.js';
import { type CodecTrainOptions, type CodecTrainResult, checkRoom, type VectorCodec } from './codec.js';
import { kmeans } from './kmeans.js';
import { BATCH_MIN_QUERIES, type FlatLayout, flatSearchRange, type QueryBlock } from './scan.js';

/** The default code width: 8 bits, 256 codewords per sub-quantizer. */
export const PQ_NBITS = 8;
/** The fast-scan width: 4 bits, 16 codewords per sub-quantizer, two sub-codes a byte. */
export const PQ4_NBITS = 4;

/** Checks a PQ shape: m sub-quantizers dividing d, nbits 8 or 4 (then m even: two sub-codes a byte). Returns dsub. */
export function checkPQShape(d: number, m: unknown, nbits: unknown = PQ_NBITS): number {
  checkDim(d);
  checkPositiveInt('m (PQ sub-quantizers)', m);
  if (d % (m as number) !== 0) {
    throw new NitamonoError(
      'INVALID_ARGUMENT',
      `m (PQ sub-quantizers) must divide the dimension ${d}, got m = ${m as number} (${d} / ${m as number} is not whole)`,
    );
  }
  if (nbits !== PQ_NBITS && nbits !== PQ4_NBITS) {
    throw new NitamonoError(
      'INVALID_ARGUMENT',
      `nbits (bits per PQ sub-code) must be 8 (256 codewords per sub-quantizer) or 4 (16, fast scan), got ${String(nbits)}`,
    );
  }
  if (nbits === PQ4_NBITS && (m as number) % 2 !== 0) {
    throw new NitamonoError('INVALID_ARGUMENT', `m (PQ sub-quantizers) must be even with 4-bit codes (two sub-codes a byte), got m = ${m as number}`);
  }
  return d / (m as number);
}

/** A scratch arena for kernels on this thread (PQ encodes nearest-codeword scans with them; OPQ rotates). */
let scratch: { arena: Arena; K: Kernels } | undefined;
export function scratchKernels(): { arena: Arena; K: Kernels } {
  if (!scratch) {
    const arena = new Arena(1 << 20);
    scratch = { arena, K: createKernels(arena.memory) };
  }
  return scratch;
}

/** Bytes of sub-vectors encoded per kernel call. */
const ENCODE_BLOCK_BYTES = 4 << 20;

export class PQCodec implements VectorCodec {
  readonly name = 'pq';
  readonly scanner: 'pq' | 'pq4';
  readonly lossless = false;
  readonly d: number;
  /** Sub-quantizers. */
  readonly m: number;
  /** Bits per sub-code: 8, or 4 (fast scan). */
  readonly nbits: number;
  /** Codewords per sub-quantizer, 2^nbits. */
  readonly ksub: number;
  /** Floats per sub-vector. */
  readonly dsub: number;
  /** m×ksub×dsub: codeword c of sub-quantizer j at (j·ksub + c)·dsub. */
  private codebooks: Float32Array | undefined;

  constructor(d: number, m: number, nbits: number = PQ_NBITS) {
    this.dsub = checkPQShape(d, m, nbits);
    this.d = d;
    this.m = m;
    this.nbits = nbits;
    this.ksub = 1 << nbits;
    this.scanner = nbits === PQ4_NBITS ? 'pq4' : 'pq';
  }

  /** 4-bit codes: two sub-codes a byte. */
  private get packed(): boolean {
    return this.nbits === PQ4_NBITS;
  }

  get isTrained(): boolean {
    return this.codebooks !== undefined;
  }

  get memoryBytes(): number {
    return this.codebooks ? this.codebooks.byteLength : 0;
  }

  codeSize(_d: number): number {
    return this.packed ? this.m / 2 : this.m;
  }

  /** The codebooks (a copy), m×ksub×dsub; undefined before training. */
  getCodebooks(): Float32Array | undefined {
    return this.codebooks?.slice();
  }

  /** Takes trained codebooks (an index file's), m×ksub×dsub floats. */
  setCodebooks(codebooks: Float32Array): void {
    const want = this.m * this.ksub * this.dsub;
    if (codebooks.length !== want) {
      throw new NitamonoError('INVALID_ARGUMENT', `PQ codebooks must hold m×${this.ksub}×dsub = ${want} floats, got ${codebooks.length}`);
    }
    checkVectors(codebooks, this.dsub, 'PQ codebooks');
    this.codebooks = Float32Array.from(codebooks);
  }

  /**
   * Learns the m codebooks: k-means with ksub centroids in each sub-space (L2, whatever the
   * index's metric, as Faiss), on at most maxPointsPerCentroid·ksub sampled rows (default 256·ksub).
   */
  async train(
    vectors: Float32Array,
    n: number = vectors.length / this.d,
    options: CodecTrainOptions = {},
    /** Start each sub-space's k-means from the current codebooks (OPQ's alternation); else fresh. */
    hotStart = false,
  ): Promise<CodecTrainResult> {
    const { d, m, dsub, ksub } = this;
    checkVectors(vectors.subarray(0, n * d), d, 'PQ training vectors');
    if (n < ksub) {
      throw new NitamonoError('INVALID_ARGUMENT', `PQ training needs at least ${ksub} vectors (one per codeword of a sub-quantizer), got ${n}`);
    }
    const maxPer = checkPositiveInt('maxPointsPerCentroid', options.maxPointsPerCentroid ?? 256);
    const seed = checkInt('seed', options.seed ?? 1234);
    const warnings: string[] = [];
    // sample once for all sub-spaces (as each k-means would, with the same seed)
    let rows: Int32Array | null = null;
    let t = n;
    if (n > maxPer * ksub) {
      t = maxPer * ksub;
      rows = samplePermutation(n, t, seed);
      warnings.push(`PQ: sampling ${t} of ${n} vectors to train ${m} sub-quantizers of ${ksub} codewords`);
    }
    const codebooks = new Float32Array(m * ksub * dsub);
    const sub = new Float32Array(t * dsub);
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < t; i++) {
        const r = rows ? rows[i]! : i;
        sub.set(vectors.subarray(r * d + j * dsub, r * d + (j + 1) * dsub), i * dsub);
      }
      const init = hotStart && this.codebooks ? this.codebooks.slice(j * ksub * dsub, (j + 1) * ksub * dsub) : options.init;
      const result = await kmeans(sub, dsub, ksub, { ...options, metric: 'l2', seed: seed + j, ...(init !== undefined ? { init } : {}) });
      for (const w of result.warnings) if (!warnings.includes(`PQ: ${w}`)) warnings.push(`PQ: ${w}`);
      codebooks.set(result.centroids, j * ksub * dsub);
    }
    this.codebooks = codebooks;
    return { trainedOn: t, warnings };
  }

  scanParams(): Float32Array {
    return this.requireTrained().slice();
  }

  /** Each sub-vector's nearest codeword (L2; ties to the lower codeword number). */
  encode(vectors: Float32Array, n: number, out: Uint8Array): void {
    const cb = this.requireTrained();
    const { d, m, dsub, ksub, packed } = this;
    const cs = this.codeSize(d);
    checkRoom('vectors', vectors.byteLength, n * d * 4);
    checkRoom('the code buffer', out.byteLength, n * cs);
    if (n === 0) return;
    const { arena, K } = scratchKernels();
    const block = Math.max(BATCH_MIN_QUERIES, Math.min(n, Math.floor(ENCODE_BLOCK_BYTES / (dsub * 4))));
    const C = arena.alloc(cb.byteLength),
      CN = arena.alloc(m * ksub * 4);
    const at = [block * dsub * 4, block * 4, block * 4, block * 4, block * 4].map((b) => arena.alloc(b));
    try {
      arena.f32(C, cb.length).set(cb);
      K.norms(C, m * ksub, dsub, CN);
      const B: QueryBlock = { queries: at[0]!, queryNorms: at[1]!, heapsD: at[2]!, heapsI: at[3]!, sizes: at[4]!, k: 1 };
      for (let i0 = 0; i0 < n; i0 += block) {
        const cnt = Math.min(block, n - i0);
        for (let j = 0; j < m; j++) {
          const X = arena.f32(B.queries, cnt * dsub);
          for (let i = 0; i < cnt; i++) X.set(vectors.subarray((i0 + i) * d + j * dsub, (i0 + i) * d + (j + 1) * dsub), i * dsub);
          arena.i32(B.sizes, cnt).fill(0);
          const L: FlatLayout = { metric: METRIC_L2, d: dsub, n: ksub, vectors: C + j * ksub * dsub * 4, norms: CN + j * ksub * 4, ids: 0 };
          flatSearchRange(K, L, B, 0, cnt, cnt >= BATCH_MIN_QUERIES);
          const labels = arena.i32(B.heapsI, cnt);
          if (!packed) for (let i = 0; i < cnt; i++) out[(i0 + i) * m + j] = labels[i]!;
          // sub-code 2j+1 comes after 2j: the low nibble is set first, the high one or-ed in
          else if (j % 2 === 0) for (let i = 0; i < cnt; i++) out[(i0 + i) * cs + (j >> 1)] = labels[i]!;
          else
            for (let i = 0; i < cnt; i++) {
              const at = (i0 + i) * cs + (j >> 1);
              out[at] = out[at]! | (labels[i]! << 4);
            }
        }
      }
    } finally {
      for (const p of [C, CN, ...at]) arena.release(p);
    }
  }

  /** The codewords of each code, concatenated. */
  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const cb = this.requireTrained();
    const { m, dsub, ksub, d, packed } = this;
    const cs = this.codeSize(d);
    checkRoom('codes', codes.byteLength, n * cs);
    checkRoom('the output', out.byteLength, n * d * 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const c = packed ? (codes[i * cs + (j >> 1)]! >> ((j & 1) * 4)) & 15 : codes[i * m + j]!;
        out.set(cb.subarray((j * ksub + c) * dsub, (j * ksub + c + 1) * dsub), i * d + j * dsub);
      }
    }
  }

  private requireTrained(): Float32Array {
    if (!this.codebooks) throw new NitamonoError('NOT_TRAINED', `the PQ codec (m = ${this.m}) is not trained (train it on sample vectors first)`);
    return this.codebooks;
  }
}
