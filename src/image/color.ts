/**
 * Colour histogram features, as in the seed lecture: one histogram of `bins` bins for each of
 * R, G and B, concatenated (bins = 4 → 12 numbers). Each channel's counts are divided by the
 * pixel count, so each channel's part sums to 1 and images of any size compare directly.
 */
import { invalid } from '../errors.js';

/** Default number of bins per channel (the seed's 4 → 12-d vectors). */
export const DEFAULT_COLOR_BINS = 4;

/**
 * Short side, in pixels, of the feature image: every image is decoded once, scaled so its
 * shorter side is COLOR_SIZE (never enlarged; long side capped at FEATURE_MAX_SIDE), and that one
 * image gives both the colour histogram and, stretched to 224×224, the CNN input — whose 224 rows
 * and columns it then covers without upsampling. Decoding straight to this size lets libjpeg
 * decode at 1/2, 1/4 or 1/8 scale (shrink-on-load), which is most of the speed of extraction.
 * A histogram is a global statistic: at this size it moves by about 0.01 in L1 (of a possible 6)
 * from the full-resolution one (measured in test/image-color.test.ts).
 */
export const COLOR_SIZE = 224;

/** Cap on the long side of the feature image (very elongated images: short side then < COLOR_SIZE). */
export const FEATURE_MAX_SIDE = 1024;

/**
 * Size of the feature image for an image displayed at width×height: shorter side COLOR_SIZE,
 * longer side at most FEATURE_MAX_SIDE, aspect ratio kept, never larger than the original.
 */
export function featureImageSize(width: number, height: number): { width: number; height: number } {
  if (!(width >= 1 && height >= 1)) throw invalid(`image size must be positive, got ${width}×${height}`);
  let s = COLOR_SIZE / Math.min(width, height);
  if (Math.max(width, height) * s > FEATURE_MAX_SIDE) s = FEATURE_MAX_SIDE / Math.max(width, height);
  if (s >= 1) return { width, height };
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Length of the colour vector for `bins` bins per channel. */
export function colorDim(bins = DEFAULT_COLOR_BINS): number {
  checkBins(bins);
  return 3 * bins;
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1 || bins > 256) throw invalid(`colour bins must be an integer in 1..256, got ${bins}`);
}

function checkImage(rgb: Uint8Array, width: number, height: number): number {
  if (!(rgb instanceof Uint8Array)) throw invalid('rgb must be a Uint8Array');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw invalid(`image size must be positive integers, got ${width}×${height}`);
  }
  const n = width * height;
  if (rgb.length !== n * 3) throw invalid(`rgb has ${rgb.length} bytes, expected ${width}×${height}×3 = ${n * 3}`);
  return n;
}

/** binOf[v] = floor(v · bins / 256). */
function binTable(bins: number): Uint16Array {
  const t = new Uint16Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.floor((v * bins) / 256);
  return t;
}

/**
 * Per-channel RGB histogram: [R bins…, G bins…, B bins…], each channel normalised by the pixel
 * count. `rgb` is 3 bytes per pixel, `width × height` pixels.
 */
export function colorHistogram(rgb: Uint8Array, width: number, height: number, bins = DEFAULT_COLOR_BINS): Float32Array {
  checkBins(bins);
  const n = checkImage(rgb, width, height);
  const t = binTable(bins);
  // Integer counts first (exact), then one division per bin.
  const counts = new Uint32Array(3 * bins);
  const gOff = bins;
  const bOff = 2 * bins;
  const len = rgb.length;
  for (let i = 0; i < len; i += 3) {
    counts[t[rgb[i]!]!]!++;
    counts[gOff + t[rgb[i + 1]!]!]!++;
    counts[bOff + t[rgb[i + 2]!]!]!++;
  }
  const out = new Float32Array(3 * bins);
  for (let k = 0; k < out.length; k++) out[k] = counts[k]! / n;
  return out;
}

/**
 * Joint RGB histogram: bins³ cells (a colour cube), normalised to sum 1. Not the default; it
 * distinguishes colour combinations a per-channel histogram cannot (red+green vs yellow+black).
 */
export function jointColorHistogram(rgb: Uint8Array, width: number, height: number, bins = DEFAULT_COLOR_BINS): Float32Array {
  checkBins(bins);
  if (bins > 16) throw invalid(`joint histogram bins must be ≤ 16 (bins³ cells), got ${bins}`);
  const n = checkImage(rgb, width, height);
  const t = binTable(bins);
  const counts = new Uint32Array(bins * bins * bins);
  const bb = bins * bins;
  for (let i = 0; i < rgb.length; i += 3) counts[t[rgb[i]!]! * bb + t[rgb[i + 1]!]! * bins + t[rgb[i + 2]!]!]!++;
  const out = new Float32Array(counts.length);
  for (let k = 0; k < out.length; k++) out[k] = counts[k]! / n;
  return out;
}

/** L1 distance between two histograms of equal length (used by tests and the bench). */
export function histogramL1(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw invalid(`histogram lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s;
}
