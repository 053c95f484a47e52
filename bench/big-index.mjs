#!/usr/bin/env node
// An index past one 4 GiB WebAssembly memory, in one process (issue #9, item 3): synthetic
// clustered vectors generated on the fly in chunks (never all in JS memory), trained on the
// first --train of them, added chunk by chunk; then RSS, build time, q/s and recall against
// exact search on a sample of queries (the exact answer is merged from each generated chunk
// as it is added, so nothing but the index is kept and no row is generated twice).
//
//   npm run build
//   node --expose-gc bench/big-index.mjs --index SQ8 --dim 1792 --n 2000000            (≈ 3.6 GB of codes, 2 arenas)
//   node bench/big-index.mjs --index IVF16384,PQ16 --dim 128 --n 10000000 --nprobe 32
//   node bench/big-index.mjs --index IVF65536_HNSW32,PQ16 --dim 128 --n 10000000 --nprobe 32 --ef-search 64
//   node bench/big-index.mjs --index Flat --dim 1792 --n 700000             (≈ 5 GB of float32)
//   node bench/big-index.mjs --index SQ8 --dim 64 --n 20000 --arena-bytes 262144   (smoke: many small arenas)
//
// Options: --index (a Faiss factory string, default SQ8), --dim (1792), --n (2000000),
// --chunk (rows generated and added per step, default ≈ 64 MB of float32), --train (rows to
// train on, default min(n, 256·nlist or 100000, 1000000)), --iterations (k-means, default 10 as
// Faiss's index_factory; training IVF65536 on 10^6 points is hours of one core at 25), --queries (100), --k (10), --nprobe (16),
// (a comma-separated list sweeps them on the one build), --ef-search, --threads (searchAsync threads, default all cores), --clusters (1000),
// --seed (1), --arena-bytes (the arena cap, default just under 4 GiB: lower it to see many
// arenas on small data), --save FILE (write the index and time a load), --json (one JSON line).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    index: { type: 'string', default: 'SQ8' },
    dim: { type: 'string', default: '1792' },
    n: { type: 'string', default: '2000000' },
    chunk: { type: 'string' },
    train: { type: 'string' },
    iterations: { type: 'string', default: '10' },
    queries: { type: 'string', default: '100' },
    k: { type: 'string', default: '10' },
    nprobe: { type: 'string', default: '16' },
    'ef-search': { type: 'string' },
    threads: { type: 'string' },
    clusters: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'arena-bytes': { type: 'string' },
    save: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
// read when each index is made: set it before importing anything that makes one
if (o['arena-bytes']) process.env.NITAMONO_ARENA_BYTES = o['arena-bytes'];
const { FlatIndex, indexFactory, loadIndex, parseIndexFactory } = await import('nitamono');

const d = Number(o.dim),
  N = Number(o.n),
  nq = Number(o.queries),
  k = Number(o.k),
  C = Number(o.clusters),
  seed = Number(o.seed);
const chunk = Number(o.chunk ?? Math.max(1, Math.floor((64 << 20) / (d * 4))));
const spec = parseIndexFactory(o.index);
const nTrain = Math.min(N, Number(o.train ?? (spec.nlist ? Math.min(256 * spec.nlist, 1_000_000) : 100_000)));
const nprobes = o.nprobe.split(',').map(Number);
const params = {
  nprobe: nprobes[0],
  ...(o['ef-search'] ? { efSearch: Number(o['ef-search']) } : {}),
  ...(o.threads ? { threads: Number(o.threads) } : {}),
};

// ---- data: row i is centre[h(i) mod C] + noise, a pure function of (seed, i)
function xorshift(s) {
  let x = s >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
const centres = new Float32Array(C * d);
{
  const r = xorshift(seed * 7919 + 1);
  for (let i = 0; i < centres.length; i++) centres[i] = r() * 2 - 1;
}
const mix = (i) => {
  let h = (i ^ (seed * 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
};
/** Rows [from, from + count) of the stream (queries are rows past N). */
function rows(from, count) {
  const out = new Float32Array(count * d);
  for (let i = 0; i < count; i++) {
    const id = from + i;
    const c = mix(id) % C;
    const r = xorshift(mix(id + 0x51ed270b));
    const o0 = i * d,
      c0 = c * d;
    // noise: sum of three uniforms, σ ≈ 0.25
    for (let j = 0; j < d; j++) out[o0 + j] = centres[c0 + j] + (r() + r() + r() - 1.5) * 0.5;
  }
  return out;
}

const mb = (b) => (b / 2 ** 20).toFixed(0);
let peakRss = 0;
const rss = () => {
  const r = process.memoryUsage().rss;
  peakRss = Math.max(peakRss, r);
  return r;
};
const log = (...a) => {
  if (!o.json) console.log(...a);
};

// ---- build
log(`${spec.description}: ${N} × ${d}, chunks of ${chunk}, training on ${nTrain}`);
const index = indexFactory(d, spec);
const t0 = performance.now();
let tTrain = 0;
if (index.capabilities.trainable) {
  await index.train(rows(0, nTrain), { iterations: Number(o.iterations), ...(params.threads ? { threads: params.threads } : {}) });
  tTrain = (performance.now() - t0) / 1000;
  log(`trained in ${tTrain.toFixed(1)} s`);
}
// The exact answer is merged chunk by chunk from the same generated rows: generating 2M × 1792
// values costs as much as adding them, so generating them once halves the run.
const queries = rows(N + 1_000_003, nq);
const exact = { d: new Float32Array(nq * k).fill(Infinity), i: new Int32Array(nq * k).fill(-1) };
let tExactMs = 0;
async function mergeExact(block, i0, m) {
  const te = performance.now();
  const flat = new FlatIndex(d, { metric: index.metric });
  flat.add(
    block,
    Int32Array.from({ length: m }, (_, j) => i0 + j),
  );
  const r = flat.search(queries, k, params);
  // its memory goes to the next chunk's index (arena recycling, issue #9); before that, the 213
  // chunks of the 2M run piled up past 14 GB without a forced garbage collection per chunk
  flat.dispose();
  for (let q = 0; q < nq; q++) {
    // merge by (distance, id), as the engine does
    const all = [];
    for (let j = 0; j < k; j++) {
      if (exact.i[q * k + j] >= 0) all.push([exact.d[q * k + j], exact.i[q * k + j]]);
      if (r.labels[q * k + j] >= 0) all.push([r.distances[q * k + j], r.labels[q * k + j]]);
    }
    all.sort((a, b) => (index.metric === 'ip' ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
    for (let j = 0; j < k; j++) {
      exact.d[q * k + j] = all[j]?.[0] ?? Infinity;
      exact.i[q * k + j] = all[j]?.[1] ?? -1;
    }
  }
  tExactMs += performance.now() - te;
}
for (let i0 = 0; i0 < N; i0 += chunk) {
  const m = Math.min(chunk, N - i0);
  const block = rows(i0, m);
  index.add(block);
  await mergeExact(block, i0, m);
  rss();
  if (!o.json && (i0 / chunk) % 10 === 9) {
    const s = (performance.now() - t0) / 1000 - tTrain;
    log(
      `  ${i0 + m} rows in ${s.toFixed(0)} s (${((i0 + m) / s).toFixed(0)} rows/s, of which exact answer ${(tExactMs / 1000).toFixed(0)} s), ${index.describe({ lists: false }).arenas ?? 1} arenas, RSS ${mb(rss())} MB`,
    );
  }
}
// build time excludes the exact answer's share of the loop
const tBuild = (performance.now() - t0 - tExactMs) / 1000;
const desc = index.describe({ lists: false });
log(`built in ${tBuild.toFixed(1)} s: ${mb(index.memoryBytes)} MB in ${desc.arenas ?? 1} arena(s), RSS ${mb(rss())} MB (peak ${mb(peakRss)} MB)`);

const tExact = tExactMs / 1000;

// ---- search: one query at a time on this thread, then the batch on the worker pool
function recall(labels) {
  let hit = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set(exact.i.subarray(q * k, (q + 1) * k));
    for (let j = 0; j < k; j++) if (want.has(labels[q * k + j])) hit++;
  }
  return hit / (nq * k);
}
// one row per nprobe of --nprobe (a comma-separated list): a recall–q/s curve from one build
const sweep = [];
for (const nprobe of nprobes) {
  const p = { ...params, nprobe };
  const one = new Int32Array(nq * k);
  const t1 = performance.now();
  for (let q = 0; q < nq; q++) one.set(index.search(queries.subarray(q * d, (q + 1) * d), k, p).labels, q * k);
  const qpsOne = nq / ((performance.now() - t1) / 1000);
  const t2 = performance.now();
  const batch = await index.searchAsync(queries, k, p);
  const qpsBatch = nq / ((performance.now() - t2) / 1000);
  const r1 = recall(one),
    rb = recall(batch.labels);
  sweep.push({ nprobe, qps_one: qpsOne, qps_batch: qpsBatch, recall_one: r1, recall_batch: rb, labels: batch.labels });
  log(
    `search${spec.nlist ? ` (nprobe ${nprobe})` : ''}: ${qpsOne.toFixed(1)} q/s one at a time, ${qpsBatch.toFixed(1)} q/s batch; ${k}-R@${k} ${r1.toFixed(4)} (batch ${rb.toFixed(4)}); exact answer in ${tExact.toFixed(1)} s`,
  );
}
const first = sweep[0];

let save;
if (o.save) {
  const ts = performance.now();
  await index.save(o.save);
  const tSave = (performance.now() - ts) / 1000;
  const tl = performance.now();
  const back = await loadIndex(o.save);
  const tLoad = (performance.now() - tl) / 1000;
  const again = back.search(queries, k, { ...params, nprobe: first.nprobe });
  const same = again.labels.every((v, i) => v === first.labels[i]);
  back.dispose();
  save = { file: o.save, saveSeconds: tSave, loadSeconds: tLoad, sameAnswers: same };
  log(`saved in ${tSave.toFixed(1)} s, loaded in ${tLoad.toFixed(1)} s, same answers: ${same}`);
}

const report = {
  index: spec.description,
  n: N,
  dim: d,
  arenas: desc.arenas ?? 1,
  memory_bytes: index.memoryBytes,
  rss_bytes: rss(),
  peak_rss_bytes: peakRss,
  train_seconds: tTrain,
  build_seconds: tBuild,
  params,
  queries: nq,
  k,
  qps_one: first.qps_one,
  qps_batch: first.qps_batch,
  recall_one: first.recall_one,
  recall_batch: first.recall_batch,
  sweep: sweep.map(({ labels, ...row }) => row),
  ...(save ? { save } : {}),
};
index.dispose();
if (o.json) console.log(JSON.stringify(report));
