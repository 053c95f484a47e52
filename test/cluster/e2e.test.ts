/**
 * Cluster mode end to end, with the compiled CLI only, against a private PostgreSQL and Redis:
 * `nitamono index --catalog … --queue …` fills the shared catalogue through two `nitamono worker`
 * processes (one SIGKILLed mid-run), a second run finds nothing to do, `--no-wait` (as `--detach`) returns before
 * any worker has run its jobs and the rows land later, then three `nitamono shard` processes and
 * `nitamono search --catalog` and `nitamono serve --catalog` answer as the single-machine
 * `nitamono search --exact` does. Every
 * row and vector is compared with a single-machine `nitamono index` of the same folder, bit for
 * bit, per relpath (row ids differ: in cluster mode they follow the order workers commit in).
 *
 * Processes are node itself (process.execPath on the compiled CLI), so a SIGKILL hits the worker,
 * not a wrapper.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PostgresCatalogStore } from '../../src/catalog/postgres.js';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import type { FeatureSpace } from '../../src/catalog/types.js';
import { DEFAULT_DEEP_MODEL } from '../../src/image/deep.js';
import { gradient, noise, removeDir, runCli, shape, solid, tempDir } from '../collection/helpers.js';
import { freePort, type RedisServer, startRedis } from '../services/redis-server.js';
import {
  type Child,
  openStore,
  rowsByRelpath as rowsOf,
  type ShardProcess,
  server,
  spawnCli,
  startShard,
  startWorker as startWorkerOf,
  stopWorker,
  until,
  waitShards,
  writeMixedFolder,
} from './helpers.js';

const COLLECTION = 'photos';
const SPACES: FeatureSpace[] = [
  { kind: 'color', model: 'rgb-hist-4' },
  { kind: 'deep', model: DEFAULT_DEEP_MODEL },
];
const startWorker = (catalog: string, redis: string) => startWorkerOf(catalog, COLLECTION, redis);
const rowsByRelpath = (store: Parameters<typeof rowsOf>[0]) => rowsOf(store, SPACES);

interface IndexJson {
  indexed: number;
  changed: number;
  reused: number;
  unchanged: number;
  removed: number;
  skipped_new: number;
  skipped: { path: string; code: string }[];
  images: number;
  features: string[];
  interrupted: boolean;
  queue?: string;
  enqueued?: number;
  queued?: number;
}

describe('cluster mode end to end: index through workers, shards, search', () => {
  let base: string;
  let root: string;
  let local: string;
  let catalog: string;
  let redis: RedisServer;
  let store: PostgresCatalogStore;
  let localIndex: IndexJson;
  const workers: Child[] = [];
  const shards: ShardProcess[] = [];

  /** The single-machine collection (same folder), indexed again; its JSON report. */
  async function indexLocally(): Promise<IndexJson> {
    const r = await runCli(['index', root, '--collection', local, '--features', 'color,deep', '--threads', '1', '--json']);
    assert.ok(r.code === 0 || r.code === 3, r.stderr);
    return JSON.parse(r.stdout) as IndexJson;
  }

  /** The cluster catalogue holds exactly the local collection's rows, vectors bit for bit. */
  async function assertSameCatalogue(what: string): Promise<number> {
    const localStore = await SQLiteCatalogStore.open(join(local, 'catalog.sqlite'));
    try {
      const want = await rowsByRelpath(localStore);
      const got = await rowsByRelpath(store);
      assert.deepEqual([...got.keys()], [...want.keys()], `${what}: the same relpaths`);
      for (const [relpath, row] of want) assert.equal(got.get(relpath), row, `${what}: ${relpath}, row and vectors`);
      return want.size;
    } finally {
      await localStore.close();
    }
  }

  before(async () => {
    base = await tempDir('nitamono-e2e-');
    root = join(base, 'images');
    local = join(base, 'local-collection');
    await writeMixedFolder(root, { gradients: 8, noise: 8 });
    await writeFile(join(root, 'notes.txt'), 'not an image');
    const [srv, r] = await Promise.all([server(), startRedis()]);
    catalog = srv.url();
    redis = r;
    store = await openStore(COLLECTION);
    localIndex = await indexLocally();
    assert.equal(localIndex.images, 37);
  });

  after(async () => {
    for (const s of shards) if (s.child.exitCode === null && s.child.signalCode === null) await s.kill();
    await store?.close();
    await redis?.stop();
    if (base) await removeDir(base);
  });

  test('index --catalog --queue: two workers, one SIGKILLed mid-run; every row and vector is the single-machine one', async () => {
    const index = spawnCli(['index', root, '--catalog', catalog, '--collection', COLLECTION, '--queue', redis.url, '--features', 'color,deep', '--json']);
    // the jobs are queued before any worker runs: the index run says so and waits
    await until(
      () => index.err().includes('no worker is connected'),
      () => `index: ${index.err()}`,
    );
    assert.match(index.err(), /36 extraction jobs are on queue postgres\/photos/);
    workers.push(await startWorker(catalog, redis.url), await startWorker(catalog, redis.url));

    // kill one worker while both are extracting (each holds two jobs while the queue is not empty)
    let ok = 0;
    await until(
      async () => {
        ok = (await store.countByStatus()).ok;
        return ok >= 4;
      },
      () => `rows: ${ok}`,
    );
    assert.ok(ok < 37, `still extracting when the worker is killed (${ok} rows)`);
    const killed = workers.shift()!;
    killed.child.kill('SIGKILL');
    assert.equal((await killed.exit).signal, 'SIGKILL');

    const { code } = await index.exit;
    assert.equal(code, 0, index.err());
    assert.match(index.err(), /stopped \(killed or hung\); the job runs again on another worker/, 'the killed worker held jobs, and they moved');
    const report = JSON.parse(index.out()) as IndexJson;
    for (const key of Object.keys(localIndex)) assert.ok(key in report, `the report has ${key}, as the single-machine one`);
    for (const key of ['indexed', 'reused', 'unchanged', 'removed', 'skipped_new', 'images', 'features', 'interrupted'] as const) {
      assert.deepEqual(report[key], localIndex[key], key);
    }
    assert.deepEqual([report.queue, report.enqueued, report.queued], ['postgres/photos', 36, 0]);
    assert.equal(await assertSameCatalogue('after the run'), 37);
  });

  test('a second index run finds nothing to do', async () => {
    const r = await runCli(['index', root, '--catalog', catalog, '--collection', COLLECTION, '--queue', redis.url, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as IndexJson;
    assert.deepEqual([report.indexed, report.unchanged, report.removed, report.enqueued, report.queued, report.images], [0, 37, 0, 0, 0, 37]);
    assert.deepEqual(report.features, ['color', 'deep'], 'the recorded kinds, without --features');
    assert.doesNotMatch(r.stderr, /no worker/);
  });

  test('--no-wait (as --detach) returns once the jobs are queued; the rows land when workers take them', async () => {
    for (const w of workers.splice(0)) await stopWorker(w);
    await noise(join(root, 'later', 'n100.png'), 100, 40);
    await noise(join(root, 'later', 'n101.png'), 101, 40);
    await solid(join(root, 'later', 'teal.png'), [0, 128, 128]);
    await writeFile(join(root, 'later', 'broken.png'), 'this is not a PNG');
    await copyFile(join(root, 'noise', 'n0.png'), join(root, 'later', 'n0-copy.png'));

    // --no-wait in cluster mode: wait for nothing, as --detach (the same switch in the CLI)
    const r = await runCli(['index', root, '--catalog', catalog, '--collection', COLLECTION, '--queue', redis.url, '--no-wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as IndexJson;
    // the copy of stored content is a cheap write of the index run itself; the rest waits for workers
    assert.deepEqual([report.enqueued, report.queued, report.indexed, report.reused, report.images], [4, 4, 1, 1, 38]);
    assert.match(r.stderr, /no worker is connected/);
    for (const f of ['n100.png', 'n101.png', 'teal.png', 'broken.png']) assert.equal(await store.byRelpath(`later/${f}`), undefined, `${f}: not written yet`);

    workers.push(await startWorker(catalog, redis.url), await startWorker(catalog, redis.url));
    await until(
      async () => {
        const c = await store.countByStatus();
        return c.ok === 41 && c.skipped === 1;
      },
      () => 'the detached jobs to land',
    );
    const localAgain = await indexLocally();
    assert.equal(localAgain.images, 41);
    assert.deepEqual(
      localAgain.skipped.map((s) => s.code),
      ['DECODE_FAILED'],
    );
    assert.equal(await assertSameCatalogue('after --detach'), 42);
  });

  test('three shards: search --catalog and serve --catalog give the neighbours and distances of the single-machine exact search', async () => {
    const procs = await Promise.all(['0/3', '1/3', '2/3'].map((spec) => startShard(catalog, COLLECTION, 'deep', spec)));
    shards.push(...procs);
    const g = await store.generation();
    const hs = await waitShards(
      procs.map((p) => p.url),
      (h) => h.generation >= g,
    );
    assert.equal(
      hs.reduce((n, h) => n + h.size, 0),
      41,
    );
    const queries = [join(base, 'q-red.png'), join(base, 'q-gradient.png'), join(base, 'q-circle.png')];
    await solid(queries[0]!, [230, 30, 25]);
    await gradient(queries[1]!, [20, 20, 230], [250, 140, 0]);
    await shape(queries[2]!, 'circle', 'purple', 'white');
    const byDistance = (a: [string, number], b: [string, number]) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    const answers = new Map<string, [string, number][]>();
    for (const q of queries) {
      const [c, l] = await Promise.all([
        runCli(['search', q, '--catalog', catalog, '--collection', COLLECTION, '--features', 'deep', '-k', '41', '--json']),
        runCli(['search', q, '--collection', local, '--features', 'deep', '--exact', '-k', '41', '--json']),
      ]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(l.code, 0, l.stderr);
      const got = JSON.parse(c.stdout) as { coverage: { ratio: number }; results: { relpath: string; distance: number }[] };
      const want = JSON.parse(l.stdout) as { results: { path: string; distance: number }[] };
      assert.equal(got.coverage.ratio, 1);
      // every image is in both answers (k = N), so ties (the copies) compare in a fixed order
      const answer = got.results.map((h): [string, number] => [h.relpath, h.distance]).sort(byDistance);
      assert.deepEqual(answer, want.results.map((h): [string, number] => [relative(root, resolve(h.path)), h.distance]).sort(byDistance), q);
      answers.set(q, answer);
    }

    // serve --catalog: the same answers through the HTTP API, read-only
    const serve = spawnCli(['serve', '--catalog', catalog, '--collection', COLLECTION, '--port', '0']);
    await until(
      () => /serving collection .* at (http:\/\/\S+?)\/\n/.test(serve.out()) || serve.child.exitCode !== null,
      () => `serve: ${serve.out()} ${serve.err()}`,
    );
    const api = /serving collection .* at (http:\/\/\S+?)\/\n/.exec(serve.out())?.[1];
    assert.ok(api, serve.err());
    for (const q of queries) {
      const form = new FormData();
      form.set('image', new Blob([await readFile(q)], { type: 'image/png' }), 'query.png');
      form.set('features', 'deep');
      form.set('k', '41');
      const res: Response = await fetch(`${api}/api/search`, { method: 'POST', body: form });
      const body = (await res.json()) as { coverage: { ratio: number }; query: { source: string }; results: { path: string; distance: number }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual([body.coverage.ratio, body.query.source], [1, 'extracted']);
      assert.deepEqual(body.results.map((h): [string, number] => [h.path, h.distance]).sort(byDistance), answers.get(q), `serve: ${q}`);
    }
    const byId = await fetch(`${api}/api/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: (await store.byRelpath('solids/s0.png'))!.id, features: 'deep', k: 2 }),
    });
    const idBody = (await byId.json()) as { query: { source: string; path: string }; results: { path: string; distance: number }[] };
    assert.equal(byId.status, 200);
    assert.equal(idBody.query.path, 'solids/s0.png');
    assert.deepEqual(idBody.results.map((h) => [h.path, h.distance]).sort(), [
      ['solids/s0-copy.png', 0],
      ['solids/s0.png', 0],
    ]);
    const upload = await fetch(`${api}/api/images`, { method: 'POST', body: new FormData() });
    assert.equal(upload.status, 404, 'no uploads in cluster mode');
    serve.child.kill('SIGTERM');
    assert.equal((await serve.exit).code, 0, serve.err());

    for (const s of shards.splice(0)) assert.equal(await s.stop(), 0);
    for (const w of workers.splice(0)) await stopWorker(w);
  });

  test('unreachable PostgreSQL or Redis: a named error and exit 4; a never-indexed collection: the worker refuses', async () => {
    const closed = await freePort();
    const noPg = await runCli(['index', root, '--catalog', `postgres://nitamono@127.0.0.1:${closed}/postgres`, '--queue', redis.url]);
    assert.equal(noPg.code, 4, noPg.stderr);
    assert.match(noPg.stderr, /cannot reach the PostgreSQL server of nitamono@127\.0\.0\.1:\d+\/postgres/);

    const noRedis = await runCli(['index', root, '--catalog', catalog, '--collection', 'never', '--queue', `redis://127.0.0.1:${closed}`]);
    assert.equal(noRedis.code, 4, noRedis.stderr);
    assert.match(noRedis.stderr, new RegExp(`cannot reach the job queue's Redis at redis://127\\.0\\.0\\.1:${closed}`));
    const never = await openStore('never');
    try {
      assert.equal(await never.settings(), undefined, 'nothing recorded before both servers answered');
    } finally {
      await never.close();
    }

    const workerNoPg = await runCli(['worker', '--catalog', `postgres://nitamono@127.0.0.1:${closed}/postgres`, '--queue', redis.url]);
    assert.equal(workerNoPg.code, 4, workerNoPg.stderr);
    assert.match(workerNoPg.stderr, /cannot reach the PostgreSQL server/);
    const workerNew = await runCli(['worker', '--catalog', catalog, '--collection', 'never', '--queue', redis.url]);
    assert.equal(workerNew.code, 2, workerNew.stderr);
    assert.match(workerNew.stderr, /collection "never" has no settings yet.*nitamono index <folder> --catalog/);
  });
});
