// The WASM SIMD kernels against the TypeScript reference and against an exact brute-force
// oracle (f64 scores of every row, sorted by (score, label), first k), on one shared memory.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Arena } from '../../src/kernels/arena.js';
import {
  createKernels,
  createNativeKernels,
  createReferenceKernels,
  createWasmKernels,
  type Kernels,
  kernelsAvailable,
  kernelsModule,
  METRIC_IP,
  METRIC_L2,
  type MetricCode,
  nativeKernelInfo,
  useNativeIsa,
  wasmSimdSupported,
} from '../../src/kernels/index.js';
import { fromHalf, toHalf } from '../../src/util/half.js';
import { rng } from '../../src/util/random.js';

const TOL = 1e-4;

function randomData(len: number, seed: number): Float32Array {
  const r = rng(seed),
    out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = r() * 2 - 1;
  return out;
}

interface Setup {
  arena: Arena;
  wasm: Kernels;
  ref: Kernels;
}

function setup(): Setup {
  const arena = new Arena(1 << 20);
  return { arena, wasm: createWasmKernels(arena.memory), ref: createReferenceKernels(arena.memory) };
}

function put(arena: Arena, data: Float32Array | Int32Array): number {
  const off = arena.alloc(Math.max(4, data.length * 4));
  if (data instanceof Float32Array) arena.f32(off, data.length).set(data);
  else arena.i32(off, data.length).set(data);
  return off;
}

interface Entry {
  score: number;
  label: number;
}

function readHeap(arena: Arena, hd: number, hi: number, size: number): Entry[] {
  const D = arena.f32(hd, size),
    I = arena.i32(hi, size);
  const out: Entry[] = [];
  for (let i = 0; i < size; i++) out.push({ score: D[i]!, label: I[i]! });
  return out.sort((a, b) => a.score - b.score || a.label - b.label);
}

/** Checks the max-heap property on (score, label) (the root is the worst kept entry). */
function assertHeap(arena: Arena, hd: number, hi: number, size: number, what: string): void {
  const D = arena.f32(hd, size),
    I = arena.i32(hi, size);
  for (let i = 1; i < size; i++) {
    const p = (i - 1) >> 1;
    const ok = D[p]! > D[i]! || (D[p] === D[i] && I[p]! > I[i]!);
    assert.ok(ok, `${what}: heap order broken at ${i}`);
  }
}

/** Exact (f64) score of row `label - rowOffset`. */
function trueScore(metric: MetricCode, q: Float32Array, X: Float32Array, d: number, row: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    if (metric === METRIC_L2) {
      const t = q[j]! - X[row * d + j]!;
      s += t * t;
    } else s += q[j]! * X[row * d + j]!;
  }
  return metric === METRIC_L2 ? s : -s;
}

/** The exact top-k of rows [0, n) with labels rowOffset + r: every score, sorted, first k. */
function oracle(metric: MetricCode, q: Float32Array, X: Float32Array, n: number, d: number, k: number, rowOffset = 0): Entry[] {
  const all: Entry[] = [];
  for (let r = 0; r < n; r++) all.push({ score: trueScore(metric, q, X, d, r), label: rowOffset + r });
  return all.sort((a, b) => a.score - b.score || a.label - b.label).slice(0, k);
}

/**
 * The kernels' result must be the oracle's up to rounding: same size, scores equal within a
 * relative tolerance, labels equal except between candidates whose exact scores are within
 * that tolerance of each other.
 */
function assertSameTopK(got: Entry[], want: Entry[], truth: (label: number) => number, scale: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: size`);
  const tol = TOL * Math.max(scale, 1e-6);
  assert.equal(new Set(got.map((e) => e.label)).size, got.length, `${what}: duplicate labels`);
  for (let p = 0; p < want.length; p++) {
    const g = got[p]!,
      w = want[p]!;
    assert.ok(Math.abs(g.score - w.score) <= tol, `${what}: score #${p} ${g.score} vs ${w.score}`);
    if (g.label !== w.label) {
      const dt = Math.abs(truth(g.label) - truth(w.label));
      assert.ok(dt <= tol, `${what}: label #${p} ${g.label} vs ${w.label} (exact scores differ by ${dt})`);
    }
  }
}

test('WASM SIMD kernels are available here', () => {
  assert.equal(wasmSimdSupported(), true);
  assert.equal(kernelsAvailable().wasm, true);
  assert.ok(kernelsModule() instanceof WebAssembly.Module);
  assert.equal(createWasmKernels(new Arena().memory, kernelsModule()).name, 'wasm-simd');
});

test('createKernels: auto picks native when built, else WASM; NITAMONO_KERNELS forces one', () => {
  const arena = new Arena();
  const saved = process.env.NITAMONO_KERNELS;
  const native = kernelsAvailable().native;
  const info = nativeKernelInfo();
  try {
    delete process.env.NITAMONO_KERNELS;
    // the portable native build is slower than WASM SIMD: auto takes only an AVX build
    assert.equal(createKernels(arena.memory).name, info.available && info.isa !== 'scalar' ? 'native' : 'wasm-simd');
    assert.equal(createKernels(arena.memory, 'wasm').name, 'wasm-simd');
    assert.equal(createKernels(arena.memory, 'reference').name, 'reference');
    if (native) assert.equal(createKernels(arena.memory, 'native').name, 'native');
    else assert.throws(() => createKernels(arena.memory, 'native'), /native kernel is not available/);
    process.env.NITAMONO_KERNELS = 'reference';
    assert.equal(createKernels(arena.memory).name, 'reference');
    assert.equal(createKernels(arena.memory, 'wasm').name, 'reference');
    process.env.NITAMONO_KERNELS = 'wasm';
    assert.equal(createKernels(arena.memory, 'native').name, 'wasm-simd');
    if (native) {
      delete process.env.NITAMONO_KERNELS;
      useNativeIsa('scalar');
      assert.equal(createKernels(arena.memory).name, 'wasm-simd');
      assert.equal(createKernels(arena.memory, 'native').name, 'native');
    }
    process.env.NITAMONO_KERNELS = 'fast';
    assert.throws(() => createKernels(arena.memory), /NITAMONO_KERNELS must be one of auto, native, wasm, reference/);
  } finally {
    if (native) useNativeIsa('avx512');
    if (saved === undefined) delete process.env.NITAMONO_KERNELS;
    else process.env.NITAMONO_KERNELS = saved;
  }
});

test("the seed's own numbers: 2-D distance² 13, 3-D distance² 173", () => {
  const { arena, wasm, ref } = setup();
  for (const K of [wasm, ref]) {
    for (const [q, x, want, wantIp] of [
      [[9, 7], [6, 5], 13, -(9 * 6 + 7 * 5)],
      [[3, 21, 12], [9, 10, 8], 173, -(3 * 9 + 21 * 10 + 12 * 8)],
    ] as const) {
      const d = q.length;
      const qp = put(arena, new Float32Array(q)),
        xp = put(arena, new Float32Array(x));
      const hd = arena.alloc(4),
        hi = arena.alloc(4);
      assert.equal(K.scanTopK(METRIC_L2, qp, xp, 1, d, 1, hd, hi, 0, 0), 1);
      assert.equal(arena.f32(hd, 1)[0], want, `${K.name} L2 d=${d}`);
      assert.equal(arena.i32(hi, 1)[0], 0);
      assert.equal(K.scanTopK(METRIC_IP, qp, xp, 1, d, 1, hd, hi, 0, 7), 1);
      assert.equal(arena.f32(hd, 1)[0], wantIp, `${K.name} IP d=${d}`);
      assert.equal(arena.i32(hi, 1)[0], 7);
      // the batch formula qn + xn − 2⟨q,x⟩ gives the same integer exactly
      const qn = arena.alloc(4),
        xn = arena.alloc(4),
        sizes = arena.alloc(4);
      K.norms(qp, 1, d, qn);
      K.norms(xp, 1, d, xn);
      K.batchTopK(METRIC_L2, qp, 1, qn, xp, xn, 1, d, 1, hd, hi, sizes, 0);
      assert.equal(arena.f32(hd, 1)[0], want, `${K.name} batch L2 d=${d}`);
      assert.equal(arena.i32(sizes, 1)[0], 1);
    }
  }
});

test('scoresAt gives, for any rows in any order, the bits scanTopK scores them with', () => {
  const { arena, wasm, ref } = setup();
  const r = rng(5);
  const rand = () => r() * 2 - 1;
  for (const K of [wasm, ref]) {
    for (const d of [1, 3, 4, 15, 16, 17, 64, 130]) {
      const n = 37;
      const X = Float32Array.from({ length: n * d }, rand),
        q = Float32Array.from({ length: d }, rand);
      const xp = put(arena, X),
        qp = put(arena, q);
      const rows = Int32Array.from([36, 0, 5, 5, 17, 2, 30]);
      const rp = put(arena, rows),
        out = arena.alloc(rows.length * 4);
      const hd = arena.alloc(4),
        hi = arena.alloc(4);
      for (const metric of [METRIC_L2, METRIC_IP] as const) {
        K.scoresAt(metric, qp, xp, d, rp, rows.length, out);
        const got = arena.f32(out, rows.length).slice();
        rows.forEach((r, j) => {
          K.setLabelMap(0);
          K.scanTopK(metric, qp, xp + r * d * 4, 1, d, 1, hd, hi, 0, 0);
          assert.equal(got[j], arena.f32(hd, 1)[0], `${K.name} metric ${metric} d=${d} row ${r}`);
        });
      }
    }
  }
});

test('scanTopKRows keeps the heap scanTopK keeps over the same rows copied together, labels the row numbers', () => {
  const { arena, wasm, ref } = setup();
  const r = rng(9);
  const rand = () => r() * 2 - 1;
  for (const K of [wasm, ref]) {
    for (const d of [1, 4, 17, 64, 130]) {
      const n = 200;
      const X = Float32Array.from({ length: n * d }, rand),
        q = Float32Array.from({ length: d }, rand);
      // scattered rows, with a duplicate value of X so that ties break on the label
      X.copyWithin(150 * d, 3 * d, 4 * d);
      const rows = Int32Array.from([3, 9, 10, 11, 40, 77, 150, 151, 199]);
      const gathered = new Float32Array(rows.length * d);
      for (let j = 0; j < rows.length; j++) gathered.set(X.subarray(rows[j]! * d, (rows[j]! + 1) * d), j * d);
      const xp = put(arena, X),
        gp = put(arena, gathered),
        qp = put(arena, q),
        rp = put(arena, rows),
        labels = put(arena, rows);
      for (const metric of [METRIC_L2, METRIC_IP] as const) {
        for (const k of [1, 4, 20]) {
          const hd = arena.alloc(k * 4),
            hi = arena.alloc(k * 4),
            gd = arena.alloc(k * 4),
            gi = arena.alloc(k * 4);
          K.setLabelMap(0);
          const size = K.scanTopKRows(metric, qp, xp, d, rp, rows.length, k, hd, hi, 0);
          K.setLabelMap(labels);
          const want = K.scanTopK(metric, qp, gp, rows.length, d, k, gd, gi, 0, 0);
          K.setLabelMap(0);
          assert.equal(size, want, `${K.name} d=${d} k=${k}`);
          assert.deepEqual(arena.f32(hd, size).slice(), arena.f32(gd, want).slice(), `${K.name} scores d=${d} k=${k}`);
          assert.deepEqual(arena.i32(hi, size).slice(), arena.i32(gi, want).slice(), `${K.name} labels d=${d} k=${k}`);
        }
      }
    }
  }
});

/**
 * scanTopK on random shapes, both metrics, against the oracle and (when given) directly against
 * `other` run on the same data; returns the number of cases.
 */
function checkScanShapes(arena: Arena, K: Kernels, other?: Kernels): number {
  let cases = 0;
  for (const d of [1, 3, 7, 128, 784]) {
    for (const n of [1, 5, 100, 1000]) {
      const X = randomData(n * d, d * 7919 + n),
        q = randomData(d, d + n * 31);
      const xp = put(arena, X),
        qp = put(arena, q);
      for (const k of [...new Set([1, 10, n, n + 3])]) {
        const hd = arena.alloc(4 * k),
          hi = arena.alloc(4 * k),
          hd2 = arena.alloc(4 * k),
          hi2 = arena.alloc(4 * k);
        for (const metric of [METRIC_L2, METRIC_IP] as const) {
          const what = `${K.name} scan metric=${metric} d=${d} n=${n} k=${k}`;
          const size = K.scanTopK(metric, qp, xp, n, d, k, hd, hi, 0, 0);
          assert.equal(size, Math.min(n, k), what);
          assertHeap(arena, hd, hi, size, what);
          const want = oracle(metric, q, X, n, d, k);
          const scale = Math.max(...want.map((e) => Math.abs(e.score)));
          const got = readHeap(arena, hd, hi, size);
          assertSameTopK(got, want, (l) => trueScore(metric, q, X, d, l), scale, what);
          if (other) {
            const size2 = other.scanTopK(metric, qp, xp, n, d, k, hd2, hi2, 0, 0);
            assertSameTopK(got, readHeap(arena, hd2, hi2, size2), (l) => trueScore(metric, q, X, d, l), scale, `${what} vs ${other.name}`);
          }
          cases++;
        }
        for (const p of [hd, hi, hd2, hi2]) arena.release(p);
      }
      arena.release(xp);
      arena.release(qp);
    }
  }
  return cases;
}

test('scanTopK: WASM matches the exact oracle and the reference on random shapes', () => {
  const { arena, wasm, ref } = setup();
  assert.equal(checkScanShapes(arena, wasm, ref), 5 * (3 + 3 * 4) * 2);
});

test('scanTopK: a heap carried across calls with rowOffset equals one scan', () => {
  const { arena, wasm } = setup();
  const d = 37,
    n = 500,
    k = 20;
  const X = randomData(n * d, 5),
    q = randomData(d, 6);
  const xp = put(arena, X),
    qp = put(arena, q);
  for (const metric of [METRIC_L2, METRIC_IP] as const) {
    const whole = { d: arena.alloc(4 * k), i: arena.alloc(4 * k) };
    const parts = { d: arena.alloc(4 * k), i: arena.alloc(4 * k) };
    const s1 = wasm.scanTopK(metric, qp, xp, n, d, k, whole.d, whole.i, 0, 1000);
    let s2 = 0;
    for (const [a, b] of [
      [0, 7],
      [7, 250],
      [250, 251],
      [251, 500],
    ] as const) {
      s2 = wasm.scanTopK(metric, qp, xp + a * d * 4, b - a, d, k, parts.d, parts.i, s2, 1000 + a);
    }
    assert.equal(s1, k);
    assert.equal(s2, k);
    assert.deepEqual(readHeap(arena, parts.d, parts.i, k), readHeap(arena, whole.d, whole.i, k));
    assertSameTopK(
      readHeap(arena, whole.d, whole.i, k),
      oracle(metric, q, X, n, d, k, 1000),
      (l) => trueScore(metric, q, X, d, l - 1000),
      10,
      `carried metric=${metric}`,
    );
  }
});

test('scanTopK: k = 0 leaves everything alone', () => {
  const { arena, wasm } = setup();
  const xp = put(arena, randomData(40, 1)),
    qp = put(arena, randomData(4, 2));
  const hd = arena.alloc(64),
    hi = arena.alloc(64);
  arena.f32(hd, 1)[0] = 42;
  assert.equal(wasm.scanTopK(METRIC_L2, qp, xp, 10, 4, 0, hd, hi, 0, 0), 0);
  assert.equal(arena.f32(hd, 1)[0], 42);
});

function runBatch(
  arena: Arena,
  K: Kernels,
  metric: MetricCode,
  qp: number,
  nq: number,
  qn: number,
  xp: number,
  xn: number,
  n: number,
  d: number,
  k: number,
  rowOffset = 0,
  chunks: number[] = [0, n],
): Entry[][] {
  const hd = arena.alloc(4 * nq * k),
    hi = arena.alloc(4 * nq * k),
    sizes = arena.alloc(4 * nq);
  for (let c = 0; c + 1 < chunks.length; c++) {
    const a = chunks[c]!,
      b = chunks[c + 1]!;
    K.batchTopK(metric, qp, nq, qn, xp + a * d * 4, xn + a * 4, b - a, d, k, hd, hi, sizes, rowOffset + a);
  }
  const S = Array.from(arena.i32(sizes, nq));
  const out = S.map((s, i) => {
    assertHeap(arena, hd + 4 * i * k, hi + 4 * i * k, s, `batch ${K.name} query ${i}`);
    return readHeap(arena, hd + 4 * i * k, hi + 4 * i * k, s);
  });
  arena.release(hd);
  arena.release(hi);
  arena.release(sizes);
  return out;
}

/**
 * batchTopK on random shapes, both metrics, against the oracle and (when given) directly against
 * `other` run on the same data and norms; returns the number of cases.
 */
function checkBatchShapes(arena: Arena, K: Kernels, other?: Kernels): number {
  let cases = 0;
  for (const d of [1, 3, 7, 128, 784]) {
    for (const n of [1, 5, 100, 1000]) {
      const nq = d === 784 ? 6 : 7; // a tile of 4 plus leftovers
      const X = randomData(n * d, d * 131 + n),
        Q = randomData(nq * d, d * 17 + n);
      const xp = put(arena, X),
        qp = put(arena, Q);
      const xn = arena.alloc(4 * n),
        qn = arena.alloc(4 * nq);
      K.norms(xp, n, d, xn);
      K.norms(qp, nq, d, qn);
      const xnMax = Math.max(...arena.f32(xn, n)),
        qnA = Array.from(arena.f32(qn, nq));
      for (const k of [...new Set([1, 10, n, n + 3])]) {
        for (const metric of [METRIC_L2, METRIC_IP] as const) {
          const what = `${K.name} batch metric=${metric} d=${d} n=${n} k=${k}`;
          const got = runBatch(arena, K, metric, qp, nq, qn, xp, xn, n, d, k, 3);
          const got2 = other ? runBatch(arena, other, metric, qp, nq, qn, xp, xn, n, d, k, 3) : undefined;
          for (let i = 0; i < nq; i++) {
            assert.equal(got[i]!.length, Math.min(n, k), what);
            const q = Q.subarray(i * d, (i + 1) * d);
            const want = oracle(metric, q, X, n, d, k, 3);
            // L2 here is qn + xn − 2⟨q,x⟩: its rounding error scales with the norms
            const scale = metric === METRIC_L2 ? qnA[i]! + xnMax : Math.max(...want.map((e) => Math.abs(e.score)));
            assertSameTopK(got[i]!, want, (l) => trueScore(metric, q, X, d, l - 3), scale, `${what} q${i}`);
            if (got2) assertSameTopK(got[i]!, got2[i]!, (l) => trueScore(metric, q, X, d, l - 3), scale, `${what} q${i} vs ${other!.name}`);
          }
          cases++;
        }
      }
      for (const p of [xp, qp, xn, qn]) arena.release(p);
    }
  }
  return cases;
}

test('batchTopK: WASM matches the exact oracle and the reference on random shapes', () => {
  const { arena, wasm, ref } = setup();
  assert.equal(checkBatchShapes(arena, wasm, ref), 5 * (3 + 3 * 4) * 2);
});

test('batchTopK: every query count (tiles of 4 and leftovers) and chunked calls', () => {
  const { arena, wasm } = setup();
  const d = 13,
    n = 301,
    k = 5;
  for (const nq of [1, 2, 3, 4, 5, 8, 11]) {
    const X = randomData(n * d, nq),
      Q = randomData(nq * d, 100 + nq);
    const xp = put(arena, X),
      qp = put(arena, Q);
    const xn = arena.alloc(4 * n),
      qn = arena.alloc(4 * nq);
    wasm.norms(xp, n, d, xn);
    wasm.norms(qp, nq, d, qn);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      const whole = runBatch(arena, wasm, metric, qp, nq, qn, xp, xn, n, d, k);
      const chunked = runBatch(arena, wasm, metric, qp, nq, qn, xp, xn, n, d, k, 0, [0, 1, 100, 101, 300, 301]);
      assert.deepEqual(chunked, whole, `chunked nq=${nq}`);
      for (let i = 0; i < nq; i++) {
        const q = Q.subarray(i * d, (i + 1) * d);
        assertSameTopK(whole[i]!, oracle(metric, q, X, n, d, k), (l) => trueScore(metric, q, X, d, l), 20, `nq=${nq} metric=${metric} q${i}`);
      }
    }
    for (const p of [xp, qp, xn, qn]) arena.release(p);
  }
});

/** Identical rows (fed in two calls, later calls bringing smaller labels) must keep labels 0..k−1. */
function checkDuplicates(arena: Arena, K: Kernels): void {
  for (const d of [3, 8, 130]) {
    const n = 41,
      v = randomData(d, d);
    const X = new Float32Array(n * d);
    for (let r = 0; r < n; r++) X.set(v, r * d);
    const Q = randomData(5 * d, 99);
    const xp = put(arena, X),
      qp = put(arena, Q);
    const xn = arena.alloc(4 * n),
      qn = arena.alloc(4 * 5);
    K.norms(xp, n, d, xn);
    K.norms(qp, 5, d, qn);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      for (const k of [1, 3, 16]) {
        const first = Array.from({ length: k }, (_, i) => i);
        const hd = arena.alloc(4 * k),
          hi = arena.alloc(4 * k);
        let s = K.scanTopK(metric, qp, xp + 20 * d * 4, 21, d, k, hd, hi, 0, 20);
        s = K.scanTopK(metric, qp, xp, 20, d, k, hd, hi, s, 0);
        const got = readHeap(arena, hd, hi, s);
        assert.deepEqual(
          got.map((e) => e.label),
          first,
          `${K.name} scan d=${d} k=${k}`,
        );
        assert.equal(new Set(got.map((e) => e.score)).size, 1, 'identical rows, identical scores');
        // batch: rows 20..40 first (pairs and a leftover row), then 0..19
        const b = runBatch(arena, K, metric, qp, 5, qn, xp, xn, n, d, k, 0, [20, 41, 0, 20]);
        for (const h of b) {
          assert.deepEqual(
            h.map((e) => e.label),
            first,
            `${K.name} batch d=${d} k=${k}`,
          );
          assert.equal(new Set(h.map((e) => e.score)).size, 1);
        }
        arena.release(hd);
        arena.release(hi);
      }
    }
    for (const p of [xp, qp, xn, qn]) arena.release(p);
  }
}

/** Different rows at exactly equal distance: the smaller labels win. */
function checkTies(arena: Arena, K: Kernels): void {
  // q = 0 and rows ±2·e_j: every L2 score is exactly 4, every IP score 0; the last row (e_0) is
  // closer in L2 and tied in IP
  const d = 6,
    n = 2 * d + 1;
  const X = new Float32Array(n * d);
  for (let j = 0; j < d; j++) {
    X[2 * j * d + j] = 2;
    X[(2 * j + 1) * d + j] = -2;
  }
  X[(n - 1) * d] = 1;
  const xp = put(arena, X),
    qp = put(arena, new Float32Array(4 * d));
  const xn = arena.alloc(4 * n),
    qn = arena.alloc(16);
  K.norms(xp, n, d, xn);
  K.norms(qp, 4, d, qn);
  for (const metric of [METRIC_L2, METRIC_IP] as const) {
    for (const k of [1, 4, 13]) {
      const want = metric === METRIC_L2 ? [n - 1, ...Array.from({ length: k - 1 }, (_, i) => i)] : Array.from({ length: k }, (_, i) => i);
      const hd = arena.alloc(4 * k),
        hi = arena.alloc(4 * k);
      const s = K.scanTopK(metric, qp, xp, n, d, k, hd, hi, 0, 0);
      assert.deepEqual(
        readHeap(arena, hd, hi, s).map((e) => e.label),
        want,
        `${K.name} scan metric=${metric} k=${k}`,
      );
      for (const h of runBatch(arena, K, metric, qp, 4, qn, xp, xn, n, d, k, 0, [7, n, 0, 7])) {
        assert.deepEqual(
          h.map((e) => e.label),
          want,
          `${K.name} batch metric=${metric} k=${k}`,
        );
      }
      arena.release(hd);
      arena.release(hi);
    }
  }
}

test('duplicates: identical rows tie-break on the smaller label (scan and batch)', () => {
  const { arena, wasm } = setup();
  checkDuplicates(arena, wasm);
});

test('ties between different rows break on the label (scan and batch)', () => {
  const { arena, wasm } = setup();
  checkTies(arena, wasm);
});

/** The native builds this CPU can run ('avx512', 'avx2', 'scalar'), or none when the addon is not built. */
function nativeIsas(): string[] {
  if (!nativeKernelInfo().available) return [];
  const out = (['scalar', 'avx2', 'avx512'] as const).filter((isa) => useNativeIsa(isa) === isa);
  useNativeIsa('avx512');
  return out;
}

test('native batchTopK: every instruction set this CPU has matches the oracle, the reference and its own tiles', (t) => {
  const isas = nativeIsas();
  if (isas.length === 0) return t.skip(`native kernel ${JSON.stringify(nativeKernelInfo())}`);
  const { arena, ref } = setup();
  const native = createNativeKernels(arena.memory);
  try {
    for (const isa of isas) {
      assert.equal(useNativeIsa(isa as 'scalar'), isa);
      assert.equal(checkBatchShapes(arena, native, ref), 5 * (3 + 3 * 4) * 2, isa);
      checkDuplicates(arena, native);
      checkTies(arena, native);
      // tiles of 4 queries and their leftovers, and rows split over calls, give the same heaps
      const d = 37,
        n = 211,
        k = 7,
        nq = 11;
      const xp = put(arena, randomData(n * d, 5)),
        qp = put(arena, randomData(nq * d, 6));
      const xn = arena.alloc(4 * n),
        qn = arena.alloc(4 * nq);
      native.norms(xp, n, d, xn);
      native.norms(qp, nq, d, qn);
      for (const metric of [METRIC_L2, METRIC_IP] as const) {
        const whole = runBatch(arena, native, metric, qp, nq, qn, xp, xn, n, d, k);
        assert.deepEqual(runBatch(arena, native, metric, qp, nq, qn, xp, xn, n, d, k, 0, [0, 1, 100, 101, 210, 211]), whole, `${isa} chunked`);
        for (let i = 0; i < nq; i++) {
          const one = runBatch(arena, native, metric, qp + i * d * 4, 1, qn + i * 4, xp, xn, n, d, k);
          assert.deepEqual(one[0], whole[i], `${isa} query ${i} alone`);
        }
      }
      // labels through the label map, as an inverted list's ids
      const ids = put(
        arena,
        Int32Array.from({ length: n }, (_, r) => 1000 + 3 * r),
      );
      native.setLabelMap(ids);
      const mapped = runBatch(arena, native, METRIC_L2, qp, nq, qn, xp, xn, n, d, k);
      native.setLabelMap(0);
      const plain = runBatch(arena, native, METRIC_L2, qp, nq, qn, xp, xn, n, d, k);
      assert.deepEqual(
        mapped.map((h) => h.map((e) => e.label)),
        plain.map((h) => h.map((e) => 1000 + 3 * e.label)),
        `${isa} label map`,
      );
      for (const p of [xp, qp, xn, qn, ids]) arena.release(p);
    }
  } finally {
    useNativeIsa('avx512');
  }
});

test('native batchTopK refuses regions outside the memory and heap sizes outside [0, k]', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  const { arena } = setup();
  const native = createNativeKernels(arena.memory);
  const end = arena.memory.buffer.byteLength;
  const sizes = put(arena, new Int32Array([0, 0]));
  const hd = arena.alloc(64),
    hi = arena.alloc(64),
    q = arena.alloc(64);
  assert.throws(() => native.batchTopK(METRIC_IP, q, 2, 0, end - 8, 0, 4, 4, 2, hd, hi, sizes, 0), /outside the memory/);
  assert.throws(() => native.batchTopK(METRIC_IP, q + 2, 2, 0, q, 0, 1, 4, 2, hd, hi, sizes, 0), /outside the memory/);
  arena.i32(sizes, 2)[1] = 3;
  assert.throws(() => native.batchTopK(METRIC_IP, q, 2, 0, q, 0, 1, 4, 2, hd, hi, sizes, 0), /heap size is outside/);
});

test('reference kernels: same checks against the oracle', () => {
  const { arena, ref } = setup();
  assert.equal(checkScanShapes(arena, ref), 5 * (3 + 3 * 4) * 2);
  assert.equal(checkBatchShapes(arena, ref), 5 * (3 + 3 * 4) * 2);
  checkDuplicates(arena, ref);
  checkTies(arena, ref);
});

test('WASM and reference give the same heaps on the same memory', () => {
  const { arena, wasm, ref } = setup();
  const d = 24,
    n = 3000,
    k = 16,
    X = randomData(n * d, 77),
    q = randomData(d, 78);
  const xp = put(arena, X),
    qp = put(arena, q);
  for (const metric of [METRIC_L2, METRIC_IP] as const) {
    const [w, r] = [wasm, ref].map((K) => {
      const hd = arena.alloc(4 * k),
        hi = arena.alloc(4 * k);
      return readHeap(arena, hd, hi, K.scanTopK(metric, qp, xp, n, d, k, hd, hi, 0, 0));
    });
    assertSameTopK(w!, r!, (l) => trueScore(metric, q, X, d, l), 10, `metric=${metric}`);
  }
});

test('norms: WASM matches the reference', () => {
  const { arena, wasm, ref } = setup();
  for (const d of [1, 3, 4, 7, 16, 17, 128, 784]) {
    const n = 33,
      X = randomData(n * d, d);
    const xp = put(arena, X),
      a = arena.alloc(4 * n),
      b = arena.alloc(4 * n);
    wasm.norms(xp, n, d, a);
    ref.norms(xp, n, d, b);
    const A = arena.f32(a, n),
      B = arena.f32(b, n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(A[i]! - B[i]!) <= TOL * Math.max(B[i]!, 1e-3), `d=${d} row ${i}: ${A[i]} vs ${B[i]}`);
    for (const p of [xp, a, b]) arena.release(p);
  }
});

test('accumulate: WASM matches the reference, negative assignments skipped', () => {
  const { arena, wasm, ref } = setup();
  for (const d of [1, 3, 4, 7, 128, 785]) {
    const n = 200,
      c = 9,
      X = randomData(n * d, d + 1),
      r = rng(d);
    const assign = new Int32Array(n);
    for (let i = 0; i < n; i++) assign[i] = Math.floor(r() * (c + 2)) - 2; // −2..c−1; some clusters may be empty
    assign[0] = -1;
    assign[1] = c - 1;
    const xp = put(arena, X),
      ap = put(arena, assign);
    const init = randomData(c * d, 7);
    const sW = put(arena, init),
      sR = put(arena, init);
    const cW = put(arena, new Int32Array(c).fill(3)),
      cR = put(arena, new Int32Array(c).fill(3));
    wasm.accumulate(xp, n, d, ap, sW, cW);
    ref.accumulate(xp, n, d, ap, sR, cR);
    assert.deepEqual(Array.from(arena.i32(cW, c)), Array.from(arena.i32(cR, c)), `counts d=${d}`);
    const expectCounts = new Array<number>(c).fill(3);
    for (const a of assign) if (a >= 0) expectCounts[a]!++;
    assert.deepEqual(Array.from(arena.i32(cW, c)), expectCounts);
    const A = arena.f32(sW, c * d),
      B = arena.f32(sR, c * d);
    for (let i = 0; i < c * d; i++) assert.ok(Math.abs(A[i]! - B[i]!) <= 1e-4 * Math.max(Math.abs(B[i]!), 1), `sums d=${d} [${i}]`);
    // a row assigned −1 contributes nothing: clusters with only skipped rows keep their initial sums
    const exp0 = new Float64Array(d);
    for (let j = 0; j < d; j++) exp0[j] = init[j]!;
    for (let i = 0; i < n; i++) if (assign[i] === 0) for (let j = 0; j < d; j++) exp0[j]! += X[i * d + j]!;
    for (let j = 0; j < d; j++) assert.ok(Math.abs(A[j]! - exp0[j]!) <= 1e-4 * Math.max(Math.abs(exp0[j]!), 1));
    for (const p of [xp, ap, sW, sR, cW, cR]) arena.release(p);
  }
});

// ---- compressed codes: madd, PQ tables and scans, SQ8 scans

function randomBytes(len: number, seed: number): Uint8Array {
  const r = rng(seed),
    out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(r() * 256);
  return out;
}

function putBytes(arena: Arena, data: Uint8Array, pad = 0): number {
  // `pad` bytes first, so rows of codes start unaligned as they do in a list
  const off = arena.alloc(Math.max(4, data.length + pad));
  new Uint8Array(arena.memory.buffer, off + pad, data.length).set(data);
  return off + pad;
}

test('madd: WASM gives the reference bits (f32 multiply, then f32 add)', () => {
  const { arena, wasm, ref } = setup();
  for (const n of [1, 3, 4, 7, 256, 4097]) {
    const a = put(arena, randomData(n, n)),
      b = put(arena, randomData(n, n + 1)),
      o1 = arena.alloc(4 * n),
      o2 = arena.alloc(4 * n);
    wasm.madd(n, a, -2, b, o1);
    ref.madd(n, a, -2, b, o2);
    assert.deepEqual(arena.f32(o1, n), arena.f32(o2, n), `n=${n}`);
    const A = arena.f32(a, n),
      B = arena.f32(b, n);
    for (let i = 0; i < n; i++) assert.equal(arena.f32(o1, n)[i], Math.fround(A[i]! + Math.fround(-2 * B[i]!)));
    // in place: out = a
    const before = A.slice();
    wasm.madd(n, a, 0.5, b, a);
    for (let i = 0; i < n; i++) assert.equal(arena.f32(a, n)[i], Math.fround(before[i]! + Math.fround(0.5 * B[i]!)));
    for (const p of [a, b, o1, o2]) arena.release(p);
  }
});

test('pqTables: WASM matches the reference and the definition, both metrics', () => {
  const { arena, wasm, ref } = setup();
  for (const [m, dsub] of [
    [1, 1],
    [4, 2],
    [8, 4],
    [3, 7],
    [16, 8],
    [2, 49],
  ] as const) {
    const ksub = 256,
      d = m * dsub;
    const q = randomData(d, m * 100 + dsub),
      cb = randomData(m * ksub * dsub, m + dsub);
    const qp = put(arena, q),
      cp = put(arena, cb),
      o1 = arena.alloc(m * ksub * 4),
      o2 = arena.alloc(m * ksub * 4);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      wasm.pqTables(metric, qp, cp, m, dsub, ksub, o1);
      ref.pqTables(metric, qp, cp, m, dsub, ksub, o2);
      const W = arena.f32(o1, m * ksub),
        R = arena.f32(o2, m * ksub);
      for (let j = 0; j < m; j++) {
        for (let c = 0; c < ksub; c++) {
          let s = 0;
          for (let t = 0; t < dsub; t++) {
            const qv = q[j * dsub + t]!,
              x = cb[(j * ksub + c) * dsub + t]!;
            s += metric === METRIC_L2 ? (qv - x) * (qv - x) : qv * x;
          }
          const want = metric === METRIC_L2 ? s : -s;
          const at = j * ksub + c;
          assert.ok(Math.abs(W[at]! - want) <= 1e-5 * Math.max(1, Math.abs(want)), `m=${m} dsub=${dsub} metric=${metric} [${j},${c}]: ${W[at]} vs ${want}`);
          assert.ok(Math.abs(R[at]! - want) <= 1e-5 * Math.max(1, Math.abs(want)));
        }
      }
    }
    for (const p of [qp, cp, o1, o2]) arena.release(p);
  }
});

/**
 * Runs a scan on the WASM and the reference kernels, each into empty heaps of k, and checks that it
 * left `size` entries, the same on both, in a valid heap; returns the WASM heap's entries.
 */
function scanBoth(s: Setup, k: number, size: number, scan: (K: Kernels, heapD: number, heapI: number) => number, what: string): Entry[] {
  const heaps = [0, 1, 2, 3].map(() => s.arena.alloc(4 * k));
  const sw = scan(s.wasm, heaps[0]!, heaps[1]!);
  const sr = scan(s.ref, heaps[2]!, heaps[3]!);
  assert.equal(sw, size);
  assert.equal(sr, sw);
  const w = readHeap(s.arena, heaps[0]!, heaps[1]!, sw),
    r = readHeap(s.arena, heaps[2]!, heaps[3]!, sr);
  assert.deepEqual(w, r, what);
  assertHeap(s.arena, heaps[0]!, heaps[1]!, sw, what);
  for (const p of heaps) s.arena.release(p);
  return w;
}

test('pqScan: WASM gives the reference heaps bit for bit, any m, rows in blocks of four and left over', () => {
  const s = setup();
  const { arena } = s;
  for (const m of [1, 2, 3, 4, 5, 8, 16, 56]) {
    for (const n of [1, 3, 4, 9, 500]) {
      const lut = put(arena, randomData(m * 256, m * 7 + n)),
        codes = putBytes(arena, randomBytes(n * m, m + n * 3), 3);
      for (const k of [1, 10, n + 2]) {
        const w = scanBoth(s, k, Math.min(n, k), (K, hd, hi) => K.pqScan(lut, codes, n, m, 0.25, k, hd, hi, 0, 100), `m=${m} n=${n} k=${k}`);
        // the scores are bias + the sum of the code's table entries
        const L = arena.f32(lut, m * 256),
          C = new Uint8Array(arena.memory.buffer, codes, n * m);
        for (const e of w) {
          let s = 0.25;
          for (let j = 0; j < m; j++) s += L[j * 256 + C[(e.label - 100) * m + j]!]!;
          assert.ok(Math.abs(e.score - s) <= 1e-5 * Math.max(1, Math.abs(s)), `m=${m} score ${e.score} vs ${s}`);
        }
      }
    }
  }
});

test('pq4Quantize: WASM gives the reference bytes and parameters; the bytes follow the definition', () => {
  const { arena, wasm, ref } = setup();
  for (const m of [2, 4, 6, 56, 256]) {
    const lutData = randomData(m * 16, m * 13);
    // a sub-quantizer whose 16 entries are equal (range 0), and one that sets the largest range
    lutData.fill(3.5, 0, 16);
    for (let c = 0; c < 16; c++) lutData[(m - 1) * 16 + c] = c * 40 - 300;
    const lut = put(arena, lutData);
    const outs = [arena.alloc(m * 16), arena.alloc(m * 16)],
      params = [arena.alloc(8), arena.alloc(8)];
    wasm.pq4Quantize(lut, m, 0.75, outs[0]!, params[0]!);
    ref.pq4Quantize(lut, m, 0.75, outs[1]!, params[1]!);
    const W = new Uint8Array(arena.memory.buffer, outs[0]!, m * 16).slice(),
      R = new Uint8Array(arena.memory.buffer, outs[1]!, m * 16).slice();
    assert.deepEqual(W, R, `m=${m}`);
    assert.deepEqual(arena.f32(params[0]!, 2), arena.f32(params[1]!, 2), `m=${m}`);
    const [base, step] = arena.f32(params[0]!, 2);
    let wantBase = 0.75;
    for (let j = 0; j < m; j++) wantBase += Math.min(...lutData.subarray(j * 16, j * 16 + 16));
    assert.ok(Math.abs(base! - wantBase) <= 1e-4 * Math.max(1, Math.abs(wantBase)), `base ${base} vs ${wantBase}`);
    assert.equal(step, Math.fround(600 / 255));
    // each entry is recovered to within half a step; the equal sub-quantizer is all zeros; the widest spans 0..255
    for (let j = 0; j < m; j++) {
      const t = lutData.subarray(j * 16, j * 16 + 16),
        mn = Math.min(...t);
      for (let c = 0; c < 16; c++) assert.ok(Math.abs(mn + W[j * 16 + c]! * step! - t[c]!) <= step! * 0.5001, `m=${m} [${j},${c}]`);
    }
    assert.deepEqual(Array.from(W.subarray(0, 16)), new Array(16).fill(0));
    assert.equal(W[(m - 1) * 16 + 15], 255);
    assert.equal(W[(m - 1) * 16], 0);
    for (const p of [lut, ...outs, ...params]) arena.release(p);
  }
  // every range 0: step 0, all bytes 0
  const flat = put(arena, new Float32Array(32).fill(2)),
    out = arena.alloc(32),
    par = arena.alloc(8);
  wasm.pq4Quantize(flat, 2, 1, out, par);
  assert.deepEqual(Array.from(arena.f32(par, 2)), [5, 0]);
  assert.deepEqual(Array.from(new Uint8Array(arena.memory.buffer, out, 32)), new Array(32).fill(0));
});

test('pq4Scan: WASM gives the reference heaps bit for bit: blocks of 16 codes, codes left over, any even m', () => {
  const s = setup();
  const { arena } = s;
  for (const m of [2, 4, 6, 30, 32, 34, 56, 64, 256]) {
    // 15: no block; 16 and 17: one block only when the last code's over-read stays inside the codes
    for (const n of [1, 15, 16, 17, 33, 47, 500]) {
      const mb = m / 2;
      const qlut = putBytes(arena, randomBytes(m * 16, m * 5 + n), 0),
        codes = putBytes(arena, randomBytes(n * mb, m + n * 7), 3);
      // base −2 and step 0.125 as pq4Quantize leaves them; the bias 0.5 is added to the base
      const params = put(arena, Float32Array.of(-2, 0.125));
      for (const k of [1, 10, n + 2]) {
        const w = scanBoth(s, k, Math.min(n, k), (K, hd, hi) => K.pq4Scan(qlut, params, 0.5, codes, n, m, k, hd, hi, 0, 100), `m=${m} n=${n} k=${k}`);
        // the scores: base + step · (the sum of the nibbles' table bytes), low nibble first
        const Q = new Uint8Array(arena.memory.buffer, qlut, m * 16),
          C = new Uint8Array(arena.memory.buffer, codes, n * mb);
        const scores = Array.from({ length: n }, (_, i) => {
          let sum = 0;
          for (let j = 0; j < m; j++) {
            const byte = C[i * mb + (j >> 1)]!;
            sum += Q[j * 16 + (j & 1 ? byte >> 4 : byte & 15)]!;
          }
          return Math.fround(-1.5 + Math.fround(sum * 0.125));
        });
        const want = scores
          .map((score, i) => ({ score, label: 100 + i }))
          .sort((a, b) => a.score - b.score || a.label - b.label)
          .slice(0, k);
        assert.deepEqual(
          w.slice().sort((a, b) => a.score - b.score || a.label - b.label),
          want,
          `m=${m} n=${n} k=${k}`,
        );
      }
    }
  }
});

const byScoreThenLabel = (a: Entry, b: Entry): number => a.score - b.score || a.label - b.label;

test('reservoir: pqScan and pq4Scan collecting without a heap give the heap’s k best, sorted, on WASM and reference alike (calls carried over, ties, label map)', () => {
  const s = setup();
  const { arena } = s;
  const n = 3000;
  const m = 8;
  const lut = put(arena, randomData(m * 256, 5));
  const bytes = randomBytes(n * m, 9);
  // every 7th row has row 0's code: equal scores, which only the label orders
  for (let r = 7; r < n; r += 7) bytes.copyWithin(r * m, 0, m);
  const codes = putBytes(arena, bytes, 3);
  // 4-bit codes over the same rows: m/2 bytes each, a byte table, base and step
  const qlut = putBytes(arena, randomBytes(m * 16, 11), 0),
    params = put(arena, Float32Array.of(-2, 0.125)),
    codes4 = putBytes(arena, bytes.subarray(0, (n * m) / 2), 1);
  // every row the same code: only labels order them, so a threshold one place off loses rows
  const tied = putBytes(
    arena,
    Uint8Array.from({ length: n * m }, (_, i) => bytes[i % m]!),
    0,
  );
  const map = put(
    arena,
    Int32Array.from({ length: n }, (_, i) => (i * 7919) % n),
  );
  const scans = {
    pq: (K: Kernels, r0: number, len: number, k: number, hd: number, hi: number, size: number) =>
      K.pqScan(lut, codes + r0 * m, len, m, 0.25, k, hd, hi, size, r0),
    'pq, all tied': (K: Kernels, r0: number, len: number, k: number, hd: number, hi: number, size: number) =>
      K.pqScan(lut, tied + r0 * m, len, m, 0.25, k, hd, hi, size, r0),
    pq4: (K: Kernels, r0: number, len: number, k: number, hd: number, hi: number, size: number) =>
      K.pq4Scan(qlut, params, 0.5, codes4 + (r0 * m) / 2, len, m, k, hd, hi, size, r0),
  };
  try {
    for (const [name, scan] of Object.entries(scans)) {
      for (const k of [64, 100, 999, 2999, 5000]) {
        for (const labels of [0, map]) {
          const what = `${name} k=${k} map=${labels !== 0}`;
          const cap = 2 * k;
          const buf = arena.alloc(cap * 8),
            hd = arena.alloc(4 * k),
            hi = arena.alloc(4 * k);
          const answers = [s.wasm, s.ref].map((K) => {
            K.setLabelMap(labels);
            const size = scan(K, 0, n, k, hd, hi, 0);
            const heap = readHeap(arena, hd, hi, size).sort(byScoreThenLabel);
            K.reservoirBegin(buf, buf + cap * 4, cap);
            // three calls, as three lists of one query
            let got = 0;
            for (const [r0, len] of [
              [0, 1000],
              [1000, 3],
              [1003, n - 1003],
            ] as const)
              got = scan(K, r0, len, k, hd, hi, got);
            got = K.reservoirEnd(hd, hi, k, got);
            assert.equal(got, Math.min(k, n), what);
            // in memory already sorted: the query's final answer
            assert.deepEqual(readHeap(arena, hd, hi, got), heap, `${K.name} ${what}`);
            return heap;
          });
          assert.deepEqual(answers[0], answers[1], what);
          for (const p of [buf, hd, hi]) arena.release(p);
        }
      }
    }
    // after the reservoir, pushes go to heaps again
    s.wasm.setLabelMap(0);
    s.ref.setLabelMap(0);
    scanBoth(s, 10, 10, (K, hd, hi) => K.pqScan(lut, codes, 500, m, 0.25, 10, hd, hi, 0, 0), 'heap after reservoir');
  } finally {
    s.wasm.setLabelMap(0);
    s.ref.setLabelMap(0);
  }
});

/**
 * Runs a coded scan (bias 0.5, empty heaps) on the WASM and the reference kernels over n rows and
 * checks both tops against `truth`, the distance of each row to the decoded code.
 */
function checkCodedScan(
  s: Setup,
  n: number,
  k: number,
  scan: (K: Kernels, heapD: number, heapI: number) => number,
  truth: (row: number) => number,
  what: string,
): void {
  const heaps = [0, 1, 2, 3].map(() => s.arena.alloc(4 * k));
  const w = readHeap(s.arena, heaps[0]!, heaps[1]!, scan(s.wasm, heaps[0]!, heaps[1]!)),
    r = readHeap(s.arena, heaps[2]!, heaps[3]!, scan(s.ref, heaps[2]!, heaps[3]!));
  const all: Entry[] = Array.from({ length: n }, (_, i) => ({ score: truth(i), label: i })).sort((a, b) => a.score - b.score || a.label - b.label);
  const scale = Math.max(...all.slice(0, k).map((e) => Math.abs(e.score)));
  assertSameTopK(w, all.slice(0, k), truth, scale, `wasm ${what}`);
  assertSameTopK(r, all.slice(0, k), truth, scale, `reference ${what}`);
  for (const p of heaps) s.arena.release(p);
}

test('f16Scan: WASM matches the reference and the distance to the decoded halves, both metrics, any d', () => {
  const st = setup();
  const { arena } = st;
  for (const d of [1, 3, 7, 8, 9, 16, 33, 128, 784]) {
    const n = 300,
      k = 12;
    const x = randomData(n * d, d * 17),
      q = randomData(d, d + 9);
    // halves of values of several magnitudes, subnormal ones included
    const halves = new Uint16Array(n * d);
    for (let i = 0; i < halves.length; i++) halves[i] = toHalf(x[i]! * 2 ** ((i % 7) * 3 - 20));
    const codes = new Uint8Array(halves.buffer);
    const cp = putBytes(arena, codes, 1),
      qp = put(arena, q);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      const truth = (r: number): number => {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const v = fromHalf(halves[r * d + j]!);
          if (metric === METRIC_L2) s += (q[j]! - v) ** 2;
          else s -= q[j]! * v;
        }
        return 0.5 + s;
      };
      checkCodedScan(st, n, k, (K, hd, hi) => K.f16Scan(metric, qp, cp, n, d, 0.5, k, hd, hi, 0, 0), truth, `d=${d} metric=${metric}`);
    }
  }
});

test('sq8Scan: WASM matches the reference and the decoded distance, both metrics, any d', () => {
  const st = setup();
  const { arena } = st;
  for (const d of [1, 3, 4, 12, 16, 17, 33, 128, 784]) {
    const n = 300,
      k = 12;
    const codes = randomBytes(n * d, d * 13),
      qp = randomData(d, d + 5),
      sc = Float32Array.from(randomData(d, d + 6), (v) => Math.abs(v) / 256 + 1e-4);
    const cp = putBytes(arena, codes, 1),
      qpp = put(arena, qp),
      scp = put(arena, sc);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      const truth = (r: number): number => {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const c = codes[r * d + j]!;
          if (metric === METRIC_L2) s += (qp[j]! - c * sc[j]!) ** 2;
          else s -= c * qp[j]!;
        }
        return 0.5 + s;
      };
      checkCodedScan(st, n, k, (K, hd, hi) => K.sq8Scan(metric, qpp, scp, cp, n, d, 0.5, k, hd, hi, 0, 0), truth, `d=${d} metric=${metric}`);
    }
  }
});
