import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rng, sampleIndices, samplePermutation } from '../../src/util/random.js';

describe('seeded sampling', () => {
  test('samplePermutation: m distinct indices, the same for the same seed, different for another', () => {
    const a = samplePermutation(1000, 50, 7),
      b = samplePermutation(1000, 50, 7),
      c = samplePermutation(1000, 50, 8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(new Set(a).size, 50);
    for (const i of a) assert.ok(i >= 0 && i < 1000);
  });

  test('sampleIndices: the same sample, sorted; everything when m ≥ n', () => {
    const s = sampleIndices(500, 40, 3);
    assert.deepEqual(
      Array.from(s),
      Array.from(samplePermutation(500, 40, 3)).sort((x, y) => x - y),
    );
    assert.deepEqual(Array.from(sampleIndices(4, 9)), [0, 1, 2, 3]);
  });

  test('rng is uniform-ish in [0, 1) and repeatable', () => {
    const r = rng(1),
      again = rng(1);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = r();
      assert.equal(x, again());
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
  });
});
