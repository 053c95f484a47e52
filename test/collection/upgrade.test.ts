/**
 * A collection written by nitamono 0.1.0 (catalogue schema 1, one BLOB column per kind) — the
 * fixture under test/fixtures/collection-v1 was made by that release's `nitamono index` — opens,
 * is upgraded in place, and searches with the same ids and answers.
 */

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LATEST_SCHEMA } from '../../src/catalog/sqlite-migrations.js';
import { Collection } from '../../src/collection/collection.js';

const FIXTURE = new URL('../../../test/fixtures/collection-v1/', import.meta.url).pathname;

test('a collection written by 0.1.0 opens after the upgrade and searches as before', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-upgrade-'));
  try {
    await cp(FIXTURE, dir, { recursive: true });
    const cfgFile = join(dir, 'collection', 'collection.json');
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8'));
    cfg.root = join(dir, 'images'); // the fixture was indexed elsewhere
    await writeFile(cfgFile, JSON.stringify(cfg));
    const sidecar = JSON.parse(await readFile(join(dir, 'collection', 'color.index.json'), 'utf8'));

    const c = await Collection.open(join(dir, 'collection'));
    try {
      assert.equal(c.catalog.schemaVersion, LATEST_SCHEMA);
      assert.equal(await c.generation(), sidecar.generation, 'generations survive: the 0.1.0 index file is still current');
      const red = (await c.getImageByPath('reds/red.png'))!;
      const r = await c.search({ id: red.id }, { k: 5 });
      assert.equal(r.n, 5);
      assert.deepEqual(
        r.results
          .map((h) => h.path)
          .slice(0, 2)
          .sort(),
        ['reds/dark-red.png', 'reds/red.png'].sort(),
      );
      // (a fresh clone gives the images new mtimes, so the query image may be read again)
      const blue = await c.search({ path: join(dir, 'images', 'blues', 'blue.png') }, { k: 2 });
      assert.deepEqual(
        blue.results.map((h) => h.distance),
        [0, 0],
        'blue and its identical copy',
      );
      // the name index was built by the migration, and a filtered search works on the old index file
      assert.deepEqual((await c.searchNames('red')).results.map((h) => h.path).sort(), ['reds/dark-red.png', 'reds/red.png']);
      const inBlues = await c.search({ id: red.id }, { k: 5, filter: { in: 'blues' } });
      for (const h of inBlues.results) assert.match(h.path, /^blues\//);
      const st = await c.stats();
      assert.equal(st.features[0]!.index!.generation, sidecar.generation);
      const again = await c.update();
      assert.equal(again.unchanged, 5, 'same content: at most a new mtime is recorded');
      assert.equal(again.indexed, 0);
    } finally {
      await c.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
