import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import type { Sharp } from 'sharp';
import sharp from 'sharp';
import { NitamonoError } from '../../src/errors.js';
import { DEFAULT_MAX_PIXELS, decodeImage, imageMetadata, makeThumbnail, resizeRgb } from '../../src/image/decode.js';
import { assemblePng, tinyBmp } from '../png-craft.js';
import { type TempDir, tempDir } from '../temp-dir.js';

/** Asserts that `p` rejects with a NitamonoError of `code` whose message matches `re`. */
async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<NitamonoError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof NitamonoError, `expected a NitamonoError, got ${String(caught)}`);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  assert.match(caught.message, re);
  return caught;
}

function solid(width: number, height: number, background: string | { r: number; g: number; b: number; alpha?: number }, channels: 3 | 4 = 3) {
  return sharp({ create: { width, height, channels, background } });
}

/** RGB of pixel (x, y). */
function px(img: { data: Uint8Array; width: number }, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * 3;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

function near(actual: number[], expected: number[], tol: number, what: string): void {
  for (const [i, v] of actual.entries()) assert.ok(Math.abs(v - expected[i]!) <= tol, `${what}: got [${actual}], expected ≈ [${expected}] (±${tol})`);
}

// --- a real PNG decompression bomb, built in milliseconds ---------------------------------
/**
 * A valid all-black 8-bit greyscale PNG of size×size whose pixels are really there: the zlib
 * stream is one full-flushed deflate block of 100 zero rows repeated size/100 times (a block
 * after a full flush never refers back, so the copies concatenate), then the final block and the
 * Adler-32 of all those zeros. 20000×20000 = 400 MP in ~400 KB.
 */
function pngBomb(size: number): Buffer {
  const rows = 100;
  assert.equal(size % rows, 0);
  const rowBytes = size + 1; // filter byte + pixels
  const block = zlib.deflateRawSync(Buffer.alloc(rowBytes * rows), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const final = zlib.deflateRawSync(Buffer.alloc(0));
  const total = rowBytes * size;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0); // a = 1, b = total for all-zero data
  const parts: Buffer[] = [Buffer.from([0x78, 0xda])];
  for (let i = 0; i < size / rows; i++) parts.push(block);
  parts.push(final, adler);
  return assemblePng(size, size, 8, 0, Buffer.concat(parts)); // 8-bit greyscale
}

describe('decodeImage: formats', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-decode-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());

  test('JPEG file: RGB bytes, size, format', async () => {
    const p = join(dir, 'red.jpg');
    await solid(300, 200, '#ff0000').jpeg({ quality: 95 }).toFile(p);
    const img = await decodeImage(p);
    assert.equal(img.format, 'jpeg');
    assert.equal(img.width, 300);
    assert.equal(img.height, 200);
    assert.equal(img.originalWidth, 300);
    assert.equal(img.originalHeight, 200);
    assert.ok(img.data instanceof Uint8Array);
    assert.equal(img.data.length, 300 * 200 * 3);
    near(px(img, 150, 100), [255, 0, 0], 3, 'red JPEG');
  });

  test('EXIF orientation 6 is applied: width and height swap, pixels rotate 90° clockwise', async () => {
    // Stored 300×200: left half red, right half blue. Orientation 6 displays it rotated 90° CW,
    // so the stored left column becomes the displayed top row.
    const raw = Buffer.alloc(300 * 200 * 3);
    for (let y = 0; y < 200; y++) {
      for (let x = 0; x < 300; x++) {
        const i = (y * 300 + x) * 3;
        if (x < 150) raw[i] = 255;
        else raw[i + 2] = 255;
      }
    }
    const p = join(dir, 'orient6.jpg');
    await sharp(raw, { raw: { width: 300, height: 200, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(p);
    assert.equal((await sharp(p).metadata()).orientation, 6);
    const img = await decodeImage(p);
    assert.equal(img.width, 200);
    assert.equal(img.height, 300);
    assert.equal(img.originalWidth, 200);
    assert.equal(img.originalHeight, 300);
    near(px(img, 100, 40), [255, 0, 0], 8, 'top is red');
    near(px(img, 100, 260), [0, 0, 255], 8, 'bottom is blue');
    const meta = await imageMetadata(p);
    assert.deepEqual([meta.width, meta.height, meta.format, meta.orientation], [200, 300, 'jpeg', 6]);
    const small = await decodeImage(p, { resize: { width: 100, height: 100, fit: 'inside' } });
    assert.deepEqual([small.width, small.height], [67, 100]);
  });

  test('alpha is flattened onto white', async () => {
    const p = join(dir, 'alpha.png');
    // Left half fully transparent black, right half half-transparent red.
    const raw = Buffer.alloc(40 * 20 * 4);
    for (let y = 0; y < 20; y++) {
      for (let x = 20; x < 40; x++) {
        const i = (y * 40 + x) * 4;
        raw[i] = 255;
        raw[i + 3] = 128;
      }
    }
    await sharp(raw, { raw: { width: 40, height: 20, channels: 4 } })
      .png()
      .toFile(p);
    const img = await decodeImage(p);
    assert.equal(img.data.length, 40 * 20 * 3, '3 bytes per pixel, alpha removed');
    near(px(img, 5, 10), [255, 255, 255], 0, 'transparent → white');
    near(px(img, 30, 10), [255, 127, 127], 2, 'half-transparent red over white');
  });

  test('animated GIF: first frame only', async () => {
    const p = join(dir, 'anim.gif');
    const red = await solid(32, 24, '#ff0000').png().toBuffer();
    const blue = await solid(32, 24, '#0000ff').png().toBuffer();
    await sharp([red, blue], { join: { animated: true } })
      .gif()
      .toFile(p);
    const meta = await sharp(p).metadata();
    assert.equal(meta.pages, 2, 'fixture has two frames');
    const img = await decodeImage(p);
    assert.equal(img.format, 'gif');
    assert.deepEqual([img.width, img.height], [32, 24]);
    near(px(img, 16, 12), [255, 0, 0], 8, 'first frame (red)');
    assert.equal((await imageMetadata(p)).pages, 2);
  });

  for (const [fmt, encode] of [
    ['webp', (s: Sharp) => s.webp({ quality: 95 })],
    ['tiff', (s: Sharp) => s.tiff()],
    ['avif', (s: Sharp) => s.avif({ quality: 90 })],
    ['png', (s: Sharp) => s.png()],
  ] as const) {
    test(`${fmt.toUpperCase()} decodes`, async () => {
      const p = join(dir, `green.${fmt}`);
      await encode(solid(64, 48, '#00c000')).toFile(p);
      const img = await decodeImage(p);
      assert.equal(img.format, fmt);
      assert.deepEqual([img.width, img.height], [64, 48]);
      near(px(img, 32, 24), [0, 192, 0], 8, fmt);
    });
  }

  test('SVG renders (transparent background becomes white)', async () => {
    const p = join(dir, 'shape.svg');
    writeFileSync(p, '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect x="0" y="0" width="20" height="30" fill="#0000ff"/></svg>');
    const img = await decodeImage(p);
    assert.equal(img.format, 'svg');
    assert.deepEqual([img.width, img.height], [40, 30]);
    near(px(img, 5, 15), [0, 0, 255], 2, 'rect');
    near(px(img, 35, 15), [255, 255, 255], 0, 'background');
  });

  test('16-bit greyscale PNG and CMYK JPEG come back as 8-bit RGB', async () => {
    const g = join(dir, 'grey16.png');
    await solid(30, 20, '#646464').toColourspace('grey16').png().toFile(g);
    assert.equal((await sharp(g).metadata()).depth, 'ushort');
    const gi = await decodeImage(g);
    assert.equal(gi.data.length, 30 * 20 * 3);
    near(px(gi, 10, 10), [100, 100, 100], 1, 'grey');
    const c = join(dir, 'cmyk.jpg');
    await solid(30, 20, '#ff0000').toColourspace('cmyk').jpeg().toFile(c);
    const ci = await decodeImage(c);
    assert.equal(ci.data.length, 30 * 20 * 3);
    const [r, gg, b] = px(ci, 10, 10);
    assert.ok(r > 180 && gg < 60 && b < 60, `CMYK red → [${r},${gg},${b}]`);
  });

  test('Buffer input; resize fill and inside (inside never enlarges)', async () => {
    const buf = await solid(400, 100, '#123456').png().toBuffer();
    const fill = await decodeImage(buf, { resize: { width: 224, height: 224, fit: 'fill' } });
    assert.deepEqual([fill.width, fill.height, fill.originalWidth, fill.originalHeight], [224, 224, 400, 100]);
    assert.equal(fill.data.length, 224 * 224 * 3);
    const inside = await decodeImage(buf, { resize: { width: 256, height: 256, fit: 'inside' } });
    assert.deepEqual([inside.width, inside.height], [256, 64]);
    const small = await decodeImage(await solid(20, 10, '#123456').png().toBuffer(), { resize: { width: 256, height: 256, fit: 'inside' } });
    assert.deepEqual([small.width, small.height], [20, 10]);
    near(px(small, 3, 3), [0x12, 0x34, 0x56], 0, 'colour kept');
  });

  test('resizeRgb stretches a raw RGB buffer', async () => {
    const rgb = new Uint8Array(10 * 5 * 3).fill(200);
    const out = await resizeRgb(rgb, 10, 5, { width: 224, height: 224, fit: 'fill' });
    assert.deepEqual([out.width, out.height, out.data.length], [224, 224, 224 * 224 * 3]);
    assert.ok(out.data.every((v) => v === 200));
    await rejectsWith(resizeRgb(rgb, 10, 6, { width: 2, height: 2, fit: 'fill' }), 'INVALID_ARGUMENT', /expected 10×6×3/);
  });

  test('a path with spaces and non-ASCII characters', async () => {
    const sub = join(dir, 'dossier été 写真');
    mkdirSync(sub);
    const p = join(sub, 'ünïcødé phöto 猫.png');
    await solid(12, 8, '#ff8000').png().toFile(p);
    const img = await decodeImage(p);
    assert.deepEqual([img.width, img.height, img.format], [12, 8, 'png']);
    const thumb = await makeThumbnail(p);
    assert.equal((await sharp(thumb).metadata()).format, 'jpeg');
  });
});

describe('decodeImage: bad input', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-decode-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());

  test('zero-byte file → DECODE_FAILED "file is empty"', async () => {
    const p = join(dir, 'photo.jpg');
    writeFileSync(p, '');
    const e = await rejectsWith(decodeImage(p), 'DECODE_FAILED', /file is empty/);
    assert.equal(e.message, `${p}: not a supported image (file is empty)`);
    await rejectsWith(decodeImage(Buffer.alloc(0)), 'DECODE_FAILED', /^<buffer>: not a supported image \(file is empty\)$/);
  });

  test('truncated JPEG → DECODE_FAILED', async () => {
    const full = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    const p = join(dir, 'truncated.jpg');
    writeFileSync(p, full.subarray(0, Math.floor(full.length / 2)));
    await rejectsWith(decodeImage(p), 'DECODE_FAILED', /truncated\.jpg: truncated or corrupt JPEG/);
  });

  test('truncated PNG → DECODE_FAILED', async () => {
    const full = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .png()
      .toBuffer();
    const p = join(dir, 'truncated.png');
    writeFileSync(p, full.subarray(0, Math.floor(full.length / 2)));
    await rejectsWith(decodeImage(p), 'DECODE_FAILED', /truncated\.png: truncated or corrupt PNG/);
  });

  test('a text file named .jpg → DECODE_FAILED "text"', async () => {
    const p = join(dir, 'notes.jpg');
    writeFileSync(p, 'This is not a JPEG.\nJust some notes.\n');
    await rejectsWith(decodeImage(p), 'DECODE_FAILED', /notes\.jpg: not a supported image \(the file is text, not an image\)/);
  });

  test('BMP (unsupported format) → DECODE_FAILED naming BMP', async () => {
    const p = join(dir, 'image.bmp');
    writeFileSync(p, tinyBmp(2, 2));
    await rejectsWith(decodeImage(p), 'DECODE_FAILED', /image\.bmp: not a supported image \(BMP is not a supported format\)/);
  });

  test('random bytes → DECODE_FAILED "unrecognised file format"', async () => {
    const bytes = Buffer.alloc(4096);
    let s = 12345;
    for (let i = 0; i < bytes.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      bytes[i] = s >>> 24;
    }
    bytes[0] = 0x00;
    bytes[1] = 0xfe;
    const p = join(dir, 'random.png');
    writeFileSync(p, bytes);
    await rejectsWith(decodeImage(p), 'DECODE_FAILED', /random\.png: not a supported image \(unrecognised file format\)/);
  });

  test('PNG bomb 20000×20000 → TOO_LARGE from the header, fast', async () => {
    const bomb = pngBomb(20000);
    assert.ok(bomb.length < 1_000_000, `bomb is ${bomb.length} bytes`);
    const p = join(dir, 'bomb.png');
    writeFileSync(p, bomb);
    const meta = await sharp(p, { limitInputPixels: false }).metadata();
    assert.deepEqual([meta.width, meta.height], [20000, 20000]);
    const t0 = performance.now();
    const e = await rejectsWith(decodeImage(p), 'TOO_LARGE', /bomb\.png is 20000×20000 = 400 MP, above the 100 MP limit/);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `refused in ${ms.toFixed(0)} ms`);
    assert.equal(e.message, `${p} is 20000×20000 = 400 MP, above the 100 MP limit`);
    await rejectsWith(makeThumbnail(p), 'TOO_LARGE', /400 MP/);
    assert.equal(DEFAULT_MAX_PIXELS, 100_000_000);
  });

  test('the bomb construction is a real PNG (a 2000×2000 one decodes to black)', async () => {
    const img = await decodeImage(pngBomb(2000), { resize: { width: 50, height: 50, fit: 'inside' } });
    assert.deepEqual([img.originalWidth, img.originalHeight, img.width], [2000, 2000, 50]);
    assert.ok(img.data.every((v) => v === 0));
  });

  test('maxPixels option', async () => {
    const buf = await solid(300, 200, '#ffffff').png().toBuffer();
    await rejectsWith(decodeImage(buf, { maxPixels: 10_000 }), 'TOO_LARGE', /^<buffer> is 300×200 = 0\.06 MP, above the 0\.01 MP limit$/);
    assert.equal((await decodeImage(buf, { maxPixels: 60_000 })).width, 300);
    await rejectsWith(decodeImage(buf, { maxPixels: -1 }), 'INVALID_ARGUMENT', /maxPixels/);
  });

  test('missing file → NOT_FOUND', async () => {
    const p = join(dir, 'no-such-file.jpg');
    await rejectsWith(decodeImage(p), 'NOT_FOUND', /no-such-file\.jpg: no such file/);
    await rejectsWith(imageMetadata(p), 'NOT_FOUND', /no such file/);
    await rejectsWith(makeThumbnail(p), 'NOT_FOUND', /no such file/);
  });

  test('a directory → IO', async () => {
    await rejectsWith(decodeImage(dir), 'IO', /is a directory/);
  });

  test('unreadable file (chmod 000) → IO', async (t) => {
    if (process.getuid?.() === 0) {
      t.skip('running as root: chmod 000 does not stop root from reading (the directory case covers IO)');
      return;
    }
    const p = join(dir, 'locked.png');
    await solid(4, 4, '#000000').png().toFile(p);
    chmodSync(p, 0o000);
    await rejectsWith(decodeImage(p), 'IO', /permission denied/);
  });

  test('bad resize arguments → INVALID_ARGUMENT', async () => {
    const buf = await solid(4, 4, '#000000').png().toBuffer();
    await rejectsWith(decodeImage(buf, { resize: { width: 0, height: 4, fit: 'fill' } }), 'INVALID_ARGUMENT', /resize\.width/);
    await rejectsWith(decodeImage(buf, { resize: { width: 4, height: 4, fit: 'cover' as 'fill' } }), 'INVALID_ARGUMENT', /fit/);
  });
});

describe('imageMetadata and makeThumbnail', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-decode-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());

  test('imageMetadata reads only the header (a 400 MP bomb is fine to describe)', async () => {
    const t0 = performance.now();
    const m = await imageMetadata(pngBomb(20000));
    assert.deepEqual(m, { width: 20000, height: 20000, format: 'png' });
    assert.ok(performance.now() - t0 < 1000);
    await rejectsWith(imageMetadata(Buffer.from('hello, world')), 'DECODE_FAILED', /text/);
  });

  test('thumbnail: JPEG within size, rotated, flattened; WebP option', async () => {
    const p = join(dir, 'big-orient.jpg');
    await solid(1200, 600, '#3366cc').jpeg().withMetadata({ orientation: 6 }).toFile(p);
    const t = await makeThumbnail(p);
    const m = await sharp(t).metadata();
    assert.equal(m.format, 'jpeg');
    assert.deepEqual([m.width, m.height], [128, 256]);
    assert.equal(m.orientation, undefined, 'metadata stripped, pixels already rotated');
    const w = await makeThumbnail(p, 64, { format: 'webp' });
    const wm = await sharp(w).metadata();
    assert.deepEqual([wm.format, wm.width, wm.height], ['webp', 32, 64]);
    const transparent = await solid(10, 10, { r: 0, g: 0, b: 0, alpha: 0 }, 4).png().toBuffer();
    const tt = await decodeImage(await makeThumbnail(transparent));
    near(px(tt, 5, 5), [255, 255, 255], 2, 'thumbnail alpha → white');
    await rejectsWith(makeThumbnail(p, 0), 'INVALID_ARGUMENT', /size/);
  });
});
