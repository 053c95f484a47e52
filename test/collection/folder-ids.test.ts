/** The in-memory folder → ids index: equal to the catalogue's SQL answer after adds, removals, exclusions and moves, by whichever handle. */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImageFilter } from '../../src/catalog/filter.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { FIRST_READ_PAGE, FolderIds } from '../../src/collection/folder-ids.js';
import { removeDir, tempDir } from './helpers.js';

/** A catalogue write of a new image at `relpath`, each with its own content and vector. */
function putter() {
  const space = { kind: 'color', model: 'rgb-hist-4' };
  let n = 0;
  return (relpath: string, status: 'ok' | 'skipped' = 'ok') => ({
    op: 'put' as const,
    image: { relpath, size: 100 + n, mtime_ms: 1e12 + n, sha256: `h${n++}`, status },
    vectors: status === 'ok' ? [{ space, vector: new Float32Array([n, 1]) }] : [],
  });
}

/** A catalogue in a temporary folder, read by `store` and written by `writer` (two handles, as a server and an indexer). */
async function withCatalogue(fn: (store: SQLiteCatalogStore, writer: SQLiteCatalogStore) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const file = join(dir, 'catalog.sqlite');
  const store = await SQLiteCatalogStore.open(file);
  const writer = await SQLiteCatalogStore.open(file);
  try {
    await fn(store, writer);
  } finally {
    await writer.close();
    await store.close();
    await removeDir(dir);
  }
}

test('FolderIds follows the catalogue: every folder equals the SQL filter at each generation', async () => {
  await withCatalogue(async (store, writer) => {
    const put = putter();
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
  });
});

test('the first read goes in pages with the event loop free between them; writes meanwhile and searches that arrive meanwhile still get the SQL answer', async () => {
  await withCatalogue(async (store, writer) => {
    const put = putter();
    // 2.5 pages, in three folders
    const count = Math.floor(FIRST_READ_PAGE * 2.5);
    const ids = (await writer.commit(Array.from({ length: count }, (_, i) => put(`f${i % 3}/sub/${i}.png`)))).ids;
    // the store as it is, with a write after the first page: a removal from a page read, a removal from one not read yet, an addition
    let pages = 0;
    const paged = {
      pathChangesSince: (since: number) => store.pathChangesSince(since),
      okCount: () => store.okCount(),
      generation: () => store.generation(),
      pathsPage: async (g: number, after: number, limit: number) => {
        const page = await store.pathsPage(g, after, limit);
        if (pages++ === 0) await writer.commit([{ op: 'delete', id: ids[0]! }, { op: 'delete', id: ids[count - 1]! }, put('f1/late.png')]);
        return page;
      },
    };
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const fi = new FolderIds();
    const g = await store.generation();
    const got = await Promise.all(['f0', 'f1', 'f2/sub'].map((f) => fi.resolve(paged, [f], g)));
    clearInterval(ticker);
    assert.equal(pages, 3, 'three pages, read once for the three searches');
    assert.ok(ticks >= 1, `the event loop ran between pages (${ticks} timer ticks)`);
    for (const [i, f] of ['f0', 'f1', 'f2/sub'].entries()) {
      const want = [...(await store.filterIds(checkImageFilter({ in: f })!))];
      assert.deepEqual([...got[i]!], want, `folder ${f}`);
    }
    assert.ok(got[1]!.includes(ids[count - 1]! + 1), 'the path added during the read is found');
  });
});

test('pathsAt: the paths the catalogue gives for ids of the generation it holds; nothing for another generation or an id gone', async () => {
  await withCatalogue(async (store, writer) => {
    const put = putter();
    const ids = (await writer.commit([put('a/1.png'), put('a/b/2.png'), put('top.png'), put('a/skip.png', 'skipped')])).ids;
    const fi = new FolderIds();
    const g = await store.generation();
    await fi.resolve(store, ['a'], g);
    const ok = ids.slice(0, 3);
    const got = fi.pathsAt([-1, ...ok], g);
    assert.deepEqual(got && [...got], [...(await store.relpaths(ok, g))], 'the SQL answer, -1 (no result) skipped');
    assert.equal(fi.pathsAt([ids[3]!], g), undefined, 'a row that is not searchable');
    await writer.commit([{ op: 'delete', id: ids[0]! }]);
    const g2 = await store.generation();
    assert.equal(fi.pathsAt(ok, g2), undefined, 'a generation it has not read yet');
    await fi.resolve(store, ['a'], g2);
    assert.equal(fi.pathsAt(ok, g2), undefined, 'an id deleted since');
    assert.deepEqual([...fi.pathsAt(ok.slice(1), g2)!], [...(await store.relpaths(ok.slice(1), g2))]);
  });
});
