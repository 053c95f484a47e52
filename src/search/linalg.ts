/**
 * Small dense linear algebra for OPQ (./opq.ts): the SVD of a square matrix by one-sided
 * Jacobi (Hestenes), the orthogonal Procrustes solution built on it, and random rotations.
 * Matrices are row-major Float64Array n×n. One-sided Jacobi is chosen over Golub–Kahan for
 * being short and accurate to the last digits on small singular values; its O(n³) per sweep
 * is acceptable up to n ≈ 2,048, and OPQ warm-starts it with the previous iteration's right
 * singular vectors, after which a sweep or two suffices.
 */
import { invalid } from '../errors.js';
import { rng } from '../util/random.js';

export interface SVDResult {
  /** Left singular vectors as the columns of n×n (row-major). */
  u: Float64Array;
  /** Singular values, in the order of the columns (not sorted), all ≥ 0. */
  s: Float64Array;
  /** Right singular vectors as the columns of n×n: a = u·diag(s)·vᵀ. */
  v: Float64Array;
  /** Jacobi sweeps run. */
  sweeps: number;
}

export interface SVDOptions {
  /** An orthogonal n×n to start from (the columns of a previous v): a close guess converges in fewer sweeps. */
  v0?: Float64Array;
  /** Stop when every pair of columns has |cos| ≤ tol (default 1e-11). */
  tol?: number;
  /** At most this many sweeps (default 40). */
  maxSweeps?: number;
}

function checkSquare(a: Float64Array, n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 1) throw invalid(`${what}: size must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw invalid(`${what} must hold ${n}×${n} = ${n * n} numbers, got ${a.length}`);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw invalid(`${what} holds a non-finite number at ${i}`);
}

/**
 * a = u·diag(s)·vᵀ for a square n×n `a`. The columns of a·v are orthogonalised by plane
 * rotations (applied to v as well) until all pairs are orthogonal; their norms are s, and u
 * their normalised directions. Columns of a rank-deficient `a` whose singular value is
 * negligible get an orthonormal completion in u, so u is always orthogonal.
 */
export function svd(a: Float64Array, n: number, options: SVDOptions = {}): SVDResult {
  checkSquare(a, n, 'the SVD input');
  const tol = options.tol ?? 1e-11;
  const maxSweeps = options.maxSweeps ?? 40;
  // w: rows are the columns of a·v; vt: rows are the columns of v (contiguous rows for the loops)
  const vt = new Float64Array(n * n);
  if (options.v0) {
    checkSquare(options.v0, n, 'the SVD start v0');
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vt[j * n + i] = options.v0[i * n + j]!;
  } else for (let i = 0; i < n; i++) vt[i * n + i] = 1;
  const w = new Float64Array(n * n);
  const at = transpose(a, n);
  // w[j] = a·v_j = Σ_i v_j[i] · (column i of a)
  for (let j = 0; j < n; j++) {
    const wj = j * n;
    for (let i = 0; i < n; i++) {
      const f = vt[j * n + i]!;
      if (f === 0) continue;
      const ai = i * n;
      for (let r = 0; r < n; r++) w[wj + r] = w[wj + r]! + f * at[ai + r]!;
    }
  }
  const norms = new Float64Array(n);
  let sweeps = 0;
  for (; sweeps < maxSweeps; ) {
    for (let j = 0; j < n; j++) norms[j] = dot(w, j * n, w, j * n, n);
    sweeps++;
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      const wp = p * n;
      for (let q = p + 1; q < n; q++) {
        const alpha = norms[p]!,
          beta = norms[q]!;
        if (alpha === 0 || beta === 0) continue;
        const wq = q * n;
        const gamma = dot(w, wp, w, wq, n);
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t),
          s = c * t;
        rotate2(w, vt, wp, wq, c, s, n);
        norms[p] = alpha - t * gamma;
        norms[q] = beta + t * gamma;
      }
    }
    if (!rotated) break;
  }
  const s = new Float64Array(n);
  let smax = 0;
  for (let j = 0; j < n; j++) {
    s[j] = Math.sqrt(dot(w, j * n, w, j * n, n));
    smax = Math.max(smax, s[j]!);
  }
  // ut: rows are the columns of u
  const ut = new Float64Array(n * n);
  const weak: number[] = [];
  for (let j = 0; j < n; j++) {
    if (s[j]! > smax * n * 1e-14 && s[j]! > 0) {
      const inv = 1 / s[j]!;
      for (let r = 0; r < n; r++) ut[j * n + r] = w[j * n + r]! * inv;
    } else weak.push(j);
  }
  completeOrthonormal(ut, n, weak);
  return { u: transpose(ut, n), s, v: transpose(vt, n), sweeps };
}

/**
 * The orthogonal r maximising trace(rᵀ·m), i.e. minimising ‖r·x − y‖ over the pairs m was
 * summed from (m = Σ y·xᵀ): u·vᵀ from the SVD of m (Schönemann 1966). Returns r and the SVD's
 * v, which a next call on a similar m may start from.
 */
export function procrustes(m: Float64Array, n: number, options: SVDOptions = {}): { r: Float64Array; v: Float64Array; sweeps: number } {
  const { u, v, sweeps } = svd(m, n, options);
  const r = new Float64Array(n * n);
  // r = u·vᵀ: r[i][k] = Σ_j u[i][j]·v[k][j]
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) r[i * n + k] = dot(u, i * n, v, k * n, n);
  }
  return { r, v, sweeps };
}

/** A random n×n rotation (orthonormal rows): Gram–Schmidt of seeded Gaussian rows, as Faiss's QR of randn. */
export function randomOrthogonal(n: number, seed: number): Float64Array {
  if (!Number.isSafeInteger(n) || n < 1) throw invalid(`a rotation's size must be a positive integer, got ${n}`);
  const rand = rng(seed);
  const g = new Float64Array(n * n);
  for (let i = 0; i < n * n; i += 2) {
    // Box–Muller
    const r = Math.sqrt(-2 * Math.log(1 - rand())),
      t = 2 * Math.PI * rand();
    g[i] = r * Math.cos(t);
    if (i + 1 < n * n) g[i + 1] = r * Math.sin(t);
  }
  completeOrthonormal(g, n, [], true);
  return g;
}

/** Largest |(a·aᵀ − I)_ij|: how far the rows of a square a are from orthonormal. */
export function orthogonalityError(a: ArrayLike<number>, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k]! * a[j * n + k]!;
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j]!;
  return t;
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s0 = 0,
    s1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
  }
  if (i < n) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1;
}

/** The same plane rotation of rows p and q of both a and b (one loop: half the loop overhead). */
function rotate2(a: Float64Array, b: Float64Array, p: number, q: number, c: number, s: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = a[p + i]!,
      y = a[q + i]!,
      u = b[p + i]!,
      v = b[q + i]!;
    a[p + i] = c * x - s * y;
    a[q + i] = s * x + c * y;
    b[p + i] = c * u - s * v;
    b[q + i] = s * u + c * v;
  }
}

/**
 * Orthonormalises rows in place by modified Gram–Schmidt, twice ("twice is enough"). Rows
 * listed in `fill` are replaced by unit vectors e_0, e_1, … made orthogonal to the other rows
 * (skipping those the other rows already span); with `all`, every row keeps its direction.
 */
function completeOrthonormal(rows: Float64Array, n: number, fill: number[], all = false): void {
  const todo = all ? Array.from({ length: n }, (_, i) => i) : fill;
  if (todo.length === 0) return;
  const done: number[] = [];
  if (!all) for (let j = 0; j < n; j++) if (!fill.includes(j)) done.push(j);
  let e = 0;
  for (const j of todo) {
    const o = j * n;
    for (let attempt = 0; ; attempt++) {
      if (!all || attempt > 0) {
        if (e >= n) throw new Error('orthonormal completion ran out of unit vectors');
        rows.fill(0, o, o + n);
        rows[o + e++] = 1;
      }
      for (let pass = 0; pass < 2; pass++) {
        for (const i of done) {
          const f = dot(rows, o, rows, i * n, n);
          for (let r = 0; r < n; r++) rows[o + r] = rows[o + r]! - f * rows[i * n + r]!;
        }
      }
      const len = Math.sqrt(dot(rows, o, rows, o, n));
      if (len > 1e-6) {
        for (let r = 0; r < n; r++) rows[o + r] = rows[o + r]! / len;
        break;
      }
    }
    done.push(j);
  }
}
