/** Medoids (src/eval/medoid.ts): the member with the least summed squared distance to its group. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupMedoids, medoid } from '../../src/eval/medoid.js';
import { rng } from '../../src/util/random.js';
import { expectError } from '../assert-error.js';

/** The definition, all pairs: Σ_b ‖a − b‖² per member, least sum wins, ties to the lower row. */
function bruteForce(vectors: Float32Array, dim: number, groups: ArrayLike<number>, nGroups: number): Int32Array {
  const best = new Int32Array(nGroups).fill(-1);
  const bestCost = new Float64Array(nGroups).fill(Infinity);
  const n = vectors.length / dim;
  for (let a = 0; a < n; a++) {
    if (groups[a]! < 0) continue;
    let cost = 0;
    for (let b = 0; b < n; b++) {
      if (groups[b] !== groups[a]) continue;
      for (let j = 0; j < dim; j++) cost += (vectors[a * dim + j]! - vectors[b * dim + j]!) ** 2;
    }
    if (cost < bestCost[groups[a]!]!) {
      bestCost[groups[a]!] = cost;
      best[groups[a]!] = a;
    }
  }
  return best;
}

test('a hand example: the member in the middle, not the first, nor the one nearest the origin', () => {
  // 1-d points 0, 10, 11, 12, 30: summed squared distances 1265, 505, 484, 473, 1985 → the 12,
  // though 11 is the median.
  assert.equal(medoid(new Float32Array([0, 10, 11, 12, 30]), 1), 3);
  // 2-d: a cross around (5, 5) and one far outlier. The medoid stays in the cross, on the outlier's
  // side: (6, 5) and (5, 6) tie (sums 2390 each; the centre has 2454) and the lower row wins.
  const v = new Float32Array([4, 5, 5, 5, 6, 5, 5, 4, 5, 6, 40, 40]);
  assert.equal(medoid(v, 2), 2);
});

test('per group in one call, matching the all-pairs definition on random data', () => {
  const r = rng(7);
  const n = 300,
    dim = 16,
    nGroups = 7;
  const vectors = new Float32Array(n * dim);
  const groups = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    groups[i] = Math.floor(r() * (nGroups + 1)) - 1; // −1 leaves about one row in eight out
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = groups[i]! * 3 + r() * 2 - 1;
  }
  assert.deepEqual([...groupMedoids(vectors, dim, groups, nGroups)], [...bruteForce(vectors, dim, groups, nGroups)]);
});

test('left-out rows are never picked; an empty group gets −1; ties go to the lower row', () => {
  // Group 0 is 0, 10, 9 (the 9 is most typical); row 0, the 5, would win if it were in the group.
  // Group 2 is 9, 1, 1: the two 1s tie. Groups 1 and 3 have no rows.
  const v = new Float32Array([5, 0, 10, 9, 9, 1, 1]);
  assert.deepEqual([...groupMedoids(v, 1, [-1, 0, 0, 0, 2, 2, 2], 4)], [3, -1, 5, -1]);
  assert.equal(medoid(new Float32Array(0), 3), -1);
  assert.equal(groupMedoids(new Float32Array([1, 2]), 1, [0, 0])[0], 0, 'two points are equally typical: the first');
});

test('bad input: rows and groups disagree, a group beyond nGroups, a broken matrix', () => {
  assert.throws(() => groupMedoids(new Float32Array(6), 2, [0, 0]), expectError('INVALID_ARGUMENT', /2 entries for 3 rows/));
  assert.throws(() => groupMedoids(new Float32Array(2), 1, [0, 3], 2), expectError('INVALID_ARGUMENT', /not below nGroups/));
  assert.throws(() => groupMedoids(new Float32Array(2), 1, [0, 0.5]), expectError('INVALID_ARGUMENT', /not an integer/));
  assert.throws(() => medoid(new Float32Array(5), 2), expectError('DIMENSION_MISMATCH', /not a multiple/));
  assert.throws(() => medoid(new Float32Array([1, Number.NaN]), 1), expectError('NOT_FINITE', /finite/));
});
