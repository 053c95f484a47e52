/** IEEE 754 binary16 (half precision) from and to float32, bit for bit, for the fp16 codec (../search/fp16.ts) and the reference kernels. */

/** The largest finite half: what larger magnitudes are stored as. */
export const FP16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of the float32 nearest `x` (ties to even), saturating at ±65504; NaN is not expected. */
export function toHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  // 65520 is the midpoint between 65504 and the next power of two: it and above would round to infinity
  if (a >= 0x477ff000) return sign | 0x7bff;
  if (a >= 0x38800000) {
    // a normal half: rebias the exponent (127 → 15) and round the 13 dropped bits to even; a carry
    // out of the mantissa moves the exponent up, as it should
    const m = a - 0x38000000;
    return sign | ((m + 0x0fff + ((m >>> 13) & 1)) >>> 13);
  }
  // a subnormal half (units of 2⁻²⁴) or zero; 2⁻²⁵ and below round to zero (2⁻²⁵ itself: ties to even)
  if (a <= 0x33000000) return sign;
  const e = a >>> 23;
  const mant = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = mant >>> shift;
  const rem = mant & ((1 << shift) - 1),
    half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q;
}

/** The float32 value of binary16 bits `h` (every finite half; infinities and NaN are never stored). */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + m) * 2 ** (e - 25);
}
