/** The in-memory folder → ids index: equal to the catalogue's SQL answer after adds, removals, exclusions and moves, by whichever handle. */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImageFilter } from '../../src/catalog/filter.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { FolderIds } from '../../src/collection/folder-ids.js';
import { removeDir, tempDir } from './helpers.js';

test('FolderIds follows the catalogue: every folder equals the SQL filter at each generation', async () => {
  const dir = await tempDir();
  const file = join(dir, 'catalog.sqlite');
  const store = await SQLiteCatalogStore.open(file);
  const writer = await SQLiteCatalogStore.open(file);
  try {
    const space = { kind: 'color', model: 'rgb-hist-4' };
    let n = 0;
    const put = (relpath: string, status: 'ok' | 'skipped' = 'ok') => ({
      op: 'put' as const,
      image: { relpath, size: 100 + n, mtime_ms: 1e12 + n, sha256: `h${n++}`, status },
      vectors: status === 'ok' ? [{ space, vector: new Float32Array([n, 1]) }] : [],
    });
    const folders = ['a', 'a/b', 'a/b/c', 'ab', 'b', 'é', 'none'];
    const fi = new FolderIds();
    const check = async (what: string) => {
      const g = await store.generation();
      for (const f of [...folders.map((x) => [x]), ['a', 'a/b'], ['ab', 'b']]) {
        const want = [...(await store.filterIds(checkImageFilter({ in: f })!))];
        const got = await fi.resolve(store, f, g);
        assert.ok(got, 'SQLite lists path changes');
        assert.deepEqual([...got], want, `${what}: folder ${f.join(' + ')}`);
      }
    };
    const ids = (
      await writer.commit([
        put('a/1.png'),
        put('a/b/2.png'),
        put('a/b/c/3.png'),
        put('ab/4.png'),
        put('b/5.png'),
        put('é/6.png'),
        put('a/skip.png', 'skipped'),
        put('top.png'),
      ])
    ).ids;
    await check('first read');
    await writer.commit([put('a/b/7.png'), { op: 'delete', id: ids[0]! }, { op: 'exclude', id: ids[3]! }]);
    await check('added, deleted, excluded');
    // a move: the old row goes, a new id holds the new path; a replaced file likewise
    await writer.commit([{ op: 'delete', id: ids[2]! }, put('b/3.png'), put('a/b/2.png')]);
    await check('moved and replaced');
    const before = await fi.resolve(store, ['b'], await store.generation());
    assert.equal(await fi.resolve(store, ['b'], await store.generation()), before, 'unchanged: the same array');
    await writer.commit([{ op: 'touch', id: ids[4]!, size: 1, mtime_ms: 1 }]);
    await check('touched (no new generation)');
  } finally {
    await writer.close();
    await store.close();
    await removeDir(dir);
  }
});
