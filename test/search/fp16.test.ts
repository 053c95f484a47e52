// Half precision: the conversion bit for bit, the codec's error bound and saturation, and the
// kinds' recall against exact search (the scan itself is checked in test/kernels).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateIndexBytes } from '../../src/collection/auto-index.js';
import { recallAt } from '../../src/eval/recall.js';
import { FP16Index, IVFFP16Index } from '../../src/search/coded.js';
import { FlatIndex } from '../../src/search/flat.js';
import { FP16Codec } from '../../src/search/fp16.js';
import { FP16_MAX, fromHalf, toHalf } from '../../src/util/half.js';
import { rng } from '../../src/util/random.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';

describe('binary16 conversion', () => {
  test('every finite half converts back to itself; values round to the nearest half, ties to even', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue; // infinities and NaN are never stored
      assert.equal(toHalf(fromHalf(h)), h, `half 0x${h.toString(16)}`);
    }
    const f = new Float32Array(1);
    for (let h = 0; h < 0x7bff; h++) {
      const lo = fromHalf(h),
        hi = fromHalf(h + 1);
      f[0] = (lo + hi) / 2; // exact in float32: a half has 11 significant bits
      const even = (h & 1) === 0 ? h : h + 1;
      assert.equal(toHalf(f[0]), even, `midpoint after 0x${h.toString(16)}`);
      f[0] = lo + (hi - lo) * 0.4;
      assert.equal(toHalf(f[0]), h, `below the midpoint after 0x${h.toString(16)}`);
      f[0] = lo + (hi - lo) * 0.6;
      assert.equal(toHalf(f[0]), h + 1, `above the midpoint after 0x${h.toString(16)}`);
    }
  });

  test('saturates beyond ±65504, flushes below 2⁻²⁵ to a signed zero', () => {
    assert.equal(fromHalf(toHalf(1e6)), FP16_MAX);
    assert.equal(fromHalf(toHalf(-70000)), -FP16_MAX);
    assert.equal(toHalf(65519), 0x7bff);
    assert.equal(toHalf(65520), 0x7bff);
    assert.equal(toHalf(2 ** -25), 0);
    assert.equal(toHalf(-(2 ** -25)), 0x8000);
    assert.equal(toHalf(2 ** -25 * 1.0001), 1);
    assert.equal(fromHalf(1), 2 ** -24);
  });
});

describe('FP16Codec', () => {
  test('decode(encode(x)) within 2⁻¹¹ relative (normal range), codes little-endian at any byte offset', () => {
    const d = 37,
      n = 50;
    const r = rng(3);
    const x = new Float32Array(n * d);
    for (let i = 0; i < x.length; i++) x[i] = (r() * 2 - 1) * 10 ** Math.floor(r() * 8 - 3);
    const codec = new FP16Codec(d);
    assert.equal(codec.codeSize(d), 2 * d);
    const buf = new Uint8Array(n * d * 2 + 1);
    const codes = buf.subarray(1); // an odd offset, as codes in a list may start
    codec.encode(x, n, codes);
    assert.equal(codes[0]! | (codes[1]! << 8), toHalf(x[0]!));
    const y = new Float32Array(n * d);
    codec.decode(codes, n, y);
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]!);
      const bound = a >= 2 ** -14 ? a * 2 ** -11 : 2 ** -25;
      assert.ok(Math.abs(y[i]! - x[i]!) <= bound, `value ${x[i]} → ${y[i]}`);
    }
  });
});

describe('the half-precision kinds against exact search', () => {
  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: SQfp16 finds the exact neighbours; IVF64,SQfp16 at nprobe = nlist too; async = sync`, async () => {
      // enough lists and queries that both workers scan at once (a shared scratch once raced here)
      const d = 64,
        n = 40000,
        k = 10;
      const nq = 100;
      const { data } = clusteredVectors(n + nq, d, { seed: 3, clusters: 50 });
      const base = data.subarray(0, n * d),
        queries = data.slice(n * d);
      const flat = new FlatIndex(d, { metric });
      flat.add(base);
      const exact = flat.search(queries, k);
      flat.dispose();
      const plain = new FP16Index(d, { metric });
      const ivf = new IVFFP16Index(d, { metric, nlist: 64 });
      try {
        plain.add(base); // nothing to train
        await ivf.train(base.subarray(0, (n / 2) * d), { threads: 2, iterations: 5 });
        for (let i = 0; i < n; i += n / 8) await ivf.addAsync(base.subarray(i * d, (i + n / 8) * d), undefined, { threads: 2 });
        assert.equal(plain.memoryBytes, n * (2 * d + 4) + 8, "two bytes a value, a 4-byte id, the one list's offsets");
        assert.equal(estimateIndexBytes({ kind: 'fp16' }, n, d), plain.memoryBytes, 'the estimate auto plans with');
        for (const [name, index, params] of [
          ['SQfp16', plain, {}],
          ['IVF64,SQfp16', ivf, { nprobe: 64 }],
        ] as const) {
          const r = index.search(queries, k, params);
          const recall = recallAt(r, exact, k).kRecallAtK;
          assert.ok(recall >= 0.99, `${name}: 10-recall@10 ${recall}`);
          const ra = await index.searchAsync(queries, k, { ...params, threads: 2 });
          assert.deepEqual(ra.labels, r.labels, `${name}: async = sync`);
          assert.deepEqual(ra.distances, r.distances);
        }
      } finally {
        plain.dispose();
        ivf.dispose();
      }
    });
  }
});
