/** Collection library: indexing generated images, nearest neighbours, incremental updates, the server API. */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, readFile, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { DEFAULT_DEEP_MODEL, deepDim } from '../../src/image/deep.js';
import { loadIndex } from '../../src/search/load.js';
import { gradient, removeDir, shape, solid, tempDir } from './helpers.js';

async function makeImages(root: string): Promise<void> {
  await solid(join(root, 'reds', 'red.png'), [255, 0, 0]);
  await solid(join(root, 'reds', 'red-dark.png'), [235, 12, 8]);
  await solid(join(root, 'greens', 'green.png'), [0, 200, 0]);
  await solid(join(root, 'greens', 'green-light.png'), [20, 220, 30]);
  await solid(join(root, 'blues', 'blue.png'), [0, 0, 255]);
  await solid(join(root, 'blues', 'blue-navy.jpg'), [10, 10, 200]);
  await gradient(join(root, 'gradients', 'red-to-yellow.png'), [255, 0, 0], [255, 255, 0]);
  await gradient(join(root, 'gradients', 'red-to-orange.png'), [255, 0, 0], [255, 160, 0]);
  await shape(join(root, 'shapes', 'blue-circle.png'), 'circle', 'blue');
  await shape(join(root, 'shapes', 'blue-square.png'), 'square', 'blue');
  await shape(join(root, 'shapes', 'black-circle.png'), 'circle', 'black');
}

function nearest(res: { results: { path: string }[] }): string[] {
  return res.results.map((r) => r.path);
}

/** The index file on disk holds exactly SQLite's searchable ids. */
async function assertIndexMatchesCatalog(c: Collection, kind: 'color' | 'deep' = 'color'): Promise<void> {
  const file = join(c.path, `${kind}.index`);
  const idx = await loadIndex(file);
  try {
    const ids = [...idx.ids()].sort((a, b) => a - b);
    const rows = (await c.catalog.okRows()).map((r) => r.id);
    assert.deepEqual(ids, rows);
    const side = JSON.parse(await readFile(`${file}.json`, 'utf8'));
    assert.equal(side.generation, await c.catalog.generation());
  } finally {
    idx.dispose();
  }
}

describe('collection: colour features on generated images', () => {
  let root: string;
  let colDir: string;
  let c: Collection;

  before(async () => {
    root = await tempDir();
    colDir = join(root, '.nitamono');
    await makeImages(root);
    c = await Collection.open(colDir, { create: true, root, features: ['color'], threads: 2 });
  });
  after(async () => {
    await c?.close();
    await removeDir(root);
  });

  test('indexes every image and skips the collection folder itself', async () => {
    const r = await c.update();
    assert.equal(r.indexed, 11);
    assert.equal(r.images, 11);
    assert.equal(r.skipped.length, 0);
    assert.equal(r.interrupted, false);
    assert.deepEqual(r.index.color, { kind: 'flat', size: 11 });
    assert.ok(existsSync(join(colDir, 'catalog.sqlite')));
    assert.ok(existsSync(join(colDir, 'collection.json')));
    await assertIndexMatchesCatalog(c);
  });

  test('nearest neighbours follow colour', async () => {
    const red = await c.search({ path: join(root, 'reds', 'red.png') }, { k: 3, excludeSelf: true });
    assert.equal(red.query.source, 'indexed');
    assert.equal(nearest(red)[0], 'reds/red-dark.png');
    assert.equal(red.method, 'exact');
    assert.equal(red.distances_computed, 11);
    const green = await c.search({ path: 'greens/green.png' }, { k: 1, excludeSelf: true });
    assert.deepEqual(nearest(green), ['greens/green-light.png']);
    const blue = await c.search({ path: join(root, 'blues', 'blue.png') }, { k: 1, excludeSelf: true });
    assert.deepEqual(nearest(blue), ['blues/blue-navy.jpg']);
    // Not excluded, the query itself is among the distance-0 results (red-dark has the same
    // 4-bin histogram, so the two tie); distances ascend.
    const self = await c.search({ path: 'reds/red.png' }, { k: 11 });
    assert.equal(self.results[0]!.distance, 0);
    assert.ok(self.results.filter((h) => h.distance === 0).some((h) => h.path === 'reds/red.png'));
    for (let i = 1; i < self.results.length; i++) assert.ok(self.results[i]!.distance >= self.results[i - 1]!.distance);
  });

  test('a query file outside the collection is extracted', async () => {
    const outside = join(root, '..', `nitamono-q-${process.pid}.png`);
    await solid(outside, [250, 5, 5]);
    try {
      const r = await c.search({ path: outside }, { k: 2 });
      assert.equal(r.query.source, 'extracted');
      assert.deepEqual(new Set(nearest(r)), new Set(['reds/red.png', 'reds/red-dark.png']));
      const buf = await readFile(outside);
      const rb = await c.search({ buffer: buf }, { k: 1 });
      assert.ok(['reds/red.png', 'reds/red-dark.png'].includes(rb.results[0]!.path));
    } finally {
      await unlink(outside);
    }
  });

  test('ivf method, evaluateQuery and exact agree at nprobe = nlist', async () => {
    const ivf = await c.search({ path: 'reds/red.png' }, { k: 5, method: 'ivf', nprobe: 1 });
    assert.equal(ivf.method, 'ivf');
    assert.equal(ivf.nlist, 4); // ⌈√11⌉
    assert.equal(ivf.nprobe, 1);
    assert.ok(ivf.distances_computed < 11 + 4);
    const ev = await c.evaluateQuery({ path: 'reds/red.png' }, { k: 5, nprobe: 4 });
    assert.equal(ev.recall_at_1, 1);
    assert.equal(ev.recall_at_k, 1);
    assert.equal(ev.nlist, 4);
    assert.deepEqual(nearest(ev.exact), nearest(ev.ivf));
    assert.ok(existsSync(join(colDir, 'color.ivf.index')));
  });

  test('incremental: add, change, delete, identical copy, rename', async () => {
    await solid(join(root, 'reds', 'red-new.png'), [250, 0, 0]);
    // Change: overwrite red-dark with green content (new size or mtime).
    await solid(join(root, 'reds', 'red-dark.png'), [0, 210, 0], 70);
    await unlink(join(root, 'shapes', 'black-circle.png'));
    await copyFile(join(root, 'blues', 'blue.png'), join(root, 'blues', 'blue-copy.png'));
    await rename(join(root, 'gradients', 'red-to-orange.png'), join(root, 'gradients', 'renamed.png'));
    const r = await c.update();
    assert.equal(r.removed, 2, 'black-circle deleted, red-to-orange renamed away');
    assert.equal(r.indexed, 4, 'red-new, red-dark (changed), blue-copy, renamed');
    assert.equal(r.changed, 1);
    assert.equal(r.reused, 2, 'blue-copy and renamed reuse stored vectors');
    assert.equal(r.unchanged, 8);
    assert.equal(r.images, 12);
    await assertIndexMatchesCatalog(c);
    const red = await c.search({ path: 'reds/red.png' }, { k: 1, excludeSelf: true });
    assert.deepEqual(nearest(red), ['reds/red-new.png']);
    const dark = await c.search({ path: 'reds/red-dark.png' }, { k: 2, excludeSelf: true });
    assert.ok(nearest(dark)[0]!.startsWith('greens/'), 'changed file now searches as green');
    const blue = await c.search({ path: 'blues/blue.png' }, { k: 3, excludeSelf: true });
    const copy = blue.results.find((h) => h.path === 'blues/blue-copy.png');
    assert.ok(copy, 'the identical copy is found');
    assert.equal(copy.distance, 0);
    const copyRow = (await await c.getImageByPath('blues/blue-copy.png'))!;
    assert.equal(copyRow.sha256, (await await c.getImageByPath('blues/blue.png'))!.sha256);
    assert.equal(await c.getImageByPath('shapes/black-circle.png'), undefined);
    // Touching a file (same content, new mtime) is not a change.
    const t = new Date(Date.now() + 5000);
    await utimes(join(root, 'reds', 'red.png'), t, t);
    const r2 = await c.update();
    assert.equal(r2.indexed, 0);
    assert.equal(r2.unchanged, 12);
    assert.equal(r2.removed, 0);
  });

  test('server API: addImage, getImage, removeImage, stats', async () => {
    const png = await readFile(join(root, 'greens', 'green.png'));
    const info = await c.addImage(png, '../../evil name.png');
    assert.equal(info.path, 'uploads/evil name.png');
    assert.ok(existsSync(join(root, 'uploads', 'evil name.png')));
    assert.equal(info.status, 'ok');
    assert.equal(info.width, 64);
    const again = await c.addImage(png, 'evil name.png');
    assert.equal(again.path, 'uploads/evil name-1.png');
    const s = await c.search({ id: info.id }, { k: 10, excludeSelf: true });
    assert.ok(s.results.some((h) => h.id === again.id));
    await assert.rejects(c.addImage(Buffer.from('not an image'), 'x.png'), (e: Error & { code?: string }) => e.code === 'DECODE_FAILED');
    assert.ok(!existsSync(join(root, 'uploads', 'x.png')));

    assert.equal(await c.removeImage(again.id), true);
    assert.ok(!existsSync(join(root, 'uploads', 'evil name-1.png')));
    assert.equal(await c.getImage(again.id), undefined);
    const blueCopy = (await await c.getImageByPath('blues/blue-copy.png'))!;
    assert.equal(await c.removeImage(blueCopy.id), true);
    assert.equal((await c.getImage(blueCopy.id))!.status, 'excluded');
    assert.ok(existsSync(join(root, 'blues', 'blue-copy.png')), 'user files are never deleted');
    assert.equal(await c.removeImage(999999), false);
    const after1 = await c.search({ path: 'blues/blue.png' }, { k: 20 });
    assert.ok(!after1.results.some((h) => h.path === 'blues/blue-copy.png' || h.id === again.id));

    const st = await c.stats();
    assert.equal(st.images, 12);
    assert.equal(st.excluded, 1);
    assert.equal(st.skipped, 0);
    assert.ok(st.disk_bytes > 0);
    assert.equal(st.features[0]!.kind, 'color');
    assert.equal(st.features[0]!.dim, 12);
    assert.equal(st.features[0]!.index!.size, 12);
    // A re-index keeps the excluded file out and the upload in.
    const r = await c.update();
    assert.equal(r.indexed, 0);
    assert.equal(r.removed, 0);
    assert.equal(r.images, 12);
    await assertIndexMatchesCatalog(c);
  });

  test("another process's changes are picked up; a deleted index file is rebuilt", async () => {
    const other = await Collection.open(colDir);
    try {
      await solid(join(root, 'blues', 'cyan.png'), [0, 255, 255]);
      const r = await other.update();
      assert.equal(r.indexed, 1, JSON.stringify(r));
      assert.equal(r.images, 13);
    } finally {
      await other.close();
    }
    const r = await c.search({ path: 'blues/cyan.png' }, { k: 1 });
    assert.equal(r.results[0]!.path, 'blues/cyan.png');
    assert.equal(r.n, 13);
    await c.close();
    await rm(join(colDir, 'color.index'));
    c = await Collection.open(colDir);
    const r2 = await c.search({ path: 'blues/cyan.png' }, { k: 1 });
    assert.equal(r2.n, 13);
    await c.flush();
    await c.update();
    await assertIndexMatchesCatalog(c);
  });

  test('listImages pages the searchable images; search results follow removals made by another process', async () => {
    const ok = await c.catalog.okRows();
    const all = await c.listImages(0, 1000);
    assert.equal(all.total, ok.length);
    assert.deepEqual(
      all.images.map((i) => i.id),
      ok.map((r) => r.id),
    );
    for (const img of all.images) {
      assert.equal(img.status, 'ok');
      assert.equal(img.absolute_path, join(root, ...img.path.split('/')));
      assert.deepEqual(img, await c.getImage(img.id));
    }
    const page = await c.listImages(3, 4);
    assert.equal(page.total, ok.length);
    assert.deepEqual(page.images, all.images.slice(3, 7));
    assert.deepEqual(await c.listImages(ok.length, 10), { total: ok.length, images: [] });
    await assert.rejects(c.listImages(-1, 10), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');

    const q = (await await c.getImageByPath('reds/red.png'))!;
    const before1 = await c.search({ id: q.id }, { k: 20, method: 'exact' });
    assert.equal(before1.results.length, ok.length);
    for (const h of before1.results) assert.equal(h.absolute_path, join(root, ...h.path.split('/')));
    const gone = before1.results.find((h) => h.path === 'reds/red-dark.png')!;
    const other = await Collection.open(colDir);
    try {
      assert.equal(await other.removeImage(gone.id), true);
    } finally {
      await other.close();
    }
    const after1 = await c.search({ id: q.id }, { k: 20, method: 'exact' });
    assert.equal(after1.n, ok.length - 1);
    assert.ok(!after1.results.some((h) => h.id === gone.id || h.path === 'reds/red-dark.png'));
    assert.deepEqual(
      after1.results.map((h) => [h.id, h.path]),
      before1.results.filter((h) => h.id !== gone.id).map((h) => [h.id, h.path]),
    );
    assert.equal((await c.listImages(0, 1000)).total, ok.length - 1);
    assert.ok(!(await c.listImages(0, 1000)).images.some((i) => i.id === gone.id));
  });

  test('bad queries throw coded errors', async () => {
    await assert.rejects(c.search({ id: 424242 }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    await assert.rejects(c.search({ path: 'nope/none.png' }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    await assert.rejects(c.search({ buffer: Buffer.from('garbage') }), (e: Error & { code?: string }) => e.code === 'DECODE_FAILED');
    await assert.rejects(c.search({ id: 1 }, { k: 0 }), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');
    await assert.rejects(c.search({ id: 1 }, { features: 'deep' }), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');
  });
});

describe('collection: edge cases', () => {
  test('an empty folder is a valid empty collection', async () => {
    const root = await tempDir();
    try {
      const c = await Collection.open(join(root, 'col'), { create: true, root: join(root) });
      try {
        const r = await c.update();
        assert.equal(r.images, 0);
        assert.equal(r.indexed, 0);
        assert.equal(r.skipped.length, 0);
        await writeFile(join(root, 'notes.txt'), 'hello');
        const r2 = await c.update();
        assert.equal(r2.ignored, 1);
        const st = await c.stats();
        assert.equal(st.images, 0);
      } finally {
        await c.close();
      }
    } finally {
      await removeDir(root);
    }
  });

  test('opening a missing collection without create fails with NOT_FOUND; another root is refused', async () => {
    const root = await tempDir();
    try {
      await assert.rejects(Collection.open(join(root, 'none')), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
      const c = await Collection.open(join(root, 'col'), { create: true, root });
      await c.close();
      await assert.rejects(Collection.open(join(root, 'col'), { root: '/somewhere/else' }), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');
    } finally {
      await removeDir(root);
    }
  });

  test('switching the index policy rebuilds and saves the index file', async () => {
    const root = await tempDir();
    try {
      for (let i = 0; i < 9; i++) await solid(join(root, `c${i}.png`), [i * 28, 255 - i * 28, (i * 97) % 256]);
      const col = join(root, '.nitamono');
      const c = await Collection.open(col, { create: true, root });
      try {
        assert.equal((await c.update()).index.color!.kind, 'flat');
        const r = await c.update({ index: 'ivf' });
        assert.deepEqual(r.index.color, { kind: 'ivf', size: 9, nlist: 3 });
        const side = JSON.parse(await readFile(join(col, 'color.index.json'), 'utf8'));
        assert.equal(side.index, 'ivf');
        assert.equal(side.nlist, 3);
        const s = await c.search({ path: 'c0.png' }, { k: 3 });
        assert.equal(s.method, 'ivf');
        assert.equal(s.nprobe, 3, 'default nprobe 8 clamped to nlist');
        const st = await c.stats();
        assert.equal(st.features[0]!.index!.nlist, 3);
        assert.equal(st.features[0]!.index!.list_sizes!.min + st.features[0]!.index!.list_sizes!.max > 0, true);
        assert.equal((await c.update({ index: 'auto' })).index.color!.kind, 'flat');
        await assertIndexMatchesCatalog(c);
      } finally {
        await c.close();
      }
    } finally {
      await removeDir(root);
    }
  });

  test('deep features: a few images, nearest by content', async () => {
    const root = await tempDir();
    try {
      await shape(join(root, 'a', 'circle-red.png'), 'circle', 'red', 'white', 128);
      await shape(join(root, 'a', 'circle-red2.png'), 'circle', '#e00010', 'white', 120);
      await gradient(join(root, 'b', 'grad.png'), [0, 0, 0], [255, 255, 255], 128, 128);
      const c = await Collection.open(join(root, '.nitamono'), { create: true, root, features: ['deep'], threads: 1 });
      try {
        const r = await c.update();
        assert.equal(r.images, 3);
        assert.equal(r.skipped.length, 0);
        const s = await c.search({ path: 'a/circle-red.png' }, { k: 1, excludeSelf: true });
        assert.equal(s.features, 'deep');
        assert.equal(s.dim, deepDim(DEFAULT_DEEP_MODEL));
        assert.equal(s.results[0]!.path, 'a/circle-red2.png');
        await assertIndexMatchesCatalog(c, 'deep');
      } finally {
        await c.close();
      }
    } finally {
      await removeDir(root);
    }
  });
});
