/**
 * Extraction jobs on BullMQ against a real, private Redis (test/services/redis-server.ts): jobs
 * land in a shared SQLite catalogue with the in-process runner's vectors, duplicates are one
 * queue job, a SIGKILLed worker's job is finished by another, poison jobs become skipped rows,
 * and an unreachable Redis is a named error. No redis-server: the suite fails.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import type { FeatureSpace } from '../../src/catalog/types.js';
import { Collection } from '../../src/collection/collection.js';
import { SpaceExtractors } from '../../src/collection/extractors.js';
import { hashFile } from '../../src/collection/folder.js';
import { NitamonoError } from '../../src/errors.js';
import { FeatureExtractor } from '../../src/image/extract.js';
import { type ExtractFn, type ExtractionJob, extractionJob, InProcessJobRunner, type JobResult } from '../../src/ingest/jobs.js';
import {
  BullJobRunner,
  ExtractionQueue,
  type ExtractorFor,
  type QueueProgressEvent,
  queueJobId,
  queueJobRunner,
  runExtractionWorker,
} from '../../src/ingest/queue.js';
import { CLI, gradient, noise, runCli, shape } from '../collection/helpers.js';
import { freePort, type RedisServer, redisServerBinary, startRedis } from '../services/redis-server.js';
import { tempDir } from '../temp-dir.js';
import type { ChildLine, ChildWorkerConfig } from './queue-worker-child.js';

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };
const CHILD = fileURLToPath(new URL('./queue-worker-child.js', import.meta.url));
/** Short locks so a dead worker's job moves on within seconds. */
const FAST_LOCKS = { lockDurationMs: 1000, stalledIntervalMs: 1000 };

interface Reference {
  vector: Float32Array;
  width: number | null;
  height: number | null;
  format: string | null;
  sha256: string | null;
}

/** One job per content of the folder (copies share a job), files in name order. */
async function folderJobs(root: string, spaces: FeatureSpace[] = [COLOR]): Promise<ExtractionJob[]> {
  const files: { abs: string; relpath: string; size: number; mtime_ms: number; sha: string }[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = join(dir, e.name);
      if (e.isDirectory()) await walk(abs);
      else {
        const st = await stat(abs);
        files.push({ abs, relpath: relative(root, abs), size: st.size, mtime_ms: st.mtimeMs, sha: await hashFile(abs) });
      }
    }
  };
  await walk(root);
  const groups = new Map<string, typeof files>();
  for (const f of files) groups.set(f.sha, [...(groups.get(f.sha) ?? []), f]);
  return [...groups.values()].map((g) =>
    extractionJob(
      g[0]!.sha,
      g[0]!.abs,
      spaces,
      g.map((f) => ({ relpath: f.relpath, size: f.size, mtime_ms: f.mtime_ms })),
    ),
  );
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Every file of the jobs has an ok row holding the reference vector, and there is no other row. */
async function assertCatalogMatches(store: SQLiteCatalogStore, jobs: readonly ExtractionJob[], ref: Map<string, Reference>): Promise<void> {
  const relpaths = jobs.flatMap((j) => j.files.map((f) => f.relpath));
  const counts = await store.countByStatus();
  assert.deepEqual(counts, { ok: relpaths.length, skipped: 0, excluded: 0 }, 'one row per file, nothing else');
  for (const relpath of relpaths) {
    const row = await store.byRelpath(relpath);
    assert.ok(row, `a row for ${relpath}`);
    const want = ref.get(relpath)!;
    assert.equal(row.status, 'ok', relpath);
    assert.deepEqual([row.sha256, row.width, row.height, row.format], [want.sha256, want.width, want.height, want.format], relpath);
    const v = await store.vector(row.id, COLOR);
    assert.ok(v, `a vector for ${relpath}`);
    assert.deepEqual(
      Buffer.from(v.buffer, v.byteOffset, v.byteLength),
      Buffer.from(want.vector.buffer, want.vector.byteOffset, want.vector.byteLength),
      relpath,
    );
  }
}

interface ChildWorker {
  child: ChildProcess;
  lines: ChildLine[];
  waitFor(pred: (l: ChildLine) => boolean, timeoutMs?: number): Promise<ChildLine>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** The compiled worker entry in a child process (node itself, so a kill hits the worker). */
async function startChild(cfg: ChildWorkerConfig): Promise<ChildWorker> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: ChildLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as ChildLine);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.on('exit', () => {
    children.delete(child);
    for (const w of waiters) w();
  });
  const waitFor = (pred: (l: ChildLine) => boolean, timeoutMs = 20_000) =>
    new Promise<ChildLine>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          done();
          resolve(hit);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`the worker process ended (${child.exitCode ?? child.signalCode}): ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no such line from the worker process within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  await waitFor((l) => l.type === 'ready');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return { child, lines, waitFor, stop };
}

/** `nitamono worker …` (node itself, the compiled CLI); stop() sends SIGTERM and collects its output. */
async function startCliWorker(args: string[]): Promise<{ stop(): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> }> {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nitamono worker did not start: ${stderr}`)), 20_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('taking jobs')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`nitamono worker ended: ${stderr}`)));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const end = await exited;
      clearTimeout(t);
      return { ...end, stdout, stderr };
    },
  };
}

describe('extraction jobs on a BullMQ queue', () => {
  let redis: RedisServer;
  const tmp = tempDir('nitamono-queue-');
  const root = join(tmp.path, 'images');
  const extractors = new SpaceExtractors(1);
  let jobs: ExtractionJob[];
  /** Per relpath: what the in-process runner stores. */
  const ref = new Map<string, Reference>();
  let catalogs = 0;

  /** A fresh shared catalogue (the schema made here, before workers open it). */
  const newCatalog = async () => {
    const file = join(tmp.path, `catalog-${++catalogs}.sqlite`);
    return { file, store: await SQLiteCatalogStore.open(file) };
  };
  const slowExtract =
    (ms: number): ExtractorFor =>
    (spaces) => {
      const inner = extractors.extractFn(spaces);
      return async (path) => {
        await new Promise((r) => setTimeout(r, ms));
        return inner(path);
      };
    };

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 7; i++) await noise(join(root, `noise/n${i}.png`), i + 1);
    await gradient(join(root, 'g/red-blue.png'), [255, 0, 0], [0, 0, 255]);
    await gradient(join(root, 'g/green-black.png'), [0, 255, 0], [0, 0, 0]);
    await shape(join(root, 's/circle.png'), 'circle', 'orange');
    await shape(join(root, 's/square.png'), 'square', 'purple');
    // a copy: one job, two rows
    await copyFile(join(root, 'noise/n0.png'), join(root, 'copy-of-n0.png'));
    jobs = await folderJobs(root);

    // the reference: the in-process runner on this process's worker-thread extractor
    const { store } = await newCatalog();
    const fx = new FeatureExtractor({ kinds: ['color'], colorBins: 4, threads: 1 });
    try {
      for await (const r of new InProcessJobRunner(store, (p) => fx.extract(p), 4).run(jobs)) await store.commit(r.writes);
      for (const j of jobs) {
        for (const f of j.files) {
          const row = (await store.byRelpath(f.relpath))!;
          ref.set(f.relpath, { vector: (await store.vector(row.id, COLOR))!, width: row.width, height: row.height, format: row.format, sha256: row.sha256 });
        }
      }
    } finally {
      await fx.close();
      await store.close();
    }
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await extractors.close();
    await redis?.stop();
    tmp.dispose();
  });

  test('jobs run on two workers, one in another process: every row lands with the in-process vectors', async () => {
    assert.equal(jobs.length, 11, '12 files, 11 contents');
    const { file, store } = await newCatalog();
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'two-workers', backoffMs: 50 });
    // both workers slowed a little, so each gets some of the jobs
    const child = await startChild({ url: redis.url, queueName: 'two-workers', catalog: file, concurrency: 2, ...FAST_LOCKS, slow: { match: '.', ms: 60 } });
    const local = await runExtractionWorker({ url: redis.url, queueName: 'two-workers', store, extract: slowExtract(60), concurrency: 2, ...FAST_LOCKS });
    try {
      const events: QueueProgressEvent[] = [];
      const results = await collect(new BullJobRunner(queue, { store, reconcileMs: 1000, onProgress: (e) => events.push(e) }).run(jobs));
      assert.deepEqual(results.map((r) => r.job.key).sort(), jobs.map((j) => j.key).sort(), 'each job once');
      assert.ok(
        results.every((r) => r.outcome.status === 'extracted' && r.writes.length === 0),
        'extracted, and committed by the workers',
      );
      assert.equal(events.filter((e) => e.type === 'finished').length, jobs.length);
      const remote = child.lines.filter((l) => l.type === 'completed').length;
      assert.ok(remote >= 1 && local.stats.completed >= 1, `both workers worked (child ${remote}, local ${local.stats.completed})`);
      assert.equal(remote + local.stats.completed, jobs.length, 'no job ran twice');
      await assertCatalogMatches(store, jobs, ref);
    } finally {
      await child.stop();
      await local.close();
      await queue.close();
      await store.close();
    }
  });

  test('a collection updated through the queue, with a `nitamono worker` process, matches one updated in process', async () => {
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'collection', backoffMs: 50 });
    const colQ = join(tmp.path, 'col-queue');
    const colP = join(tmp.path, 'col-inprocess');
    const opts = { root, create: true, features: ['color' as const], threads: 1 };
    const viaQueue = await Collection.open(colQ, opts, { jobRunner: queueJobRunner(queue, { reconcileMs: 1000 }) });
    const inProcess = await Collection.open(colP, opts);
    const cli = await startCliWorker(['--collection', colQ, '--redis', redis.url, '--queue', 'collection', '--threads', '1', '--concurrency', '4']);
    try {
      const a = await viaQueue.update();
      const b = await inProcess.update();
      for (const k of ['indexed', 'reused', 'changed', 'skipped_new', 'images', 'removed'] as const) assert.equal(a[k], b[k], k);
      assert.equal(a.images, 12);
      assert.deepEqual(a.index, b.index);
      for (const j of jobs) {
        for (const f of j.files) {
          const [x, y] = [await viaQueue.getImageByPath(f.relpath), await inProcess.getImageByPath(f.relpath)];
          assert.deepEqual(await viaQueue.storedVector(x!.id, 'color'), await inProcess.storedVector(y!.id, 'color'), f.relpath);
        }
      }
      const hit = await viaQueue.search({ path: 's/circle.png' }, { k: 3 });
      assert.equal(hit.results[0]!.path, 's/circle.png');
      // nothing changed: the second update plans no job
      const again = await viaQueue.update();
      assert.equal(again.unchanged, 12);
    } finally {
      const end = await cli.stop();
      await viaQueue.close();
      await inProcess.close();
      await queue.close();
      assert.deepEqual([end.code, end.signal], [0, null], end.stderr);
      assert.match(end.stdout, new RegExp(`worker stopped: ${jobs.length} jobs done, 0 failed`));
    }
  });

  test('the same jobs enqueued twice are one queue job each, and their rows are written once', async () => {
    const { store } = await newCatalog();
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'dedup', backoffMs: 50 });
    try {
      assert.equal(new Set(jobs.map(queueJobId)).size, jobs.length);
      assert.ok(jobs.every((j) => !queueJobId(j).includes(':')));
      await queue.enqueue(jobs);
      await queue.enqueue(jobs);
      assert.equal((await queue.counts()).waiting, jobs.length, 'no duplicate queue job');

      const worker = await runExtractionWorker({ url: redis.url, queueName: 'dedup', store, extract: (s) => extractors.extractFn(s), concurrency: 4 });
      try {
        const first = await collect(queue.results(jobs, { reconcileMs: 1000 }));
        assert.equal(first.length, jobs.length);
        assert.equal(worker.stats.completed, jobs.length, 'each job ran once');
        await assertCatalogMatches(store, jobs, ref);
        const ids = new Map(first.map((r) => [r.job.key, r.ids]));
        const generation = await store.generation();

        // enqueued again once done: run again (its rows may have changed since), found stored, nothing rewritten
        const summary = await queue.enqueue(jobs);
        assert.equal(summary.requeued, jobs.length);
        const second = await collect(queue.results(jobs, { reconcileMs: 1000 }));
        assert.ok(second.every((r) => r.outcome.status === 'reused'));
        assert.deepEqual(new Map(second.map((r) => [r.job.key, r.ids])), ids, 'the same row ids');
        assert.equal(await store.generation(), generation, 'no row written');
        await assertCatalogMatches(store, jobs, ref);
      } finally {
        await worker.close();
      }
    } finally {
      await queue.close();
      await store.close();
    }
  });

  test('a worker SIGKILLed mid-job: another worker finishes its job after the stall interval', async () => {
    const { file, store } = await newCatalog();
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'stall', backoffMs: 50 });
    const victim = jobs[0]!;
    // the victim is first in the queue and takes a minute in the child: it is mid-job when killed
    const child = await startChild({
      url: redis.url,
      queueName: 'stall',
      catalog: file,
      concurrency: 1,
      ...FAST_LOCKS,
      slow: { match: `${victim.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, ms: 60_000 },
    });
    let rescuer: Awaited<ReturnType<typeof runExtractionWorker>> | undefined;
    try {
      const events: QueueProgressEvent[] = [];
      await queue.enqueue(jobs);
      const done = collect(queue.results(jobs, { reconcileMs: 1000, onProgress: (e) => events.push(e) }));
      await child.waitFor((l) => l.type === 'active' && l.relpath === victim.files[0]!.relpath);
      process.kill(child.child.pid!, 'SIGKILL');
      await child.waitFor(() => false, 10_000).catch(() => undefined); // returns once it is gone
      assert.equal(child.child.signalCode, 'SIGKILL');

      rescuer = await runExtractionWorker({
        url: redis.url,
        queueName: 'stall',
        store,
        extract: (s) => extractors.extractFn(s),
        concurrency: 2,
        ...FAST_LOCKS,
      });
      const t0 = Date.now();
      const results = await done;
      assert.equal(results.length, jobs.length);
      assert.ok(results.every((r) => r.outcome.status === 'extracted'));
      assert.equal(rescuer.stats.completed, jobs.length, 'the rescuer ran every job, the killed one included');
      assert.ok(
        events.some((e) => e.type === 'stalled' && e.job.key === victim.key),
        'the queue saw the stall',
      );
      assert.ok(Date.now() - t0 < 20_000);
      await assertCatalogMatches(store, jobs, ref);
    } finally {
      await child.stop();
      await rescuer?.close();
      await queue.close();
      await store.close();
    }
  });

  test('a job whose workers keep dying is recorded as skipped once it has stalled more than maxStalls times', async () => {
    const { file, store } = await newCatalog();
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'stall-limit', backoffMs: 50 });
    const victim = jobs[1]!;
    const child = await startChild({
      url: redis.url,
      queueName: 'stall-limit',
      catalog: file,
      concurrency: 1,
      ...FAST_LOCKS,
      slow: { match: '.', ms: 60_000 },
    });
    let rescuer: Awaited<ReturnType<typeof runExtractionWorker>> | undefined;
    try {
      await queue.enqueue([victim]);
      const done = collect(queue.results([victim], { reconcileMs: 1000 }));
      await child.waitFor((l) => l.type === 'active');
      process.kill(child.child.pid!, 'SIGKILL');
      await child.waitFor(() => false, 10_000).catch(() => undefined);
      // maxStalls 0: the first stall is one too many
      rescuer = await runExtractionWorker({
        url: redis.url,
        queueName: 'stall-limit',
        store,
        extract: (s) => extractors.extractFn(s),
        maxStalls: 0,
        ...FAST_LOCKS,
      });
      const [r] = await done;
      assert.deepEqual(r!.outcome, { status: 'failed', code: 'IO', reason: 'its worker stopped 1 time while extracting it (killed, out of memory or hung)' });
      const row = (await store.byRelpath(victim.files[0]!.relpath))!;
      assert.deepEqual([row.status, row.error_code], ['skipped', 'IO']);
      assert.deepEqual({ ...rescuer.stats }, { completed: 0, retried: 0, failed: 1 });
    } finally {
      await child.stop();
      await rescuer?.close();
      await queue.close();
      await store.close();
    }
  });

  test('poison jobs: an undecodable or vanished image is a skipped row; a throwing job is retried, then recorded', async () => {
    const poison = join(tmp.path, 'poison');
    await noise(join(poison, 'flaky.png'), 101);
    await noise(join(poison, 'broken.png'), 102);
    await noise(join(poison, 'vanished.png'), 103);
    await writeFile(join(poison, 'corrupt.png'), Buffer.from('\x89PNG\r\n\x1a\nthis is not a png at all'));
    const poisonJobs = await folderJobs(poison);
    await rm(join(poison, 'vanished.png')); // gone between the plan and the job
    const byName = (name: string) => poisonJobs.find((j) => j.files[0]!.relpath === name)!;
    const { store } = await newCatalog();
    const queue = await ExtractionQueue.open({ url: redis.url, queueName: 'poison', attempts: 3, backoffMs: 50 });
    const calls = new Map<string, number>();
    const extract: ExtractorFor = (spaces) => {
      const inner: ExtractFn = extractors.extractFn(spaces);
      return async (path) => {
        const n = (calls.get(path) ?? 0) + 1;
        calls.set(path, n);
        if (path.endsWith('broken.png')) throw new Error('the disk went away');
        if (path.endsWith('flaky.png') && n === 1) throw Object.assign(new Error('read timed out'), { code: 'ETIMEDOUT' });
        return inner(path);
      };
    };
    const worker = await runExtractionWorker({ url: redis.url, queueName: 'poison', store, extract, concurrency: 2 });
    try {
      const events: QueueProgressEvent[] = [];
      const results: JobResult[] = await collect(new BullJobRunner(queue, { store, reconcileMs: 1000, onProgress: (e) => events.push(e) }).run(poisonJobs));
      const outcome = (name: string) => results.find((r) => r.job.key === byName(name).key)!.outcome;

      const corrupt = outcome('corrupt.png');
      assert.equal(corrupt.status, 'failed');
      const corruptRow = (await store.byRelpath('corrupt.png'))!;
      assert.equal(corruptRow.status, 'skipped');
      assert.ok(corruptRow.error_code && corruptRow.error_message, 'a code and a reason');
      assert.equal(corrupt.status === 'failed' && corrupt.reason, corruptRow.error_message);
      assert.equal(calls.get(byName('corrupt.png').path), 1, 'a bad image is an outcome, not retried');

      const vanished = outcome('vanished.png');
      assert.equal(vanished.status === 'failed' && vanished.code, 'NOT_FOUND');
      assert.deepEqual([(await store.byRelpath('vanished.png'))!.status, (await store.byRelpath('vanished.png'))!.error_code], ['skipped', 'NOT_FOUND']);

      assert.equal(outcome('flaky.png').status, 'extracted', 'retried once, then done');
      assert.equal((await store.byRelpath('flaky.png'))!.status, 'ok');
      assert.ok(events.some((e) => e.type === 'retrying' && e.job.key === byName('flaky.png').key));

      const broken = outcome('broken.png');
      assert.equal(calls.get(byName('broken.png').path), 3, 'every try');
      assert.equal(broken.status, 'failed');
      assert.equal(broken.status === 'failed' && broken.code, 'IO');
      assert.match(broken.status === 'failed' ? broken.reason : '', /the disk went away \(gave up after 3 tries\)/);
      const brokenRow = (await store.byRelpath('broken.png'))!;
      assert.deepEqual([brokenRow.status, brokenRow.error_code, brokenRow.error_message], ['skipped', 'IO', 'the disk went away (gave up after 3 tries)']);
      assert.deepEqual({ ...worker.stats }, { completed: 3, retried: 3, failed: 1 });
    } finally {
      await worker.close();
      await queue.close();
      await store.close();
    }
  });

  test('Redis not reachable: a named error within the connect timeout, not a hang', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const named = (e: unknown) => e instanceof NitamonoError && e.code === 'UNAVAILABLE' && e.message.includes(url);
    let t0 = Date.now();
    await assert.rejects(ExtractionQueue.open({ url, queueName: 'q', connectTimeoutMs: 1500 }), named);
    assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
    const { store } = await newCatalog();
    try {
      t0 = Date.now();
      await assert.rejects(runExtractionWorker({ url, queueName: 'q', store, extract: (s) => extractors.extractFn(s), connectTimeoutMs: 1500 }), named);
      assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
    } finally {
      await store.close();
    }
    // the CLI worker: exit 4 (the machine refused) and the message
    const col = join(tmp.path, 'col-unreachable');
    await (await Collection.open(col, { root, create: true, threads: 1 })).close();
    t0 = Date.now();
    const r = await runCli(['worker', '--collection', col, '--queue', 'q', '--redis', url]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot reach the job queue's Redis at ${url}`));
    assert.ok(Date.now() - t0 < 10_000);

    await assert.rejects(ExtractionQueue.open({ url: 'http://127.0.0.1:1', queueName: 'q' }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(ExtractionQueue.open({ url: redis.url, queueName: 'a:b' }), { code: 'INVALID_ARGUMENT' });

    // a password is never shown
    const secret = `redis://user:hunter2@127.0.0.1:${await freePort()}`;
    await assert.rejects(ExtractionQueue.open({ url: secret, queueName: 'q', connectTimeoutMs: 1000 }), (e: Error) => {
      assert.ok(!e.message.includes('hunter2') && e.message.includes('user:***@'), e.message);
      return true;
    });
  });

  test('without redis-server the queue tests fail with how to install it', () => {
    const saved = process.env.NITAMONO_REDIS_SERVER;
    process.env.NITAMONO_REDIS_SERVER = join(tmp.path, 'no-such-redis-server');
    try {
      assert.throws(() => redisServerBinary(), /redis-server is not installed.*apt-get install redis-server/);
    } finally {
      if (saved === undefined) delete process.env.NITAMONO_REDIS_SERVER;
      else process.env.NITAMONO_REDIS_SERVER = saved;
    }
  });
});
