/**
 * Cluster mode's operations, with the compiled CLI against a private PostgreSQL and Redis:
 * - a Redis restarted in the middle of `index --catalog --queue` (a crash, no persistence: every
 *   queued job lost) — the index run and the worker reconnect, the jobs Redis lost are queued
 *   again, and the catalogue ends as a single-machine index's, each row once;
 * - a Redis with an append-only file crashing after `index --detach`: the jobs survive it and
 *   workers started later finish them (the persistence docs/cluster.md asks for);
 * - `search --catalog` with no shard registered searches the whole collection in its own process
 *   (`mode: local`) and answers as the single-machine `search --exact`; `--no-local` refuses;
 * - `info --catalog [--queue]`: settings, images by status, generation, vectors per space, the
 *   shared quantizer, the registry's shards and the queue, as JSON and as text.
 * Colour features only: extraction is cheap, the point is what runs where.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PostgresCatalogStore } from '../../src/catalog/postgres.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import type { FeatureSpace } from '../../src/catalog/types.js';
import { trainSharedQuantizer } from '../../src/cluster/quantizer.js';
import type { ClusterStats } from '../../src/cluster/stats.js';
import { gradient, removeDir, runCli, tempDir } from '../collection/helpers.js';
import { freePort, type RedisServer, startRedis } from '../services/redis-server.js';
import { type Child, openStore, rowsByRelpath, server, spawnCli, startShard, startWorker, stopWorker, until, waitShards, writeMixedFolder } from './helpers.js';

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };
/** One job at a time, so the run is still going when Redis goes down. */
const SLOW_WORKER = ['--threads', '1', '--concurrency', '1', '--lock-duration', '1000', '--stalled-interval', '1000'];

interface IndexJson {
  indexed: number;
  reused: number;
  images: number;
  skipped_new: number;
  enqueued: number;
  queued: number;
  interrupted: boolean;
}

interface SearchJson {
  mode: string;
  method: string;
  nlist?: number;
  coverage: { shards: number; answered: number; ratio: number };
  shards: unknown[];
  results: { relpath?: string; path: string; distance: number }[];
}

describe('cluster operations: a Redis restart, local search, info', () => {
  let base: string;
  let root: string;
  let local: string;
  let catalog: string;
  let redis: RedisServer;
  let store: PostgresCatalogStore;
  let localReport: IndexJson;
  /** Searchable images in the folder. */
  let N = 0;

  before(async () => {
    base = await tempDir('nitamono-ops-');
    root = join(base, 'images');
    local = join(base, 'local-collection');
    await writeMixedFolder(root, { gradients: 12, noise: 12 });
    await writeFile(join(root, 'broken.png'), 'not a PNG');
    const [srv, r] = await Promise.all([server(), startRedis()]);
    catalog = srv.url();
    redis = r;
    store = await openStore('photos');
    const l = await runCli(['index', root, '--collection', local, '--features', 'color', '--threads', '1', '--json']);
    assert.equal(l.code, 3, l.stderr); // the broken file is skipped
    localReport = JSON.parse(l.stdout) as IndexJson;
    N = localReport.images;
    assert.equal(N, 45);
  });

  after(async () => {
    await store?.close();
    await redis?.stop();
    if (base) await removeDir(base);
  });

  /** The cluster collection holds exactly the local collection's rows, vectors bit for bit. */
  async function assertSameCatalogue(collection: PostgresCatalogStore, what: string): Promise<void> {
    const localStore = await SQLiteCatalogStore.open(join(local, 'catalog.sqlite'));
    try {
      const want = await rowsByRelpath(localStore, [COLOR]);
      const got = await rowsByRelpath(collection, [COLOR]);
      assert.deepEqual([...got.keys()], [...want.keys()], `${what}: the same relpaths, each once`);
      for (const [relpath, row] of want) assert.equal(got.get(relpath), row, `${what}: ${relpath}, row and vector`);
    } finally {
      await localStore.close();
    }
  }

  test('Redis restarted mid-run (no persistence): the index run and the worker carry on, the lost jobs are queued again, every row lands once', async () => {
    const index = spawnCli(['index', root, '--catalog', catalog, '--collection', 'photos', '--queue', redis.url, '--features', 'color', '--json']);
    await until(
      () => index.err().includes('no worker is connected'),
      () => `index: ${index.err()}`,
    );
    const worker = await startWorker(catalog, 'photos', redis.url, SLOW_WORKER);
    let rows = 0;
    await until(
      async () => {
        rows = (await store.countByStatus()).ok;
        return rows >= 3;
      },
      () => `rows: ${rows}`,
    );
    await redis.restart({ kill: true });
    assert.ok(rows < N / 2, `Redis crashed mid-run (${rows} of ${N} rows were in)`);

    const { code } = await index.exit;
    assert.equal(code, 3, index.err()); // exit 3: the broken file was skipped, as in the local run
    assert.match(index.err(), /extraction jobs vanished from the queue before running \(Redis restarted without its data\?\): queued again/);
    const report = JSON.parse(index.out()) as IndexJson;
    assert.deepEqual(
      [report.images, report.skipped_new, report.interrupted, report.queued],
      [localReport.images, localReport.skipped_new, false, 0],
      'the report of a complete run',
    );
    // a job whose worker committed it just before the crash may run again: it then counts as reused
    assert.equal(report.indexed + report.reused, localReport.indexed + localReport.reused);
    await assertSameCatalogue(store, 'after the restart');

    assert.equal(worker.child.exitCode, null, `the worker survived the restart: ${worker.err()}`);
    await stopWorker(worker);
  });

  test('Redis with an append-only file crashes after index --detach: the queued jobs survive, and workers started later finish them', async () => {
    const aof = await startRedis({ appendOnly: true });
    const aofStore = await openStore('aof');
    let worker: Child | undefined;
    try {
      const r = await runCli(['index', root, '--catalog', catalog, '--collection', 'aof', '--queue', aof.url, '--features', 'color', '--detach', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as IndexJson;
      assert.equal(report.enqueued, 45, 'one job per distinct content (the copy shares its original’s), the broken file included');
      assert.deepEqual(await aofStore.countByStatus(), { ok: 0, skipped: 0, excluded: 0 }, 'nothing written before the workers run');

      await aof.restart({ kill: true });
      worker = await startWorker(catalog, 'aof', aof.url);
      await until(
        async () => {
          const c = await aofStore.countByStatus();
          return c.ok === N && c.skipped === 1;
        },
        () => 'the jobs queued before the crash to land',
      );
      await assertSameCatalogue(aofStore, 'after the crash');
    } finally {
      if (worker) await stopWorker(worker);
      await aofStore.close();
      await aof.stop();
    }
  });

  test('search --catalog with no shard registered searches the whole collection itself, as the single-machine search --exact; --no-local refuses', async () => {
    const byDistance = (a: [string, number], b: [string, number]) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const query = join(base, 'q-gradient.png');
    await gradient(query, [20, 20, 230], [250, 140, 0]);
    const clusterSearch = async (extra: string[] = []) => {
      const c = await runCli(['search', query, '--catalog', catalog, '--collection', 'photos', '-k', String(N), '--json', ...extra]);
      assert.equal(c.code, 0, c.stderr);
      const r = JSON.parse(c.stdout) as SearchJson;
      return { ...r, answers: r.results.map((h): [string, number] => [h.relpath!, h.distance]).sort(byDistance) };
    };
    // k = N: every image is in both answers, so ties (the copy) compare in a fixed order
    const [flat, l, refused] = await Promise.all([
      clusterSearch(),
      runCli(['search', query, '--collection', local, '--exact', '-k', String(N), '--json']),
      runCli(['search', query, '--catalog', catalog, '--collection', 'photos', '--no-local']),
    ]);
    assert.equal(l.code, 0, l.stderr);
    const want = (JSON.parse(l.stdout) as SearchJson).results.map((h): [string, number] => [relative(root, resolve(h.path)), h.distance]).sort(byDistance);
    assert.deepEqual([flat.mode, flat.method, flat.coverage, flat.shards], ['local', 'exact', { shards: 1, answered: 1, ratio: 1 }, []]);
    assert.equal(flat.answers.length, N);
    assert.deepEqual(flat.answers, want);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /no shard is registered for the color features of collection "photos".*--no-local/);

    // with the shared quantizer the local index is the shards' IVF on it; every list scanned, still exact
    const q = await trainSharedQuantizer(store, COLOR, { nlist: 4, threads: 1 });
    assert.equal(q.version, 1);
    const ivf = await clusterSearch(['--exact']);
    assert.deepEqual([ivf.mode, ivf.method, ivf.nlist], ['local', 'exact', 4]);
    assert.deepEqual(ivf.answers, want);
  });

  test('info --catalog: settings, images by status, generation, vectors, quantizer, the shards of the registry and the queue; search follows the registry', async () => {
    const generation = await store.generation();
    const shard = await startShard(catalog, 'photos', 'color', '0/1');
    let stopped = false;
    try {
      await waitShards([shard.url], (h) => h.generation === generation && h.index === 'ivf');
      const worker = await startWorker(catalog, 'photos', redis.url);
      let info: ClusterStats;
      try {
        // the registry is read at the shard's next heartbeat (250 ms): ready by then
        await until(
          async () => (await store.liveShards(COLOR, 1000)).some((s) => s.ready),
          () => 'the shard ready in the registry',
        );
        const [r, text, viaShard] = await Promise.all([
          runCli(['info', '--catalog', catalog, '--collection', 'photos', '--queue', redis.url, '--json']),
          runCli(['info', '--catalog', catalog, '--collection', 'photos', '--queue', redis.url]),
          // a shard registered: search --catalog asks it
          runCli(['search', join(base, 'q-gradient.png'), '--catalog', catalog, '--collection', 'photos', '--json']),
        ]);
        assert.equal(r.code, 0, r.stderr);
        info = JSON.parse(r.stdout) as ClusterStats;
        assert.equal(text.code, 0, text.stderr);
        assert.equal(viaShard.code, 0, viaShard.stderr);
        const sj = JSON.parse(viaShard.stdout) as SearchJson;
        assert.deepEqual([sj.mode, sj.coverage.ratio, sj.shards.length], ['shards', 1, 1]);
        assert.match(text.stdout, /^Collection "photos" of nitamono@127\.0\.0\.1:\d+\/postgres — images of /);
        assert.match(text.stdout, /images: +45 searchable, 1 skipped/);
        assert.match(text.stdout, /color +rgb-hist-4: 45 vectors \(12-d\); shared quantizer v1: nlist 4/);
        assert.match(text.stdout, /shards: 1 of 1 partitions live\n +0\/1 +http:\/\/127\.0\.0\.1:\d+ +ready, generation \d+, 45 vectors, heartbeat/);
        assert.match(
          text.stdout,
          /queue: +postgres\/photos at redis:\/\/127\.0\.0\.1:\d+: 0 waiting, 0 active, 0 delayed \(retrying\), 0 failed, .*; 1 worker connected/,
        );
      } finally {
        await stopWorker(worker);
      }
      assert.deepEqual(
        [info.collection, info.database, info.backend, info.root, info.images, info.skipped, info.excluded, info.generation],
        ['photos', 'postgres', 'postgres', root, 45, 1, 0, generation],
      );
      assert.deepEqual([info.settings?.features, info.settings?.color_bins, info.settings?.index], [['color'], 4, 'auto']);
      assert.equal(info.features.length, 1);
      const f = info.features[0]!;
      assert.deepEqual([f.kind, f.model, f.dim, f.vectors], ['color', 'rgb-hist-4', 12, 45]);
      assert.deepEqual([f.quantizer?.version, f.quantizer?.nlist, f.quantizer?.dim, f.quantizer?.collection_size], [1, 4, 12, 45]);
      assert.deepEqual(f.coverage, { shards: 1, live: 1 });
      assert.equal(f.shards.length, 1);
      const s = f.shards[0]!;
      assert.deepEqual([s.shard, s.of, s.url, s.ready, s.live, s.generation, s.size], [0, 1, shard.url, true, true, generation, 45]);
      assert.ok(s.heartbeat_age_ms >= 0 && s.heartbeat_age_ms < 5000 && s.node.length > 0, JSON.stringify(s));
      assert.deepEqual(info.queue, {
        name: 'postgres/photos',
        url: redis.url,
        waiting: 0,
        active: 0,
        delayed: 0,
        prioritized: 0,
        completed: (info.queue as { completed: number }).completed,
        failed: 0,
        workers: 1,
      });

      // stopped cleanly, it leaves the registry: searched locally again, and info says so (its
      // queue's Redis down: the rest is printed, the queue says why, exit 4)
      assert.equal(await shard.stop(), 0);
      stopped = true;
      const closed = await freePort();
      const [after, again, missing] = await Promise.all([
        runCli(['info', '--catalog', catalog, '--collection', 'photos', '--queue', `redis://127.0.0.1:${closed}`, '--json']),
        runCli(['search', join(base, 'q-gradient.png'), '--catalog', catalog, '--collection', 'photos', '--json']),
        // no such collection: NOT_FOUND naming those there are (and none is made)
        runCli(['info', '--catalog', catalog, '--collection', 'nope', '--json']),
      ]);
      assert.equal(after.code, 4, after.stderr);
      const a = JSON.parse(after.stdout) as ClusterStats;
      assert.deepEqual([a.images, a.features[0]!.shards, a.features[0]!.coverage], [45, [], null]);
      assert.match((a.queue as { error: string }).error, new RegExp(`cannot reach the job queue's Redis at redis://127\\.0\\.0\\.1:${closed}`));
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as SearchJson).mode, 'local');
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr, /has no collection "nope" \(its collections: "aof", "photos"\)/);
    } finally {
      if (!stopped) await shard.kill();
    }
  });
});
