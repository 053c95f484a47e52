import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Arena } from '../../src/kernels/arena.js';
import { createKernels } from '../../src/kernels/index.js';
import { METRIC_IP, METRIC_L2, type MetricCode } from '../../src/kernels/types.js';
import { CoarseQuantizer } from '../../src/search/quantizer.js';
import { uniformVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

function quantizer(d: number, metric: MetricCode = METRIC_L2): CoarseQuantizer {
  const arena = new Arena(1 << 20);
  return new CoarseQuantizer(arena, createKernels(arena.memory), d, metric, (p) => arena.release(p));
}

/** Score of row r of X against q, smaller is better (f64). */
function score(q: Float32Array, X: Float32Array, r: number, d: number, metric: MetricCode): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += metric === METRIC_L2 ? (q[j]! - X[r * d + j]!) ** 2 : -q[j]! * X[r * d + j]!;
  return s;
}

function ranked(q: Float32Array, C: Float32Array, nlist: number, d: number, metric: MetricCode): number[] {
  return Array.from({ length: nlist }, (_, l) => l).sort((a, b) => score(q, C, a, d, metric) - score(q, C, b, d, metric) || a - b);
}

describe('CoarseQuantizer.assign', () => {
  for (const n of [5, 300]) {
    test(`the nearest centroid of every row (${n} rows: ${n < 8 ? 'direct' : 'blocked'} kernel)`, () => {
      const d = 6,
        nlist = 9,
        C = uniformVectors(nlist, d, 1),
        X = uniformVectors(n, d, 2);
      const q = quantizer(d);
      q.set(C, nlist);
      const got = q.assign(X, n);
      for (let i = 0; i < n; i++) {
        const want = ranked(X.subarray(i * d, (i + 1) * d), C, nlist, d, METRIC_L2)[0]!;
        // the blocked kernel's rounding may pick an equally near centroid: compare distances
        const a = score(X.subarray(i * d), C, got[i]!, d, METRIC_L2),
          b = score(X.subarray(i * d), C, want, d, METRIC_L2);
        assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, b), `row ${i}: list ${got[i]} at ${a}, nearest ${want} at ${b}`);
      }
    });
  }

  test('without centroids it refuses, naming training', () => {
    assert.throws(() => quantizer(3).assign(new Float32Array(3)), expectError('NOT_TRAINED', /train first/));
  });
});

describe('CoarseQuantizer.probe', () => {
  test('the nprobe nearest lists, nearest first, by the index metric; nprobe is clamped to nlist', () => {
    const d = 5,
      nlist = 12,
      C = uniformVectors(nlist, d, 3);
    for (const metric of [METRIC_L2, METRIC_IP] as const) {
      const q = quantizer(d, metric);
      q.set(C, nlist);
      for (let t = 0; t < 10; t++) {
        const query = uniformVectors(1, d, 100 + t);
        assert.deepEqual(Array.from(q.probe(query, 4)), ranked(query, C, nlist, d, metric).slice(0, 4), `metric ${metric} query ${t}`);
      }
      assert.equal(q.probe(uniformVectors(1, d, 9), 50).length, nlist);
    }
  });

  test('set() checks the centroids against nlist and the dimension', () => {
    const q = quantizer(4);
    assert.throws(() => q.set(new Float32Array(8), 3), expectError('INVALID_ARGUMENT', /expected 3×4 centroids, got 2 rows/));
    assert.throws(() => q.set(new Float32Array(6), 1), expectError('DIMENSION_MISMATCH', /centroids/));
    assert.throws(() => q.set(new Float32Array(4), 0), expectError('INVALID_ARGUMENT', /nlist must be a positive integer/));
    q.set(new Float32Array(8), 2);
    assert.equal(q.nlist, 2);
    assert.equal(q.memoryBytes, 2 * 5 * 4);
    assert.throws(() => q.probe(new Float32Array(4), 0), expectError('INVALID_ARGUMENT', /nprobe must be a positive integer/));
  });
});
