import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { NitamonoError } from '../../src/errors.js';
import {
  COLOR_SIZE,
  colorDim,
  colorHistogram,
  DEFAULT_COLOR_BINS,
  FEATURE_MAX_SIDE,
  featureImageSize,
  histogramL1,
  jointColorHistogram,
} from '../../src/image/color.js';
import { decodeFeatureImage, decodeImage } from '../../src/image/decode.js';
import { rng } from '../../src/util/random.js';
import { type TempDir, tempDir } from '../temp-dir.js';

function assertClose(actual: Float32Array, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `component ${i}: got [${Array.from(actual).map((v) => v.toFixed(4))}], expected [${expected}]`);
  }
}

function channelSums(h: Float32Array, bins: number): number[] {
  return [0, 1, 2].map((c) => h.subarray(c * bins, (c + 1) * bins).reduce((a, b) => a + b, 0));
}

/** Photo-like test image: smooth random colour blobs plus grain, as a JPEG buffer. */
async function photoLike(seed: number, w = 1200, h = 900): Promise<Buffer> {
  const r = rng(seed);
  const sw = 6 + Math.floor(r() * 20);
  const sh = 5 + Math.floor(r() * 15);
  const small = Buffer.alloc(sw * sh * 3);
  for (let i = 0; i < small.length; i++) small[i] = Math.floor(r() * 256);
  const base = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(w, h, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i]! + Math.floor((r() - 0.5) * 24)));
  return sharp(base, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe('colorHistogram (the seed lecture’s per-channel RGB histogram)', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-color-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());

  test('PNG with exactly 3/4 red and 1/4 blue pixels → the expected 12-d vector', async () => {
    const w = 40;
    const h = 20;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 3;
        if (x < 30)
          raw[i] = 255; // 30 of 40 columns red
        else raw[i + 2] = 255; // 10 of 40 blue
      }
    }
    const p = join(dir, 'red-blue.png');
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toFile(p);
    const img = await decodeImage(p);
    const hist = colorHistogram(img.data, img.width, img.height);
    //            R: 0    1  2  3      G: all 0     B: 0     1  2  3
    assertClose(hist, [0.25, 0, 0, 0.75, 1, 0, 0, 0, 0.75, 0, 0, 0.25]);
    assert.equal(DEFAULT_COLOR_BINS, 4);
    assert.equal(colorDim(), 12);
  });

  test('bin = floor(v · bins / 256) at the boundaries', () => {
    const values = [0, 63, 64, 127, 128, 191, 192, 255];
    const rgb = new Uint8Array(values.length * 3);
    values.forEach((v, i) => {
      rgb[i * 3] = v; // R takes the values
      rgb[i * 3 + 1] = 255 - v;
      rgb[i * 3 + 2] = 128;
    });
    const h = colorHistogram(rgb, values.length, 1, 4);
    assertClose(h.subarray(0, 4), [0.25, 0.25, 0.25, 0.25]);
    assertClose(h.subarray(4, 8), [0.25, 0.25, 0.25, 0.25]);
    assertClose(h.subarray(8, 12), [0, 0, 1, 0]);
    // 3 bins (not a power of two): floor(v·3/256): 85 → 0, 86 → 1, 170 → 1, 171 → 2.
    const r3 = new Uint8Array([85, 0, 0, 86, 0, 0, 170, 0, 0, 171, 0, 0]);
    assertClose(colorHistogram(r3, 4, 1, 3).subarray(0, 3), [0.25, 0.5, 0.25]);
  });

  test('solid colours put all the mass in one bin per channel', async () => {
    for (const [hex, rgb] of [
      ['#000000', [0, 0, 0]],
      ['#ffffff', [255, 255, 255]],
      ['#40c080', [0x40, 0xc0, 0x80]],
    ] as const) {
      const buf = await sharp({ create: { width: 17, height: 9, channels: 3, background: hex } })
        .png()
        .toBuffer();
      const img = await decodeImage(buf);
      for (const bins of [1, 2, 4, 8, 16, 64, 256]) {
        const h = colorHistogram(img.data, img.width, img.height, bins);
        assert.equal(h.length, 3 * bins);
        const expected = new Array<number>(3 * bins).fill(0);
        for (const [c, v] of rgb.entries()) expected[c * bins + Math.floor((v * bins) / 256)] = 1;
        assertClose(h, expected);
      }
    }
  });

  test('a full horizontal gradient spreads evenly over the bins', async () => {
    const w = 256;
    const raw = Buffer.alloc(w * 10 * 3);
    for (let y = 0; y < 10; y++) for (let x = 0; x < w; x++) raw[(y * w + x) * 3] = x;
    const h = colorHistogram(new Uint8Array(raw), w, 10, 4);
    assertClose(h, [0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0, 1, 0, 0, 0]);
    const h8 = colorHistogram(new Uint8Array(raw), w, 10, 8);
    assertClose(h8.subarray(0, 8), new Array(8).fill(0.125));
  });

  test('each channel sums to 1 on a photo-like image', async () => {
    const img = await decodeImage(await photoLike(7));
    for (const bins of [4, 8, 10]) {
      const h = colorHistogram(img.data, img.width, img.height, bins);
      for (const s of channelSums(h, bins)) assert.ok(Math.abs(s - 1) < 1e-5, `channel sum ${s}`);
    }
  });

  test(`downscaling to the feature size (short side ${COLOR_SIZE} px) barely changes the histogram`, async (t) => {
    let worst = 0;
    let sum = 0;
    const n = 6;
    for (let seed = 1; seed <= n; seed++) {
      const jpg = await photoLike(seed * 31);
      const full = await decodeImage(jpg);
      const small = await decodeFeatureImage(jpg);
      assert.equal(Math.min(small.width, small.height), COLOR_SIZE);
      for (const bins of [4, 8]) {
        const d = histogramL1(colorHistogram(full.data, full.width, full.height, bins), colorHistogram(small.data, small.width, small.height, bins));
        worst = Math.max(worst, d);
        if (bins === 4) sum += d;
      }
    }
    // L1 ranges over [0, 6] (3 channels × 2); an image-to-image distance between different
    // photos is typically 0.5–3. The downscale moves the vector by a few thousandths.
    t.diagnostic(`L1(full, ${COLOR_SIZE}px): mean ${(sum / n).toFixed(4)} (4 bins), worst ${worst.toFixed(4)} (4 or 8 bins)`);
    assert.ok(worst < 0.05, `worst L1 ${worst}`);
  });

  test('featureImageSize: short side COLOR_SIZE, long side capped, never enlarged', async () => {
    assert.equal(COLOR_SIZE, 224);
    assert.deepEqual(featureImageSize(1000, 800), { width: 280, height: 224 });
    assert.deepEqual(featureImageSize(800, 1000), { width: 224, height: 280 });
    assert.deepEqual(featureImageSize(4032, 3024), { width: 299, height: 224 });
    assert.deepEqual(featureImageSize(1920, 1080), { width: 398, height: 224 });
    assert.deepEqual(featureImageSize(224, 224), { width: 224, height: 224 });
    assert.deepEqual(featureImageSize(28, 28), { width: 28, height: 28 });
    assert.deepEqual(featureImageSize(300, 100), { width: 300, height: 100 });
    assert.deepEqual(featureImageSize(20000, 1000), { width: FEATURE_MAX_SIDE, height: 51 });
    const img = await decodeFeatureImage(await photoLike(3, 1000, 800));
    assert.deepEqual([img.width, img.height, img.originalWidth, img.originalHeight], [280, 224, 1000, 800]);
    assert.equal(img.data.length, 280 * 224 * 3);
  });

  test('invalid arguments → INVALID_ARGUMENT', () => {
    const rgb = new Uint8Array(12);
    for (const f of [
      () => colorHistogram(rgb, 2, 3),
      () => colorHistogram(rgb, 0, 4),
      () => colorHistogram(rgb, 2, 2, 0),
      () => colorHistogram(rgb, 2, 2, 257),
      () => colorHistogram(rgb, 2, 2, 2.5),
      () => jointColorHistogram(rgb, 2, 2, 17),
    ]) {
      assert.throws(f, (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT');
    }
  });
});

describe('jointColorHistogram', () => {
  test('bins³ cells summing to 1; tells red+green from yellow+black where per-channel cannot', () => {
    // Image A: half red (255,0,0), half green (0,255,0). Image B: half yellow (255,255,0), half black.
    const a = new Uint8Array([255, 0, 0, 0, 255, 0]);
    const b = new Uint8Array([255, 255, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(colorHistogram(a, 2, 1)), Array.from(colorHistogram(b, 2, 1)), 'per-channel histograms are identical');
    const ja = jointColorHistogram(a, 2, 1, 4);
    const jb = jointColorHistogram(b, 2, 1, 4);
    assert.equal(ja.length, 64);
    assert.ok(Math.abs(ja.reduce((x, y) => x + y, 0) - 1) < 1e-6);
    assert.ok(histogramL1(ja, jb) > 1.9, 'joint histograms differ completely');
  });
});
