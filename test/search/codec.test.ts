import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { F32Codec } from '../../src/search/codec.js';
import { uniformVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

describe('F32Codec', () => {
  test('codes are 4·d bytes and decode gives the vectors back bit for bit', () => {
    const d = 7,
      n = 13,
      codec = new F32Codec(d);
    assert.equal(codec.codeSize(d), 28);
    assert.equal(codec.lossless, true);
    assert.equal(codec.scanner, 'f32');
    const v = uniformVectors(n, d, 5);
    v[3] = -0;
    v[4] = 1e-40; // signed zero and a subnormal survive too
    const codes = new Uint8Array(n * codec.codeSize(d));
    codec.encode(v, n, codes);
    const back = new Float32Array(n * d);
    codec.decode(codes, n, back);
    assert.deepEqual(new Uint32Array(back.buffer), new Uint32Array(v.buffer));
  });

  test('decodes codes that do not start on a 4-byte boundary (one row of a list)', () => {
    const d = 3,
      codec = new F32Codec(d);
    const v = new Float32Array([1.5, -2.25, 3.125, 4, 5, 6]);
    const buf = new Uint8Array(1 + 2 * 12);
    codec.encode(v, 2, buf.subarray(1));
    const row = new Float32Array(d);
    codec.decode(buf.subarray(1 + 12), 1, row);
    assert.deepEqual(Array.from(row), [4, 5, 6]);
  });

  test('refuses buffers too small for n codes, and a bad dimension', () => {
    const codec = new F32Codec(4);
    assert.throws(() => codec.encode(new Float32Array(8), 2, new Uint8Array(31)), expectError('INVALID_ARGUMENT', /code buffer holds 31 bytes, 32 are needed/));
    assert.throws(() => codec.encode(new Float32Array(7), 2, new Uint8Array(32)), expectError('INVALID_ARGUMENT', /vectors holds 28 bytes/));
    assert.throws(() => codec.decode(new Uint8Array(32), 2, new Float32Array(7)), expectError('INVALID_ARGUMENT', /output holds 28 bytes/));
    assert.throws(() => new F32Codec(0), expectError('INVALID_ARGUMENT', /dimension must be a positive integer/));
  });
});
