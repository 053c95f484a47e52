import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitRange } from '../../src/util/ranges.js';

describe('splitRange', () => {
  test('covers [0, n) with at most `parts` contiguous, non-empty, near-equal ranges', () => {
    assert.deepEqual(splitRange(10, 3), [
      [0, 3],
      [3, 6],
      [6, 10],
    ]);
    assert.deepEqual(splitRange(2, 4), [
      [0, 1],
      [1, 2],
    ]);
    assert.deepEqual(splitRange(0, 4), []);
    assert.deepEqual(splitRange(5, 1), [[0, 5]]);
    for (const [n, parts] of [
      [1000, 7],
      [13, 13],
      [64, 3],
    ] as const) {
      const r = splitRange(n, parts);
      assert.ok(r.length <= parts);
      assert.equal(r[0]![0], 0);
      assert.equal(r.at(-1)![1], n);
      for (let i = 1; i < r.length; i++) assert.equal(r[i]![0], r[i - 1]![1]);
      const lens = r.map(([a, b]) => b - a);
      assert.ok(Math.max(...lens) - Math.min(...lens) <= 1);
    }
  });
});
