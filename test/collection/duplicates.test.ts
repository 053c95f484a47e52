/**
 * Near-duplicates on a generated set: originals (demo clip-art and generated scenes) with a
 * resized, recompressed, 5 %-cropped and converted copy each, unrelated images, and exact copies;
 * colour and deep features at their calibrated default thresholds, the approximate path, bad
 * input, and the CLI's JSON.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Collection } from '../../src/collection/collection.js';
import type { DuplicateReport } from '../../src/collection/duplicates.js';
import { progressFromCallback } from '../../src/collection/progress.js';
import { COPY_KINDS, type SetFile, type SourceImage, sceneJpeg, scoreDuplicateGroups, writeDuplicateSet } from '../../src/eval/near-duplicates.js';
import { expectError } from '../assert-error.js';
import { removeDir, runCli, tempDir } from './helpers.js';

const DEMO = fileURLToPath(new URL('../../../demo/images/', import.meta.url));
const demo = (cat: string, file: string): SourceImage => ({ name: `${cat}-${file.replace('.png', '')}`, file: join(DEMO, cat, file) });
const scene = async (seed: number): Promise<SourceImage> => ({ name: `scene${seed}`, bytes: { data: await sceneJpeg(seed), ext: '.jpg' } });

const groupsOf = (r: DuplicateReport) => r.groups.map((g) => g.images.map((i) => i.path));

describe('duplicates: generated copies among unrelated images', () => {
  let root: string;
  let files: SetFile[];
  let c: Collection;

  before(async () => {
    root = await tempDir();
    // photo-like originals (the defaults meet the target there; clip-art they do not: BENCHMARKS.md)
    const originals = [await scene(1), await scene(2), await scene(3), await scene(4)];
    const unrelated = [demo('fruit', 'an_apple_01.png'), demo('flags', 'cambodia.png'), demo('smilies', 'base.png'), await scene(5), await scene(6)];
    const images = join(root, 'images');
    files = await writeDuplicateSet(images, originals, unrelated, 5);
    // byte-identical copies: one of an original (joins its group), one of an unrelated image
    await mkdir(join(images, 'extra'));
    const first = files[0]!.relpath;
    const lone = files.find((f) => f.kind === 'unrelated')!.relpath;
    await copyFile(join(images, first), join(images, 'extra', `same${first.slice(first.lastIndexOf('.'))}`));
    await copyFile(join(images, lone), join(images, 'extra', `lone${lone.slice(lone.lastIndexOf('.'))}`));
    files.push({ relpath: `extra/same${first.slice(first.lastIndexOf('.'))}`, group: files[0]!.group, kind: 'original' });
    files.push({ relpath: `extra/lone${lone.slice(lone.lastIndexOf('.'))}`, group: 'lone', kind: 'original' });
    files.find((f) => f.relpath === lone)!.group = 'lone';
    c = await Collection.open(join(root, 'col'), { create: true, root: images, features: ['color', 'deep'], threads: 2 });
    await c.update();
  });
  after(async () => {
    await c?.close();
    await removeDir(root);
  });

  for (const kind of ['color', 'deep'] as const) {
    test(`${kind}: every copy is grouped with its original, nothing unrelated is`, async () => {
      const events: string[] = [];
      const r = await c.findDuplicates({ features: kind, progress: progressFromCallback((e) => e.phase === 'end' && events.push(`${e.step} ${e.done}`)) });
      assert.equal(r.threshold_source, 'default');
      assert.equal(r.method, 'exact');
      assert.equal(r.n, files.length);
      assert.deepEqual(events[0], `duplicates ${files.length}`);
      // then the pixel check of the links, and of the other pairs inside verified sets
      assert.ok(events.length >= 2 && events.slice(1).every((e) => /^pixel check [1-9]/.test(e)), events.join());
      const s = scoreDuplicateGroups(files, groupsOf(r));
      assert.equal(s.all.precision, 1, JSON.stringify(groupsOf(r)));
      assert.equal(s.all.recall, 1, JSON.stringify(groupsOf(r)));
      for (const k of COPY_KINDS) assert.equal(s[k].recall, 1, k);
      // exact copies: the lone pair is an exact group at distance 0, first; the copy of an original is flagged in its group
      assert.equal(r.groups[0]!.exact, true);
      assert.equal(r.groups[0]!.max_distance, 0);
      assert.deepEqual(
        r.groups[0]!.images.map((i) => i.path).sort(),
        files
          .filter((f) => f.group === 'lone')
          .map((f) => f.relpath)
          .sort(),
      );
      const mixed = r.groups.find((g) => g.images.some((i) => i.path.startsWith('extra/same')))!;
      assert.equal(mixed.exact, false);
      assert.deepEqual(mixed.images.filter((i) => i.exact_copy).length, 2);
      assert.ok(mixed.max_distance > 0 && mixed.max_distance <= r.threshold);
      for (const g of r.groups) assert.ok(g.images.every((img, i) => i === 0 || img.id > g.images[i - 1]!.id));
    });
  }

  test('a generous threshold: every group stays within it, max_distance is its true diameter', async () => {
    const threshold = 0.5;
    const r = await c.findDuplicates({ features: 'deep', threshold });
    assert.ok(r.groups.length > 0);
    const vec = new Map<number, Float32Array>();
    for (const g of r.groups) for (const i of g.images) vec.set(i.id, (await c.storedVector(i.id, 'deep'))!);
    for (const g of r.groups) {
      let max = 0;
      for (const a of g.images)
        for (const b of g.images) {
          const va = vec.get(a.id)!,
            vb = vec.get(b.id)!;
          max = Math.max(
            max,
            va.reduce((s, x, j) => s + (x - vb[j]!) ** 2, 0),
          );
        }
      assert.ok(max <= threshold, `a group of diameter ${max}`);
      assert.ok(Math.abs(max - g.max_distance) < 1e-4, `${max} vs ${g.max_distance}`);
    }
  });

  test('threshold 0 finds pixel-identical images only, exact copies among them; bad thresholds and kinds are refused', async () => {
    const r = await c.findDuplicates({ features: 'color', threshold: 0 });
    assert.equal(r.threshold_source, 'given');
    assert.ok(r.groups.every((g) => g.max_distance < 1e-6));
    const exactPaths = r.groups.filter((g) => g.exact).map((g) => g.images.map((i) => i.path).sort());
    assert.deepEqual(
      exactPaths[0],
      files
        .filter((f) => f.group === 'lone')
        .map((f) => f.relpath)
        .sort(),
    );
    assert.ok(r.groups.some((g) => g.images.some((i) => i.path.startsWith('extra/same'))));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '0.1' as unknown as number])
      await assert.rejects(c.findDuplicates({ threshold: bad }), expectError('INVALID_ARGUMENT', /threshold must be a number ≥ 0/));
  });

  test('CLI: --json shape, text output, clear errors', async () => {
    const col = join(root, 'col');
    const j = await runCli(['duplicates', '--collection', col, '--features', 'deep', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout);
    assert.equal(out.features, 'deep');
    assert.equal(out.threshold_source, 'default');
    assert.ok(Array.isArray(out.groups) && out.groups.length === 5);
    for (const g of out.groups) {
      assert.equal(typeof g.max_distance, 'number');
      for (const img of g.images) assert.ok(Number.isInteger(img.id) && typeof img.path === 'string');
    }
    const t = await runCli(['duplicates', '--collection', col, '--features', 'color', '--threshold', '0']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /exact copies \(same content\)/);
    const bad = await runCli(['duplicates', '--collection', col, '--threshold', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--threshold must be a number ≥ 0 .* got 'abc'/);
    const kind = await runCli(['duplicates', '--collection', col, '--features', 'pixels']);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /no pixels features/);
  });
});

describe('duplicates: the approximate index, empty and colour-only collections', () => {
  let root: string;

  before(async () => {
    root = await tempDir();
  });
  after(async () => removeDir(root));

  test('an IVF collection finds the groups the exact self-join finds; deep not stored and empty are refused', async () => {
    const images = join(root, 'images');
    const originals = await Promise.all([7, 8, 9, 10].map(scene));
    const unrelated = await Promise.all([11, 12, 13, 14, 15, 16].map(scene));
    await writeDuplicateSet(images, originals, unrelated, 9);
    const flat = await Collection.open(join(root, 'flat'), { create: true, root: images, features: ['color'], threads: 2 });
    const ivf = await Collection.open(join(root, 'ivf'), { create: true, root: images, features: ['color'], threads: 2, index: 'ivf', nlist: 4 });
    try {
      await flat.update();
      await ivf.update();
      const a = await flat.findDuplicates();
      const b = await ivf.findDuplicates();
      assert.equal(a.method, 'exact');
      assert.equal(b.method, 'ivf');
      assert.equal(b.nprobe, 4); // at least DUPLICATE_NPROBE, clamped to nlist
      assert.equal(a.features, 'color'); // the default without deep features
      assert.deepEqual(groupsOf(b), groupsOf(a));
      await assert.rejects(flat.findDuplicates({ features: 'deep' }), expectError('INVALID_ARGUMENT', /no deep features/));
    } finally {
      await flat.close();
      await ivf.close();
    }
    const empty = await Collection.open(join(root, 'empty'), { create: true, root: join(root, 'nothing'), features: ['color'] });
    try {
      await assert.rejects(empty.findDuplicates(), expectError('EMPTY_INDEX', /no images/));
    } finally {
      await empty.close();
    }
  });
});
