import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { parseNameQuery } from '../../src/catalog/names.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { LATEST_SCHEMA } from '../../src/catalog/sqlite-migrations.js';
import { catalogContract } from './contract.js';

catalogContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-catalog-'));
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'));
  return {
    store,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** The schema the first release wrote (one BLOB column per kind, no vectors table). */
function writeSchema1(file: string): void {
  const db = new Database(file);
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE images (
      id INTEGER PRIMARY KEY AUTOINCREMENT, relpath TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
      sha256 TEXT, status TEXT NOT NULL CHECK (status IN ('ok', 'skipped', 'excluded')), width INTEGER, height INTEGER,
      format TEXT, error_code TEXT, error_message TEXT, color BLOB, deep BLOB, gen INTEGER NOT NULL, added_at INTEGER NOT NULL);
    CREATE INDEX images_sha256 ON images (sha256);
    CREATE INDEX images_gen ON images (gen);
    CREATE TABLE removed (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
    CREATE INDEX removed_gen ON removed (gen);
    INSERT INTO meta VALUES ('generation', '3'), ('schema_version', '1');
  `);
  const ins = db.prepare('INSERT INTO images (relpath, size, mtime_ms, sha256, status, color, deep, gen, added_at) VALUES (?, 1, 1, ?, ?, ?, ?, ?, 0)');
  const blob = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer);
  ins.run('a.png', 'aa', 'ok', blob([1, 2, 3]), blob([0.5, 0.5]), 1);
  ins.run('b.png', 'bb', 'ok', blob([4, 5, 6]), null, 2);
  ins.run('c.png', 'cc', 'skipped', null, null, 3);
  db.close();
}

describe('sqlite catalogue migrations', () => {
  test('a schema-1 catalogue is upgraded in place: vectors move to the vectors table under the configured models', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nitamono-migrate-'));
    try {
      const file = join(dir, 'catalog.sqlite');
      writeSchema1(file);
      const store = await SQLiteCatalogStore.open(file, { legacyModels: { color: 'rgb-hist-4', deep: 'mobilenetv2-pooled' } });
      try {
        assert.equal(store.schemaVersion, LATEST_SCHEMA);
        assert.equal(await store.generation(), 3, 'the generation survives, so index files stay valid');
        assert.deepEqual(await store.vector(1, { kind: 'color', model: 'rgb-hist-4' }), Float32Array.from([1, 2, 3]));
        assert.deepEqual(await store.vector(1, { kind: 'deep', model: 'mobilenetv2-pooled' }), Float32Array.from([0.5, 0.5]));
        assert.equal(await store.vector(2, { kind: 'deep', model: 'mobilenetv2-pooled' }), undefined);
        assert.deepEqual([...(await store.snapshot({ kind: 'color', model: 'rgb-hist-4' }, 3)).ids], [1, 2]);
        assert.deepEqual(await store.countByStatus(), { ok: 2, skipped: 1, excluded: 0 });
        // schema 4 filled the name index of the rows it found
        assert.deepEqual((await store.searchNames(parseNameQuery('b')!, { limit: 10 })).hits, [{ id: 2, relpath: 'b.png' }]);
      } finally {
        await store.close();
      }
      const db = new Database(file, { readonly: true });
      const cols = (db.prepare('PRAGMA table_info(images)').all() as { name: string }[]).map((c) => c.name);
      db.close();
      assert.ok(!cols.includes('color') && !cols.includes('deep'), 'the per-kind columns are gone');
      // opening again runs nothing more
      const again = await SQLiteCatalogStore.open(file);
      assert.equal(await again.okCount(), 2);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a catalogue from a newer nitamono is refused, not modified', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nitamono-migrate-'));
    try {
      const file = join(dir, 'catalog.sqlite');
      await (await SQLiteCatalogStore.open(file)).close();
      const db = new Database(file);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(LATEST_SCHEMA + 1));
      db.close();
      await assert.rejects(SQLiteCatalogStore.open(file), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /schema/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
