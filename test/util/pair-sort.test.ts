import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sortPairs } from '../../src/util/pair-sort.js';

/** A small deterministic generator (no shared state with other tests). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('sortPairs', () => {
  test('orders by score, then id, as Array.prototype.sort with that comparison does', () => {
    const rnd = lcg(7);
    for (const n of [0, 1, 2, 3, 10, 64, 65, 160, 1000]) {
      // few distinct scores, so ties are common
      const scores = Float32Array.from({ length: n }, () => Math.floor(rnd() * 8) / 4 - 0.5);
      const ids = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 10007);
      const want = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || ids[a]! - ids[b]!);
      const s = scores.slice(),
        id = ids.slice();
      sortPairs(s, id, n);
      assert.deepEqual(
        Array.from(id),
        want.map((i) => ids[i]!),
        `n = ${n}`,
      );
      assert.deepEqual(
        Array.from(s),
        want.map((i) => scores[i]!),
        `n = ${n}`,
      );
    }
  });

  test('sorts only the first n entries and leaves the rest alone', () => {
    const s = Float64Array.from([3, 1, 2, 0, -1]);
    const id = Int32Array.from([30, 10, 20, 0, -10]);
    sortPairs(s, id, 3);
    assert.deepEqual(Array.from(s), [1, 2, 3, 0, -1]);
    assert.deepEqual(Array.from(id), [10, 20, 30, 0, -10]);
  });
});
