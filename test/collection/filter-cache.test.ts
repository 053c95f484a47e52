/** The filter → ids cache of filtered search: reused while the catalogue is unchanged, never stale after an add, remove or move (by this or another handle). */

import assert from 'node:assert/strict';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkImageFilter } from '../../src/catalog/filter.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { Collection } from '../../src/collection/collection.js';
import { FilterIdCache } from '../../src/collection/filter-cache.js';
import { removeDir, solid, tempDir } from './helpers.js';

describe('filtered search: the filter cache', () => {
  let root: string;
  let colDir: string;
  let c: Collection;

  before(async () => {
    root = await tempDir();
    colDir = join(root, '.nitamono');
    await solid(join(root, 'a', 'a1.png'), [250, 10, 10]);
    await solid(join(root, 'a', 'a2.png'), [240, 20, 10]);
    await solid(join(root, 'b', 'b1.png'), [10, 10, 250]);
    c = await Collection.open(colDir, { create: true, root, features: ['color'], threads: 1 });
    await c.update();
  });
  after(async () => {
    await c?.close();
    await removeDir(root);
  });

  /** The paths a search in `folder` returns (relative, sorted), twice in a row: the second from the cache, and equal. */
  const inFolder = async (folder: string, col = c): Promise<string[]> => {
    const once = async () => {
      const r = await col.search({ path: join(root, 'b', 'b1.png') }, { k: 10, filter: { in: folder } });
      const paths = r.results.map((h) => h.path).sort();
      assert.equal(r.filtered, paths.length, 'every image of the folder is returned (k is above its size)');
      return paths;
    };
    const first = await once();
    assert.deepEqual(await once(), first);
    return first;
  };

  test('after an add, a remove and a move, a folder search returns what the folder holds now', async () => {
    assert.deepEqual(await inFolder('a'), ['a/a1.png', 'a/a2.png']);
    assert.deepEqual(await inFolder('b'), ['b/b1.png']);

    await solid(join(root, 'a', 'a3.png'), [230, 30, 10]);
    await c.update();
    assert.deepEqual(await inFolder('a'), ['a/a1.png', 'a/a2.png', 'a/a3.png']);

    await rm(join(root, 'a', 'a2.png'));
    await c.update();
    assert.deepEqual(await inFolder('a'), ['a/a1.png', 'a/a3.png']);

    await mkdir(join(root, 'b', 'moved'), { recursive: true });
    await rename(join(root, 'a', 'a1.png'), join(root, 'b', 'moved', 'a1.png'));
    await c.update();
    assert.deepEqual(await inFolder('a'), ['a/a3.png']);
    assert.deepEqual(await inFolder('b'), ['b/b1.png', 'b/moved/a1.png']);
    assert.deepEqual(await inFolder('b/moved'), ['b/moved/a1.png']);
  });

  test('a change committed through another handle on the catalogue is seen by the next search', async () => {
    assert.deepEqual(await inFolder('a'), ['a/a3.png']);
    const other = await Collection.open(colDir);
    try {
      await solid(join(root, 'a', 'a4.png'), [220, 40, 10]);
      await other.update();
      assert.deepEqual(await inFolder('a'), ['a/a3.png', 'a/a4.png']);
      await rm(join(root, 'a', 'a3.png'));
      await other.update();
      assert.deepEqual(await inFolder('a', other), ['a/a4.png']);
      assert.deepEqual(await inFolder('a'), ['a/a4.png']);
    } finally {
      await other.close();
    }
  });
});

test('FilterIdCache: one resolution per (filter, generation), date ranges never kept, bounded', async () => {
  const dir = await tempDir();
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'));
  try {
    const space = { kind: 'color', model: 'rgb-hist-4' };
    const put = (relpath: string, i: number) => ({
      op: 'put' as const,
      image: { relpath, size: 100 + i, mtime_ms: 1e12 + i, sha256: `h${relpath}`, status: 'ok' as const },
      vectors: [{ space, vector: new Float32Array([i, 1]) }],
    });
    await store.commit(Array.from({ length: 6 }, (_, i) => put(`d${i % 3}/x${i}.png`, i)));
    const cache = new FilterIdCache(4, 1000);
    const folder = checkImageFilter({ in: 'd0' })!;
    const g1 = await store.generation();
    const ids1 = await cache.resolve(store, folder, g1);
    assert.equal(await cache.resolve(store, folder, g1), ids1, 'the same generation: the remembered array');
    assert.deepEqual([...ids1], [...(await store.filterIds(folder))]);

    const { ids: added } = await store.commit([put('d0/new.png', 9)]);
    const g2 = await store.generation();
    assert.notEqual(g2, g1);
    const ids2 = await cache.resolve(store, folder, g2);
    assert.deepEqual(
      [...ids2],
      [...ids1, added[0]!].sort((a, b) => a - b),
    );

    // a touch changes size and mtime without a new generation: ranges are resolved every time
    const sized = checkImageFilter({ in: 'd0', size: { min: 100, max: 100 } })!;
    const before = await cache.resolve(store, sized, g2);
    assert.equal(before.length, 1);
    await store.commit([{ op: 'touch', id: before[0]!, size: 5, mtime_ms: 1 }]);
    assert.equal(await store.generation(), g2);
    assert.equal((await cache.resolve(store, sized, g2)).length, 0);

    // a generation the catalogue has left is not remembered (folders with ids: resolved by SQL)
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    await store.commit([put('d1/late.png', 10)]);
    const stale = await cache.resolve(store, checkImageFilter({ in: 'd1', ids: upTo(20) })!, g2);
    assert.notEqual(await cache.resolve(store, checkImageFilter({ in: 'd1', ids: upTo(20) })!, g2), stale);

    const g3 = await store.generation();
    for (let i = 0; i < 10; i++) await cache.resolve(store, checkImageFilter({ in: `d${i}`, ids: upTo(20) })!, g3);
    assert.equal(cache.size, 4);
    // folders alone come from the folder index (./folder-ids.test.ts), not the bounded cache
    assert.deepEqual([...(await cache.resolve(store, checkImageFilter({ in: 'd1' })!, g3))], [...(await store.filterIds(checkImageFilter({ in: 'd1' })!))]);
    assert.equal(cache.size, 4);
  } finally {
    await store.close();
    await removeDir(dir);
  }
});
