/**
 * The 8-bit scalar quantizer (Faiss's ScalarQuantizer QT_8bit with the min/max range): each
 * dimension j has a range [min_j, min_j + diff_j] learnt from sample vectors, cut into 256
 * equal steps; a value is stored as the byte of its step and read back as the step's middle,
 * so |x_j − x̂_j| ≤ diff_j / 512 inside the range (values outside it are clamped to its ends).
 * A vector takes d bytes instead of 4·d.
 *
 * The scanner ('sq8' in ./scan.ts) decodes on the fly in WASM SIMD, as x̂_j = off_j + code_j·sc_j
 * with sc_j = diff_j / 256 and off_j = min_j + sc_j / 2; decode() uses the same formula, so a
 * scanned distance is the distance to decode(code) up to the order of the float additions.
 */
import { NitamonoError } from '../errors.js';
import { checkDim, checkVectors } from '../validate.js';
import { type CodecTrainResult, checkRoom, type VectorCodec } from './codec.js';

export class SQ8Codec implements VectorCodec {
  readonly name = 'sq8';
  readonly scanner = 'sq8' as const;
  readonly lossless = false;
  readonly d: number;
  private vmin: Float32Array | undefined;
  private vdiff: Float32Array | undefined;
  /** sc then off, d each (what the scanner reads). */
  private params: Float32Array | undefined;

  constructor(d: number) {
    this.d = checkDim(d);
  }

  get isTrained(): boolean {
    return this.params !== undefined;
  }

  get memoryBytes(): number {
    return this.params ? 4 * this.d * 4 : 0;
  }

  codeSize(d: number): number {
    return d;
  }

  /** The per-dimension minimum and range (copies); undefined before training. */
  ranges(): { min: Float32Array; diff: Float32Array } | undefined {
    return this.vmin && this.vdiff ? { min: this.vmin.slice(), diff: this.vdiff.slice() } : undefined;
  }

  /** Learns each dimension's minimum and maximum over the n rows of `vectors`. */
  train(vectors: Float32Array, n: number = vectors.length / this.d): CodecTrainResult {
    const d = this.d;
    const rows = checkVectors(vectors.subarray(0, n * d), d, 'SQ8 training vectors');
    if (rows === 0) throw new NitamonoError('INVALID_ARGUMENT', 'SQ8 training needs at least one vector');
    const lo = new Float32Array(d).fill(Infinity),
      hi = new Float32Array(d).fill(-Infinity);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < d; j++) {
        const v = vectors[i * d + j]!;
        if (v < lo[j]!) lo[j] = v;
        if (v > hi[j]!) hi[j] = v;
      }
    }
    const diff = new Float32Array(d);
    for (let j = 0; j < d; j++) diff[j] = hi[j]! - lo[j]!;
    this.setRanges(lo, diff);
    return { trainedOn: rows, warnings: [] };
  }

  /** Takes trained ranges (an index file's): per dimension the minimum and the width (≥ 0). */
  setRanges(min: Float32Array, diff: Float32Array): void {
    const d = this.d;
    if (min.length !== d || diff.length !== d) throw new NitamonoError('INVALID_ARGUMENT', `SQ8 ranges need ${d} minimums and ${d} widths`);
    checkVectors(min, d, 'SQ8 minimums');
    checkVectors(diff, d, 'SQ8 widths');
    const params = new Float32Array(2 * d);
    for (let j = 0; j < d; j++) {
      if (!(diff[j]! >= 0)) throw new NitamonoError('INVALID_ARGUMENT', `SQ8 width of dimension ${j} is negative (${diff[j]})`);
      const sc = Math.fround(diff[j]! / 256);
      params[j] = sc;
      params[d + j] = min[j]! + sc / 2;
    }
    this.vmin = Float32Array.from(min);
    this.vdiff = Float32Array.from(diff);
    this.params = params;
  }

  scanParams(): Float32Array {
    return this.requireTrained().slice();
  }

  encode(vectors: Float32Array, n: number, out: Uint8Array): void {
    this.requireTrained();
    const d = this.d,
      lo = this.vmin!,
      diff = this.vdiff!;
    checkRoom('vectors', vectors.byteLength, n * d * 4);
    checkRoom('the code buffer', out.byteLength, n * d);
    const inv = new Float64Array(d);
    for (let j = 0; j < d; j++) inv[j] = diff[j]! > 0 ? 256 / diff[j]! : 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const t = Math.floor((vectors[i * d + j]! - lo[j]!) * inv[j]!);
        out[i * d + j] = Math.max(0, Math.min(255, t));
      }
    }
  }

  decode(codes: Uint8Array, n: number, out: Float32Array): void {
    const p = this.requireTrained(),
      d = this.d;
    checkRoom('codes', codes.byteLength, n * d);
    checkRoom('the output', out.byteLength, n * d * 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) out[i * d + j] = p[d + j]! + Math.fround(codes[i * d + j]! * p[j]!);
    }
  }

  private requireTrained(): Float32Array {
    if (!this.params) throw new NitamonoError('NOT_TRAINED', 'the SQ8 codec is not trained (train it on sample vectors first)');
    return this.params;
  }
}
