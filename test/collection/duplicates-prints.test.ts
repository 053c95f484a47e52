/**
 * The pixel check's print cache (src/image/print-cache.ts): prints read back from the file
 * compare exactly as freshly made ones; a later run (a new process) makes no print again, also
 * after a file was renamed; an edited image gets a new print; a corrupt cache file is only a
 * warning, the groups stay the same and the file is written anew.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { makeCopy, sceneJpeg } from '../../src/eval/near-duplicates.js';
import { decodePrint, pixelDistance, pixelPrint } from '../../src/image/pixel-match.js';
import { PixelMatcher } from '../../src/image/pixel-match-pool.js';
import { PRINT_CACHE_FILE, PrintCache } from '../../src/image/print-cache.js';
import { rng } from '../../src/util/random.js';
import { removeDir, runCli, tempDir } from './helpers.js';

interface CliReport {
  groups: { images: { relpath: string }[]; max_pixel_distance: number }[];
  pixel_prints: { made: number; kept: number; warning?: string };
}

describe('duplicates: prints kept in the collection', () => {
  let root: string;
  let images: string;
  let col: string;
  const files: string[] = [];

  before(async () => {
    root = await tempDir();
    images = join(root, 'images');
    await mkdir(images, { recursive: true });
    const rand = rng(5);
    for (const s of [31, 32, 33]) {
      const data = await sceneJpeg(s);
      await writeFile(join(images, `scene${s}.jpg`), data);
      files.push(`scene${s}.jpg`);
      for (const kind of ['resized', 'recompressed'] as const) {
        const c = await makeCopy(kind, data, '.jpg', rand);
        await writeFile(join(images, `scene${s}.${kind}${c.ext}`), c.data);
        files.push(`scene${s}.${kind}${c.ext}`);
      }
    }
    col = join(root, 'col');
    const c = await Collection.open(col, { create: true, root: images, features: ['color'], threads: 2 });
    await c.update();
    await c.close();
  });
  after(async () => {
    await removeDir(root);
  });

  test('prints from the cache file give the same distances as fresh ones; a second matcher makes none', async () => {
    const dir = join(root, 'cache-only');
    await mkdir(dir);
    const shas = await Promise.all(
      files.map(async (f) =>
        createHash('sha256')
          .update(await readFile(join(images, f)))
          .digest('hex'),
      ),
    );
    const fresh = await Promise.all(files.map((f) => pixelPrint(join(images, f))));
    const pairs: [number, number][] = [];
    for (let i = 0; i < files.length; i++) for (let j = i + 1; j < files.length; j++) pairs.push([i, j]);
    const image = (i: number) => ({ path: join(images, files[i]!), sha256: shas[i]! });
    const expected = Float32Array.from(pairs, ([i, j]) => pixelDistance(fresh[i]!, fresh[j]!));

    const cache = await PrintCache.open(dir);
    assert.equal(cache.size, 0);
    assert.equal(cache.problem, undefined, 'no file is not a problem');
    const m1 = new PixelMatcher(2, cache);
    try {
      assert.deepEqual(await m1.distances(pairs.map(([i, j]) => [image(i), image(j)])), expected);
      assert.equal(m1.printsMade, files.length);
    } finally {
      await m1.close();
    }
    assert.equal((await cache.save(new Set(shas))).written, true);

    const again = await PrintCache.open(dir);
    assert.equal(again.size, files.length);
    const stored = shas.map((s) => decodePrint(again.get(s)!)!);
    for (const [k, [i, j]] of pairs.entries()) assert.ok(Object.is(Math.fround(pixelDistance(stored[i]!, stored[j]!)), expected[k]), `pair ${k}`);
    const m2 = new PixelMatcher(2, again);
    try {
      assert.deepEqual(await m2.distances(pairs.map(([i, j]) => [image(i), image(j)])), expected);
      assert.equal(m2.printsMade, 0, 'every print came from the file');
    } finally {
      await m2.close();
    }
    // only the prints of images still there are kept
    assert.equal((await again.save(new Set(shas.slice(1)))).written, true);
    assert.equal((await PrintCache.open(dir)).size, files.length - 1);
  });

  test('CLI runs: prints made once, reused after a rename, remade for an edited image; a corrupt file is a warning', async () => {
    const run = async (): Promise<CliReport> => {
      const r = await runCli(['duplicates', '--collection', col, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as CliReport;
    };
    const groups = (r: CliReport) => r.groups.map((g) => [g.images.map((i) => i.relpath).join(' '), g.max_pixel_distance]).sort();

    const first = await run();
    assert.equal(first.groups.length, 3, JSON.stringify(first.groups));
    assert.ok(first.pixel_prints.made >= 6 && first.pixel_prints.kept === first.pixel_prints.made, JSON.stringify(first.pixel_prints));
    assert.equal(first.pixel_prints.warning, undefined);
    const second = await run();
    assert.equal(second.pixel_prints.made, 0);
    assert.deepEqual(groups(second), groups(first));

    // a renamed file keeps its print (same content, same SHA-256)
    await rename(join(images, 'scene31.resized.jpg'), join(images, 'renamed.jpg'));
    const c = await Collection.open(col);
    await c.update();
    const renamed = await run();
    assert.equal(renamed.pixel_prints.made, 0);
    assert.ok(groups(renamed).some(([paths]) => String(paths).includes('renamed.jpg')));

    // an edited image is another content: its print is made again, the old one dropped
    await writeFile(join(images, 'scene33.recompressed.jpg'), (await makeCopy('recompressed', await sceneJpeg(33), '.jpg', rng(9))).data);
    await c.update();
    await c.close();
    const edited = await run();
    assert.equal(edited.pixel_prints.made, 1);
    assert.equal(edited.pixel_prints.kept, first.pixel_prints.kept);

    // a damaged file: the prints are made again, the answer is the same, the file is whole again
    const file = join(col, PRINT_CACHE_FILE);
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(file, bytes);
    const damaged = await run();
    assert.match(damaged.pixel_prints.warning ?? '', /checksum|corrupt/i);
    assert.equal(damaged.pixel_prints.made, first.pixel_prints.made);
    assert.deepEqual(groups(damaged), groups(edited));
    const healed = await PrintCache.open(col);
    assert.equal(healed.problem, undefined);
    assert.equal(healed.size, damaged.pixel_prints.kept);
    await writeFile(file, 'not a nitamono file');
    const foreign = await PrintCache.open(col);
    assert.match(foreign.problem ?? '', /not a nitamono/);
    assert.equal(foreign.size, 0);
  });
});
