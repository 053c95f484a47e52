import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { NitamonoError } from '../../src/errors.js';
import { colorHistogram } from '../../src/image/color.js';
import { decodeFeatureImage, resizeRgb } from '../../src/image/decode.js';
import { DEFAULT_DEEP_MODEL, DeepEmbedder, deepDim } from '../../src/image/deep.js';
import { type ExtractedImage, FeatureExtractor } from '../../src/image/extract.js';
import { rng } from '../../src/util/random.js';
import { type TempDir, tempDir } from '../temp-dir.js';

async function photo(seed: number, w: number, h: number): Promise<Buffer> {
  const r = rng(seed);
  const small = Buffer.alloc(10 * 8 * 3);
  for (let i = 0; i < small.length; i++) small[i] = Math.floor(r() * 256);
  return sharp(small, { raw: { width: 10, height: 8, channels: 3 } })
    .resize(w, h, { kernel: 'cubic' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/**
 * Writes the test images into `dir` and returns their paths; deterministic, and it touches nothing
 * outside `dir`. `good`: ten photos (half of them in a sub-folder with a non-ASCII name) and a
 * half-transparent PNG. `bad`: an empty file, a text file, a missing path and a directory.
 */
async function makeImages(dir: string): Promise<{ good: string[]; bad: Record<string, string> }> {
  const good: string[] = [];
  const bad: Record<string, string> = {};
  const sub = join(dir, 'sous dossier ü');
  mkdirSync(sub);
  for (let i = 0; i < 10; i++) {
    const p = join(i % 2 ? sub : dir, `photo ${i}.jpg`);
    writeFileSync(p, await photo(i + 1, 500 + 37 * i, 400 - 11 * i));
    good.push(p);
  }
  const png = join(dir, 'alpha.png');
  await sharp({ create: { width: 50, height: 30, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 0.5 } } })
    .png()
    .toFile(png);
  good.push(png);
  bad['empty.jpg'] = join(dir, 'empty.jpg');
  writeFileSync(bad['empty.jpg'], '');
  bad['text.jpg'] = join(dir, 'text.jpg');
  writeFileSync(bad['text.jpg'], 'just text\n');
  bad['missing.jpg'] = join(dir, 'missing.jpg');
  bad['dir'] = sub;
  return { good, bad };
}

function expectOk(r: ExtractedImage): asserts r is Extract<ExtractedImage, { ok: true }> {
  assert.ok(r.ok, `expected ok, got ${r.ok ? '' : `${r.code}: ${r.error}`}`);
}

describe('FeatureExtractor: colour', () => {
  let tmp: TempDir | undefined;
  let good: string[];
  let bad: Record<string, string>;
  let fx: FeatureExtractor;
  before(async () => {
    tmp = tempDir('nitamono-extract-');
    ({ good, bad } = await makeImages(tmp.path));
    fx = new FeatureExtractor({ kinds: ['color'], threads: 2 });
  });
  after(async () => {
    await fx?.close();
    tmp?.dispose();
  });

  test('dims', () => {
    assert.deepEqual(fx.dims, { color: 12 });
    assert.deepEqual(new FeatureExtractor({ kinds: ['color'], colorBins: 8 }).dims, { color: 24 });
    assert.deepEqual(new FeatureExtractor({ kinds: ['color', 'deep'], deepModel: 'mobilenetv2-mid' }).dims, { color: 12, deep: 1792 });
  });

  test('extract(path) equals colorHistogram of decodeFeatureImage', async () => {
    const r = await fx.extract(good[3]!);
    expectOk(r);
    assert.equal(r.path, good[3]);
    const img = await decodeFeatureImage(good[3]!);
    assert.deepEqual(Array.from(r.features.color!), Array.from(colorHistogram(img.data, img.width, img.height)));
    assert.equal(r.features.deep, undefined);
    assert.deepEqual([r.width, r.height, r.format], [img.originalWidth, img.originalHeight, 'jpeg']);
  });

  test('extract(Buffer) → path <buffer>; the caller’s buffer stays usable', async () => {
    const buf = await photo(99, 300, 200);
    const copy = Buffer.from(buf);
    const r = await fx.extract(buf);
    expectOk(r);
    assert.equal(r.path, '<buffer>');
    assert.deepEqual(buf, copy);
    const bad = await fx.extract(Buffer.from('nope'));
    assert.equal(bad.ok, false);
    assert.equal(bad.path, '<buffer>');
  });

  test('extractMany: every input comes back once, bad files as ok:false with their code', async () => {
    const paths = [...good, ...Object.values(bad)];
    const progress: Array<[number, number]> = [];
    const seen = new Map<string, ExtractedImage>();
    for await (const r of fx.extractMany(paths, { onProgress: (d, t) => progress.push([d, t]) })) {
      assert.ok(!seen.has(r.path), `duplicate ${r.path}`);
      seen.set(r.path, r);
    }
    assert.equal(seen.size, paths.length);
    assert.equal(progress.length, paths.length);
    assert.deepEqual(progress.at(-1), [paths.length, paths.length]);
    for (const p of good) {
      const r = seen.get(p)!;
      expectOk(r);
      assert.equal(r.features.color!.length, 12);
      const sums = [0, 1, 2].map((c) => r.features.color!.subarray(c * 4, c * 4 + 4).reduce((a, b) => a + b, 0));
      for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5);
    }
    const code = (k: string) => {
      const r = seen.get(bad[k]!)!;
      assert.equal(r.ok, false);
      return r.ok ? '' : `${r.code} ${r.error}`;
    };
    assert.match(code('empty.jpg'), /^DECODE_FAILED .*empty\.jpg: not a supported image \(file is empty\)$/);
    assert.match(code('text.jpg'), /^DECODE_FAILED .*text/);
    assert.match(code('missing.jpg'), /^NOT_FOUND /);
    assert.match(code('dir'), /^IO .*directory/);
  });

  test('maxPixels reaches the workers', async () => {
    const small = new FeatureExtractor({ kinds: ['color'], threads: 1, maxPixels: 1000 });
    try {
      const r = await small.extract(good[0]!);
      assert.equal(r.ok, false);
      assert.equal(r.ok ? '' : r.code, 'TOO_LARGE');
    } finally {
      await small.close();
    }
  });

  test('breaking out of extractMany early is fine, and the extractor stays usable', async () => {
    let n = 0;
    for await (const r of fx.extractMany([...good, ...good])) {
      void r;
      if (++n === 3) break;
    }
    const r = await fx.extract(good[0]!);
    expectOk(r);
  });

  test('a worker that dies mid-job is replaced and its jobs retried', async () => {
    const fx2 = new FeatureExtractor({ kinds: ['color'], threads: 1 });
    try {
      await fx2.start();
      const slots = (fx2 as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots;
      const pending = Promise.all(good.slice(0, 4).map((p) => fx2.extract(p)));
      await slots[0]!.worker.terminate();
      const results = await pending;
      for (const r of results) expectOk(r);
      expectOk(await fx2.extract(good[5]!));
    } finally {
      await fx2.close();
    }
  });

  test('empty list; invalid options', async () => {
    for await (const r of fx.extractMany([])) assert.fail(`unexpected ${r.path}`);
    for (const o of [{ kinds: [] }, { kinds: ['colour'] }, { kinds: ['color'], threads: 0 }, { kinds: ['deep'], deepModel: 'vgg' }]) {
      assert.throws(
        () => new FeatureExtractor(o as never),
        (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT',
      );
    }
  });
});

describe('FeatureExtractor: colour + deep', () => {
  let tmp: TempDir | undefined;
  let good: string[];
  let bad: Record<string, string>;
  let fx: FeatureExtractor;
  before(async () => {
    tmp = tempDir('nitamono-extract-');
    ({ good, bad } = await makeImages(tmp.path));
    fx = new FeatureExtractor({ kinds: ['color', 'deep'], threads: 1 });
    await fx.start();
  });
  after(async () => {
    await fx?.close();
    tmp?.dispose();
  });

  test('deep vector equals DeepEmbedder on the same decode, stretched to 224×224', async () => {
    const r = await fx.extract(good[2]!);
    expectOk(r);
    assert.equal(r.features.deep!.length, deepDim(DEFAULT_DEEP_MODEL));
    assert.equal(r.features.color!.length, 12);
    const img = await decodeFeatureImage(good[2]!);
    const cnn = await resizeRgb(img.data, img.width, img.height, { width: 224, height: 224, fit: 'fill' });
    const emb = await DeepEmbedder.create(DEFAULT_DEEP_MODEL);
    try {
      const ref = await emb.embed([cnn.data]);
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - r.features.deep![i]!));
      assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
    } finally {
      emb.dispose();
    }
  });

  test('batched in the worker, main thread stays responsive', async () => {
    // Event-loop lag: a 10 ms interval should never be late by much while the CNN runs in the worker.
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last - 10);
      last = now;
    }, 10);
    const out: ExtractedImage[] = [];
    try {
      for await (const r of fx.extractMany([...good, bad['empty.jpg']!])) out.push(r);
    } finally {
      clearInterval(timer);
    }
    assert.equal(out.length, good.length + 1);
    assert.equal(out.filter((r) => r.ok).length, good.length);
    for (const r of out) if (r.ok) assert.ok(Math.abs(Math.hypot(...r.features.deep!) - 1) < 1e-4);
    // One CNN batch of these images takes ≥ 0.5 s of CPU; were it on this thread, the timer would
    // be that late. The margin allows for a machine shared with other busy processes.
    assert.ok(worst < 300, `main-thread event loop was late by ${worst.toFixed(0)} ms`);
  });

  test('a model that cannot load rejects extract (it is not a bad file) and stops the pool', async () => {
    const fx2 = new FeatureExtractor({ kinds: ['deep'], threads: 2 });
    // Simulate a broken model: the worker gets a model name it cannot load.
    (fx2 as unknown as { init: { deep: string } }).init.deep = 'no-such-model';
    try {
      await assert.rejects(fx2.extract(good[0]!), /cannot load deep model no-such-model/);
      await assert.rejects(fx2.extract(good[1]!), /cannot load deep model/);
      const out: unknown[] = [];
      await assert.rejects(async () => {
        for await (const r of fx2.extractMany(good.slice(0, 3))) out.push(r);
      }, /cannot load deep model/);
      assert.equal(out.length, 0);
    } finally {
      await fx2.close();
    }
  });

  test('close(): later calls reject', async () => {
    const fx2 = new FeatureExtractor({ kinds: ['color'], threads: 1 });
    expectOk(await fx2.extract(good[0]!));
    await fx2.close();
    await assert.rejects(fx2.extract(good[0]!), /closed/);
    await fx2.close();
  });
});
