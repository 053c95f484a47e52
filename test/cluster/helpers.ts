/**
 * Shared by the cluster tests: the file's private PostgreSQL server (started by the first test
 * that needs it, stopped after the file; a missing server fails the tests, never skips them),
 * vectors written straight into the catalogue with `commit`, reference indexes, shard, worker
 * and other CLI processes (killed after the file if a failed test left them running), and a
 * catalogue's rows compared by relpath.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PostgresCatalogStore } from '../../src/catalog/postgres.js';
import type { CatalogReader, CatalogWrite, FeatureSpace } from '../../src/catalog/types.js';
import type { ClusterSearchResult } from '../../src/cluster/coordinator.js';
import { inPartition } from '../../src/cluster/partition.js';
import type { ShardHealth } from '../../src/cluster/wire.js';
import { DEFAULT_DEEP_MODEL } from '../../src/image/deep.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import type { SearchResult, VectorIndex } from '../../src/search/types.js';
import { gradient, noise, shape, solid } from '../collection/helpers.js';
import { type PostgresServer, startPostgres } from '../services/postgres-server.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The synthetic vectors' space: 'deep' under the default model name (the shards only read it; the dimension is the stored one). */
export const SPACE: FeatureSpace = { kind: 'deep', model: DEFAULT_DEEP_MODEL };

let serverStart: Promise<PostgresServer> | undefined;
/** The file's server, started on first use. */
export function server(): Promise<PostgresServer> {
  serverStart ??= startPostgres();
  return serverStart;
}
after(async () => {
  const srv = await serverStart?.catch(() => undefined);
  await srv?.stop();
});

// ---- CLI processes

export interface Child {
  child: ChildProcess;
  out(): string;
  err(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
after(() => {
  // whatever a failed test left running
  for (const c of children) c.kill('SIGKILL');
});

/** The compiled CLI as a child process (node itself, so a signal hits the command, not a wrapper). */
export function spawnCli(args: string[]): Child {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NITAMONO_NO_PROGRESS: '1' } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      res({ code, signal });
    }),
  );
  return { child, out: () => stdout, err: () => stderr, exit };
}

/** Resolves once `pred` holds (checked every 50 ms), fails after `timeoutMs` saying `what`. */
export async function until(pred: () => boolean | Promise<boolean>, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Short locks: a killed worker's jobs run again on another within about two seconds. */
export const WORKER_ARGS = ['--threads', '1', '--concurrency', '2', '--lock-duration', '1000', '--stalled-interval', '1000'];

/** `nitamono worker --catalog …`, resolved once it takes jobs. */
export async function startWorker(catalog: string, collection: string, redis: string, args: string[] = WORKER_ARGS): Promise<Child> {
  const w = spawnCli(['worker', '--catalog', catalog, '--collection', collection, '--queue', redis, ...args]);
  let ended = false;
  void w.exit.then(() => (ended = true));
  await until(
    () => ended || w.err().includes('taking jobs'),
    () => `worker start: ${w.err()}`,
  );
  assert.ok(!ended, `the worker ended: ${w.err()}`);
  return w;
}

/** SIGTERM: the jobs in flight finish, exit 0. */
export async function stopWorker(w: Child): Promise<void> {
  w.child.kill('SIGTERM');
  const { code } = await w.exit;
  assert.equal(code, 0, w.err());
}

/** Every row of a catalogue by relpath: status, content and metadata, and its vectors' bytes in `spaces`. */
export async function rowsByRelpath(store: CatalogReader, spaces: readonly FeatureSpace[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const rows = [...(await store.summaries(spaces))].sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
  for (const r of rows) {
    const vectors: string[] = [];
    for (const s of spaces) {
      const v = r.status === 'ok' ? await store.vector(r.id, s) : undefined;
      vectors.push(v ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : '-');
    }
    out.set(r.relpath, [r.status, r.sha256, r.size, r.mtime_ms, r.width, r.height, r.format, r.error_code, ...vectors].join(' '));
  }
  return out;
}

export async function openStore(collection: string): Promise<PostgresCatalogStore> {
  return PostgresCatalogStore.open((await server()).url(), { collection });
}

/** Commits n×dim vectors as images `${prefix}/i`, in units of `batch`; returns their ids in order. */
export async function putVectors(
  store: PostgresCatalogStore,
  vectors: Float32Array,
  dim: number,
  prefix = 'v',
  batch = 2000,
  space = SPACE,
): Promise<Int32Array> {
  const n = vectors.length / dim;
  const ids = new Int32Array(n);
  for (let b = 0; b < n; b += batch) {
    const writes: CatalogWrite[] = [];
    for (let i = b; i < Math.min(n, b + batch); i++) {
      writes.push({
        op: 'put',
        image: { relpath: `${prefix}/${i}`, size: 1, mtime_ms: 1, sha256: `${prefix}-${i}`, status: 'ok' },
        vectors: [{ space, vector: vectors.slice(i * dim, (i + 1) * dim) }],
      });
    }
    const r = await store.commit(writes);
    ids.set(r.ids, b);
  }
  return ids;
}

/** One index over `ids` / `vectors` (optionally only the rows `keep` accepts): flat, or IVF on `centroids`. */
export function referenceIndex(
  ids: Int32Array,
  vectors: Float32Array,
  dim: number,
  opts: { centroids?: { data: Float32Array; nlist: number }; keep?: (id: number) => boolean } = {},
): VectorIndex {
  let idx: VectorIndex;
  if (opts.centroids) {
    const ivf = new IVFIndex(dim, { nlist: opts.centroids.nlist });
    ivf.setCentroids(opts.centroids.data, opts.centroids.nlist);
    idx = ivf;
  } else {
    idx = new FlatIndex(dim);
  }
  const keepIds: number[] = [];
  const rows: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (!opts.keep || opts.keep(ids[i]!)) {
      keepIds.push(ids[i]!);
      rows.push(i);
    }
  }
  const v = new Float32Array(rows.length * dim);
  rows.forEach((r, j) => {
    v.set(vectors.subarray(r * dim, (r + 1) * dim), j * dim);
  });
  idx.add(v, keepIds);
  return idx;
}

/** The rows of all partitions but `index` of `count`. */
export const without = (index: number, count: number) => (id: number) => !inPartition(id, { index, count });

/** Asserts the coordinator's answer is the reference's, id for id and distance for distance (bit-exact). */
export function assertSameAnswer(got: ClusterSearchResult, want: Pick<SearchResult, 'nq' | 'k' | 'labels' | 'distances'>, what: string): void {
  assert.equal(got.nq, want.nq, what);
  assert.equal(got.k, want.k, what);
  for (let q = 0; q < want.nq; q++) {
    const g = [...got.labels.subarray(q * got.k, (q + 1) * got.k)];
    const w = [...want.labels.subarray(q * want.k, (q + 1) * want.k)];
    assert.deepEqual(g, w, `${what}: ids of query ${q}`);
    const gd = new Uint32Array(Float32Array.from(got.distances.subarray(q * got.k, (q + 1) * got.k)).buffer);
    const wd = new Uint32Array(Float32Array.from(want.distances.subarray(q * want.k, (q + 1) * want.k)).buffer);
    assert.deepEqual([...gd], [...wd], `${what}: distances of query ${q}, bit for bit`);
  }
}

export interface ShardProcess {
  child: ChildProcess;
  url: string;
  spec: string;
  out(): string;
  err(): string;
  exit: Promise<number | null>;
  /** SIGKILL to the node process itself. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

/** `nitamono shard` as a child process (the node process itself, no npm wrapper); resolves once it listens. */
export function startShard(catalog: string, collection: string, features: 'color' | 'deep', spec: string, extra: string[] = []): Promise<ShardProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'shard',
      '--catalog',
      catalog,
      '--collection',
      collection,
      '--features',
      features,
      '--shard',
      spec,
      '--port',
      '0',
      '--heartbeat-ms',
      '250',
      '--poll-ms',
      '250',
      '--threads',
      '1',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NITAMONO_NO_PROGRESS: '1' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shard ${spec} did not start: ${stdout} ${stderr}`)), 30_000);
    const onData = () => {
      const m = /listening at (http:\/\/\S+?)\/?\n/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({
        child,
        url: m[1]!,
        spec,
        out: () => stdout,
        err: () => stderr,
        exit,
        async kill() {
          child.kill('SIGKILL');
          await exit;
        },
        async stop() {
          child.kill('SIGTERM');
          return exit;
        },
      });
    };
    child.stdout!.on('data', onData);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`shard ${spec} exited with ${code}: ${stdout} ${stderr}`));
    });
  });
}

export async function health(url: string): Promise<{ status: number; body: ShardHealth }> {
  const r = await fetch(`${url}/health`);
  return { status: r.status, body: (await r.json()) as ShardHealth };
}

/** Waits until every shard is ready and `pred` holds for its health (default: ready). */
export async function waitShards(urls: readonly string[], pred: (h: ShardHealth) => boolean = () => true, timeoutMs = 30_000): Promise<ShardHealth[]> {
  const deadline = Date.now() + timeoutMs;
  let last: (ShardHealth | string)[] = [];
  for (;;) {
    last = await Promise.all(
      urls.map(async (u) => {
        try {
          const h = await health(u);
          return h.status === 200 && pred(h.body) ? h.body : JSON.stringify(h.body);
        } catch (err) {
          return (err as Error).message;
        }
      }),
    );
    if (last.every((h) => typeof h !== 'string')) return last as ShardHealth[];
    if (Date.now() > deadline) assert.fail(`shards not as expected after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const COLOURS: [number, number, number][] = [
  [250, 10, 10],
  [160, 20, 20],
  [20, 200, 30],
  [10, 20, 240],
  [128, 128, 128],
  [240, 240, 20],
  [250, 130, 0],
  [120, 0, 160],
  [0, 170, 170],
  [255, 255, 255],
  [10, 10, 10],
  [200, 120, 150],
];

/**
 * A folder of real, varied images: 12 solid colours (and an exact copy of the first), `gradients`
 * gradients, 8 shapes, `noise` noise images, in sub-folders.
 */
export async function writeMixedFolder(root: string, counts: { gradients: number; noise: number }): Promise<void> {
  const made: Promise<void>[] = [];
  for (const [i, c] of COLOURS.entries()) made.push(solid(join(root, 'solids', `s${i}.png`), c));
  for (let i = 0; i < counts.gradients; i++)
    made.push(gradient(join(root, 'gradients', `g${i}.png`), COLOURS[i % COLOURS.length]!, COLOURS[(i + 5) % COLOURS.length]!));
  const fg = ['red', 'green', 'blue', 'orange'];
  for (let i = 0; i < 8; i++)
    made.push(shape(join(root, 'shapes', `${i % 2 ? 'circle' : 'square'}-${i}.png`), i % 2 ? 'circle' : 'square', fg[i % 4]!, i < 4 ? 'white' : 'black'));
  for (let i = 0; i < counts.noise; i++) made.push(noise(join(root, 'noise', `n${i}.png`), i + 1, 40));
  await Promise.all(made);
  await copyFile(join(root, 'solids', 's0.png'), join(root, 'solids', 's0-copy.png'));
}
