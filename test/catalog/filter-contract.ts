/**
 * The catalogue contract of filtered search and search by name (src/catalog/filter.ts,
 * names.ts): the same answers from every backend. Called from catalogContract.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkImageFilter } from '../../src/catalog/filter.js';
import { parseNameQuery } from '../../src/catalog/names.js';
import type { CatalogStore, CatalogWrite, FeatureSpace } from '../../src/catalog/types.js';

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };

function put(relpath: string, size: number, mtime_ms: number, status: 'ok' | 'skipped' = 'ok'): CatalogWrite {
  return {
    op: 'put',
    image: { relpath, size, mtime_ms, sha256: relpath, status, width: 1, height: 1, format: 'png' },
    ...(status === 'ok' ? { vectors: [{ space: COLOR, vector: Float32Array.of(1, 2, 3) }] } : {}),
  };
}

const PATHS = [
  'trips/Beach_2019/IMG-0042.jpg',
  'trips/beach-2020/sunset.png',
  'trips/mountains/summerHoliday.jpg',
  'tripsX/not-inside.png',
  'home/cat (1).png',
  'home/dog "best".png',
  '写真/夏の海辺.jpg',
  'emoji/🐱cat.png',
  'NEAR/AND-OR.png',
  'Café/crème brûlée.png',
];

export function filterContract(withStore: (fn: (s: CatalogStore) => Promise<void>) => () => Promise<void>): void {
  /** Relpaths of the ids, sorted. */
  const pathsOf = async (s: CatalogStore, ids: ArrayLike<number>): Promise<string[]> => [...(await s.relpaths(Array.from(ids))).values()].sort();
  const byName = async (s: CatalogStore, words: string): Promise<string[]> => {
    const q = parseNameQuery(words);
    if (!q) return [];
    return (await s.searchNames(q, { limit: 100 })).hits.map((h) => h.relpath).sort();
  };

  test(
    'filterIds: folder prefix (not a sibling with the same start), ids, mtime and size ranges, combined; searchable rows only',
    withStore(async (s) => {
      const ids = (await s.commit(PATHS.map((p, i) => put(p, 100 * (i + 1), 1000 + i)))).ids;
      await s.commit([put('trips/skipped.png', 5, 5, 'skipped')]);
      const f = (x: unknown) => s.filterIds(checkImageFilter(x)!);
      assert.deepEqual(await pathsOf(s, await f({ in: 'trips' })), PATHS.slice(0, 3).sort());
      assert.deepEqual(await pathsOf(s, await f({ in: ['./trips/beach-2020/', 'home'] })), [PATHS[1], PATHS[4], PATHS[5]].sort());
      assert.deepEqual(await pathsOf(s, await f({ in: '写真' })), ['写真/夏の海辺.jpg']);
      assert.deepEqual(Array.from(await f({ ids: [ids[2]!, ids[0]!, 999999] })), [ids[0], ids[2]]);
      assert.deepEqual(await pathsOf(s, await f({ mtime: { min: 1001, max: 1002 } })), [PATHS[1], PATHS[2]].sort());
      assert.deepEqual(await pathsOf(s, await f({ size: { max: 200 } })), [PATHS[0], PATHS[1]].sort());
      assert.deepEqual(await pathsOf(s, await f({ in: 'trips', size: { min: 250 }, name: 'summer' })), [PATHS[2]]);
      assert.deepEqual(Array.from(await f({ in: 'nowhere' })), []);
    }),
  );

  test(
    'searchNames: words split at / _ - . camelCase and digits, prefixes, any order, Japanese, accents; odd characters never error and match literally',
    withStore(async (s) => {
      await s.commit(PATHS.map((p, i) => put(p, 100, 1000 + i)));
      assert.deepEqual(await byName(s, 'beach'), PATHS.slice(0, 2).sort());
      assert.deepEqual(await byName(s, '2019 beach'), [PATHS[0]]);
      assert.deepEqual(await byName(s, 'holiday'), [PATHS[2]]);
      assert.deepEqual(await byName(s, 'summerholiday'), [PATHS[2]]);
      assert.deepEqual(await byName(s, 'img 42'), []);
      assert.deepEqual(await byName(s, 'img 0042'), [PATHS[0]]);
      assert.deepEqual(await byName(s, '海辺'), ['写真/夏の海辺.jpg']);
      assert.deepEqual(await byName(s, '海'), ['写真/夏の海辺.jpg']);
      assert.deepEqual(await byName(s, '写真'), ['写真/夏の海辺.jpg']);
      assert.deepEqual(await byName(s, '辺海'), []);
      assert.deepEqual(await byName(s, 'creme brulee'), ['Café/crème brûlée.png']);
      assert.deepEqual(await byName(s, 'CAFÉ'), ['Café/crème brûlée.png']);
      // operators and quotes are text
      assert.deepEqual(await byName(s, 'NEAR'), ['NEAR/AND-OR.png']);
      assert.deepEqual(await byName(s, 'and or'), ['NEAR/AND-OR.png']);
      assert.deepEqual(await byName(s, 'cat NOT dog'), []);
      assert.deepEqual(await byName(s, '"best'), ['home/dog "best".png']);
      assert.deepEqual(await byName(s, 'cat (1)'), ['home/cat (1).png']);
      for (const odd of ['"', '*', '-', '(', ')', ':', 'NEAR(', 'a AND', 'OR', '^x', 'col:x', "'; DROP TABLE images; --", '"""', 'x*', '%', '_', '\\']) {
        const q = parseNameQuery(odd);
        if (q) await s.searchNames(q, { limit: 10 });
      }
      // no letter or digit: a literal substring of the path
      assert.deepEqual(await byName(s, '🐱'), ['emoji/🐱cat.png']);
      assert.deepEqual(await byName(s, '%'), []);
      assert.deepEqual(await byName(s, '('), ['home/cat (1).png']);
      // ranked: a word in the file name before the same word in a folder name; paged with a total
      await s.commit([put('cats/other.png', 100, 1), put('misc/cat.png', 100, 1)]);
      const r = await s.searchNames(parseNameQuery('cat')!, { limit: 2 });
      assert.equal(r.total, 4);
      assert.ok(!r.hits.some((h) => h.relpath === 'cats/other.png'), 'the folder-only match ranks last');
      const rest = await s.searchNames(parseNameQuery('cat')!, { limit: 2, offset: 2 });
      assert.equal(rest.hits[rest.hits.length - 1]!.relpath, 'cats/other.png');
      // with a filter
      const f = checkImageFilter({ in: 'home' });
      assert.deepEqual(
        (await s.searchNames(parseNameQuery('cat')!, { limit: 10, ...(f ? { filter: f } : {}) })).hits.map((h) => h.relpath),
        ['home/cat (1).png'],
      );
    }),
  );

  test(
    'the name index follows the rows: a new file, a file replaced under a new name, a deleted file',
    withStore(async (s) => {
      const [a] = (await s.commit([put('a/first-photo.png', 1, 1)])).ids as [number];
      assert.deepEqual(await byName(s, 'first'), ['a/first-photo.png']);
      // renamed on disk: the re-index deletes the old path and puts the new one
      await s.commit([{ op: 'delete', id: a }, put('a/renamed-photo.png', 1, 1)]);
      assert.deepEqual(await byName(s, 'first'), []);
      assert.deepEqual(await byName(s, 'renamed'), ['a/renamed-photo.png']);
      // replaced content under the same path: one row, still found
      await s.commit([{ ...put('a/renamed-photo.png', 2, 2) }]);
      assert.deepEqual(await byName(s, 'photo'), ['a/renamed-photo.png']);
      const row = await s.byRelpath('a/renamed-photo.png');
      await s.commit([{ op: 'delete', id: row!.id }]);
      assert.deepEqual(await byName(s, 'photo'), []);
    }),
  );
}
