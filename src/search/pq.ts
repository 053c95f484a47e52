/**
 * The product quantizer (Jégou, Douze, Schmid 2011; Matsui et al.'s survey, 2018; Faiss's
 * ProductQuantizer): a d-dimensional vector is cut into m sub-vectors of dsub = d/m floats, and
 * each is replaced by the number of its nearest codeword among the 256 that k-means learnt for
 * that sub-space. A code is m bytes (nbits = 8), against 4·d for the floats.
 *
 * Distances are asymmetric (ADC): the query stays exact; per query, a table of its m×256
 * sub-distances to every codeword is computed once, and the distance to a code is the sum of
 * its m table entries — m lookups and adds instead of d multiply-adds. The scanner is 'pq' in
 * ./scan.ts (tables and scan in WASM SIMD, ../kernels).
 */
import { NitamonoError } from '../errors.js';
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import { type Kernels, METRIC_L2 } from '../kernels/types.js';
import { samplePermutation } from '../util/random.js';
import { checkDim, checkInt, checkPositiveInt, checkVectors } from '../validate.js';
import { type CodecTrainOptions, type CodecTrainResult, checkRoom, type VectorCodec } from './codec.js';
import { kmeans } from './kmeans.js';
import { BATCH_MIN_QUERIES, type FlatLayout, flatSearchRange, PQ_KSUB, type QueryBlock } from './scan.js';

/** The only code width supported: 8 bits, 256 codewords per sub-quantizer. */
export const PQ_NBITS = 8;

/** Checks a PQ shape: m sub-quantizers dividing d, nbits 8. Returns dsub. */
export function checkPQShape(d: number, m: unknown, nbits: unknown = PQ_NBITS): number {
  checkDim(d);
  checkPositiveInt('m (PQ sub-quantizers)', m);
  if (d % (m as number) !== 0) {
    throw new NitamonoError(
      'INVALID_ARGUMENT',
      `m (PQ sub-quantizers) must divide the dimension ${d}, got m = ${m as number} (${d} / ${m as number} is not whole)`,
    );
  }
  if (nbits !== PQ_NBITS) {
    throw new NitamonoError('INVALID_ARGUMENT', `nbits (bits per PQ sub-code) must be 8 (256 codewords per sub-quantizer), got ${String(nbits)}`);
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
  readonly scanner = 'pq' as const;
  readonly lossless = false;
  readonly d: number;
  /** Sub-quantizers (bytes per code). */
  readonly m: number;
  readonly nbits = PQ_NBITS;
  /** Codewords per sub-quantizer. */
  readonly ksub = PQ_KSUB;
  /** Floats per sub-vector. */
  readonly dsub: number;
  /** m×256×dsub: codeword c of sub-quantizer j at (j·256 + c)·dsub. */
  private codebooks: Float32Array | undefined;

  constructor(d: number, m: number, nbits: number = PQ_NBITS) {
    this.dsub = checkPQShape(d, m, nbits);
    this.d = d;
    this.m = m;
  }

  get isTrained(): boolean {
    return this.codebooks !== undefined;
  }

  get memoryBytes(): number {
    return this.codebooks ? this.codebooks.byteLength : 0;
  }

  codeSize(_d: number): number {
    return this.m;
  }

  /** The codebooks (a copy), m×256×dsub; undefined before training. */
  getCodebooks(): Float32Array | undefined {
    return this.codebooks?.slice();
  }

  /** Takes trained codebooks (an index file's), m×256×dsub floats. */
  setCodebooks(codebooks: Float32Array): void {
    const want = this.m * this.ksub * this.dsub;
    if (codebooks.length !== want) {
      throw new NitamonoError('INVALID_ARGUMENT', `PQ codebooks must hold m×256×dsub = ${want} floats, got ${codebooks.length}`);
    }
    checkVectors(codebooks, this.dsub, 'PQ codebooks');
    this.codebooks = Float32Array.from(codebooks);
  }

  /**
   * Learns the m codebooks: k-means with 256 centroids in each sub-space (L2, whatever the
   * index's metric, as Faiss), on at most maxPointsPerCentroid·256 sampled rows (default 256·256).
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
    const { d, m, dsub, ksub } = this;
    checkRoom('vectors', vectors.byteLength, n * d * 4);
    checkRoom('the code buffer', out.byteLength, n * m);
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
          for (let i = 0; i < cnt; i++) out[(i0 + i) * m + j] = labels[i]!;
        }
      }
    } finally {
      for (const p of [C, CN, ...at]) arena.release(p);
    }
  }

  /** The codewords of each code, concatenated. */
  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const cb = this.requireTrained();
    const { m, dsub, ksub, d } = this;
    checkRoom('codes', codes.byteLength, n * m);
    checkRoom('the output', out.byteLength, n * d * 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const c = codes[i * m + j]!;
        out.set(cb.subarray((j * ksub + c) * dsub, (j * ksub + c + 1) * dsub), i * d + j * dsub);
      }
    }
  }

  private requireTrained(): Float32Array {
    if (!this.codebooks) throw new NitamonoError('NOT_TRAINED', `the PQ codec (m = ${this.m}) is not trained (train it on sample vectors first)`);
    return this.codebooks;
  }
}
