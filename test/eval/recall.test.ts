import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averagePrecision, distanceRecallAt, precisionAtK, recallAt, tieAwareRecall } from '../../src/eval/recall.js';
import { expectError } from '../assert-error.js';

const close = (a: number, b: number, msg?: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} ≠ ${b}`);

test('recallAt on a hand-made example', () => {
  // 3 queries, results k=4, ground truth k=5
  const gt = {
    k: 5,
    labels: new Int32Array([
      1,
      2,
      3,
      4,
      5, //
      10,
      11,
      12,
      13,
      14, //
      20,
      21,
      22,
      23,
      24,
    ]),
  };
  const result = {
    nq: 3,
    k: 4,
    labels: new Int32Array([
      1,
      3,
      9,
      2, // nn first; top-3 ∩ {1,2,3} = {1,3}; top-4 ∩ {1..4} = {1,3,2}
      11,
      10,
      12,
      99, // nn second; top-3 = {11,10,12} all true
      -1,
      -1,
      -1,
      -1, // nothing found
    ]),
  };
  const r1 = recallAt(result, gt, 1);
  close(r1.recallAt1, 1 / 3);
  close(r1.kRecallAtK, 1 / 3); // only query 0's top-1 is right
  close(r1.oneRecallAtK, 1 / 3);
  const r3 = recallAt(result, gt, 3);
  close(r3.recallAt1, 1 / 3, 'recallAt1 does not depend on k');
  close(r3.kRecallAtK, (2 / 3 + 3 / 3 + 0) / 3);
  close(r3.oneRecallAtK, 2 / 3);
  const r4 = recallAt(result, gt, 4);
  close(r4.kRecallAtK, (3 / 4 + 3 / 4 + 0) / 3);
});

test('recallAt: perfect results give 1, duplicates count once, -1 never matches', () => {
  const gt = { k: 3, labels: new Int32Array([5, 6, 7, 8, 9, -1]) };
  const perfect = recallAt({ nq: 2, k: 3, labels: new Int32Array([5, 6, 7, 8, 9, 0]) }, gt, 2);
  assert.deepEqual(perfect, { recallAt1: 1, kRecallAtK: 1, oneRecallAtK: 1 });
  const dup = recallAt({ nq: 2, k: 3, labels: new Int32Array([5, 5, 5, 8, -1, -1]) }, { k: 3, labels: new Int32Array([5, 6, 7, 8, 9, -1]) }, 3);
  close(dup.kRecallAtK, (1 / 3 + 1 / 3) / 2);
});

test('recallAt with large k (set path) matches the small-k path', () => {
  const nq = 20;
  const k = 50;
  const gt = new Int32Array(nq * k);
  const res = new Int32Array(nq * k);
  let expectHits = 0;
  for (let q = 0; q < nq; q++) {
    for (let j = 0; j < k; j++) {
      gt[q * k + j] = q * 1000 + j;
      // every other returned id is a true one, in reversed order; the rest are wrong
      const hit = j % 2 === 0;
      res[q * k + j] = hit ? q * 1000 + (k - 1 - j) : -5 - j;
      if (hit) expectHits++;
    }
  }
  const r = recallAt({ nq, k, labels: res }, { k, labels: gt }, k);
  close(r.kRecallAtK, expectHits / (nq * k));
  assert.equal(r.recallAt1, 0);
  assert.equal(r.oneRecallAtK, 0, 'gt[0] = q*1000 sits at j = 49, which is odd → not returned');
  // duplicated ids count once on this path too
  const dupRes = new Int32Array(k).fill(7);
  const dupGt = Int32Array.from({ length: k }, (_, j) => j + 7);
  close(recallAt({ nq: 1, k, labels: dupRes }, { k, labels: dupGt }, k).kRecallAtK, 1 / k);
});

test('recallAt validates shapes', () => {
  const gt = { k: 2, labels: new Int32Array([1, 2, 3, 4]) };
  const res = { nq: 2, k: 3, labels: new Int32Array([1, 2, 3, 4, 5, 6]) };
  assert.throws(() => recallAt(res, gt, 3), expectError('INVALID_ARGUMENT', /k = 3 exceeds the ground truth's 2 neighbours per query/));
  assert.throws(() => recallAt({ ...res, k: 1, labels: new Int32Array(2) }, gt, 2), expectError('INVALID_ARGUMENT', /k = 2 exceeds the 1 results per query/));
  assert.throws(
    () => recallAt({ ...res, labels: new Int32Array(5) }, gt, 1),
    expectError('DIMENSION_MISMATCH', /result\.labels has 5 entries, expected nq×k = 2×3 = 6/),
  );
  assert.throws(
    () => recallAt({ ...res, nq: 3, labels: new Int32Array(9) }, gt, 1),
    expectError('DIMENSION_MISMATCH', /ground truth has 2 rows but there are 3 queries/),
  );
  assert.throws(() => recallAt(res, { k: 2, labels: new Int32Array(5) }, 1), expectError('DIMENSION_MISMATCH', /not a multiple of groundTruth\.k/));
  assert.throws(() => recallAt(res, gt, 0), expectError('INVALID_ARGUMENT', /k must be a positive integer/));
});

test('distanceRecallAt counts neighbours within (1+ε) of the true k-th distance', () => {
  // 2 queries; ground truth distances (squared L2, ascending), kGt = 3
  const gtD = new Float32Array([1, 2, 4, 0.5, 0.5, 0.5]);
  // results, kRes = 3: query 0 returns a tie-equivalent set at k=2 (distance 2 via another id),
  // query 1 returns one at 0.5, one just inside (1+ε), one outside.
  const resD = new Float32Array([1, 2, 100, 0.5, 0.5 * (1 + 5e-4), 0.5 * (1 + 2e-3)]);
  close(distanceRecallAt(resD, gtD, 2, 3, 3, 2), (2 / 2 + 2 / 2) / 2);
  close(distanceRecallAt(resD, gtD, 2, 3, 3, 3), (2 / 3 + 2 / 3) / 2);
  close(distanceRecallAt(resD, gtD, 2, 3, 3, 3, 0.01), (2 / 3 + 3 / 3) / 2, 'a larger ε admits the third');
  close(distanceRecallAt(resD, gtD, 2, 3, 3, 3, 0), (2 / 3 + 1 / 3) / 2, 'ε = 0 is exact');
  // NaN padding never counts
  close(distanceRecallAt(new Float32Array([1, Number.NaN]), new Float32Array([1, 5]), 1, 2, 2, 2), 1 / 2);
});

test('distanceRecallAt validates shapes', () => {
  const d = new Float32Array(6);
  assert.throws(() => distanceRecallAt(d, d, 2, 3, 3, 4), expectError('INVALID_ARGUMENT', /k = 4 exceeds the 3 results per query/));
  assert.throws(() => distanceRecallAt(d, new Float32Array(4), 2, 3, 2, 3), expectError('INVALID_ARGUMENT', /k = 3 exceeds the ground truth's 2 distances/));
  assert.throws(() => distanceRecallAt(d, d, 3, 3, 3, 1), expectError('DIMENSION_MISMATCH', /resultDistances has 6 entries, expected nq×kRes = 3×3 = 9/));
  assert.throws(() => distanceRecallAt(d, new Float32Array(5), 2, 3, 3, 1), expectError('DIMENSION_MISMATCH', /gtDistances has 5 entries/));
  assert.throws(
    () => distanceRecallAt(new Float32Array(2), new Float32Array([0, Number.NaN]), 1, 2, 2, 2),
    expectError('INVALID_ARGUMENT', /ground-truth distance 2 of query 0 is NaN/),
  );
  assert.throws(() => distanceRecallAt(d, d, 2, 3, 3, 1, -1), expectError('INVALID_ARGUMENT', /epsilon/));
});

test('precisionAtK on labelled results', () => {
  const ranked = [3, 1, 3, 3, 2];
  assert.equal(precisionAtK(ranked, 3, 1), 1);
  assert.equal(precisionAtK(ranked, 3, 2), 1 / 2);
  assert.equal(precisionAtK(ranked, 3, 4), 3 / 4);
  assert.equal(precisionAtK(ranked, 3, 10), 3 / 10, 'missing results count as not relevant');
  assert.equal(precisionAtK(new Int32Array([7, 7]), 1, 2), 0);
  assert.throws(() => precisionAtK(ranked, 3, 0), expectError('INVALID_ARGUMENT', /k must be a positive integer/));
});

test('averagePrecision on labelled results', () => {
  // relevant at ranks 1, 3, 4 of 5 → (1/1 + 2/3 + 3/4) / 3 when all 3 relevant items were retrieved
  close(averagePrecision([3, 1, 3, 3, 2], 3, 3), (1 + 2 / 3 + 3 / 4) / 3);
  // 5 relevant items exist but only 3 were retrieved
  close(averagePrecision([3, 1, 3, 3, 2], 3, 5), (1 + 2 / 3 + 3 / 4) / 5);
  close(averagePrecision([1, 2, 3], 3, 1), 1 / 3);
  assert.equal(averagePrecision([1, 2], 3, 0), 0);
  assert.equal(averagePrecision([9, 9, 9], 9, 3), 1);
  assert.throws(() => averagePrecision([3, 3], 3, 1), expectError('INVALID_ARGUMENT', /holds 2 relevant results but totalRelevant is 1/));
  assert.throws(() => averagePrecision([3], 3, -1), expectError('INVALID_ARGUMENT', /non-negative integer/));
});

test('tieAwareRecall: a hit counts when it is in the exact top k or no farther than the exact k-th', () => {
  const exact = [
    { id: 1, distance: 0.5 },
    { id: 2, distance: 1 },
    { id: 3, distance: 2 },
    { id: 4, distance: 2 },
  ];
  assert.deepEqual(tieAwareRecall(exact, exact, 3), { r1: 1, rk: 1 });
  // id 4 ties id 3 at the 3rd distance: not a miss
  assert.deepEqual(tieAwareRecall(exact, [exact[0]!, exact[1]!, exact[3]!], 3), { r1: 1, rk: 1 });
  // a different first hit at the same distance still counts for r1
  assert.deepEqual(tieAwareRecall(exact, [{ id: 9, distance: 0.5 }, exact[1]!, exact[2]!], 3), { r1: 1, rk: 1 });
  // farther than the k-th (beyond the tolerance) is a miss; so is a missing hit
  assert.deepEqual(
    tieAwareRecall(
      exact,
      [
        { id: 9, distance: 2.5 },
        { id: 8, distance: 3 },
      ],
      3,
    ),
    { r1: 0, rk: 0 },
  );
  // another id nearer than the exact k-th counts (the exact answer is what is being checked)
  assert.deepEqual(tieAwareRecall(exact, [{ id: 9, distance: 0.6 }], 3), { r1: 0, rk: 1 / 3 });
  assert.deepEqual(tieAwareRecall(exact, [exact[0]!], 3), { r1: 1, rk: 1 / 3 });
  // within the relative tolerance of 1e-5
  assert.deepEqual(tieAwareRecall(exact, [exact[0]!, exact[1]!, { id: 7, distance: 2 + 1e-6 }], 3), { r1: 1, rk: 1 });
  // k beyond the exact answer is cut to its length; nothing to find is perfect recall
  assert.deepEqual(tieAwareRecall(exact.slice(0, 2), exact.slice(0, 2), 10), { r1: 1, rk: 1 });
  assert.deepEqual(tieAwareRecall([], [{ id: 1, distance: 0 }], 5), { r1: 1, rk: 1 });
  assert.deepEqual(tieAwareRecall(exact, [], 2), { r1: 0, rk: 0 });
});
