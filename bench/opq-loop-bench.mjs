#!/usr/bin/env node
// OPQ and the event loop (issue #9): how long the calling thread's event loop stalls while an
// OPQ rotation is trained and while queries go through it. A 5 ms interval counts ticks during
// each call; "longest gap" is the longest wait between ticks (the calling thread blocked that long).
//   Rows: OPQMatrix.train (calling thread) vs OPQMatrix.trainOnWorker (its own thread), same seed;
//   CodedIndex.train of OPQ{m},IVF{nlist},PQ{m} (OPQ on a worker, then coarse and codebooks);
//   search (calling thread) vs searchAsync (rotation and scan on the pool) of a query batch.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/opq-loop-bench.mjs [--n 20000] [--dim 256] [--m 32] [--niter 10] [--nlist 64] [--queries 1000] [--threads 2]
// Synthetic clustered vectors (clusteredVectors, seed 5).
import { clusteredVectors, indexFactory } from 'nitamono';
import { OPQMatrix } from '../dist/src/search/opq.js';
import { arg, whileTicking } from './lib.mjs';

const N = Number(arg('n', 20_000));
const D = Number(arg('dim', 256));
const M = Number(arg('m', 32));
const NITER = Number(arg('niter', 10));
const NLIST = Number(arg('nlist', 64));
const Q = Number(arg('queries', 1000));
const THREADS = Number(arg('threads', 2));

const { data } = clusteredVectors(N + Q, D, { seed: 5, clusters: 64 });
const base = data.subarray(0, N * D),
  queries = data.slice(N * D);
const rows = [];
const row = (what, r) =>
  rows.push({ what, s: (r.ms / 1000).toFixed(2), gap: r.maxGap.toFixed(0), ticks: r.ticks, share: `${((100 * r.maxGap) / r.ms).toFixed(1)} %` });

const opts = { niter: NITER };
const here = new OPQMatrix(D, M, opts),
  away = new OPQMatrix(D, M, opts);
row(`OPQMatrix.train, calling thread (${NITER} rounds)`, await whileTicking(() => here.train(base, N, { threads: THREADS })));
row(`OPQMatrix.trainOnWorker (${NITER} rounds)`, await whileTicking(() => away.trainOnWorker(base, N, { threads: THREADS })));
const a = here.getMatrix(),
  b = away.getMatrix();
const same = a.every((x, i) => x === b[i]);

const index = indexFactory(D, `OPQ${M},IVF${NLIST},PQ${M}`, { opq: opts });
row(`CodedIndex.train OPQ${M},IVF${NLIST},PQ${M}`, await whileTicking(() => index.train(base, { threads: THREADS })));
index.add(base);
// warm: the pool's workers and their kernel instances for this arena exist before the timed calls
await index.searchAsync(queries, 10, { nprobe: 8, threads: THREADS });
const sync = await whileTicking(async () => index.search(queries, 10, { nprobe: 8 }));
const async_ = await whileTicking(() => index.searchAsync(queries, 10, { nprobe: 8, threads: THREADS }));
row(`search, ${Q} queries (calling thread)`, sync);
row(`searchAsync, ${Q} queries (pool)`, async_);
const sameSearch = sync.result.labels.every((x, i) => x === async_.result.labels[i]) && sync.result.distances.every((x, i) => x === async_.result.distances[i]);
index.dispose();

console.log(`n ${N}, d ${D}, m ${M}, threads ${THREADS}; matrices equal: ${same}; search = searchAsync: ${sameSearch}`);
console.log('| call | seconds | longest loop gap (ms) | ticks | gap / call |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.what} | ${r.s} | ${r.gap} | ${r.ticks} | ${r.share} |`);
