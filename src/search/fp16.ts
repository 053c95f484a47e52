/**
 * Half-precision storage (Faiss's ScalarQuantizer QT_fp16, factory "SQfp16"): each value is
 * rounded to the nearest IEEE 754 binary16 (ties to even), 2 bytes instead of 4. Nothing to
 * train; the relative error of a value is at most 2⁻¹¹ (≈ 0.05 %) for |x| ≥ 2⁻¹⁴, and values
 * below that keep an absolute error of at most 2⁻²⁵. Values beyond the largest half,
 * ±65504, are stored as ±65504 (saturated) rather than as infinities, so a distance never
 * turns into Infinity or NaN; vectors that large are better kept as Flat or SQ8.
 *
 * The scanner ('f16' in ./scan.ts) widens the halves to float32 in WASM SIMD and scores them
 * like raw rows; decode() widens the same way, so a scanned distance is the distance to
 * decode(code) up to the order of the float additions.
 */

import { fromHalf, toHalf } from '../util/half.js';
import { checkRoom, UntrainedCodec, type VectorCodec } from './codec.js';

export class FP16Codec extends UntrainedCodec implements VectorCodec {
  readonly name = 'fp16';
  readonly scanner = 'f16' as const;
  readonly lossless = false;

  codeSize(d: number): number {
    return d * 2;
  }

  encode(vectors: Float32Array, n: number, out: Uint8Array): void {
    const len = n * this.d;
    checkRoom('vectors', vectors.byteLength, len * 4);
    checkRoom('the code buffer', out.byteLength, len * 2);
    // codes are little-endian u16 (the arena's byte order); out may start at an odd byte
    for (let i = 0; i < len; i++) {
      const h = toHalf(vectors[i]!);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const len = n * this.d;
    checkRoom('codes', codes.byteLength, len * 2);
    checkRoom('the output', out.byteLength, len * 4);
    for (let i = 0; i < len; i++) out[i] = fromHalf(codes[2 * i]! | (codes[2 * i + 1]! << 8));
  }
}
