#!/usr/bin/env node
/**
 * HTTP benchmark of POST /api/search by id: p50 / p99 latency and requests per second, exact
 * search and the inverted file, with 1 and 16 concurrent clients (autocannon, programmatic API).
 *
 *   npm run build:ts && node bench/server-bench.mjs [--n 10000] [--duration 10] [--nprobe 8]
 *        [--k 10] [--connections 1,16] [--keep DIR]
 *
 * Builds a collection of N small generated PNGs (colour features, 12-d) in a temp folder (or
 * reuses DIR with --keep), starts `nitamono serve` on it as a child process (so the load generator
 * does not share the server's event loop), warms each scenario up, then measures. Query ids are
 * drawn at random from the collection for every request. Also reports recall@k of the inverted
 * file at that nprobe (POST /api/evaluate over 50 images of the collection).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { rng } from 'nitamono';
import sharp from 'sharp';
import { arg, MAIN, percentile, quadrantRgb, startServe } from './lib.mjs';

const N = Number(arg('n', '10000'));
const DURATION = Number(arg('duration', '10'));
const NPROBE = Number(arg('nprobe', '8'));
const K = Number(arg('k', '10'));
const CONNECTIONS = String(arg('connections', '1,16')).split(',').map(Number);
const KEEP = arg('keep', undefined);

if (!existsSync(MAIN)) {
  console.error('build first: npm run build:ts');
  process.exit(1);
}

async function makeImages(dir, n) {
  const rand = rng(2020);
  const rgbs = Array.from({ length: n }, () => quadrantRgb(rand, 16));
  let next = 0;
  const work = async () => {
    while (next < n) {
      const i = next++;
      const sub = join(dir, `g${String(Math.floor(i / 500)).padStart(3, '0')}`);
      await mkdir(sub, { recursive: true });
      const png = await sharp(rgbs[i], { raw: { width: 16, height: 16, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      await writeFile(join(sub, `i${String(i).padStart(6, '0')}.png`), png);
    }
  };
  await Promise.all(Array.from({ length: 16 }, work));
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NITAMONO_NO_PROGRESS: '1' } });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}`))));
  });
}

/**
 * One autocannon run. autocannon's own histogram has 1 ms resolution, too coarse for sub-ms
 * searches, so latencies are also timed here: each connection sends one request at a time
 * (no pipelining), so the send time kept in the connection's context pairs with its response.
 */
function cannon(url, ids, body, connections, duration) {
  const pick = rng(connections * 7919 + duration);
  const latencies = [];
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/api/search`,
        method: 'POST',
        connections,
        pipelining: 1,
        duration,
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req, context) => {
              context.sent = performance.now();
              return { ...req, body: JSON.stringify({ ...body, id: ids[Math.floor(pick() * ids.length)] }) };
            },
            onResponse: (_status, _body, context) => {
              if (context.sent !== undefined) latencies.push(performance.now() - context.sent);
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve({ res, latencies })),
    );
  });
}

async function json(url, path, body) {
  const res = await fetch(url + path, body ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {});
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

const base = KEEP ?? (await mkdtemp(join(tmpdir(), 'nitamono-server-bench-')));
const images = join(base, 'images');
const collection = join(base, 'collection');
const t0 = performance.now();
if (!existsSync(join(collection, 'collection.json'))) {
  console.error(`generating ${N} images in ${images} …`);
  await mkdir(images, { recursive: true });
  await makeImages(images, N);
  const tGen = performance.now();
  console.error(`  ${((tGen - t0) / 1000).toFixed(1)} s; indexing (colour features) …`);
  await run(process.execPath, [MAIN, 'index', images, '--collection', collection, '--features', 'color']);
  console.error(`  ${((performance.now() - tGen) / 1000).toFixed(1)} s`);
} else {
  console.error(`reusing ${collection}`);
}

const { child, url } = await startServe(collection);
try {
  const stats = await json(url, '/api/stats');
  const n = stats.images;
  const nlist = stats.features[0].ivf_nlist;
  const list = [];
  for (let off = 0; off < n; off += 200) list.push(...(await json(url, `/api/images?offset=${off}&limit=200`)).images.map((i) => i.id));
  // recall@k of the inverted file at this nprobe, over 50 ids spread over the collection
  let recall = 0;
  const evalIds = Array.from({ length: 50 }, (_, i) => list[Math.floor(((i + 0.5) * list.length) / 50)]);
  for (const id of evalIds) recall += (await json(url, '/api/evaluate', { id, k: K, nprobe: NPROBE })).recall_at_k / evalIds.length;
  const probeExact = await json(url, '/api/search', { id: list[0], k: K, method: 'exact' });
  const probeIvf = await json(url, '/api/search', { id: list[0], k: K, method: 'ivf', nprobe: NPROBE });

  const scenarios = [];
  for (const method of ['exact', 'ivf']) for (const c of CONNECTIONS) scenarios.push({ method, c });
  const rows = [];
  for (const s of scenarios) {
    const body = { k: K, features: 'color', method: s.method, ...(s.method === 'ivf' ? { nprobe: NPROBE } : {}) };
    await cannon(url, list, body, s.c, 2); // warm-up
    const { res: r, latencies } = await cannon(url, list, body, s.c, DURATION);
    latencies.sort((a, b) => a - b);
    rows.push({
      method: s.method === 'ivf' ? `ivf nprobe=${probeIvf.nprobe}` : 'exact',
      clients: s.c,
      rps: r.requests.total / DURATION,
      p50: percentile(latencies, 50).toFixed(2),
      p99: percentile(latencies, 99).toFixed(2),
      total: r.requests.total,
      errors: r.errors + r.non2xx + r.timeouts,
      distances: s.method === 'ivf' ? probeIvf.distances_computed : probeExact.distances_computed,
    });
    console.error(`  ${rows.at(-1).method} × ${s.c}: ${Math.round(rows.at(-1).rps)} req/s (${latencies.length} timed of ${r.requests.total})`);
  }

  const pad = (s, w) => String(s).padStart(w);
  console.log(`\nnitamono server bench — POST /api/search by id, k=${K}, colour features (D=12), N=${n}, nlist=${nlist}`);
  console.log(
    `node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model?.trim() ?? '?'}), ${DURATION} s per row after a 2 s warm-up; server in its own process`,
  );
  console.log(
    `recall@${K} of the inverted file at nprobe=${probeIvf.nprobe}: ${recall.toFixed(3)} (mean over 50 images of the collection as queries, against exact)`,
  );
  console.log('latency = client-side time from sending a request to its response (loopback HTTP, JSON)\n');
  const head = ['method', 'clients', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'errors', 'distances/query'];
  const w = [18, 8, 9, 8, 8, 10, 7, 16];
  console.log(`| ${head.map((h, i) => h.padEnd(w[i])).join(' | ')} |`);
  console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  for (const r of rows) {
    console.log(
      '| ' +
        [
          r.method.padEnd(w[0]),
          pad(r.clients, w[1]),
          pad(Math.round(r.rps), w[2]),
          pad(r.p50, w[3]),
          pad(r.p99, w[4]),
          pad(r.total, w[5]),
          pad(r.errors, w[6]),
          pad(r.distances, w[7]),
        ].join(' | ') +
        ' |',
    );
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  if (!KEEP) await rm(base, { recursive: true, force: true });
}
