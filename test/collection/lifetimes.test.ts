/**
 * Issue #8's defects 3 and 4 that live in the collection: options checked before anything is
 * written, close() against writes that arrive while it waits, leases on indexes across awaits,
 * and a cache file that cannot be written named instead of swallowed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { noise, removeDir, solid, tempDir } from './helpers.js';

describe('collection lifetimes and validation', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = await tempDir('nitamono-lifetimes-');
    root = join(base, 'images');
    for (let i = 0; i < 60; i++) await noise(join(root, `f${i % 3}`, `${i}.png`), i, 24);
  });
  after(async () => removeDir(base));

  test('invalid colour bins or deep model are refused before anything is written', async () => {
    const col = join(base, 'bad-options');
    await assert.rejects(Collection.open(col, { create: true, root, colorBins: 0 }), (e: Error & { code?: string }) => {
      return e.code === 'INVALID_ARGUMENT' && /bins/.test(e.message);
    });
    await assert.rejects(Collection.open(col, { create: true, root, deepModel: 'resnet-9000' }), (e: Error & { code?: string }) => {
      return e.code === 'INVALID_ARGUMENT' && /resnet-9000/.test(e.message) && /mobilenetv2-mid/.test(e.message);
    });
    assert.ok(!existsSync(join(col, 'collection.json')), 'no collection.json was written');
    const ok = await Collection.open(col, { create: true, root, colorBins: 8 });
    await ok.close();
    assert.equal(JSON.parse(await readFile(join(col, 'collection.json'), 'utf8')).color_bins, 8);
  });

  test('an empty upload or query image is a usage error naming the parameter, and writes nothing', async () => {
    const c = await Collection.open(join(base, 'empty-input'), { create: true, root });
    try {
      await c.update();
      const before = await c.generation();
      await assert.rejects(
        c.addImage(new Uint8Array(0), 'empty.png'),
        (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /buffer/.test(e.message),
      );
      await assert.rejects(
        c.search({ buffer: new Uint8Array(0) }),
        (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /query\.buffer/.test(e.message),
      );
      assert.equal(await c.generation(), before);
      assert.ok(!existsSync(join(root, 'uploads', 'empty.png')));
    } finally {
      await c.close();
    }
  });

  test('a bit-flipped index file is rebuilt from the catalogue, said once in the warnings; a corrupt catalogue is refused and left as it is', async () => {
    const col = join(base, 'corrupt');
    const c = await Collection.open(col, { create: true, root });
    const { images } = await c.update().then(() => c.listImages(0, 1));
    const id = images[0]!.id;
    const before = await c.search({ id }, { k: 5 });
    await c.close();
    const file = join(col, 'color.index');
    const bytes = await readFile(file);
    bytes[bytes.length - 7] ^= 0x40; // a vector byte: the checksum no longer matches
    await writeFile(file, bytes);
    const again = await Collection.open(col);
    try {
      const r = await again.search({ id }, { k: 5 });
      assert.deepEqual(
        r.results.map((h) => h.id),
        before.results.map((h) => h.id),
      );
      assert.ok(
        r.warnings?.some((w) => w.includes('color.index was unreadable') && /rebuilt/.test(w)),
        JSON.stringify(r.warnings),
      );
      const next = await again.search({ id }, { k: 5 });
      assert.equal(next.warnings, undefined, 'said once');
    } finally {
      await again.close();
    }
    const catalogue = join(col, 'catalog.sqlite');
    const garbage = Buffer.from('this is not an SQLite database, but it is the user’s file'.repeat(100));
    await writeFile(catalogue, garbage);
    await assert.rejects(
      Collection.open(col),
      (e: Error & { code?: string }) => e.code === 'BAD_FILE' && e.message.includes(catalogue) && /not modified/.test(e.message),
    );
    assert.deepEqual(await readFile(catalogue), garbage, 'the corrupt catalogue was not touched');
  });

  test('close() refuses writes that arrive while it waits for the one in flight', async () => {
    const c = await Collection.open(join(base, 'closing'), { create: true, root });
    const png = await readFile(join(root, 'f0', '0.png'));
    const running = c.update();
    const closing = c.close();
    await assert.rejects(c.addImage(png, 'late.png'), /closed/);
    await running;
    await closing;
    assert.ok(!existsSync(join(root, 'uploads', 'late.png')), 'the late upload was not written');
  });

  test('collection.catalog reads but cannot write around the writer lease', async () => {
    const c = await Collection.open(join(base, 'reader'), { create: true, root });
    try {
      await c.update();
      const cat = c.catalog as unknown as Record<string, unknown>;
      for (const m of ['commit', 'acquireWriter', 'releaseWriter', 'close']) {
        assert.equal(cat[m], undefined, m);
        assert.ok(!(m in cat), m);
      }
      assert.equal(await c.catalog.okCount(), 60);
      assert.equal(c.catalog.backend, 'sqlite');
    } finally {
      await c.close();
    }
  });

  test('evaluateQuery keeps its indexes alive while a concurrent update rebuilds them', async () => {
    const c = await Collection.open(join(base, 'leases'), { create: true, root });
    try {
      await c.update();
      const { images } = await c.listImages(0, 5);
      for (let round = 0; round < 3; round++) {
        // each policy switch rebuilds the primary index and retires the old one
        const evals = images.map((img) => c.evaluateQuery({ id: img.id }, { k: 5 }));
        const switched = c.update({ index: round % 2 === 0 ? 'ivf' : 'flat' });
        for (const r of await Promise.all(evals)) assert.equal(r.exact.results.length, 5);
        await switched;
      }
    } finally {
      await c.close();
    }
  });

  test('an IVF file that cannot be saved is named in the search warnings, and the search still answers', async () => {
    const col = join(base, 'unsaveable');
    const c = await Collection.open(col, { create: true, root });
    try {
      await c.update();
      // a folder where the file should go: the atomic rename onto it fails
      await mkdir(join(col, 'color.ivf.index'));
      await solid(join(col, 'color.ivf.index', 'blocker.png'), [1, 2, 3], 4);
      const { images } = await c.listImages(0, 1);
      const r = await c.search({ id: images[0]!.id }, { method: 'ivf', k: 3 });
      assert.equal(r.results.length, 3);
      assert.ok(
        r.warnings?.some((w) => w.includes('color.ivf.index could not be saved')),
        JSON.stringify(r.warnings),
      );
    } finally {
      await c.close();
    }
  });
});
