/**
 * k-means clustering (Lloyd's algorithm), the seed's way of splitting N vectors into K groups
 * before search. Defaults follow Faiss's Clustering: 25 iterations, a fixed seed, random
 * initial centroids, training on at most 256·K sampled points, empty clusters split from big
 * ones. The assignment step (the N·K·D part) is a parameter: by default an exact scan on
 * worker threads; a product quantizer's sub-quantizers, for one, bring their own.
 */

import { NitamonoError } from '../errors.js';
import { Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import { type Kernels, METRIC_IP, METRIC_L2, type MetricCode } from '../kernels/types.js';
import { rng, samplePermutation } from '../util/random.js';
import { splitRange } from '../util/ranges.js';
import { checkInt, checkMetric, checkOneOf, checkPositiveInt, checkVectors } from '../validate.js';
import { l2Normalize } from '../vectors/matrix.js';
import { metricCode } from './base.js';
import { resolveThreads, sharedPool, type Task } from './pool.js';
import { type FlatLayout, flatSearchRange, type QueryBlock } from './scan.js';
import type { Metric } from './types.js';

/** What the assignment step of one iteration is given. Arrays may be views of shared memory: read them, do not keep them. */
export interface AssignInput {
  /** n×d training points (after subsampling). */
  points: Float32Array;
  n: number;
  d: number;
  /** k×d current centroids (unit length when metric is 'ip'). */
  centroids: Float32Array;
  k: number;
  metric: Metric;
}

export interface Assignment {
  /** Per point, its centroid in [0, k); a negative label leaves the point out of the update. */
  labels: Int32Array;
  /** Per point, the score to its centroid, smaller is better: squared L2, or the negated inner product for 'ip'. */
  distances: Float32Array;
}

/** The assignment step of k-means: the nearest centroid of every point. */
export type KMeansAssign = (input: AssignInput) => Assignment | Promise<Assignment>;

export interface KMeansOptions {
  /** Lloyd iterations (default 25, as Faiss). */
  iterations?: number;
  /** Seed of the sampling and initialisation (default 1234, as Faiss). */
  seed?: number;
  /**
   * 'random' picks K distinct training points (Faiss's default); 'kmeans++' spreads them
   * (O(n·K·d)); a Float32Array of k×d starts from those centroids (a hot start, as OPQ's
   * alternation retrains its codebooks from the last ones).
   */
  init?: 'random' | 'kmeans++' | Float32Array;
  /** Train on at most this many points per centroid (default 256, as Faiss). */
  maxPointsPerCentroid?: number;
  /** Below this many points per centroid, warn (default 39, as Faiss). */
  minPointsPerCentroid?: number;
  /** 'l2' (default) or 'ip': assign by largest inner product and keep centroids unit length (spherical k-means). */
  metric?: Metric;
  /** Worker threads for the default assignment step (default: all cores; 1 runs on the calling thread). */
  threads?: number;
  /** The assignment step (default: an exact scan of the centroids, on `threads` worker threads; see nearestCentroids). */
  assign?: KMeansAssign;
  /** Called with warnings (default: collected in the result only). */
  onWarning?: (message: string) => void;
}

export interface KMeansResult {
  /** k×d row-major centroids. */
  centroids: Float32Array;
  k: number;
  d: number;
  /** Sum of squared distances (or of negated inner products) to the assigned centroid, per iteration. */
  objective: number[];
  /** Points actually trained on (after subsampling). */
  trainedOn: number;
  /** Empty clusters that were split from large ones, over all iterations. */
  splits: number;
  warnings: string[];
}

const INITS = ['random', 'kmeans++'] as const;

/**
 * The default assignment step where points, centroids and result heaps already sit in `arena`:
 * one exact top-1 scan per point, split over worker threads. The results are left in the
 * block's heaps (labels in heapsI, scores in heapsD).
 */
async function scanAssign(K: Kernels, arena: Arena, layout: FlatLayout, block: QueryBlock, m: number, threads: number): Promise<void> {
  arena.i32(block.sizes, m).fill(0);
  if (threads === 1) {
    flatSearchRange(K, layout, block, 0, m, true);
    return;
  }
  const tasks: Task[] = splitRange(m, threads).map(([q0, q1]) => ({ op: 'flat', layouts: [layout], block, q0, q1, batched: true }));
  await sharedPool().run(arena, tasks);
}

/** Room for m points of d, k centroids of d, and their top-1 heaps. */
function assignArena(
  m: number,
  d: number,
  k: number,
  metric: MetricCode,
): {
  arena: Arena;
  K: Kernels;
  X: number;
  C: number;
  layout: FlatLayout;
  block: QueryBlock;
} {
  const arena = Arena.take(m * d * 4 + k * d * 8 + m * 16);
  const K = createKernels(arena.memory);
  const X = arena.alloc(m * d * 4);
  const C = arena.alloc(k * d * 4),
    CN = arena.alloc(k * 4);
  const block: QueryBlock = {
    queries: X,
    queryNorms: arena.alloc(m * 4),
    heapsD: arena.alloc(m * 4),
    heapsI: arena.alloc(m * 4),
    sizes: arena.alloc(m * 4),
    k: 1,
  };
  return { arena, K, X, C, layout: { metric, d, n: k, vectors: C, norms: CN, ids: 0 }, block };
}

/**
 * The default assignment step as a standalone KMeansAssign: exact nearest centroid of every
 * point, on worker threads. Copies its input into a scratch arena; kmeans itself, when no
 * `assign` is given, runs the same scan without the copies.
 */
export function nearestCentroids(options: { threads?: number } = {}): KMeansAssign {
  const threads = resolveThreads(options.threads);
  return async ({ points, n, d, centroids, k, metric }) => {
    const s = assignArena(n, d, k, metricCode(metric));
    try {
      s.arena.f32(s.X, n * d).set(points.subarray(0, n * d));
      s.arena.f32(s.C, k * d).set(centroids.subarray(0, k * d));
      s.K.norms(s.C, k, d, s.layout.norms);
      await scanAssign(s.K, s.arena, s.layout, s.block, n, threads);
      return { labels: s.arena.i32(s.block.heapsI, n).slice(), distances: s.arena.f32(s.block.heapsD, n).slice() };
    } finally {
      s.arena.recycle();
    }
  };
}

export async function kmeans(data: Float32Array, d: number, k: number, options: KMeansOptions = {}): Promise<KMeansResult> {
  const n = checkVectors(data, d, 'training vectors');
  checkPositiveInt('k', k);
  if (n < k) throw new NitamonoError('INVALID_ARGUMENT', `k-means needs at least as many points as clusters: got ${n} points for k = ${k}`);
  const iterations = checkPositiveInt('iterations', options.iterations ?? 25);
  const seed = options.seed ?? 1234;
  const maxPer = checkPositiveInt('maxPointsPerCentroid', options.maxPointsPerCentroid ?? 256);
  const minPer = checkInt('minPointsPerCentroid', options.minPointsPerCentroid ?? 39, { min: 0 });
  const metric = checkMetric(options.metric ?? 'l2');
  const init = options.init instanceof Float32Array ? options.init : checkOneOf('init', options.init ?? 'random', INITS);
  if (init instanceof Float32Array && init.length !== k * d)
    throw new NitamonoError('INVALID_ARGUMENT', `initial centroids must hold k×d = ${k * d} floats, got ${init.length}`);
  const code = metricCode(metric);
  const threads = resolveThreads(options.threads);
  const assign = options.assign;
  if (assign !== undefined && typeof assign !== 'function') throw new NitamonoError('INVALID_ARGUMENT', 'assign must be a function');
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    options.onWarning?.(m);
  };

  // Sample as Faiss does: a seeded permutation, capped at maxPer·k points.
  let m = n;
  let rows: Int32Array | null = null;
  if (n > maxPer * k) {
    m = maxPer * k;
    rows = samplePermutation(n, m, seed);
    warn(`sampling ${m} of ${n} points to train ${k} centroids (at most ${maxPer} per centroid)`);
  } else if (n < minPer * k) {
    warn(`only ${n} training points for ${k} centroids (fewer than ${minPer} per centroid): clusters may be poor`);
  }

  const { arena, K, X, C, layout, block } = assignArena(m, d, k, code);
  try {
    const xv = arena.f32(X, m * d);
    if (rows) for (let i = 0; i < m; i++) xv.set(data.subarray(rows[i]! * d, (rows[i]! + 1) * d), i * d);
    else xv.set(data.subarray(0, m * d));
    const sums = arena.alloc(k * d * 4),
      counts = arena.alloc(k * 4);
    // the points do not change: their norms (the batched L2 scan's ‖q‖²) are computed once, not per iteration
    if (code === METRIC_L2) K.norms(X, m, d, block.queryNorms);
    block.normsReady = true;

    if (init instanceof Float32Array) arena.f32(C, k * d).set(init);
    else initCentroids(init, arena.f32(X, m * d), m, d, k, arena.f32(C, k * d), seed);
    const rand = rng(seed + 1);
    const objective: number[] = [];
    let splits = 0;

    for (let it = 0; it < iterations; it++) {
      if (code === METRIC_IP) l2Normalize(arena.f32(C, k * d), d, true);
      if (assign) {
        const got = await assign({ points: arena.f32(X, m * d), n: m, d, centroids: arena.f32(C, k * d), k, metric });
        storeAssignment(got, m, k, arena.i32(block.heapsI, m), arena.f32(block.heapsD, m));
      } else {
        K.norms(C, k, d, layout.norms);
        await scanAssign(K, arena, layout, block, m, threads);
      }
      const dist = arena.f32(block.heapsD, m),
        labels = arena.i32(block.heapsI, m);
      let obj = 0;
      for (let i = 0; i < m; i++) if (labels[i]! >= 0) obj += code === METRIC_L2 ? Math.max(0, dist[i]!) : dist[i]!;
      objective.push(obj);

      // update: centroid = mean of its points
      arena.f32(sums, k * d).fill(0);
      arena.i32(counts, k).fill(0);
      K.accumulate(X, m, d, block.heapsI, sums, counts);
      const cv = arena.f32(C, k * d),
        sv = arena.f32(sums, k * d),
        cnt = arena.i32(counts, k);
      for (let c = 0; c < k; c++) {
        const nc = cnt[c]!;
        if (nc === 0) continue;
        const inv = 1 / nc;
        for (let j = 0; j < d; j++) cv[c * d + j] = sv[c * d + j]! * inv;
      }
      splits += splitEmptyClusters(cv, cnt, k, d, m, rand);
    }
    if (code === METRIC_IP) l2Normalize(arena.f32(C, k * d), d, true);
    if (splits > 0) warn(`${splits} empty cluster(s) were split from large ones during training`);
    return { centroids: arena.f32(C, k * d).slice(), k, d, objective, trainedOn: m, splits, warnings };
  } finally {
    arena.recycle();
  }
}

/** Checks a custom assignment and copies it where the update step reads it. */
function storeAssignment(got: Assignment, m: number, k: number, labels: Int32Array, distances: Float32Array): void {
  if (!got || !(got.labels instanceof Int32Array) || !(got.distances instanceof Float32Array) || got.labels.length !== m || got.distances.length !== m) {
    throw new NitamonoError('INVALID_ARGUMENT', `assign must return { labels: Int32Array, distances: Float32Array } of ${m} entries each`);
  }
  for (let i = 0; i < m; i++) {
    const l = got.labels[i]!;
    // the update kernel indexes the sums by label: an out-of-range one would write past them
    if (l >= k) throw new NitamonoError('INVALID_ARGUMENT', `assign returned label ${l} for point ${i}; labels must be below k = ${k}`);
  }
  labels.set(got.labels);
  distances.set(got.distances);
}

function initCentroids(init: 'random' | 'kmeans++', X: Float32Array, m: number, d: number, k: number, C: Float32Array, seed: number): void {
  if (init === 'random') {
    const pick = samplePermutation(m, k, seed + 2);
    for (let c = 0; c < k; c++) C.set(X.subarray(pick[c]! * d, (pick[c]! + 1) * d), c * d);
    return;
  }
  // k-means++: each next centre is drawn with probability proportional to D(x)², the squared
  // distance to the nearest centre chosen so far.
  const rand = rng(seed + 2);
  const best = new Float64Array(m).fill(Infinity);
  let cur = Math.floor(rand() * m);
  for (let c = 0; c < k; c++) {
    C.set(X.subarray(cur * d, (cur + 1) * d), c * d);
    if (c === k - 1) break;
    let total = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = X[i * d + j]! - C[c * d + j]!;
        s += t * t;
      }
      if (s < best[i]!) best[i] = s;
      total += best[i]!;
    }
    let r = rand() * total;
    cur = m - 1;
    for (let i = 0; i < m; i++) {
      r -= best[i]!;
      if (r <= 0) {
        cur = i;
        break;
      }
    }
  }
}

/**
 * Faiss's split_clusters: an empty cluster takes a copy of a large cluster's centroid (chosen
 * with probability ∝ its size), and the two are nudged apart by ±1/1024 so they separate.
 */
function splitEmptyClusters(C: Float32Array, counts: Int32Array, k: number, d: number, m: number, rand: () => number): number {
  const EPS = 1 / 1024;
  let splits = 0;
  for (let ci = 0; ci < k; ci++) {
    if (counts[ci] !== 0) continue;
    // with no cluster of two or more points (duplicated data) there is nothing to split
    let donors = 0;
    for (let c = 0; c < k; c++) if (counts[c]! > 1) donors++;
    if (donors === 0 || m <= k) break;
    let cj = 0;
    for (;;) {
      const p = (counts[cj]! - 1) / (m - k);
      if (rand() < p) break;
      cj = (cj + 1) % k;
    }
    for (let j = 0; j < d; j++) {
      const v = C[cj * d + j]!;
      if (j % 2 === 0) {
        C[ci * d + j] = v * (1 + EPS);
        C[cj * d + j] = v * (1 - EPS);
      } else {
        C[ci * d + j] = v * (1 - EPS);
        C[cj * d + j] = v * (1 + EPS);
      }
    }
    counts[ci] = counts[cj]! >> 1;
    counts[cj] = counts[cj]! - counts[ci]!;
    splits++;
  }
  return splits;
}
