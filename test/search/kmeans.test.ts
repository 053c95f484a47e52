import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { type AssignInput, type Assignment, kmeans, nearestCentroids } from '../../src/search/kmeans.js';
import type { Metric } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

test('deterministic for a seed, objective decreases, finds planted clusters, warns on small n', async () => {
  const { data: pts, centres } = clusteredVectors(2000, 8, { clusters: 5, spread: 0.05, seed: 3 });
  const warnings: string[] = [];
  const a = await kmeans(pts, 8, 5, { seed: 7, threads: 2, onWarning: (m) => warnings.push(m) });
  const b = await kmeans(pts, 8, 5, { seed: 7, threads: 1 });
  assert.deepEqual(a.centroids, b.centroids);
  assert.equal(a.objective.length, 25);
  for (let i = 1; i < a.objective.length; i++) assert.ok(a.objective[i]! <= a.objective[i - 1]! * (1 + 1e-6));
  // each planted centre has a learned centroid close by (k-means++ init avoids bad local minima)
  const pp = await kmeans(pts, 8, 5, { init: 'kmeans++', seed: 1 });
  for (let c = 0; c < 5; c++) {
    let best = Infinity;
    for (let e = 0; e < 5; e++) {
      let s = 0;
      for (let j = 0; j < 8; j++) s += (centres[c * 8 + j]! - pp.centroids[e * 8 + j]!) ** 2;
      best = Math.min(best, s);
    }
    assert.ok(best < 0.05, `centre ${c} is ${best} from the nearest centroid`);
  }
  await kmeans(pts.subarray(0, 100 * 8), 8, 5, { onWarning: (m) => warnings.push(m) });
  assert.ok(warnings.some((w) => /fewer than 39 per centroid/.test(w)));
  const big = await kmeans(pts, 8, 2, { maxPointsPerCentroid: 100 });
  assert.equal(big.trainedOn, 200);
  await assert.rejects(kmeans(pts.subarray(0, 3 * 8), 8, 5), /got 3 points for k = 5/);
});

test('empty clusters are split clusters instead of leaving them empty', async () => {
  // 3 distinct points repeated: with 6 centroids some start on duplicates and go empty
  const pts = new Float32Array(600);
  for (let i = 0; i < 300; i++) {
    pts[i * 2] = i % 3;
    pts[i * 2 + 1] = (i % 3) * 2;
  }
  const r = await kmeans(pts, 2, 6, { seed: 2, threads: 1 });
  assert.equal(r.centroids.length, 12);
  for (const v of r.centroids) assert.ok(Number.isFinite(v));
});

/** Exact nearest centroid in plain JS (f64), a stand-in for an assignment step brought from outside. */
function bruteAssign({ points, n, d, centroids, k, metric }: AssignInput): Assignment {
  const labels = new Int32Array(n),
    distances = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity,
      arg = 0;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const a = points[i * d + j]!,
          b = centroids[c * d + j]!;
        s += metric === 'l2' ? (a - b) * (a - b) : -a * b;
      }
      if (s < best) {
        best = s;
        arg = c;
      }
    }
    labels[i] = arg;
    distances[i] = best;
  }
  return { labels, distances };
}

describe('kmeans with a custom assignment step', () => {
  test('the default step passed explicitly gives identical centroids and objective', async () => {
    const { data } = clusteredVectors(3000, 6, { clusters: 12, seed: 21 });
    for (const metric of ['l2', 'ip'] as const) {
      const base = await kmeans(data, 6, 12, { seed: 5, threads: 1, metric });
      const custom = await kmeans(data, 6, 12, { seed: 5, metric, assign: nearestCentroids({ threads: 2 }) });
      assert.deepEqual(custom.centroids, base.centroids, metric);
      assert.deepEqual(custom.objective, base.objective, metric);
    }
  });

  test('an exact assignment of its own, on well separated clusters, finds the same centroids', async () => {
    const { data } = clusteredVectors(2000, 4, { clusters: 6, spread: 0.02, seed: 8 });
    const base = await kmeans(data, 4, 6, { seed: 3, threads: 1 });
    const seen: Array<{ n: number; k: number; metric: Metric }> = [];
    const custom = await kmeans(data, 4, 6, {
      seed: 3,
      assign: (input) => {
        seen.push({ n: input.n, k: input.k, metric: input.metric });
        return bruteAssign(input);
      },
    });
    assert.equal(seen.length, 25, 'called once per iteration');
    assert.deepEqual(seen[0], { n: base.trainedOn, k: 6, metric: 'l2' });
    for (let i = 0; i < base.centroids.length; i++) assert.ok(Math.abs(custom.centroids[i]! - base.centroids[i]!) < 1e-5, `centroid value ${i}`);
  });

  test('a wrong assignment step changes the centroids (the step is really used)', async () => {
    const { data } = clusteredVectors(1000, 4, { clusters: 5, seed: 9 });
    const base = await kmeans(data, 4, 5, { seed: 4, threads: 1 });
    // every point to cluster i mod k: the centroids collapse towards the overall mean
    const wrong = await kmeans(data, 4, 5, {
      seed: 4,
      assign: ({ n, k }) => ({ labels: Int32Array.from({ length: n }, (_, i) => i % k), distances: new Float32Array(n) }),
    });
    assert.notDeepEqual(wrong.centroids, base.centroids);
    // a negative label leaves a point out: only points 0..9 count, two per cluster
    const partial = await kmeans(data, 4, 5, {
      seed: 4,
      iterations: 1,
      assign: ({ n }) => ({ labels: Int32Array.from({ length: n }, (_, i) => (i < 10 ? i % 5 : -1)), distances: new Float32Array(n) }),
    });
    assert.equal(partial.splits, 0);
    for (let c = 0; c < 5; c++) {
      for (let j = 0; j < 4; j++) {
        const mean = (data[c * 4 + j]! + data[(c + 5) * 4 + j]!) / 2;
        assert.ok(Math.abs(partial.centroids[c * 4 + j]! - mean) < 1e-5, `centroid ${c}[${j}]`);
      }
    }
  });

  test('a step returning labels out of range or arrays of the wrong size is refused', async () => {
    const { data } = clusteredVectors(200, 3, { seed: 1 });
    await assert.rejects(
      kmeans(data, 3, 4, { assign: ({ n }) => ({ labels: new Int32Array(n).fill(4), distances: new Float32Array(n) }) }),
      expectError('INVALID_ARGUMENT', /label 4 for point 0; labels must be below k = 4/),
    );
    await assert.rejects(
      kmeans(data, 3, 4, { assign: () => ({ labels: new Int32Array(3), distances: new Float32Array(3) }) }),
      expectError('INVALID_ARGUMENT', /of 200 entries each/),
    );
    await assert.rejects(kmeans(data, 3, 4, { assign: 'nearest' as never }), expectError('INVALID_ARGUMENT', /assign must be a function/));
  });
});

describe('metrics outside l2 and ip are refused by name', () => {
  test("'cosine' is rejected by kmeans, FlatIndex and IVFIndex, naming the accepted values", async () => {
    const { data } = clusteredVectors(100, 3, { seed: 2 });
    const named = expectError('INVALID_ARGUMENT', /metric must be one of 'l2', 'ip', got 'cosine'/);
    await assert.rejects(kmeans(data, 3, 2, { metric: 'cosine' as Metric }), named);
    assert.throws(() => new FlatIndex(3, { metric: 'cosine' as Metric }), named);
    assert.throws(() => new IVFIndex(3, { metric: 'cosine' as Metric }), named);
    await assert.rejects(kmeans(data, 3, 2, { metric: 'L2' as Metric }), expectError('INVALID_ARGUMENT', /got 'L2'/));
    await assert.rejects(
      kmeans(data, 3, 2, { init: 'first' as never }),
      expectError('INVALID_ARGUMENT', /init must be one of 'random', 'kmeans\+\+', got 'first'/),
    );
  });
});
