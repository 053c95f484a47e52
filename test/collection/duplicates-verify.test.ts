/**
 * The pixel check of near-duplicates: a series of one drawing with one small local change (a
 * clock at other hours, a face with another mouth) is close in deep features but is not grouped,
 * while a resized and recompressed copy is; without the check (--no-verify) the series is.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { Collection } from '../../src/collection/collection.js';
import { DUPLICATE_CANDIDATE_THRESHOLDS, type DuplicateReport, PIXEL_DUPLICATE_THRESHOLD } from '../../src/collection/duplicates.js';
import { makeCopy, sceneJpeg } from '../../src/eval/near-duplicates.js';
import { NO_MATCH, pixelDistance, pixelPrint } from '../../src/image/pixel-match.js';
import { PixelMatcher } from '../../src/image/pixel-match-pool.js';
import { rng } from '../../src/util/random.js';
import { removeDir, runCli, tempDir } from './helpers.js';

/** A clock face at h:m, 256 px, on white (the demo's clocks are drawn like this, one per hour). */
function clock(h: number, m: number): Buffer {
  const hand = (angle: number, length: number, width: number) => {
    const a = (angle * Math.PI) / 180;
    return `<line x1="128" y1="128" x2="${128 + length * Math.sin(a)}" y2="${128 - length * Math.cos(a)}" stroke="#222" stroke-width="${width}" stroke-linecap="round"/>`;
  };
  let ticks = '';
  for (let i = 0; i < 12; i++) ticks += `<rect x="124" y="22" width="8" height="22" fill="#333" transform="rotate(${i * 30} 128 128)"/>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="#fff"/>
    <circle cx="128" cy="128" r="116" fill="#f4f0e0" stroke="#335" stroke-width="10"/>${ticks}
    ${hand((h % 12) * 30 + m / 2, 62, 12)}${hand(m * 6, 92, 7)}<circle cx="128" cy="128" r="9" fill="#a00"/></svg>`;
  return Buffer.from(svg);
}

/** A round face with eyes and a mouth: a smile, a straight line or an open mouth. */
function face(mouth: 'smile' | 'line' | 'open'): Buffer {
  const m = {
    smile: '<path d="M78 160 Q128 200 178 160" stroke="#000" stroke-width="5" fill="none"/>',
    line: '<line x1="84" y1="170" x2="172" y2="170" stroke="#000" stroke-width="5"/>',
    open: '<ellipse cx="128" cy="172" rx="30" ry="14" fill="#c00"/>',
  }[mouth];
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><circle cx="128" cy="128" r="120" fill="#f9a030"/><circle cx="90" cy="96" r="11" fill="#333"/><circle cx="166" cy="96" r="11" fill="#333"/>${m}</svg>`,
  );
}

const png = (svg: Buffer) => sharp(svg).png().toBuffer();

/** A resized (40–80 %) copy, then recompressed as JPEG (quality 60–90): two copy kinds of the benchmark in a row. */
async function resizedRecompressed(data: Buffer, seed: number): Promise<Buffer> {
  const rand = rng(seed);
  const small = await makeCopy('resized', data, '.png', rand);
  return (await makeCopy('recompressed', small.data, small.ext, rand)).data;
}

const groupsOf = (r: DuplicateReport) => r.groups.map((g) => g.images.map((i) => i.path).sort());

describe('duplicates: the pixel check', () => {
  let root: string;
  let images: string;
  let c: Collection;
  const clockSeries = ['clocks/03-00.png', 'clocks/03-10.png', 'clocks/04-00.png'];
  const faceSeries = ['faces/smile.png', 'faces/line.png', 'faces/open.png'];
  const copies = ['copies/03-00.jpg', 'copies/smile.jpg'];

  before(async () => {
    root = await tempDir();
    images = join(root, 'images');
    for (const d of ['clocks', 'faces', 'copies', 'other']) await mkdir(join(images, d), { recursive: true });
    const clocks = [await png(clock(3, 0)), await png(clock(3, 10)), await png(clock(4, 0))];
    const faces = [await png(face('smile')), await png(face('line')), await png(face('open'))];
    for (const [i, data] of clocks.entries()) await writeFile(join(images, clockSeries[i]!), data);
    for (const [i, data] of faces.entries()) await writeFile(join(images, faceSeries[i]!), data);
    await writeFile(join(images, copies[0]!), await resizedRecompressed(clocks[0]!, 3));
    await writeFile(join(images, copies[1]!), await resizedRecompressed(faces[0]!, 4));
    for (const s of [21, 22, 23]) await writeFile(join(images, 'other', `scene${s}.jpg`), await sceneJpeg(s));
    c = await Collection.open(join(root, 'col'), { create: true, root: images, features: ['deep'], threads: 2 });
    await c.update();
  });
  after(async () => {
    await c?.close();
    await removeDir(root);
  });

  test('the series stays apart, each copy joins its original; without the check the series is one group', async () => {
    const r = await c.findDuplicates();
    assert.equal(r.verified, true);
    assert.equal(r.threshold, DUPLICATE_CANDIDATE_THRESHOLDS[`deep:${r.model}`]);
    assert.equal(r.pixel_threshold, PIXEL_DUPLICATE_THRESHOLD);
    assert.ok(r.pixel_pairs! > 0 && r.pixel_ms! >= 0);
    assert.deepEqual(groupsOf(r).sort(), [[copies[0]!, clockSeries[0]!].sort(), [copies[1]!, faceSeries[0]!].sort()].sort());
    for (const g of r.groups) assert.ok(g.max_pixel_distance! <= PIXEL_DUPLICATE_THRESHOLD);

    // the same candidates without the pixel check: the look-alikes are grouped (the check is what keeps them apart)
    const loose = await c.findDuplicates({ threshold: r.threshold, verify: false });
    assert.equal(loose.verified, false);
    assert.equal(loose.pixel_pairs, undefined);
    const withSeries = groupsOf(loose).filter((g) => g.some((p) => clockSeries.slice(1).includes(p) || faceSeries.slice(1).includes(p)));
    assert.ok(withSeries.length > 0, JSON.stringify(groupsOf(loose)));
  });

  test('pixel distances: copies small, one changed region large, another shape no match; unreadable files NaN', async () => {
    const p = (rel: string) => pixelPrint(join(images, rel));
    const [c300, c310, copy, smile, open] = await Promise.all([p(clockSeries[0]!), p(clockSeries[1]!), p(copies[0]!), p(faceSeries[0]!), p(faceSeries[2]!)]);
    assert.equal(pixelDistance(c300, c300), 0);
    assert.ok(pixelDistance(c300, copy) <= PIXEL_DUPLICATE_THRESHOLD, String(pixelDistance(c300, copy)));
    assert.ok(pixelDistance(c300, c310) > 2 * PIXEL_DUPLICATE_THRESHOLD, String(pixelDistance(c300, c310)));
    assert.ok(pixelDistance(smile, open) > 2 * PIXEL_DUPLICATE_THRESHOLD, String(pixelDistance(smile, open)));
    // the same drawing squeezed to half its width is another shape
    const squeezed = await pixelPrint(await sharp(clock(3, 0)).resize(128, 256, { fit: 'fill' }).png().toBuffer());
    assert.equal(pixelDistance(c300, squeezed), NO_MATCH);

    const m = new PixelMatcher(2);
    try {
      const d = await m.distances([
        [join(images, clockSeries[0]!), join(images, copies[0]!)],
        [join(images, clockSeries[0]!), join(images, 'missing.png')],
        [join(images, clockSeries[0]!), join(images, clockSeries[1]!)],
      ]);
      assert.equal(d[0], Math.fround(pixelDistance(c300, copy)));
      assert.ok(Number.isNaN(d[1]));
      assert.equal(d[2], Math.fround(pixelDistance(c300, c310)));
    } finally {
      await m.close();
    }
  });

  test('CLI: --no-verify, and the JSON says whether the groups were verified', async () => {
    const col = join(root, 'col');
    const v = await runCli(['duplicates', '--collection', col, '--json']);
    assert.equal(v.code, 0, v.stderr);
    const out = JSON.parse(v.stdout);
    assert.equal(out.verified, true);
    assert.equal(out.groups.length, 2);
    for (const g of out.groups) assert.ok(typeof g.max_pixel_distance === 'number' && typeof g.max_distance === 'number');
    const n = await runCli(['duplicates', '--collection', col, '--no-verify', '--threshold', String(out.threshold), '--json']);
    assert.equal(n.code, 0, n.stderr);
    const loose = JSON.parse(n.stdout);
    assert.equal(loose.verified, false);
    assert.ok(loose.groups.every((g: { max_pixel_distance?: number }) => g.max_pixel_distance === undefined));
    assert.ok(loose.images_in_groups > out.images_in_groups);
  });
});
