// The native batch kernel through the public API: FlatIndex batch search and k-means, forced by
// NITAMONO_KERNELS (native, wasm, reference), against the TypeScript reference kernels; on the
// calling thread and on worker threads. The workers read NITAMONO_KERNELS when the pool starts,
// so it is set to 'native' before anything runs: a worker that could not load the addon fails
// the search instead of falling back to WASM.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { kernelsSummary, nativeKernelInfo } from '../../src/kernels/index.js';
import { NATIVE_PATH } from '../../src/kernels/native.js';
import { FlatIndex } from '../../src/search/flat.js';
import { kmeans } from '../../src/search/kmeans.js';
import type { Metric, SearchResult } from '../../src/search/types.js';
import { rng } from '../../src/util/random.js';

const native = nativeKernelInfo().available;
if (native) process.env.NITAMONO_KERNELS = 'native';

/** What the build step needs: a C++ compiler (as `npm ci` needs for better-sqlite3) on x86-64 or arm64 Linux. */
function nativeExpected(): boolean {
  if (process.env.NITAMONO_BUILD_NATIVE === '0' || process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return false;
  for (const cxx of [process.env.CXX, 'c++', 'g++', 'clang++']) {
    if (!cxx) continue;
    try {
      execFileSync(cxx, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {}
  }
  return false;
}

/** Runs fn with NITAMONO_KERNELS set to `kind` for the indexes and arenas it makes on this thread. */
function withKernels<T>(kind: string, fn: () => T): T {
  const saved = process.env.NITAMONO_KERNELS;
  process.env.NITAMONO_KERNELS = kind;
  try {
    return fn();
  } finally {
    process.env.NITAMONO_KERNELS = saved;
  }
}

function randomVectors(n: number, d: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * d }, () => r() * 2 - 1);
}

/** Exact f64 score of base row `id` for the query (smaller is better, as the kernels order them). */
function exactScore(metric: Metric, q: Float32Array, X: Float32Array, d: number, id: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += metric === 'l2' ? (q[j]! - X[id * d + j]!) ** 2 : q[j]! * X[id * d + j]!;
  return metric === 'l2' ? s : -s;
}

/** Same answers up to float rounding: distances within tol, ids equal unless their exact scores are within tol. */
function assertClose(got: SearchResult, want: SearchResult, X: Float32Array, Q: Float32Array, d: number, metric: Metric, what: string): void {
  assert.equal(got.labels.length, want.labels.length, what);
  const tol = 1e-4 * d;
  for (let i = 0; i < got.labels.length; i++) {
    const g = got.labels[i]!,
      w = want.labels[i]!;
    const qi = Math.floor(i / got.k),
      q = Q.subarray(qi * d, (qi + 1) * d);
    if (w < 0) {
      assert.equal(g, -1, `${what}: slot ${i} should be empty`);
      assert.ok(Number.isNaN(got.distances[i]!), `${what}: NaN pad at ${i}`);
      continue;
    }
    assert.ok(Math.abs(got.distances[i]! - want.distances[i]!) <= tol, `${what}: distance ${i}: ${got.distances[i]} vs ${want.distances[i]}`);
    if (g !== w) assert.ok(Math.abs(exactScore(metric, q, X, d, g) - exactScore(metric, q, X, d, w)) <= tol, `${what}: id ${i}: ${g} vs ${w}`);
  }
}

test('the native kernel is built and loads wherever a C++ compiler is installed', () => {
  const info = nativeKernelInfo();
  if (nativeExpected()) {
    assert.ok(existsSync(NATIVE_PATH), `the build step should have made ${NATIVE_PATH} (run \`npm run build:native\` for its message)`);
  }
  if (existsSync(NATIVE_PATH)) assert.equal(info.available, true, `built but not loaded: ${JSON.stringify(info)}`);
  assert.match(kernelsSummary(), info.available ? /^native (avx512|avx2|scalar) \(batch scans\)/ : /native kernel/);
});

// d not a multiple of 8 or 16, fewer rows than a row block or a tile, k above n
const SHAPES = [
  { n: 3, d: 5, k: 8 },
  { n: 70, d: 13, k: 10 },
  { n: 2500, d: 100, k: 10 },
  { n: 1200, d: 784, k: 4 },
];

test('FlatIndex batch search: native and WASM match the reference kernels, both metrics, on awkward shapes', async (t) => {
  if (!native) return t.skip('native kernel not built');
  const nq = 13; // ≥ BATCH_MIN_QUERIES: the batched kernel; tiles of 4 and a leftover
  for (const { n, d, k } of SHAPES) {
    const X = randomVectors(n, d, n + d),
      Q = randomVectors(nq, d, 7 * d);
    for (const metric of ['l2', 'ip'] as const) {
      const what = `n=${n} d=${d} k=${k} ${metric}`;
      const make = (kind: string) =>
        withKernels(kind, () => {
          const index = new FlatIndex(d, { metric });
          index.add(X);
          assert.equal(index.kernels, kind === 'wasm' ? 'wasm-simd' : kind, what);
          return index;
        });
      const [nat, wasm, ref] = ['native', 'wasm', 'reference'].map(make) as [FlatIndex, FlatIndex, FlatIndex];
      const want = ref.search(Q, k);
      const got = nat.search(Q, k);
      assertClose(got, want, X, Q, d, metric, `native ${what}`);
      assertClose(wasm.search(Q, k), want, X, Q, d, metric, `wasm ${what}`);
      // on two worker threads, which load the addon themselves: the very same bits
      const onWorkers = await nat.searchAsync(Q, k, { threads: 2 });
      assert.deepEqual(onWorkers.labels, got.labels, `workers ${what}`);
      assert.deepEqual(onWorkers.distances, got.distances, `workers ${what}`);
      for (const index of [nat, wasm, ref]) index.dispose();
    }
  }
});

test('k-means: the native assignment step matches the reference, and its worker threads match its calling thread', async (t) => {
  if (!native) return t.skip('native kernel not built');
  const d = 21,
    n = 3000,
    k = 12;
  const X = randomVectors(n, d, 99);
  for (const metric of ['l2', 'ip'] as const) {
    const opts = { iterations: 6, seed: 5, metric };
    const ref = await withKernels('reference', () => kmeans(X, d, k, { ...opts, threads: 1 }));
    const one = await kmeans(X, d, k, { ...opts, threads: 1 });
    const two = await kmeans(X, d, k, { ...opts, threads: 2 });
    assert.deepEqual(two.centroids, one.centroids, `${metric}: workers and calling thread`);
    // the same start, so the first objective differs by rounding only; later ones may part at near-ties
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    assert.ok(rel(one.objective[0]!, ref.objective[0]!) < 1e-5, `${metric}: first objective ${one.objective[0]} vs ${ref.objective[0]}`);
    assert.ok(rel(one.objective.at(-1)!, ref.objective.at(-1)!) < 1e-3, `${metric}: last objective ${one.objective.at(-1)} vs ${ref.objective.at(-1)}`);
  }
});
