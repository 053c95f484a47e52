/**
 * A pixel-level check that two images are the same picture: the second, finer test of the
 * near-duplicate search (src/collection/duplicates.ts), for pairs the deep features already found
 * close. Deep features see "a clock" and place the same drawing at another hour next to it; a
 * resized or recompressed copy changes every pixel a little, a redrawn hand changes one region a
 * lot. So the measure is the largest of the mean differences over blocks of a small aligned
 * thumbnail, not one global average.
 *
 * `pixelPrint` decodes an image once (EXIF-rotated, flattened on white, like the features) and
 * keeps PRINT_SIZE² RGB thumbnails of the whole image and of its content with a uniform border
 * trimmed (clip-art floats on white: a crop that only cut margin then aligns exactly).
 * `pixelDistance` compares two prints view by view at the smaller one's scale (at most
 * COMPARE_SIZE²: a 20-px copy has no more to say), after finding on coarse thumbnails which
 * window of either image (up to a 5 % crop on each axis) lines up best, with the second image's
 * brightness and contrast matched to the first. Regions of clearly different shape (a square
 * and an upright rectangle, both stretched to a square thumbnail) never match.
 */
import sharp from 'sharp';
import { decodeImage } from './decode.js';

/** Side of a print's thumbnails. */
export const PRINT_SIZE = 64;
/** Largest side of the grid two prints are compared on. */
export const COMPARE_SIZE = 48;
/** The distance of two images that cannot be the same picture (different shapes): the largest there is. */
export const NO_MATCH = 255;
/** Side of the thumbnails the alignment is searched on. */
const COARSE_SIZE = 16;
/** Images are decoded to fit this box first (JPEG shrinks on load): ample for a 64-px print. */
const DECODE_BOX = 512;
/** A pixel differing from the background colour by more than this (any channel) is content. */
const TRIM_TOLERANCE = 24;
/**
 * Compared blocks span 1/12 of the grid (4 × 4 cells at 48²), at half-block steps: small enough
 * that a smiley's tongue or a moved clock hand fills much of one. Chosen with COMPARE_SIZE on the
 * benchmark's calibration set: 4, 6, 8 and 12 blocks at 32² and 48² all let every true candidate
 * pair through; 12 at 48² let through the fewest look-alikes.
 */
const BLOCKS = 12;
/** Window scales tried on each axis: no crop, half, and the whole 5 % the copies may lose. */
const SCALES = [1, 0.975, 0.95];
/** Largest contrast gain (ratio of grey-level spreads) applied when matching brightness. */
const MAX_GAIN = 1.5;
/**
 * Largest |ln(aspect ratio a / aspect ratio b)| of two views that may match: a 5 % crop of one
 * axis (0.051), plus a pixel of rounding on a 20-px copy (0.05), with room.
 */
const MAX_ASPECT_LOG = 0.12;

/** One view of an image: a PRINT_SIZE² RGB thumbnail of a region and that region's size. */
export interface PrintView {
  /** PRINT_SIZE × PRINT_SIZE RGB, row-major. */
  grid: Uint8Array;
  /** Size of the region in decoded pixels (at most DECODE_BOX): the detail it holds. */
  width: number;
  height: number;
}

/**
 * The compact form of one image that pixelDistance compares: the whole image, and its content
 * with a uniform border trimmed when there is one. Both, because a faint frame near the trim
 * tolerance is content in one copy and background in a recompressed one: the trimmed views then
 * disagree, the whole views still align.
 */
export interface PixelPrint {
  whole: PrintView;
  trimmed?: PrintView;
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The bounding box of the pixels that differ from the background (the corner colour most corners share). */
function contentBox(rgb: Uint8Array, w: number, h: number): Box {
  const near = (p: number, q: number) =>
    Math.abs(rgb[p]! - rgb[q]!) <= TRIM_TOLERANCE &&
    Math.abs(rgb[p + 1]! - rgb[q + 1]!) <= TRIM_TOLERANCE &&
    Math.abs(rgb[p + 2]! - rgb[q + 2]!) <= TRIM_TOLERANCE;
  const corners = [0, w - 1, (h - 1) * w, h * w - 1].map((p) => p * 3);
  let bg = corners[0]!;
  let votes = 0;
  for (const c of corners) {
    const v = corners.filter((o) => near(c, o)).length;
    if (v > votes) [bg, votes] = [c, v];
  }
  let left = w,
    right = -1,
    top = h,
    bottom = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (near((y * w + x) * 3, bg)) continue;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  if (right < 0) return { left: 0, top: 0, width: w, height: h };
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/**
 * The print of an image file or buffer. Throws as decodeImage does (NOT_FOUND, IO,
 * DECODE_FAILED, TOO_LARGE).
 */
export async function pixelPrint(input: string | Buffer, opts: { maxPixels?: number } = {}): Promise<PixelPrint> {
  const img = await decodeImage(input, { ...opts, resize: { width: DECODE_BOX, height: DECODE_BOX, fit: 'inside' } });
  const view = async (box: Box): Promise<PrintView> => {
    const grid = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .extract(box)
      .resize(PRINT_SIZE, PRINT_SIZE, { fit: 'fill' })
      .raw()
      .toBuffer();
    return { grid: new Uint8Array(grid.buffer, grid.byteOffset, grid.byteLength), width: box.width, height: box.height };
  };
  const box = contentBox(img.data, img.width, img.height);
  const print: PixelPrint = { whole: await view({ left: 0, top: 0, width: img.width, height: img.height }) };
  if (box.width < img.width || box.height < img.height) print.trimmed = await view(box);
  return print;
}

/**
 * What a print depends on besides the image: kept with cached prints, so a change of any of them
 * makes every cached print stale (recomputed) rather than silently different.
 */
export const PRINT_RECIPE = `v1 size=${PRINT_SIZE} box=${DECODE_BOX} trim=${TRIM_TOLERANCE}`;

/** Bytes of an encoded print before its grids: four u32 (whole width, height; trimmed width, height or 0, 0). */
const PRINT_HEADER_BYTES = 16;
const GRID_BYTES = PRINT_SIZE * PRINT_SIZE * 3;

/**
 * A print as bytes, for the print cache (src/image/print-cache.ts) and for passing between
 * threads: the header, then the whole view's grid, then the trimmed one's when there is one.
 */
export function encodePrint(p: PixelPrint): Uint8Array {
  const views = p.trimmed ? [p.whole, p.trimmed] : [p.whole];
  const out = new Uint8Array(PRINT_HEADER_BYTES + views.length * GRID_BYTES);
  const dv = new DataView(out.buffer);
  views.forEach((v, i) => {
    dv.setUint32(8 * i, v.width, true);
    dv.setUint32(8 * i + 4, v.height, true);
    out.set(v.grid, PRINT_HEADER_BYTES + i * GRID_BYTES);
  });
  return out;
}

/** The print encodePrint made (views share its bytes), or undefined when the bytes cannot be one. */
export function decodePrint(bytes: Uint8Array): PixelPrint | undefined {
  if (bytes.byteLength !== PRINT_HEADER_BYTES + GRID_BYTES && bytes.byteLength !== PRINT_HEADER_BYTES + 2 * GRID_BYTES) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, PRINT_HEADER_BYTES);
  const view = (i: number): PrintView | undefined => {
    const width = dv.getUint32(8 * i, true),
      height = dv.getUint32(8 * i + 4, true);
    if (width < 1 || height < 1 || width > DECODE_BOX || height > DECODE_BOX) return undefined;
    const at = PRINT_HEADER_BYTES + i * GRID_BYTES;
    return { grid: bytes.subarray(at, at + GRID_BYTES), width, height };
  };
  const whole = view(0);
  if (!whole) return undefined;
  if (bytes.byteLength === PRINT_HEADER_BYTES + GRID_BYTES) return dv.getUint32(8, true) === 0 && dv.getUint32(12, true) === 0 ? { whole } : undefined;
  const trimmed = view(1);
  return trimmed ? { whole, trimmed } : undefined;
}

/** A window of a view, in thumbnail pixels. */
interface Window {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Every scale and alignment per axis; the first is the whole thumbnail. */
const WINDOWS: readonly Window[] = (() => {
  const axis = SCALES.flatMap((s) => (s === 1 ? [[0, PRINT_SIZE]] : [0, 0.5, 1].map((o) => [o * (1 - s) * PRINT_SIZE, s * PRINT_SIZE])));
  return axis.flatMap(([x, w]) => axis.map(([y, h]) => ({ x: x!, y: y!, w: w!, h: h! })));
})();

interface AxisWeights {
  first: Int32Array;
  weights: Float32Array[];
}
/** axisWeights by (start, span, n): only 7 × a few grid sizes ever occur, and each comparison asks for them. */
const axisWeightsKept = new Map<string, AxisWeights>();

/** Weights of an area resampling of [start, start + span) (input pixels) onto n output cells. */
function axisWeights(start: number, span: number, n: number): AxisWeights {
  const key = `${start}:${span}:${n}`;
  const kept = axisWeightsKept.get(key);
  if (kept) return kept;
  const first = new Int32Array(n);
  const weights: Float32Array[] = [];
  const step = span / n;
  for (let i = 0; i < n; i++) {
    const a = start + i * step,
      b = a + step;
    const lo = Math.floor(a),
      hi = Math.min(PRINT_SIZE, Math.ceil(b));
    const w = new Float32Array(Math.max(1, hi - lo));
    for (let k = lo; k < hi; k++) w[k - lo] = (Math.min(b, k + 1) - Math.max(a, k)) / step;
    first[i] = lo;
    weights.push(w);
  }
  const made = { first, weights };
  axisWeightsKept.set(key, made);
  return made;
}

const ROW = PRINT_SIZE * 3;

/** A window of a thumbnail, area-resampled to n × n RGB floats. */
function sample(grid: Uint8Array, win: Window, n: number): Float32Array {
  return sampleColumns(sampleRows(grid, win, n), win, n);
}

/** The first half of sample: the window's rows resampled to n (every column kept). */
function sampleRows(grid: Uint8Array, win: Window, n: number): Float32Array {
  const ys = axisWeights(win.y, win.h, n);
  const row = ROW;
  const tmp = new Float32Array(n * row);
  for (let i = 0; i < n; i++) {
    const wy = ys.weights[i]!,
      fy = ys.first[i]!;
    for (let k = 0; k < wy.length; k++) {
      const src = (fy + k) * row,
        f = wy[k]!;
      for (let x = 0; x < row; x++) tmp[i * row + x]! += f * grid[src + x]!;
    }
  }
  return tmp;
}

/** The second half of sample: sampleRows' output resampled to n columns. */
function sampleColumns(tmp: Float32Array, win: Window, n: number): Float32Array {
  const xs = axisWeights(win.x, win.w, n);
  const row = ROW;
  const out = new Float32Array(n * n * 3);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const wx = xs.weights[j]!,
        fx = xs.first[j]!;
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < wx.length; k++) {
        const p = i * row + (fx + k) * 3,
          f = wx[k]!;
        r += f * tmp[p]!;
        g += f * tmp[p + 1]!;
        b += f * tmp[p + 2]!;
      }
      const o = (i * n + j) * 3;
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
    }
  return out;
}

/** n × n RGB floats with the mean and standard deviation of their grey level (channel mean). */
interface Grid {
  v: Float32Array;
  mean: number;
  std: number;
}

function grid(v: Float32Array): Grid {
  let s = 0,
    s2 = 0;
  const m = v.length / 3;
  for (let p = 0; p < v.length; p += 3) {
    const y = (v[p]! + v[p + 1]! + v[p + 2]!) / 3;
    s += y;
    s2 += y * y;
  }
  const mean = s / m;
  return { v, mean, std: Math.sqrt(Math.max(0, s2 / m - mean * mean)) };
}

/** The gain and offset that match b's grey levels to a's (mean, and spread within MAX_GAIN). */
function levels(a: Grid, b: Grid): { gain: number; offset: number } {
  const gain = a.std > 1 && b.std > 1 ? Math.min(MAX_GAIN, Math.max(1 / MAX_GAIN, a.std / b.std)) : 1;
  return { gain, offset: a.mean - gain * b.mean };
}

/**
 * The mean absolute difference of two grids, b's levels matched to a's: how well two windows
 * align; Infinity as soon as the running sum shows it cannot be below `beat` (the sum only grows,
 * so the windows that can win get their exact score).
 */
function meanDistance(a: Grid, b: Grid, beat = Number.POSITIVE_INFINITY): number {
  const { gain, offset } = levels(a, b);
  const av = a.v,
    bv = b.v;
  const m = av.length;
  let s = 0;
  for (let p = 0; p < m; ) {
    for (const end = Math.min(m, p + 48); p < end; p++) s += Math.abs(av[p]! - offset - gain * bv[p]!);
    if (s / m >= beat) return Number.POSITIVE_INFINITY;
  }
  return s / m;
}

/**
 * Per channel, the smallest and largest value of each pixel's 3 × 3 neighbourhood (clamped at the
 * edges). Separable: the extremes of each row's three, then of three rows' (the same values as
 * nine at once, a third of the work).
 */
function envelope(v: Float32Array, n: number): { lo: Float32Array; hi: Float32Array } {
  const row = n * 3;
  const rlo = new Float32Array(v.length),
    rhi = new Float32Array(v.length);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const p = y * row + x * 3,
        l = x > 0 ? p - 3 : p,
        r = x < n - 1 ? p + 3 : p;
      for (let c = 0; c < 3; c++) {
        const t0 = v[l + c]!,
          t1 = v[p + c]!,
          t2 = v[r + c]!;
        let mn = t1,
          mx = t1;
        if (t0 < mn) mn = t0;
        if (t2 < mn) mn = t2;
        if (t0 > mx) mx = t0;
        if (t2 > mx) mx = t2;
        rlo[p + c] = mn;
        rhi[p + c] = mx;
      }
    }
  const lo = new Float32Array(v.length),
    hi = new Float32Array(v.length);
  for (let y = 0; y < n; y++) {
    const up = y > 0 ? -row : 0,
      down = y < n - 1 ? row : 0;
    for (let p = y * row, end = p + row; p < end; p++) {
      const l0 = rlo[p + up]!,
        l1 = rlo[p]!,
        l2 = rlo[p + down]!,
        h0 = rhi[p + up]!,
        h1 = rhi[p]!,
        h2 = rhi[p + down]!;
      lo[p] = Math.min(l0, l1, l2);
      hi[p] = Math.max(h0, h1, h2);
    }
  }
  return { lo, hi };
}

/**
 * The largest mean difference (grey levels) over blocks of side n / BLOCKS, at half-block steps,
 * of two n × n grids, b's levels matched to a's. A pixel differs only by how far it lies outside
 * the range of the other grid's 3 × 3 neighbourhood, both ways: blur, resampling and a sub-pixel
 * shift cost nothing, a stroke that is not there in the other image costs its full contrast.
 */
function blockDistance(fa: Fine, fb: Fine, n: number): number {
  const { gain, offset } = levels(fa.grid, fb.grid);
  const a = fa.grid.v,
    vb = fb.grid.v,
    { lo: alo, hi: ahi } = fa,
    { lo: rlo, hi: rhi } = fb;
  // b's levels matched to a's as float32 (b·gain + offset, gain > 0: its neighbourhood extremes
  // are those of b, matched the same way); the envelope's lower end at most 255, upper at least 0
  const level = (x: number) => Math.fround(offset + gain * x);
  const diff = (p: number): number => {
    const ap = a[p]!,
      bp = level(vb[p]!),
      bhi = Math.max(0, level(rhi[p]!)),
      blo = Math.min(255, level(rlo[p]!));
    let d = 0;
    if (ap - bhi > d) d = ap - bhi;
    if (blo - ap > d) d = blo - ap;
    if (bp - Math.max(0, ahi[p]!) > d) d = bp - Math.max(0, ahi[p]!);
    if (Math.min(255, alo[p]!) - bp > d) d = Math.min(255, alo[p]!) - bp;
    return d;
  };
  // differences summed over channels, then block sums from an integral image
  const integral = new Float64Array((n + 1) * (n + 1));
  for (let y = 0; y < n; y++) {
    let run = 0;
    for (let x = 0; x < n; x++) {
      const p = (y * n + x) * 3;
      run += diff(p) + diff(p + 1) + diff(p + 2);
      integral[(y + 1) * (n + 1) + x + 1] = integral[y * (n + 1) + x + 1]! + run;
    }
  }
  const size = Math.max(2, Math.round(n / BLOCKS)),
    stride = Math.max(1, size >> 1);
  let worst = 0;
  for (let y = 0; y + size <= n; y += stride)
    for (let x = 0; x + size <= n; x += stride) {
      const sum =
        integral[(y + size) * (n + 1) + x + size]! - integral[y * (n + 1) + x + size]! - integral[(y + size) * (n + 1) + x]! + integral[y * (n + 1) + x]!;
      worst = Math.max(worst, sum / (size * size * 3));
    }
  return worst;
}

/** Coarse thumbnails of every window of a view, made once per view (a view meets several others). */
const coarseCache = new WeakMap<PrintView, Grid[]>();
function coarseWindows(v: PrintView): Grid[] {
  let c = coarseCache.get(v);
  if (!c) {
    // windows sharing their rows share the row pass (7 of them for 49 windows)
    const rows = new Map<string, Float32Array>();
    c = WINDOWS.map((w) => {
      const key = `${w.y}:${w.h}`;
      let r = rows.get(key);
      if (!r) {
        r = sampleRows(v.grid, w, COARSE_SIZE);
        rows.set(key, r);
      }
      return grid(sampleColumns(r, w, COARSE_SIZE));
    });
    coarseCache.set(v, c);
  }
  return c;
}

/** A window of a view at the compared scale, with its neighbourhood extremes (envelope). */
interface Fine {
  grid: Grid;
  lo: Float32Array;
  hi: Float32Array;
}

/** Fine windows by view and (window, scale), made once per view: a view meets several others, mostly at the same window. */
const fineCache = new WeakMap<PrintView, Map<number, Fine>>();
function fineWindow(v: PrintView, w: number, n: number): Fine {
  let m = fineCache.get(v);
  if (!m) {
    m = new Map();
    fineCache.set(v, m);
  }
  const key = w * 256 + n;
  let f = m.get(key);
  if (!f) {
    const g = grid(sample(v.grid, WINDOWS[w]!, n));
    f = { grid: g, ...envelope(g.v, n) };
    m.set(key, f);
  }
  return f;
}

/** The distance of two views: the block measure at the window pair that aligns best on the coarse thumbnails. */
function viewDistance(a: PrintView, b: PrintView): number {
  if (Math.abs(Math.log(a.width / a.height / (b.width / b.height))) > MAX_ASPECT_LOG) return NO_MATCH;
  const ca = coarseWindows(a),
    cb = coarseWindows(b);
  // one side's window against the other's whole view: whichever image lost the border
  let best = { score: Number.POSITIVE_INFINITY, wa: 0, wb: 0 };
  for (let i = 0; i < WINDOWS.length; i++) {
    const sa = meanDistance(ca[i]!, cb[0]!, best.score);
    if (sa < best.score) best = { score: sa, wa: i, wb: 0 };
    if (i === 0) continue;
    const sb = meanDistance(ca[0]!, cb[i]!, best.score);
    if (sb < best.score) best = { score: sb, wa: 0, wb: i };
  }
  const n = Math.max(8, Math.min(COMPARE_SIZE, a.width, a.height, b.width, b.height));
  return blockDistance(fineWindow(a, best.wa, n), fineWindow(b, best.wb, n), n);
}

/**
 * How different two prints are, in grey levels (0 = the same pixels, NO_MATCH = of different
 * shapes): the largest block's mean absolute difference at the best alignment, the whole
 * images compared and, when either has a border, the contents (a crop may have cut all of one
 * image's margin), whichever agree better.
 */
export function pixelDistance(a: PixelPrint, b: PixelPrint): number {
  const whole = viewDistance(a.whole, b.whole);
  return a.trimmed || b.trimmed ? Math.min(whole, viewDistance(a.trimmed ?? a.whole, b.trimmed ?? b.whole)) : whole;
}
