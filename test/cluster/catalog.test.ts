/**
 * What cluster mode adds to the PostgreSQL catalogue, against a real private server: the
 * partition hash in SQL, partitioned reads, the collection's shared settings, trained artefacts
 * (the shared IVF centroids), the shard registry, and the migration that adds them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PostgresCatalogStore } from '../../src/catalog/postgres.js';
import { POSTGRES_LATEST_SCHEMA, POSTGRES_MIGRATIONS } from '../../src/catalog/postgres-migrations.js';
import { fmix32, shardOf } from '../../src/cluster/partition.js';
import { loadSharedQuantizer, SHARED_CENTROIDS, trainSharedQuantizer } from '../../src/cluster/quantizer.js';
import { clusterSpace, ensureClusterSettings, readClusterSettings } from '../../src/cluster/settings.js';
import type { NitamonoError } from '../../src/errors.js';
import { rng } from '../../src/util/random.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { openStore, putVectors, SPACE, server } from './helpers.js';

let collections = 0;
const fresh = (prefix: string) => `${prefix}-${++collections}`;

async function withStore<T>(name: string, fn: (s: PostgresCatalogStore) => Promise<T>): Promise<T> {
  const s = await openStore(fresh(name));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('partition hash in SQL', () => {
  test('nitamono.shard_of is the same function as shardOf, on every kind of id', async () => {
    const srv = await server();
    await (await openStore('hash')).close(); // migrates the database
    const r = rng(7);
    const ids = [
      0,
      1,
      2,
      65535,
      65536,
      2 ** 31 - 1,
      2 ** 31 - 2,
      ...Array.from({ length: 3000 }, (_, i) => i + 1),
      ...Array.from({ length: 2000 }, () => Math.floor(r() * 2 ** 31)),
    ];
    const rows = await srv.query<{ id: number; h: string; s3: number; s7: number; s1000: number }>(
      'postgres',
      'SELECT id, nitamono.fmix32(id)::text AS h, nitamono.shard_of(id, 3) AS s3, nitamono.shard_of(id, 7) AS s7, nitamono.shard_of(id, 1000) AS s1000 FROM unnest($1::int[]) AS id',
      [ids],
    );
    assert.equal(rows.length, ids.length);
    for (const row of rows) {
      assert.equal(Number(row.h), fmix32(row.id), `fmix32(${row.id})`);
      assert.equal(row.s3, shardOf(row.id, 3));
      assert.equal(row.s7, shardOf(row.id, 7));
      assert.equal(row.s1000, shardOf(row.id, 1000));
    }
  });
});

describe('partitioned reads', () => {
  test('the partitions of a snapshot and of a change set are disjoint, complete, and the whole read', async () => {
    await withStore('parts', async (s) => {
      const d = 8;
      const { data } = clusteredVectors(700, d, { seed: 3 });
      const ids = await putVectors(s, data, d, 'p', 250);
      const g1 = await s.generation();
      await s.commit(Array.from({ length: 40 }, (_, i) => ({ op: 'delete' as const, id: ids[i * 3]! })));
      const more = await putVectors(s, data.subarray(0, 50 * d), d, 'q');
      const whole = await s.snapshot(SPACE, d);
      const changes = await s.changesSince(SPACE, d, g1);
      assert.equal(changes.removed.length, 40);
      assert.equal(changes.added.ids.length, more.length);
      const S = 3;
      const got = new Map<number, string>();
      const removed: number[] = [];
      const added: number[] = [];
      for (let i = 0; i < S; i++) {
        const part = { index: i, count: S };
        const p = await s.partitionSnapshot(SPACE, d, part);
        assert.equal(p.generation, whole.generation);
        for (let j = 0; j < p.ids.length; j++) {
          assert.equal(shardOf(p.ids[j]!, S), i);
          assert.ok(!got.has(p.ids[j]!));
          got.set(p.ids[j]!, [...p.vectors.subarray(j * d, (j + 1) * d)].join());
        }
        const c = await s.partitionChangesSince(SPACE, d, g1, part);
        for (const id of c.removed) assert.equal(shardOf(id, S), i);
        for (const id of c.added.ids) assert.equal(shardOf(id, S), i);
        removed.push(...c.removed);
        added.push(...c.added.ids);
      }
      const want = new Map<number, string>();
      for (let j = 0; j < whole.ids.length; j++) want.set(whole.ids[j]!, [...whole.vectors.subarray(j * d, (j + 1) * d)].join());
      assert.deepEqual(new Map([...got].sort((a, b) => a[0] - b[0])), want);
      assert.deepEqual(
        removed.sort((a, b) => a - b),
        [...changes.removed],
      );
      assert.deepEqual(
        added.sort((a, b) => a - b),
        [...changes.added.ids],
      );
      // a partition of a space never written is empty, not an error
      assert.equal((await s.partitionSnapshot({ kind: 'color', model: 'rgb-hist-9' }, 27, { index: 0, count: 2 })).ids.length, 0);
      await assert.rejects(s.partitionSnapshot(SPACE, d, { index: 3, count: 3 }), (e: NitamonoError) => e.code === 'INVALID_ARGUMENT');
    });
  });
});

describe('collection settings', () => {
  test('recorded by the first process, kinds only added, bins / model / folder fixed once set', async () => {
    await withStore('settings', async (s) => {
      assert.equal(await readClusterSettings(s), undefined);
      const a = await ensureClusterSettings(s, { features: ['color'], colorBins: 8, root: '/mnt/photos' });
      assert.deepEqual(a.features, ['color']);
      assert.equal(a.color_bins, 8);
      assert.equal(a.root, '/mnt/photos');
      assert.deepEqual(clusterSpace(a, 'color'), { kind: 'color', model: 'rgb-hist-8' });
      // another process adds deep features; what it leaves out is kept
      const b = await ensureClusterSettings(s, { features: ['deep'] });
      assert.deepEqual(b.features, ['color', 'deep']);
      assert.equal(b.color_bins, 8);
      assert.deepEqual(await readClusterSettings(s), b);
      for (const bad of [{ colorBins: 4 }, { deepModel: 'mobilenetv2-pooled' }, { root: '/elsewhere' }]) {
        await assert.rejects(ensureClusterSettings(s, bad), (e: NitamonoError) => e.code === 'INVALID_ARGUMENT' && /cannot change/.test(e.message));
      }
      assert.deepEqual(await readClusterSettings(s), b, 'a refused change writes nothing');
      await assert.rejects(ensureClusterSettings(s, { deepModel: 'resnet-9000' }), (e: NitamonoError) => e.code === 'INVALID_ARGUMENT');
    });
  });

  test('processes settling the settings at once all end with the union of what they asked', async () => {
    const name = fresh('settle');
    const url = (await server()).url();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresCatalogStore.open(url, { collection: name })));
    try {
      const got = await Promise.all(stores.map((s, i) => ensureClusterSettings(s, { features: [i % 2 ? 'deep' : 'color'] })));
      const final = await readClusterSettings(stores[0]!);
      assert.deepEqual(final!.features, ['color', 'deep']);
      for (const g of got) assert.ok(g.features.length >= 1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('trained artefacts', () => {
  test('stored bit-exactly and versioned, per collection and space', async () => {
    await withStore('trained', async (s) => {
      const r = rng(11);
      const bytes = Uint8Array.from({ length: 4099 }, () => Math.floor(r() * 256));
      assert.equal(await s.trainedVersion(SPACE, 'ivf-centroids'), 0);
      assert.equal(await s.getTrained(SPACE, 'ivf-centroids'), undefined);
      const v1 = await s.putTrained(SPACE, 'ivf-centroids', bytes, { nlist: 7 });
      assert.equal(v1.version, 1);
      const v2 = await s.putTrained(SPACE, 'ivf-centroids', bytes.subarray(1, 9), { nlist: 2 });
      assert.equal(v2.version, 2);
      assert.equal(await s.trainedVersion(SPACE, 'ivf-centroids'), 2);
      const latest = await s.getTrained(SPACE, 'ivf-centroids');
      assert.deepEqual([latest!.version, [...latest!.data], latest!.meta], [2, [...bytes.subarray(1, 9)], { nlist: 2 }]);
      const first = await s.getTrained(SPACE, 'ivf-centroids', 1);
      assert.deepEqual(Buffer.from(first!.data), Buffer.from(bytes));
      assert.equal(await s.getTrained(SPACE, 'ivf-centroids', 3), undefined);
      assert.equal(await s.getTrained({ kind: 'color', model: 'rgb-hist-4' }, 'ivf-centroids'), undefined, 'another space has its own');
      await withStore('trained-other', async (o) => assert.equal(await o.trainedVersion(SPACE, 'ivf-centroids'), 0, 'another collection has its own'));
      await assert.rejects(s.putTrained(SPACE, 'Bad Name', bytes), (e: NitamonoError) => e.code === 'INVALID_ARGUMENT');
      // concurrent trainings get distinct versions
      const many = await Promise.all([1, 2, 3].map((i) => s.putTrained(SPACE, 'pq', bytes.subarray(0, i))));
      assert.deepEqual(many.map((a) => a.version).sort(), [1, 2, 3]);
    });
  });

  test('the shared quantizer: trained once on a hash sample of the collection, loaded bit for bit', async () => {
    await withStore('quantizer', async (s) => {
      const d = 8;
      const { data } = clusteredVectors(3000, d, { seed: 5, clusters: 20 });
      await putVectors(s, data, d, 'x', 3000);
      // 4 lists × 256 points per list < 3000: the sample is one hash partition of the ids (about half), of which k-means takes 1024
      const q = await trainSharedQuantizer(s, SPACE, { nlist: 4, threads: 1 });
      assert.equal(q.version, 1);
      assert.equal(q.nlist, 4);
      assert.equal(q.collectionSize, 3000);
      assert.ok(q.trainedOn < 3000 && q.trainedOn >= 4 * 256 * 0.8, `a sample: ${q.trainedOn}`);
      const back = await loadSharedQuantizer(s, SPACE);
      assert.equal(back!.version, 1);
      assert.deepEqual(Buffer.from(back!.centroids.buffer), Buffer.from(q.centroids.buffer));
      assert.equal(await s.trainedVersion(SPACE, SHARED_CENTROIDS), 1);
      await assert.rejects(trainSharedQuantizer(s, { kind: 'color', model: 'rgb-hist-4' }), (e: NitamonoError) => e.code === 'EMPTY_INDEX');
      // corrupt bytes are refused, never used
      await s.putTrained(SPACE, SHARED_CENTROIDS, new Uint8Array(12), { nlist: 4, dim: d });
      await assert.rejects(loadSharedQuantizer(s, SPACE), (e: NitamonoError) => e.code === 'BAD_FILE');
    });
  });
});

describe('shard registry', () => {
  test('announced entries are listed with their age; stale and withdrawn ones are not', async () => {
    await withStore('registry', async (s) => {
      const base = { space: SPACE, generation: 3, ready: true, size: 10, started_at: Date.now() };
      await s.announceShard({ ...base, node: 'a', partition: { index: 0, count: 2 }, url: 'http://127.0.0.1:1' });
      await s.announceShard({ ...base, node: 'b', partition: { index: 1, count: 2 }, url: 'http://127.0.0.1:2', ready: false });
      await s.announceShard({
        ...base,
        node: 'c',
        space: { kind: 'color', model: 'rgb-hist-4' },
        partition: { index: 0, count: 1 },
        url: 'http://127.0.0.1:3',
      });
      let live = await s.liveShards(SPACE, 10_000);
      assert.deepEqual(
        live.map((x) => [x.node, x.partition.index, x.partition.count, x.url, x.ready]),
        [
          ['a', 0, 2, 'http://127.0.0.1:1', true],
          ['b', 1, 2, 'http://127.0.0.1:2', false],
        ],
      );
      assert.ok(live.every((x) => x.age_ms >= 0 && x.age_ms < 5000));
      await new Promise((r) => setTimeout(r, 300));
      await s.announceShard({ ...base, node: 'a', partition: { index: 0, count: 2 }, url: 'http://127.0.0.1:9', generation: 4 });
      live = await s.liveShards(SPACE, 200);
      assert.deepEqual(
        live.map((x) => [x.node, x.url, x.generation]),
        [['a', 'http://127.0.0.1:9', 4]],
        'b missed its heartbeats',
      );
      await s.withdrawShard('a');
      assert.deepEqual(
        (await s.liveShards(SPACE, 10_000)).map((x) => x.node),
        ['b'],
      );
      await assert.rejects(
        s.announceShard({ ...base, node: 'x', partition: { index: 2, count: 2 }, url: 'http://h:1' }),
        (e: NitamonoError) => e.code === 'INVALID_ARGUMENT',
      );
    });
  });
});

describe('migration', () => {
  test('a database of schema 1 is brought to the latest, its collections intact', async () => {
    const srv = await server();
    const url = await srv.createDatabase('v1');
    // what nitamono with only migration 1 left behind
    await srv.query('v1', 'CREATE SCHEMA nitamono');
    await srv.query(
      'v1',
      'CREATE TABLE nitamono.schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    await srv.query('v1', POSTGRES_MIGRATIONS[0]!.sql);
    await srv.query('v1', `INSERT INTO nitamono.schema_migrations (version, description) VALUES (1, 'v1')`);
    await srv.query('v1', `INSERT INTO nitamono.collections (name, created_at) VALUES ('old', 1)`);
    await srv.query('v1', `INSERT INTO nitamono.writer (collection_id) SELECT id FROM nitamono.collections`);
    const s = await PostgresCatalogStore.open(url, { collection: 'old' });
    try {
      assert.equal(s.schemaVersion, POSTGRES_LATEST_SCHEMA);
      assert.ok(POSTGRES_LATEST_SCHEMA >= 2);
      await putVectors(s, Float32Array.from([1, 2, 3, 4]), 2, 'm');
      assert.equal((await s.partitionSnapshot(SPACE, 2, { index: 0, count: 1 })).ids.length, 2);
      assert.equal(await readClusterSettings(s), undefined);
      assert.equal((await ensureClusterSettings(s, {})).features[0], 'color');
      const applied = await srv.query<{ version: number }>('v1', 'SELECT version FROM nitamono.schema_migrations ORDER BY version');
      assert.deepEqual(
        applied.map((r) => r.version),
        POSTGRES_MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await s.close();
    }
  });
});
