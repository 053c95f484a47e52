/** The generation read without a transaction while the wal-index header is unchanged: every commit, by any handle or process, is still seen. */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { WalHeader } from '../../src/catalog/wal-header.js';

const put = (n: number) => ({
  op: 'put' as const,
  image: { relpath: `d/${n}.png`, size: n, mtime_ms: n, sha256: `h${n}`, status: 'ok' as const },
  vectors: [{ space: { kind: 'color', model: 'rgb-hist-4' }, vector: new Float32Array([n, 1]) }],
});

test('generation(): commits by another handle, by another process, after a WAL reset, and by itself are all seen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-wal-header-'));
  const file = join(dir, 'catalog.sqlite');
  const store = await SQLiteCatalogStore.open(file);
  const writer = await SQLiteCatalogStore.open(file);
  try {
    let n = 0;
    // several reads between commits: the later ones are the header's answer
    const expect = async (what: string) => {
      const want = await writer.generation();
      for (let i = 0; i < 3; i++) assert.equal(await store.generation(), want, `${what} (read ${i + 1})`);
    };
    await expect('fresh');
    for (let i = 0; i < 5; i++) {
      await writer.commit([put(n++)]);
      await expect(`commit ${i + 1} by another handle`);
    }
    // the WAL emptied and started over: the next commit writes where the first one did
    const raw = new Database(file);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.close();
    await expect('after a checkpoint');
    await writer.commit([put(n++)]);
    await expect('a commit into the reset WAL');
    await store.commit([put(n++)]);
    await expect('its own commit');
    const module = fileURLToPath(new URL('../../src/catalog/sqlite.js', import.meta.url));
    const script = `const { SQLiteCatalogStore } = await import(${JSON.stringify(module)});
      const s = await SQLiteCatalogStore.open(${JSON.stringify(file)});
      await s.commit([{ op: 'put', image: { relpath: 'other/p.png', size: 1, mtime_ms: 1, sha256: 'p', status: 'ok' }, vectors: [] }]);
      await s.close();`;
    const before = await store.generation();
    execFileSync(process.execPath, ['--input-type=module', '-e', script]);
    assert.equal(await store.generation(), before + 1, 'a commit by another process');
    await expect('after another process');
  } finally {
    await writer.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('WalHeader: unchanged only after keep and until a commit; no -shm file is never unchanged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-wal-header-'));
  const file = join(dir, 'catalog.sqlite');
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    const h = new WalHeader(`${file}-shm`);
    assert.equal(h.unchanged(), false, 'nothing kept yet');
    h.keep();
    assert.equal(h.unchanged(), true);
    db.exec('INSERT INTO t VALUES (1)');
    assert.equal(h.unchanged(), false, 'a commit');
    h.keep();
    assert.equal(h.unchanged(), true);
    h.close();
    assert.equal(h.unchanged(), false, 'closed');
    const none = new WalHeader(join(dir, 'missing-shm'));
    none.keep();
    assert.equal(none.unchanged(), false);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
