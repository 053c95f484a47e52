import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IVFSQ8Index, SQ8Index } from '../../src/search/coded.js';
import { SQ8Codec } from '../../src/search/sq8.js';
import type { Metric } from '../../src/search/types.js';
import { rng } from '../../src/util/random.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

/** n×d values with a different range per dimension (one of them constant, one negative). */
function rangedVectors(n: number, d: number, seed: number): Float32Array {
  const r = rng(seed),
    out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = j === 1 ? 3.25 : j === 2 ? -50 - 10 * r() : (j + 1) * (r() * 2 - 0.5) * 10 ** ((j % 5) - 2);
  }
  return out;
}

describe('SQ8Codec', () => {
  test('round trip: every value within (max − min)/255/2 of itself (plus float rounding), a constant dimension exact', () => {
    const d = 23,
      n = 500;
    const x = rangedVectors(n, d, 3);
    const codec = new SQ8Codec(d);
    assert.equal(codec.isTrained, false);
    const r = codec.train(x, n);
    assert.deepEqual(r, { trainedOn: n, warnings: [] });
    assert.equal(codec.codeSize(d), d);
    assert.equal(codec.memoryBytes, 4 * d * 4);
    const codes = new Uint8Array(n * d);
    codec.encode(x, n, codes);
    const back = new Float32Array(n * d);
    codec.decode(codes, n, back);
    const { min, diff } = codec.ranges()!;
    let worst = 0;
    for (let j = 0; j < d; j++) {
      const bound = diff[j]! / 255 / 2;
      for (let i = 0; i < n; i++) {
        const v = x[i * d + j]!;
        const err = Math.abs(v - back[i * d + j]!);
        const eps = 4 * 2 ** -23 * Math.max(Math.abs(v), Math.abs(min[j]!), diff[j]!);
        assert.ok(err <= bound + eps, `dim ${j} row ${i}: |${v} − ${back[i * d + j]}| = ${err} > ${bound}`);
        // in fact within half a step of 256: diff/512
        assert.ok(err <= diff[j]! / 512 + eps);
        if (diff[j]! > 0) worst = Math.max(worst, err / diff[j]!);
      }
    }
    assert.ok(worst > 0.5 / 512 / 4, 'the codes really are lossy');
    for (let i = 0; i < n; i++) assert.equal(back[i * d + 1], 3.25, 'constant dimension');
    // the extremes of the range map to the first and last code
    for (let j = 0; j < d; j++) {
      if (diff[j] === 0) continue;
      let lo = 0,
        hi = 0;
      for (let i = 0; i < n; i++) {
        if (x[i * d + j]! < x[lo * d + j]!) lo = i;
        if (x[i * d + j]! > x[hi * d + j]!) hi = i;
      }
      assert.equal(codes[lo * d + j], 0);
      assert.equal(codes[hi * d + j], 255);
    }
  });

  test('values outside the trained range are clamped to its ends', () => {
    const codec = new SQ8Codec(2);
    codec.train(new Float32Array([0, 10, 1, 20]), 2);
    const codes = new Uint8Array(4);
    codec.encode(new Float32Array([-5, 100, 0.5, 15]), 2, codes);
    assert.deepEqual(Array.from(codes), [0, 255, 128, 128]);
    const back = new Float32Array(4);
    codec.decode(codes, 2, back);
    assert.ok(Math.abs(back[0]! - 1 / 512) < 1e-7);
    assert.ok(Math.abs(back[1]! - (20 - 10 / 512)) < 1e-5);
  });

  test('untrained use, bad ranges and short buffers are refused', () => {
    const codec = new SQ8Codec(3);
    assert.throws(() => codec.encode(new Float32Array(3), 1, new Uint8Array(3)), expectError('NOT_TRAINED', /SQ8 codec is not trained/));
    assert.throws(() => codec.decode(new Uint8Array(3), 1, new Float32Array(3)), expectError('NOT_TRAINED', /SQ8 codec is not trained/));
    assert.throws(() => codec.scanParams(), expectError('NOT_TRAINED', /SQ8/));
    assert.throws(() => codec.setRanges(new Float32Array(2), new Float32Array(3)), expectError('INVALID_ARGUMENT', /3 minimums and 3 widths/));
    assert.throws(
      () => codec.setRanges(new Float32Array(3), new Float32Array([1, -1, 1])),
      expectError('INVALID_ARGUMENT', /width of dimension 1 is negative/),
    );
    assert.throws(() => codec.train(new Float32Array(0), 0), expectError('INVALID_ARGUMENT', /at least one vector/));
    assert.throws(() => codec.train(new Float32Array([1, NaN, 3]), 1), expectError('NOT_FINITE', /SQ8 training vectors/));
    codec.train(new Float32Array([1, 2, 3, 4, 5, 6]), 2);
    assert.throws(() => codec.encode(new Float32Array(6), 2, new Uint8Array(5)), expectError('INVALID_ARGUMENT', /code buffer holds 5 bytes, 6 are needed/));
    assert.throws(() => new SQ8Codec(0), expectError('INVALID_ARGUMENT', /dimension must be a positive integer/));
  });
});

/** Exact score of q against decoded x̂ as the index reports it: ‖q − x̂‖² (l2) or ⟨q, x̂⟩ (ip). */
function exactScore(metric: Metric, q: Float32Array, x: Float32Array): number {
  let s = 0;
  for (let j = 0; j < q.length; j++) s += metric === 'l2' ? (q[j]! - x[j]!) ** 2 : q[j]! * x[j]!;
  return s;
}

describe('SQ8 scans', () => {
  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: the scanned distance is the distance to the decoded vector (flat and inverted file)`, async () => {
      const d = 21,
        n = 400;
      const { data } = clusteredVectors(n + 5, d, { seed: 8, clusters: 6 });
      const base = data.subarray(0, n * d),
        queries = data.slice(n * d);
      for (const index of [new SQ8Index(d, { metric }), new IVFSQ8Index(d, { metric, nlist: 6 })]) {
        try {
          await index.train(base, { threads: 1 });
          index.add(base);
          const r = index.search(queries, n, { nprobe: 6 });
          for (let i = 0; i < 5; i++) {
            const q = queries.subarray(i * d, (i + 1) * d);
            for (let j = 0; j < n; j++) {
              const id = r.labels[i * n + j]!;
              const want = exactScore(metric, q, index.reconstruct(id));
              const got = r.distances[i * n + j]!;
              assert.ok(Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${index.kind} q${i} id ${id}: ${got} vs ${want}`);
            }
          }
          // the decoded vectors are close to the originals: the residual ranges of an inverted file are narrower
          let err = 0;
          for (let id = 0; id < n; id++) {
            const x = index.reconstruct(id);
            for (let j = 0; j < d; j++) err = Math.max(err, Math.abs(x[j]! - base[id * d + j]!));
          }
          assert.ok(err < 0.05, `${index.kind}: max decoding error ${err}`);
        } finally {
          index.dispose();
        }
      }
    });
  }
});
