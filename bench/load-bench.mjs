#!/usr/bin/env node
/**
 * Load while writing: 64 clients search a running `nitamono serve --allow-write` for 60 s while
 * another process indexes 2,000 new images into the same collection and uploads arrive through
 * the API. Reports errors, search p50/p99 next to the same load on an idle collection, upload
 * latencies, the index run's time, and the server's RSS over the run.
 *
 *   npm run build:ts && node bench/load-bench.mjs [--n 5000] [--add 2000] [--clients 64]
 *        [--duration 60] [--idle 20] [--upload-every 250] [--features color] [--keep DIR]
 *
 * Searches are by id (random ids of the first N images), so the server's work is the search,
 * not the decoding of a query image. Every non-2xx answer, socket error and timeout counts as an
 * error; an upload answered 409 LOCKED counts as an error too.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { rng } from 'nitamono';
import { arg, MAIN, percentile, quadrantPng, startServe } from './lib.mjs';

const N = Number(arg('n', '5000'));
const ADD = Number(arg('add', '2000'));
const CLIENTS = Number(arg('clients', '64'));
const DURATION = Number(arg('duration', '60'));
const IDLE = Number(arg('idle', '20'));
const UPLOAD_EVERY = Number(arg('upload-every', '250'));
const FEATURES = String(arg('features', 'color'));
const KEEP = arg('keep', undefined);

if (!existsSync(MAIN)) {
  console.error('build first: npm run build:ts');
  process.exit(1);
}

async function makeImages(dir, n, seed) {
  const rand = rng(seed);
  for (let i = 0; i < n; i++) {
    const sub = join(dir, `g${String(Math.floor(i / 500)).padStart(3, '0')}`);
    if (i % 500 === 0) await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `i${String(i).padStart(6, '0')}.png`), await quadrantPng(rand, 32));
  }
}

function runCli(args) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NITAMONO_NO_PROGRESS: '1' } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, ms: performance.now() - t0, err }));
  });
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** RSS of `pid` every 500 ms until stopped. */
function sampleRss(pid) {
  const samples = [];
  const timer = setInterval(() => samples.push(rssMb(pid)), 500);
  return {
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}

/** `clients` connections searching by random id for `seconds`; latencies timed here (sub-ms resolution). */
function searchLoad(url, ids, clients, seconds, seed) {
  const pick = rng(seed);
  const latencies = [];
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/api/search`,
        method: 'POST',
        connections: clients,
        pipelining: 1,
        duration: seconds,
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req, context) => {
              context.sent = performance.now();
              return { ...req, body: JSON.stringify({ id: ids[Math.floor(pick() * ids.length)], k: 10 }) };
            },
            onResponse: (_status, _body, context) => {
              if (context.sent !== undefined) latencies.push(performance.now() - context.sent);
            },
          },
        ],
      },
      (err, res) => {
        if (err) return reject(err);
        latencies.sort((a, b) => a - b);
        resolve({
          requests: res.requests.total,
          rps: res.requests.total / seconds,
          errors: res.errors + res.non2xx + res.timeouts,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        });
      },
    );
  });
}

/** One upload every `every` ms until `stop()`; each a new image. */
function uploads(url, every, seed) {
  const rand = rng(seed);
  const latencies = [];
  const statuses = new Map();
  let stopped = false;
  let n = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const fd = new FormData();
      fd.append('image', new Blob([await quadrantPng(rand, 32)], { type: 'image/png' }), `load-${seed}-${n++}.png`);
      let status = 'socket error';
      try {
        const r = await fetch(`${url}/api/images`, { method: 'POST', body: fd });
        await r.arrayBuffer();
        status = r.status;
      } catch {}
      latencies.push(performance.now() - started);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const wait = every - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      latencies.sort((a, b) => a - b);
      const ok = statuses.get(201) ?? 0;
      return { total: n, ok, errors: n - ok, statuses: Object.fromEntries(statuses), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    },
  };
}

async function json(url, path) {
  const r = await fetch(url + path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

const base = KEEP ?? (await mkdtemp(join(tmpdir(), 'nitamono-load-bench-')));
const images = join(base, 'images');
const incoming = join(base, 'incoming');
const collection = join(base, 'collection');
if (!existsSync(join(collection, 'collection.json'))) {
  console.error(`generating ${N} + ${ADD} images …`);
  await makeImages(images, N, 1);
  await makeImages(incoming, ADD, 2);
  const r = await runCli(['index', images, '--collection', collection, '--features', FEATURES]);
  if (r.code !== 0) throw new Error(`index: ${r.err}`);
  console.error(`  indexed ${N} in ${(r.ms / 1000).toFixed(1)} s`);
} else {
  console.error(`reusing ${collection} (the incoming images must not be in it yet)`);
}

const { child, url } = await startServe(collection, ['--allow-write']);
let result;
try {
  const ids = [];
  const n0 = (await json(url, '/api/stats')).images;
  for (let off = 0; off < n0; off += 200) ids.push(...(await json(url, `/api/images?offset=${off}&limit=200`)).images.map((i) => i.id));
  await searchLoad(url, ids, CLIENTS, 3, 1); // warm-up
  const rssIdle0 = rssMb(child.pid);
  let rss = sampleRss(child.pid);
  const idle = await searchLoad(url, ids, CLIENTS, IDLE, 2);
  const rssIdle = rss.stop();

  // the write load: the new images enter the folder, another process indexes them, uploads arrive
  await rename(incoming, join(images, 'incoming'));
  rss = sampleRss(child.pid);
  const up = uploads(url, UPLOAD_EVERY, 3);
  const indexRun = runCli(['index', images, '--collection', collection]);
  const loaded = await searchLoad(url, ids, CLIENTS, DURATION, 4);
  const upl = await up.stop();
  const idx = await indexRun;
  const rssLoaded = rss.stop();
  const after = (await json(url, '/api/stats')).images;
  result = { n0, idle, loaded, upl, idx, rssIdle0, rssIdle, rssLoaded, after, rssEnd: rssMb(child.pid) };
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  if (!KEEP) await rm(base, { recursive: true, force: true });
  else if (existsSync(join(images, 'incoming'))) await rename(join(images, 'incoming'), incoming).catch(() => undefined);
}

const { n0, idle, loaded, upl, idx, rssIdle0, rssIdle, rssLoaded, after, rssEnd } = result;
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const mx = (xs) => Math.max(...xs);
console.log(`\nnitamono load bench — ${CLIENTS} clients searching by id (k=10, ${FEATURES} features) on serve --allow-write, N=${n0}`);
console.log(`node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model?.trim() ?? '?'}), ${new Date().toISOString().slice(0, 10)}`);
console.log(`while writing: another process indexes ${ADD} new images; one upload every ${UPLOAD_EVERY} ms through POST /api/images\n`);
console.log('| phase | seconds | searches | req/s | p50 ms | p99 ms | errors | server RSS MB (start → max) |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(
  `| idle | ${IDLE} | ${idle.requests} | ${Math.round(idle.rps)} | ${f(idle.p50)} | ${f(idle.p99)} | ${idle.errors} | ${f(rssIdle0, 0)} → ${f(mx(rssIdle), 0)} |`,
);
console.log(
  `| writing | ${DURATION} | ${loaded.requests} | ${Math.round(loaded.rps)} | ${f(loaded.p50)} | ${f(loaded.p99)} | ${loaded.errors} | ${f(rssLoaded[0], 0)} → ${f(mx(rssLoaded), 0)}, at the end ${f(rssEnd, 0)} |`,
);
console.log(
  `\nuploads: ${upl.total} sent, ${upl.ok} added (201), errors ${upl.errors} ${JSON.stringify(upl.statuses)}; latency p50 ${f(upl.p50, 0)} ms, p99 ${f(upl.p99, 0)} ms`,
);
console.log(`index run of ${ADD} new images in another process: exit ${idx.code}, ${(idx.ms / 1000).toFixed(1)} s${idx.code ? `: ${idx.err.trim()}` : ''}`);
console.log(`images after: ${after} (expected ${n0 + ADD + upl.ok})`);
const errors = idle.errors + loaded.errors + upl.errors + (idx.code === 0 ? 0 : 1) + (after === n0 + ADD + upl.ok ? 0 : 1);
console.log(errors === 0 ? 'zero errors' : `${errors} errors`);
process.exitCode = errors === 0 ? 0 : 1;
