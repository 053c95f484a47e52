/**
 * Optimized product quantization (Ge, He, Ke, Sun 2013, non-parametric; Faiss's OPQMatrix):
 * an orthogonal d×d rotation R learnt so that the PQ of R·x loses less than the PQ of x. PQ
 * cuts a vector into m sub-vectors and quantizes each alone; when the variance or the
 * correlations sit unevenly across the cuts (raw pixels: the centre of the image carries most
 * of it), a rotation that spreads and decorrelates them lowers the quantization error for the
 * same m bytes. Training alternates, as Faiss does:
 *   (a) with R fixed: train the PQ on R·X (hot-started from the last codebooks), encode and
 *       decode: Ŷ;
 *   (b) with the codes fixed: R = argmin ‖R·X − Ŷ‖ over orthogonal R, the Procrustes solution
 *       u·vᵀ of the SVD of Σ ŷ·xᵀ (./linalg.ts).
 * Defaults are Faiss's: 50 iterations, 40 k-means iterations for the first PQ and 4 after,
 * at most 65,536 training points, R starting as a random rotation (seed 1234).
 *
 * Because R is orthogonal, ‖R·q − R·x‖ = ‖q − x‖ and ⟨R·q, R·x⟩ = ⟨q, x⟩: an index searches
 * rotated queries against codes of rotated vectors, and re-ranks with the original vectors.
 */
import { invalid, NitamonoError } from '../errors.js';
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { samplePermutation } from '../util/random.js';
import { codedReply, WorkerPool } from '../util/worker-pool.js';
import { checkInt, checkPositiveInt, checkVectors } from '../validate.js';
import { procrustes, randomOrthogonal } from './linalg.js';
import { resolveThreads } from './pool.js';
import { checkPQShape, PQ_NBITS, PQCodec, scratchKernels } from './pq.js';
import { multiplyABt, PRODUCT_BLOCK_ROWS, rotateArrayOnWorkers, rotateRows } from './rotate.js';

export interface OPQOptions {
  /** Alternations of PQ training and rotation update (default 50, as Faiss's OPQMatrix.niter). */
  niter?: number;
  /** k-means iterations of the first PQ training (default 40, Faiss's niter_pq_0). */
  niterPQ0?: number;
  /** k-means iterations of each later, hot-started PQ training (default 4, Faiss's niter_pq). */
  niterPQ?: number;
  /** Train on at most this many sampled vectors (default 65,536, Faiss's max_train_points). */
  maxTrainPoints?: number;
  /** Seed of the sample, the initial rotation and the k-means (default 1234). */
  seed?: number;
}

export const OPQ_DEFAULTS: Required<OPQOptions> = Object.freeze({ niter: 50, niterPQ0: 40, niterPQ: 4, maxTrainPoints: 256 * 256, seed: 1234 });

/** Checks OPQ options, filling in the defaults. */
export function checkOPQOptions(options: OPQOptions = {}): Required<OPQOptions> {
  if (options === null || typeof options !== 'object') throw invalid(`OPQ options must be an object, got ${String(options)}`);
  const o = { ...OPQ_DEFAULTS, ...options };
  checkPositiveInt('OPQ niter', o.niter);
  checkPositiveInt('OPQ niterPQ0', o.niterPQ0);
  checkPositiveInt('OPQ niterPQ', o.niterPQ);
  checkPositiveInt('OPQ maxTrainPoints', o.maxTrainPoints);
  if (o.maxTrainPoints < 256) throw invalid(`OPQ maxTrainPoints must be at least 256 (one per PQ codeword), got ${o.maxTrainPoints}`);
  checkInt('OPQ seed', o.seed);
  return o;
}

export interface OPQTrainResult {
  /** Mean squared PQ error of the rotated training vectors, before each rotation update. */
  objective: number[];
  trainedOn: number;
  /** Seconds spent in each part, for reports. */
  seconds: { pq: number; products: number; svd: number };
}

/** What ./opq-worker.ts is sent: an OPQMatrix's shape and settings, and its training sample. */
export interface OPQWorkerJob {
  d: number;
  m: number;
  options: Required<OPQOptions>;
  x: Float32Array;
  n: number;
  threads?: number;
}

/** What it answers: train()'s result and the matrix. */
export type OPQWorkerResult = OPQTrainResult & { matrix: Float32Array };

/** A trained OPQ rotation and how to learn one. */
export class OPQMatrix {
  readonly d: number;
  /** The PQ sub-quantizers it is learnt for. */
  readonly m: number;
  readonly options: Required<OPQOptions>;
  /** d×d row-major: rotated = R·x. A JS array, or the view of an index's arena it was moved to (storeIn). */
  private r: Float32Array | undefined;

  constructor(d: number, m: number, options: OPQOptions = {}) {
    checkPQShape(d, m, PQ_NBITS);
    this.d = d;
    this.m = m;
    this.options = checkOPQOptions(options);
  }

  get isTrained(): boolean {
    return this.r !== undefined;
  }

  /** Bytes of the matrix (d×d float32). */
  get memoryBytes(): number {
    return this.r ? this.r.byteLength : 0;
  }

  /** The rotation (a copy), d×d row-major; undefined before training. */
  getMatrix(): Float32Array | undefined {
    return this.r?.slice();
  }

  /** Takes a trained rotation (an index file's): d×d, orthogonal to within 1e-3. */
  setMatrix(r: Float32Array): void {
    const d = this.d;
    if (r.length !== d * d) throw invalid(`an OPQ rotation of dimension ${d} holds d×d = ${d * d} floats, got ${r.length}`);
    checkVectors(r, d, 'OPQ rotation');
    // rows must be unit length: a cheap check that catches a wrong or corrupted matrix
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += r[i * d + j]! * r[i * d + j]!;
      if (Math.abs(s - 1) > 1e-3) throw invalid(`the OPQ rotation is not orthogonal: row ${i} has squared length ${s}`);
    }
    this.r = Float32Array.from(r);
  }

  /**
   * Copies the matrix into `view` (d×d floats, an index's arena region that its kernels read)
   * and keeps it there instead of in a JS array of its own: the matrix is held once.
   */
  storeIn(view: Float32Array): void {
    const r = this.requireTrained();
    if (view.length !== this.d * this.d)
      throw invalid(`an OPQ rotation of dimension ${this.d} needs d×d = ${this.d * this.d} floats of room, got ${view.length}`);
    view.set(r);
    this.r = view;
  }

  private requireTrained(): Float32Array {
    if (!this.r) throw new NitamonoError('NOT_TRAINED', `the OPQ rotation (m = ${this.m}) is not trained (train it on sample vectors first)`);
    return this.r;
  }

  /**
   * The rows training learns from: checked, and at most maxTrainPoints of them (sampled with
   * the seed, in row order). A view of `vectors` when no sampling is needed.
   */
  private trainingSample(vectors: Float32Array, n: number): { x: Float32Array; t: number } {
    const d = this.d,
      o = this.options;
    checkVectors(vectors.subarray(0, n * d), d, 'OPQ training vectors');
    if (n < 256) throw invalid(`OPQ training needs at least 256 vectors (one per PQ codeword), got ${n}`);
    if (n <= o.maxTrainPoints) return { x: vectors.subarray(0, n * d), t: n };
    const t = o.maxTrainPoints;
    const rows = samplePermutation(n, t, o.seed).slice().sort();
    const x = new Float32Array(t * d);
    for (let i = 0; i < t; i++) x.set(vectors.subarray(rows[i]! * d, (rows[i]! + 1) * d), i * d);
    return { x, t };
  }

  /**
   * Learns R from n sample vectors (at most maxTrainPoints are used) on the calling thread
   * (its k-means assignments on `run.threads` pool workers). Training holds the sample three
   * times over (x, R·x, its PQ reconstruction) in a scratch arena. trainOnWorker runs the same
   * code on a thread of its own.
   */
  async train(vectors: Float32Array, n: number = vectors.length / this.d, run: { threads?: number } = {}): Promise<OPQTrainResult> {
    const d = this.d;
    const { x, t } = this.trainingSample(vectors, n);
    const arena = Arena.take(d * d * 4 + PRODUCT_BLOCK_ROWS * d * 16 + (1 << 20));
    try {
      return await this.trainIn(arena, x, t, run);
    } finally {
      // handed to the next arena (see Arena.recycle): a dropped shared memory waits for a GC
      arena.recycle();
    }
  }

  private async trainIn(arena: Arena, x: Float32Array, t: number, run: { threads?: number }): Promise<OPQTrainResult> {
    const { d, m } = this;
    const o = this.options;
    const K = createKernels(arena.memory);
    const rp = arena.alloc(d * d * 4);
    let r = randomOrthogonal(d, o.seed);
    let v: Float64Array | undefined;
    const pq = new PQCodec(d, m);
    const y = new Float32Array(t * d),
      yhat = new Float32Array(t * d),
      codes = new Uint8Array(t * m);
    const objective: number[] = [];
    const seconds = { pq: 0, products: 0, svd: 0 };
    const clock = (key: keyof typeof seconds, t0: number): void => {
      seconds[key] += (performance.now() - t0) / 1000;
    };
    for (let it = 0; it < o.niter; it++) {
      let t0 = performance.now();
      arena.f32(rp, d * d).set(r);
      rotateRows(K, arena, rp, d, x, t, y);
      clock('products', t0);
      t0 = performance.now();
      // Faiss's OPQ trains its PQ with max_points_per_centroid 1000: the whole sample
      await pq.train(y, t, { iterations: it === 0 ? o.niterPQ0 : o.niterPQ, maxPointsPerCentroid: 1000, seed: o.seed, ...run }, it > 0);
      pq.encode(y, t, codes);
      pq.decode(codes, t, yhat);
      clock('pq', t0);
      let err = 0;
      for (let i = 0; i < t * d; i++) err += (yhat[i]! - y[i]!) ** 2;
      objective.push(err / t);
      t0 = performance.now();
      const mt = crossProduct(K, arena, yhat, x, t, d);
      clock('products', t0);
      t0 = performance.now();
      const p = procrustes(mt, d, { tol: 1e-9, ...(v ? { v0: v } : {}) });
      clock('svd', t0);
      r = p.r;
      v = p.v;
    }
    this.r = Float32Array.from(r);
    return { objective, trainedOn: t, seconds };
  }

  /**
   * train() on a worker thread of its own (./opq-worker.ts), so the calling thread's event loop
   * keeps turning for the minutes a large d takes (the SVDs and products run there, the k-means
   * assignments on that thread's pool). Only the sample travels, copied once; the matrix comes
   * back transferred. Same result as train() with the same settings.
   */
  async trainOnWorker(vectors: Float32Array, n: number = vectors.length / this.d, run: { threads?: number } = {}): Promise<OPQTrainResult> {
    const { x, t } = this.trainingSample(vectors, n);
    const shared = x.buffer instanceof SharedArrayBuffer;
    // a sample is ours to transfer; the caller's own rows are copied first
    const sample = shared || t < n ? x : x.slice();
    const pool = new WorkerPool<OPQWorkerResult>({ script: new URL('./opq-worker.js', import.meta.url), reply: codedReply<OPQWorkerResult> });
    try {
      const job: OPQWorkerJob = {
        d: this.d,
        m: this.m,
        options: this.options,
        x: sample,
        n: t,
        ...(run.threads !== undefined ? { threads: run.threads } : {}),
      };
      const { matrix, ...result } = await pool.at(0).run(job, shared ? [] : [sample.buffer as ArrayBuffer]);
      this.r = matrix;
      return result;
    } finally {
      await pool.close();
    }
  }

  /** R·x for n rows (a new array). */
  apply(vectors: Float32Array, n: number = vectors.length / this.d): Float32Array {
    const r = this.requireTrained();
    const d = this.d;
    checkVectors(vectors.subarray(0, n * d), d, 'vectors to rotate');
    const { arena, K } = scratchKernels();
    const rp = arena.alloc(d * d * 4);
    try {
      arena.f32(rp, d * d).set(r);
      return rotateRows(K, arena, rp, d, vectors, n);
    } finally {
      arena.release(rp);
    }
  }

  /** apply() with the rows split over `threads` pool workers (../rotate.ts); the calling thread only copies. Same result. */
  async applyOnWorkers(vectors: Float32Array, n: number = vectors.length / this.d, threads?: number): Promise<Float32Array> {
    const r = this.requireTrained();
    checkVectors(vectors.subarray(0, n * this.d), this.d, 'vectors to rotate');
    return rotateArrayOnWorkers(r, this.d, vectors, n, resolveThreads(threads));
  }

  /** Rᵀ·y for n rotated rows, in place: back to the original space. */
  reverseInPlace(rows: Float32Array, n: number): void {
    const r = this.requireTrained();
    const d = this.d;
    const tmp = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      tmp.fill(0);
      for (let j = 0; j < d; j++) {
        const yj = rows[i * d + j]!;
        if (yj === 0) continue;
        for (let c = 0; c < d; c++) tmp[c] = tmp[c]! + yj * r[j * d + c]!;
      }
      for (let c = 0; c < d; c++) rows[i * d + c] = tmp[c]!;
    }
  }
}

/** Σ_i a_i·b_iᵀ (d×d, float64) over the n rows of a and b, in blocks of rows through the kernel. */
function crossProduct(K: Kernels, arena: Arena, a: Float32Array, b: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(d * d);
  const block = Math.min(n, PRODUCT_BLOCK_ROWS);
  const at = arena.alloc(d * block * 4),
    bt = arena.alloc(d * block * 4);
  const part = new Float32Array(d * d);
  try {
    for (let i0 = 0; i0 < n; i0 += block) {
      const cnt = Math.min(block, n - i0);
      // transposed blocks: row j holds coordinate j of the block's rows
      const av = arena.f32(at, d * cnt),
        bv = arena.f32(bt, d * cnt);
      for (let i = 0; i < cnt; i++) {
        const ro = (i0 + i) * d;
        for (let j = 0; j < d; j++) {
          av[j * cnt + i] = a[ro + j]!;
          bv[j * cnt + i] = b[ro + j]!;
        }
      }
      multiplyABt(K, arena, at, d, bt, d, cnt, part);
      for (let e = 0; e < d * d; e++) out[e] = out[e]! + part[e]!;
    }
  } finally {
    arena.release(at);
    arena.release(bt);
  }
  return out;
}
