/**
 * The PostgreSQL catalogue against a real private server (test/services/postgres-server.ts,
 * one per file): the backend-independent contract, then what only a shared server has —
 * collections side by side, concurrent migrations, concurrent commits from several stores,
 * LISTEN/NOTIFY, the lease across connections, connection errors — and a Collection running on it.
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseNameQuery } from '../../src/catalog/names.js';
import { PostgresCatalogStore } from '../../src/catalog/postgres.js';
import { POSTGRES_LATEST_SCHEMA, POSTGRES_MIGRATIONS } from '../../src/catalog/postgres-migrations.js';
import type { CatalogStore, CatalogWrite, FeatureSpace, NewImage, WriterIdentity } from '../../src/catalog/types.js';
import { vectorToBlob } from '../../src/catalog/vector-bytes.js';
import { Collection } from '../../src/collection/collection.js';
import { NitamonoError } from '../../src/errors.js';
import { removeDir, solid, tempDir } from '../collection/helpers.js';
import { type PostgresServer, startPostgres } from '../services/postgres-server.js';
import { catalogContract } from './contract.js';

let serverStart: Promise<PostgresServer> | undefined;
/** The file's server, started by the first test that needs it (a failure to start fails every such test with the reason). */
const server = (): Promise<PostgresServer> => {
  serverStart ??= startPostgres();
  return serverStart;
};
after(async () => {
  const srv = await serverStart?.catch(() => undefined);
  await srv?.stop();
});

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };

function image(relpath: string, sha: string, extra: Partial<NewImage> = {}): NewImage {
  return { relpath, size: 100, mtime_ms: 1000, sha256: sha, status: 'ok', width: 4, height: 3, format: 'png', ...extra };
}

function put(relpath: string, sha: string, v: number[], extra: Partial<NewImage> = {}): CatalogWrite {
  return { op: 'put', image: image(relpath, sha, extra), vectors: [{ space: COLOR, vector: Float32Array.from(v) }] };
}

let collections = 0;
/** A collection name no other test of this file uses. */
const fresh = (prefix: string) => `${prefix}-${++collections}`;

/** Opens stores and closes every one of them when `fn` ends. */
async function withStores<T>(fn: (open: (collection: string, url?: string) => Promise<PostgresCatalogStore>) => Promise<T>): Promise<T> {
  const srv = await server();
  const opened: PostgresCatalogStore[] = [];
  try {
    return await fn(async (collection, url = srv.url()) => {
      const s = await PostgresCatalogStore.open(url, { collection });
      opened.push(s);
      return s;
    });
  } finally {
    await Promise.all(opened.map((s) => s.close()));
  }
}

// Every contract case gets its own collection, deleted afterwards (its rows go with it: the foreign keys cascade).
catalogContract('postgres', async () => {
  const srv = await server();
  const collection = fresh('contract');
  const store = await PostgresCatalogStore.open(srv.url(), { collection });
  return {
    store,
    async dispose() {
      await store.close();
      await srv.query('postgres', 'DELETE FROM nitamono.collections WHERE name = $1', [collection]);
    },
  };
});

describe('postgres catalogue', () => {
  test('two collections in one database never see each other’s rows', async () => {
    await withStores(async (open) => {
      const left = await open(fresh('left'));
      const right = await open(fresh('right'));
      const l = await left.commit([put('same.png', 'L', [1, 0, 0]), put('only-left.png', 'L2', [2, 0, 0])]);
      const r = await right.commit([put('same.png', 'R', [0, 0, 1])]);
      assert.equal(l.ids[0], 1, 'ids are per collection');
      assert.equal(r.ids[0], 1);
      assert.equal(await left.generation(), 1);
      assert.equal(await right.generation(), 1);
      assert.equal((await left.byRelpath('same.png'))!.sha256, 'L');
      assert.equal((await right.byRelpath('same.png'))!.sha256, 'R');
      assert.equal(await right.byRelpath('only-left.png'), undefined);
      assert.equal(await right.get(l.ids[1]!), undefined);
      assert.deepEqual(await right.vector(1, COLOR), Float32Array.from([0, 0, 1]));
      assert.equal(await right.okCount(), 1);
      assert.equal((await right.okBySha('L', [COLOR])) ?? null, null);
      assert.deepEqual([...(await right.snapshot(COLOR, 3)).ids], [1]);
      // a delete in one leaves the other alone; each has its own generation, removals and lease
      await left.commit([{ op: 'delete', id: 1 }]);
      assert.equal(await left.generation(), 2);
      assert.equal(await right.generation(), 1);
      assert.equal((await right.changesSince(COLOR, 3, 0)).removed.length, 0);
      assert.equal((await right.get(1))!.sha256, 'R');
      const who = (token: string): WriterIdentity => ({ token, pid: 1, host: 'h', started_at: 1, command: token });
      assert.deepEqual(await left.acquireWriter(who('a'), () => false), { acquired: true });
      assert.deepEqual(await right.acquireWriter(who('b'), () => false), { acquired: true }, 'each collection has its own writer');
      // a second store on the same name is the same collection
      const leftAgain = await open(left.collection);
      assert.equal(await leftAgain.generation(), 2);
      assert.equal((await leftAgain.acquireWriter(who('c'), () => false)).acquired, false);
    });
  });

  test('rows written before schema 3 (no name tokens) get them when a store opens the database', async () => {
    const srv = await server();
    await withStores(async (open) => {
      const name = fresh('names');
      const s = await open(name);
      await s.commit([put('old/beach-day.png', 'b', [1, 2, 3]), put('old/forest.png', 'f', [1, 2, 3])]);
      // as an older nitamono left them
      await srv.query(
        'postgres',
        'UPDATE nitamono.images SET name_file = NULL, name_dirs = NULL WHERE collection_id = (SELECT id FROM nitamono.collections WHERE name = $1)',
        [name],
      );
      const again = await open(name);
      assert.deepEqual(
        (await again.searchNames(parseNameQuery('beach')!, { limit: 5 })).hits.map((h) => h.relpath),
        ['old/beach-day.png'],
      );
      assert.equal((await again.searchNames(parseNameQuery('old')!, { limit: 5 })).total, 2);
    });
  });

  test('concurrent opens of a fresh database migrate it once, under the advisory lock', async () => {
    const srv = await server();
    const url = await srv.createDatabase('race');
    await withStores(async (open) => {
      // several processes starting at once; each its own pool and connections
      const stores = await Promise.all([1, 2, 3, 4, 5].map((i) => open(i % 2 ? 'shared' : `own-${i}`, url)));
      for (const s of stores) assert.equal(s.schemaVersion, POSTGRES_LATEST_SCHEMA);
      const applied = await srv.query<{ version: number }>('race', 'SELECT version FROM nitamono.schema_migrations ORDER BY version');
      assert.deepEqual(
        applied.map((r) => r.version),
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
      const names = await srv.query<{ name: string }>('race', 'SELECT name FROM nitamono.collections ORDER BY name');
      assert.deepEqual(
        names.map((r) => r.name),
        ['own-2', 'own-4', 'shared'],
      );
      await stores[0]!.commit([put('a.png', 'a', [1, 2, 3])]);
      assert.equal(await stores[2]!.okCount(), 1, 'stores of one collection share it');
      assert.equal(await stores[1]!.okCount(), 0);
    });
  });

  test('a database written by a newer nitamono is refused, not modified', async () => {
    const srv = await server();
    const url = await srv.createDatabase('newer');
    await (await PostgresCatalogStore.open(url)).close();
    await srv.query('newer', `INSERT INTO nitamono.schema_migrations (version, description) VALUES (${POSTGRES_LATEST_SCHEMA + 1}, 'future')`);
    await assert.rejects(
      PostgresCatalogStore.open(url),
      (e: NitamonoError) => e instanceof NitamonoError && e.code === 'UNSUPPORTED' && /schema/.test(e.message),
    );
  });

  test('vectors are little-endian float32 bytea stored EXTERNAL', async () => {
    const srv = await server();
    await withStores(async (open) => {
      const s = await open(fresh('bytes'));
      const v = Float32Array.from([0.1, -2.5, Math.E]);
      await s.commit([put('v.png', 'v', [...v])]);
      const [row] = await srv.query<{ data: Buffer; storage: string }>(
        'postgres',
        `SELECT v.data, (SELECT attstorage FROM pg_attribute WHERE attrelid = 'nitamono.vectors'::regclass AND attname = 'data') AS storage
         FROM nitamono.vectors v JOIN nitamono.collections c ON c.id = v.collection_id WHERE c.name = $1`,
        [s.collection],
      );
      assert.equal(row!.storage, 'e');
      assert.deepEqual(row!.data, vectorToBlob(v));
    });
  });

  test('many concurrent commits from several stores: unique ids, strictly increasing generations, consistent changes', async () => {
    await withStores(async (open) => {
      const name = fresh('busy');
      const writers = await Promise.all([0, 1, 2, 3].map(() => open(name)));
      const reader = await open(name);
      const COMMITS = 12;
      type Put = { relpath: string; id: number };
      const results = writers.map(() => ({ gens: [] as number[], puts: [] as Put[] }));
      let done = false;

      // the reader follows the collection by changesSince while the writers commit, as a search node would
      const followed = (async () => {
        const start = await reader.snapshot(COLOR, 3);
        const have = new Map<number, string>();
        for (let i = 0; i < start.ids.length; i++) have.set(start.ids[i]!, [...start.vectors.subarray(i * 3, i * 3 + 3)].join());
        let gen = start.generation;
        let reads = 0;
        for (;;) {
          const last = done;
          const ch = await reader.changesSince(COLOR, 3, gen);
          assert.ok(ch.generation >= gen, 'the generation a reader sees never goes back');
          for (const id of ch.removed) have.delete(id);
          for (let i = 0; i < ch.added.ids.length; i++) have.set(ch.added.ids[i]!, [...ch.added.vectors.subarray(i * 3, i * 3 + 3)].join());
          gen = ch.generation;
          reads++;
          if (last) return { have, gen, reads };
          await new Promise((r) => setTimeout(r, 3));
        }
      })();
      followed.catch(() => {}); // awaited below, after the writers: a failure of the reader is reported there

      const writing = Promise.all(
        writers.map(async (s, w) => {
          for (let c = 0; c < COMMITS; c++) {
            const writes: CatalogWrite[] = [
              put(`w${w}/c${c}.png`, `w${w}-c${c}`, [w, c, 0]),
              // the same file from every writer: stored once, one id for all
              put(`shared/${c % 3}.png`, `shared-${c % 3}`, [9, c % 3, 9]),
            ];
            // one path every writer keeps replacing with its own content
            if (c % 2 === w % 2) writes.push(put('contested.png', `contested-${w}-${c}`, [7, w, c], { mtime_ms: w * 100 + c }));
            // and deletes of its own earlier files
            if (c >= 2 && c % 3 === 0) writes.push({ op: 'delete', id: results[w]!.puts.find((p) => p.relpath === `w${w}/c${c - 2}.png`)!.id });
            const r = await s.commit(writes);
            writes.forEach((x, i) => {
              if (x.op === 'put') results[w]!.puts.push({ relpath: x.image.relpath, id: r.ids[i]! });
            });
            assert.equal(r.changed, true, 'each commit adds a new file');
            results[w]!.gens.push(r.generation);
          }
        }),
      );
      // the reader stops after the writers, whether they succeeded or not, and a writer's failure is the one reported
      const failed = await writing.then(
        () => undefined,
        (err: unknown) => err ?? new Error('a writer failed'),
      );
      done = true;
      const seen = await followed;
      if (failed) throw failed;

      const final = await reader.generation();
      const gens = results.flatMap((r) => r.gens).sort((a, b) => a - b);
      assert.deepEqual(
        gens,
        Array.from({ length: writers.length * COMMITS }, (_, i) => i + 1),
        'one generation per changing commit, none given twice, none skipped',
      );
      assert.equal(final, writers.length * COMMITS);
      for (const r of results) for (let i = 1; i < r.gens.length; i++) assert.ok(r.gens[i]! > r.gens[i - 1]!, 'strictly increasing per writer');

      const puts = results.flatMap((r) => r.puts);
      const own = puts.filter((p) => p.relpath.startsWith('w'));
      assert.equal(new Set(own.map((p) => p.id)).size, own.length, 'every new file has its own id');
      for (let k = 0; k < 3; k++) {
        const ids = new Set(puts.filter((p) => p.relpath === `shared/${k}.png`).map((p) => p.id));
        assert.equal(ids.size, 1, `shared/${k}.png was put by every writer and stored once`);
      }
      const contested = puts.filter((p) => p.relpath === 'contested.png').map((p) => p.id);
      assert.equal(new Set(contested).size, contested.length, 'each new content of a path gets a new id');
      assert.equal((await reader.byRelpath('contested.png'))!.id, Math.max(...contested), 'ids are given in commit order: the last commit wins');

      // what the reader pieced together from changesSince is exactly the final state
      const snap = await reader.snapshot(COLOR, 3);
      assert.equal(snap.generation, final);
      assert.equal(seen.gen, final);
      const want = new Map<number, string>();
      for (let i = 0; i < snap.ids.length; i++) want.set(snap.ids[i]!, [...snap.vectors.subarray(i * 3, i * 3 + 3)].join());
      assert.deepEqual(new Map([...seen.have].sort((a, b) => a[0] - b[0])), want);
      assert.ok(seen.reads > 1);
      // 4 writers × 12 own files, less 3 deletes each, + 3 shared + 1 contested
      assert.equal(await reader.okCount(), writers.length * (COMMITS - 3) + 4);
      assert.deepEqual(
        [...snap.ids],
        (await reader.okRows()).map((r) => r.id),
      );
    });
  });

  test('the writer lease is taken by exactly one of many stores asking at once', async () => {
    await withStores(async (open) => {
      const name = fresh('lease');
      const stores = await Promise.all([0, 1, 2, 3, 4, 5].map(() => open(name)));
      const who = (i: number): WriterIdentity => ({ token: `t${i}`, pid: 100 + i, host: 'h', started_at: 1, command: `writer ${i}` });
      const r = await Promise.all(stores.map((s, i) => s.acquireWriter(who(i), () => false)));
      const winners = r.flatMap((x, i) => (x.acquired ? [i] : []));
      assert.equal(winners.length, 1);
      const w = winners[0]!;
      for (const x of r) if (!x.acquired) assert.equal(x.holder.token, `t${w}`, 'every loser names the winner');
      // a stale holder is taken over by exactly one of several at once too
      const again = await Promise.all(stores.map((s, i) => (i === w ? Promise.resolve(undefined) : s.acquireWriter(who(i), (h) => h.token === `t${w}`))));
      assert.equal(again.filter((x) => x?.acquired).length, 1);
      await stores[w]!.releaseWriter(who(w)); // no longer the holder: nothing happens
      assert.equal((await stores[w]!.acquireWriter(who(w), () => false)).acquired, false);
    });
  });

  test('LISTEN/NOTIFY: another store on the collection learns of each new generation, others do not', async () => {
    await withStores(async (open) => {
      const name = fresh('notify');
      const writer = await open(name);
      const watcher = await open(name);
      const elsewhere = await open(fresh('quiet'));
      const got: number[] = [];
      const quiet: number[] = [];
      let wake: (() => void) | undefined;
      const stop = await watcher.onChange((g) => {
        got.push(g);
        wake?.();
      });
      await elsewhere.onChange((g) => quiet.push(g));
      const until = async (pred: () => boolean) => {
        const deadline = Date.now() + 10_000;
        while (!pred()) {
          if (Date.now() > deadline) assert.fail(`no notification: got ${JSON.stringify(got)}`);
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 50);
          });
        }
      };
      await writer.commit([put('a.png', 'a', [1, 2, 3])]);
      await until(() => got.length >= 1);
      await writer.commit([put('a.png', 'a', [1, 2, 3])]); // changes nothing: no generation, no notification
      await writer.commit([{ op: 'put', image: image('s.png', 's', { status: 'skipped' }) }]); // not searchable: none either
      await writer.commit([put('b.png', 'b', [4, 5, 6])]);
      await until(() => got.length >= 2);
      assert.deepEqual(got, [1, 2]);

      // the listening connection is cut (a server restart, a proxy): it comes back, and reports the generation it may have missed
      const srv = await server();
      const cut = await srv.query<{ ok: boolean }>(
        'postgres',
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'nitamono-listen' AND query LIKE 'LISTEN nitamono_gen_%'",
      );
      assert.ok(cut.length >= 1);
      await writer.commit([put('c.png', 'c', [7, 8, 9])]);
      await until(() => got.includes(3));
      await writer.commit([put('d.png', 'd', [1, 1, 1])]);
      await until(() => got.includes(4));

      stop();
      await writer.commit([put('e.png', 'e', [2, 2, 2])]);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!got.includes(5), 'no call after unsubscribing');
      assert.deepEqual(
        quiet.filter((g) => g > 0),
        [],
        'another collection hears nothing',
      );
    });
  });

  test('a bad URL, an unreachable server, an unknown user and a missing database each give a clear coded error', async () => {
    const srv = await server();
    const code = (c: string, re: RegExp) => (e: unknown) => {
      assert.ok(e instanceof NitamonoError, `a NitamonoError, not ${String(e)}`);
      assert.equal(e.code, c, e.message);
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /sekrit/, 'the password is never shown');
      return true;
    };
    await assert.rejects(PostgresCatalogStore.open('not a url'), code('INVALID_ARGUMENT', /not a PostgreSQL URL/));
    await assert.rejects(PostgresCatalogStore.open('mysql://u:sekrit@127.0.0.1/x'), code('INVALID_ARGUMENT', /not a PostgreSQL URL: mysql:/));
    await assert.rejects(PostgresCatalogStore.open(srv.url(), { collection: '' }), code('INVALID_ARGUMENT', /collection name/));
    // a port nobody listens on
    const closed = await new Promise<number>((resolve) => {
      import('node:net').then(({ createServer }) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
    });
    await assert.rejects(
      PostgresCatalogStore.open(`postgres://nitamono:sekrit@127.0.0.1:${closed}/postgres`),
      code('UNAVAILABLE', new RegExp(`cannot reach the PostgreSQL server of nitamono@127\\.0\\.0\\.1:${closed}/postgres \\(ECONNREFUSED\\)`)),
    );
    await assert.rejects(
      PostgresCatalogStore.open(srv.url('postgres', 'nobody').replace('nobody@', 'nobody:sekrit@')),
      code('ACCESS_DENIED', /refused the credentials .*role "nobody" does not exist/),
    );
    await assert.rejects(PostgresCatalogStore.open(srv.url('no_such_db')), code('NOT_FOUND', /database "no_such_db" does not exist/));
  });

  test('a closed store says so', async () => {
    const srv = await server();
    const s = await PostgresCatalogStore.open(srv.url(), { collection: fresh('closed') });
    await s.close();
    await s.close();
    await assert.rejects(s.generation(), (e: NitamonoError) => e.code === 'INVALID_ARGUMENT' && /closed/.test(e.message));
  });
});

describe('a Collection on the PostgreSQL catalogue', () => {
  test('indexes real images, searches, and follows a change, with the application layer unchanged', async () => {
    const srv = await server();
    const root = await tempDir();
    const colDir = join(root, '.nitamono');
    let store: CatalogStore | undefined;
    let c: Collection | undefined;
    try {
      await solid(join(root, 'reds', 'red.png'), [255, 0, 0]);
      await solid(join(root, 'reds', 'red-dark.png'), [235, 12, 8]);
      await solid(join(root, 'greens', 'green.png'), [0, 200, 0]);
      await solid(join(root, 'greens', 'green-light.png'), [20, 220, 30]);
      await solid(join(root, 'blues', 'blue.png'), [0, 0, 255]);
      await solid(join(root, 'blues', 'blue-navy.png'), [10, 10, 200]);
      const collection = fresh('app');
      c = await Collection.open(
        colDir,
        { create: true, root, features: ['color'], threads: 1 },
        {
          store: async () => {
            store = await PostgresCatalogStore.open(srv.url(), { collection });
            return store;
          },
        },
      );
      assert.equal(c.catalog.backend, 'postgres');
      const r = await c.update();
      assert.equal(r.indexed, 6);
      assert.equal(r.images, 6);
      const red = await c.search({ path: 'reds/red.png' }, { k: 2, excludeSelf: true });
      assert.equal(red.results[0]!.path, 'reds/red-dark.png');
      const green = await c.search({ path: join(root, 'greens', 'green.png') }, { k: 1, excludeSelf: true });
      assert.deepEqual(
        green.results.map((h) => h.path),
        ['greens/green-light.png'],
      );
      // a change: red-dark now holds green content; the index follows the catalogue's changes
      await solid(join(root, 'reds', 'red-dark.png'), [0, 210, 0], 70);
      const r2 = await c.update();
      assert.equal(r2.changed, 1);
      const dark = await c.search({ path: 'reds/red-dark.png' }, { k: 1, excludeSelf: true });
      assert.ok(dark.results[0]!.path.startsWith('greens/'));
      assert.equal(await c.catalog.generation(), 2);
      // another process's view: a second store on the collection sees the same rows
      const other = await PostgresCatalogStore.open(srv.url(), { collection });
      try {
        assert.equal(await other.okCount(), 6);
        assert.equal((await other.byRelpath('reds/red-dark.png'))!.id, (await c.catalog.byRelpath('reds/red-dark.png'))!.id);
      } finally {
        await other.close();
      }
    } finally {
      await c?.close();
      if (!c) await store?.close();
      await removeDir(root);
    }
  });
});
