#!/usr/bin/env node
/**
 * Cluster mode on one machine: what the queue and the coordinator cost, measured against the
 * single-machine paths in the same run. Starts a private PostgreSQL and Redis (as the tests do).
 *
 *   npm run build && node bench/cluster-bench.mjs [--images 300] [--n 100000] [--d 64]
 *        [--queries 300] [--shards 1,2,3,4] [--skip-ingest] [--skip-search]
 *
 * Ingest: one folder of generated images (colour + deep features), indexed (1) in process with
 * 1 and 2 extraction threads, (2) through the queue with 1 and 2 `nitamono worker` processes of
 * one thread each. Wall time of the `index` command, model loading included in both.
 * Search: N×d clustered vectors written into the catalogue; S shard processes (1 thread each)
 * and a coordinator in this process; one query at a time, k=10. Compared with one FlatIndex in
 * this process over all N (what a single machine does), and with S=3 where one shard is slowed
 * by SIGSTOP/SIGCONT (stopped half of every 40 ms).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Coordinator, clusteredVectors, ensureClusterSettings, FlatIndex, PostgresCatalogStore, rng, staticDirectory } from 'nitamono';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');
const { startPostgres } = await import(join(ROOT, 'dist/test/services/postgres-server.js'));
const { startRedis } = await import(join(ROOT, 'dist/test/services/redis-server.js'));

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}
const IMAGES = Number(arg('images', '300'));
const N = Number(arg('n', '100000'));
const D = Number(arg('d', '64'));
const NQ = Number(arg('queries', '300'));
const SHARDS = String(arg('shards', '1,2,3,4')).split(',').map(Number);
const SKIP_INGEST = process.argv.includes('--skip-ingest');
const SKIP_SEARCH = process.argv.includes('--skip-search');
const SPACE = { kind: 'deep', model: 'mobilenetv2-mid' };

const env = { ...process.env, NITAMONO_NO_PROGRESS: '1' };
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

function cli(args) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise((resolve) => child.on('exit', (code) => resolve({ code, ms: performance.now() - t0, out, err })));
  return { child, done };
}

async function noisePng(file, seed) {
  const r = rng(seed);
  const size = 96;
  const buf = Buffer.alloc(size * size * 3);
  for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(r() * 256);
  await writeFile(
    file,
    await sharp(buf, { raw: { width: size, height: size, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

const base = await mkdtemp(join(tmpdir(), 'nitamono-cluster-bench-'));
const pgServer = await startPostgres();
const redis = SKIP_INGEST ? undefined : await startRedis();
const lines = [];
try {
  lines.push(
    `nitamono cluster bench — node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model?.trim() ?? '?'}), ${new Date().toISOString().slice(0, 10)}`,
  );
  lines.push('private PostgreSQL 15 and Redis 7 on loopback (fsync off, as in the tests)\n');

  if (!SKIP_INGEST) {
    const images = join(base, 'images');
    await mkdir(images, { recursive: true });
    for (let i = 0; i < IMAGES; i++) await noisePng(join(images, `${String(i).padStart(5, '0')}.png`), i + 1);
    const rows = [];
    for (const threads of [1, 2]) {
      const r = await cli(['index', images, '--collection', join(base, `local-${threads}`), '--features', 'color,deep', '--threads', String(threads)]).done;
      if (r.code !== 0) throw new Error(`index: ${r.err}`);
      rows.push({ how: `in process, ${threads} extraction thread${threads > 1 ? 's' : ''}`, ms: r.ms });
    }
    for (const workers of [1, 2]) {
      const collection = `ingest${workers}`;
      const run = cli(['index', images, '--catalog', pgServer.url(), '--queue', redis.url, '--collection', collection, '--features', 'color,deep']);
      // workers refuse a collection whose settings do not exist yet: the index run records them first
      const store = await PostgresCatalogStore.open(pgServer.url(), { collection });
      while (!(await store.settings())) await new Promise((r) => setTimeout(r, 50));
      await store.close();
      const ws = Array.from({ length: workers }, () =>
        cli(['worker', '--catalog', pgServer.url(), '--queue', redis.url, '--collection', collection, '--threads', '1']),
      );
      const r = await run.done;
      for (const w of ws) w.child.kill('SIGTERM');
      await Promise.all(ws.map((w) => w.done));
      if (r.code !== 0) throw new Error(`index --catalog: ${r.err}`);
      rows.push({ how: `queue, ${workers} worker process${workers > 1 ? 'es' : ''} × 1 thread`, ms: r.ms });
    }
    lines.push(`### Ingest: ${IMAGES} images 96×96, colour + deep features (wall time of \`nitamono index\`)\n`);
    lines.push('| how | seconds | images/s | vs in process, 1 thread |');
    lines.push('|---|---|---|---|');
    for (const r of rows) lines.push(`| ${r.how} | ${f(r.ms / 1000, 1)} | ${f(IMAGES / (r.ms / 1000), 1)} | ${f(rows[0].ms / r.ms)}× |`);
    const overhead = (rows[2].ms - rows[0].ms) / IMAGES;
    lines.push(`\nqueue overhead per job (1 worker vs 1 in-process thread): ${f(overhead, 1)} ms`);
    lines.push(`2 workers vs 1 worker: ${f(rows[2].ms / rows[3].ms)}× faster\n`);
  }

  if (!SKIP_SEARCH) {
    const store = await PostgresCatalogStore.open(pgServer.url(), { collection: 'search' });
    await ensureClusterSettings(store, { features: ['deep'] });
    const data = clusteredVectors(N, D, { seed: 1, clusters: 300 }).data;
    const ids = new Int32Array(N);
    for (let b = 0; b < N; b += 5000) {
      const writes = [];
      for (let i = b; i < Math.min(N, b + 5000); i++) {
        writes.push({
          op: 'put',
          image: { relpath: `v/${i}`, size: 1, mtime_ms: 1, sha256: `v-${i}`, status: 'ok' },
          vectors: [{ space: SPACE, vector: data.slice(i * D, (i + 1) * D) }],
        });
      }
      ids.set((await store.commit(writes)).ids, b);
    }
    const r = rng(7);
    const queries = new Float32Array(NQ * D);
    for (let i = 0; i < NQ; i++) {
      const row = Math.floor(r() * N);
      for (let j = 0; j < D; j++) queries[i * D + j] = data[row * D + j] + (r() - 0.5) * 0.2;
    }
    const local = new FlatIndex(D);
    local.add(data, ids);
    const localMs = [];
    for (let i = 0; i < NQ; i++) {
      const t0 = performance.now();
      local.search(queries.subarray(i * D, (i + 1) * D), 10);
      localMs.push(performance.now() - t0);
    }
    localMs.sort((a, b) => a - b);
    const rows = [{ how: `one FlatIndex in this process (N=${N})`, p50: pct(localMs, 50), p99: pct(localMs, 99), over: NaN, coverage: 1 }];

    const startShard = (spec) =>
      new Promise((resolve, reject) => {
        const s = cli([
          'shard',
          '--catalog',
          pgServer.url(),
          '--collection',
          'search',
          '--features',
          'deep',
          '--shard',
          spec,
          '--port',
          '0',
          '--threads',
          '1',
          '--no-register',
        ]);
        let out = '';
        s.child.stdout.on('data', (d) => {
          out += d;
          const m = /listening at (http:\/\/\S+?)\/?\n/.exec(out);
          if (m) resolve({ ...s, url: m[1] });
        });
        void s.done.then((x) => reject(new Error(`shard ${spec}: ${x.err}`)));
      });
    const measure = async (coordinator, label) => {
      for (let i = 0; i < 20; i++) await coordinator.search(queries.subarray(0, D), D, 10); // warm-up
      const ms = [];
      const over = [];
      let coverage = 0;
      for (let i = 0; i < NQ; i++) {
        const t0 = performance.now();
        const res = await coordinator.search(queries.subarray(i * D, (i + 1) * D), D, 10);
        const t = performance.now() - t0;
        ms.push(t);
        // what the shards themselves spent searching; the rest is the coordinator and the wire
        const slowest = Math.max(...res.shards.filter((s) => s.status === 'ok').map((s) => s.shard_ms ?? s.search_ms ?? 0));
        over.push(t - slowest);
        coverage += res.coverage.ratio / NQ;
      }
      ms.sort((a, b) => a - b);
      over.sort((a, b) => a - b);
      return { how: label, p50: pct(ms, 50), p99: pct(ms, 99), over: pct(over, 50), coverage };
    };
    for (const S of SHARDS) {
      const shards = await Promise.all(Array.from({ length: S }, (_, i) => startShard(`${i}/${S}`)));
      try {
        const coordinator = new Coordinator({ directory: staticDirectory(shards.map((s) => s.url)), deadlineMs: 2000 });
        // wait until every shard has loaded its partition
        for (;;) {
          const hs = await Promise.all(shards.map((s) => fetch(`${s.url}/health`).then((x) => x.status)));
          if (hs.every((h) => h === 200)) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        rows.push(await measure(coordinator, `${S} shard process${S > 1 ? 'es' : ''} + coordinator`));
        if (S === 3) {
          const slow = shards[2].child.pid;
          let on = true;
          const timer = setInterval(() => {
            process.kill(slow, on ? 'SIGSTOP' : 'SIGCONT');
            on = !on;
          }, 20);
          try {
            rows.push(await measure(coordinator, '3 shards, one stopped half of every 40 ms'));
          } finally {
            clearInterval(timer);
            process.kill(slow, 'SIGCONT');
          }
        }
      } finally {
        for (const s of shards) s.child.kill('SIGTERM');
        await Promise.all(shards.map((s) => s.done));
      }
    }
    await store.close();
    lines.push(`### Search: ${N} × ${D}-d clustered vectors, ${NQ} queries one at a time, k=10, exact (flat) in every shard\n`);
    lines.push('| how | p50 ms | p99 ms | coordinator + wire, p50 ms | coverage |');
    lines.push('|---|---|---|---|---|');
    for (const r of rows) lines.push(`| ${r.how} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.over)} | ${f(r.coverage, 3)} |`);
  }
} finally {
  await redis?.stop();
  await pgServer.stop();
  await rm(base, { recursive: true, force: true });
}
console.log(`\n${lines.join('\n')}`);
