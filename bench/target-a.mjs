#!/usr/bin/env node
// Issue #9's target (a), measured in pairs: a compressed nitamono setting and hnswlib-node at its
// smallest ef with equal or higher 10-R@10, timed alternately, round after round, on one thread.
// ann-bench.mjs times the peers minutes apart, and on this machine kind one core's speed drifts
// by a third over minutes (hnswlib-node's ef 160 measured 1,077 to 1,440 q/s in one day's runs):
// a ratio of two timings taken seconds apart, repeated, says more than one of each.
//
//   node bench/target-a.mjs [--settings IVF256,PQ16:16:32,IVF256,PQ28:32:16] [--rounds 7] [--queries 1000]
//
// A setting is FACTORY:NPROBE:REFINE; FACTORY is a compressed kind re-ranked from the base file
// (mapped read-only, as in ann-bench). Needs bench/out/fmnist-{base,queries}.fvecs and
// fmnist-gt.ivecs (ann-bench.mjs writes them). Prints one line per round and the median ratio.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import hnswlibNode from 'hnswlib-node';
import { indexFactory, readVectors, recallAt, VectorFileRefine } from 'nitamono';

const { values: o } = parseArgs({
  options: {
    settings: { type: 'string', default: 'IVF256,PQ16:16:32;IVF256,PQ28:32:16;IVF256,PQ28:16:32' },
    rounds: { type: 'string', default: '7' },
    queries: { type: 'string', default: '1000' },
    ef: { type: 'string', default: '10,20,40,80,160' },
  },
});
const out = new URL('./out/', import.meta.url).pathname;
const K = 10,
  KMEANS_ITERATIONS = 25;
const base = await readVectors(`${out}fmnist-base.fvecs`);
const allQ = await readVectors(`${out}fmnist-queries.fvecs`);
const d = base.dim,
  n = base.data.length / d,
  nq = Math.min(Number(o.queries), allQ.data.length / d);
const queries = allQ.data.subarray(0, nq * d);
const gtFile = readFileSync(`${out}fmnist-gt.ivecs`);
const gtK = gtFile.readInt32LE(0);
const gtAll = new Int32Array(gtFile.buffer, gtFile.byteOffset, gtFile.length / 4);
const gt = { labels: new Int32Array(nq * gtK), k: gtK };
for (let i = 0; i < nq; i++) gt.labels.set(gtAll.subarray(i * (gtK + 1) + 1, (i + 1) * (gtK + 1)), i * gtK);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One pass of one-query searches: q/s and 10-R@10. */
function pass(search) {
  const labels = new Int32Array(nq * K);
  const t0 = performance.now();
  for (let i = 0; i < nq; i++) labels.set(search(i), i * K);
  const s = (performance.now() - t0) / 1000;
  return { qps: nq / s, recall: recallAt({ labels, k: K, nq }, gt, K).kRecallAtK };
}

console.error(`[hnswlib-node] build M=16 efConstruction=200 on ${n} vectors …`);
const h = new hnswlibNode.HierarchicalNSW('l2', d);
h.initIndex({ maxElements: n, m: 16, efConstruction: 200, randomSeed: 100 });
for (let i = 0; i < n; i++) h.addPoint(Array.from(base.data.subarray(i * d, (i + 1) * d)), i);
const qArr = Array.from({ length: nq }, (_, i) => Array.from(queries.subarray(i * d, (i + 1) * d)));
const hnsw = (ef) => {
  h.setEf(Math.max(ef, K));
  return pass((i) => h.searchKnn(qArr[i], K).neighbors);
};
const efs = o.ef.split(',').map(Number);
const hRecall = new Map(efs.map((ef) => [ef, hnsw(ef).recall]));

const refine = VectorFileRefine.open(`${out}fmnist-base.fvecs`);
const built = new Map();
console.log(`# target (a) in pairs — ${new Date().toISOString()}, Fashion-MNIST ${n} × ${d}, ${nq} queries, one thread, ${o.rounds} rounds`);
console.log(
  '\n| setting | 10-R@10 | RAM ÷ raw | hnswlib-node ef (10-R@10) | nitamono q/s by round | hnswlib-node q/s by round | ratio by round | median ratio |\n|---|---|---|---|---|---|---|---|',
);
for (const setting of o.settings.split(';')) {
  const [factory, nprobe, rf] = setting.split(':');
  let index = built.get(factory);
  if (!index) {
    console.error(`[nitamono] ${factory}: training …`);
    index = indexFactory(d, factory);
    await index.train(base.data, { iterations: KMEANS_ITERATIONS, threads: 1 });
    await index.addAsync(base.data);
    index.setRefineVectors(refine);
    built.set(factory, index);
  }
  const params = { nprobe: Number(nprobe), refineFactor: Number(rf) };
  const ours = () => pass((i) => index.search(queries.subarray(i * d, (i + 1) * d), K, params).labels);
  const warm = ours();
  // hnswlib-node's smallest ef with equal or higher recall, else its best
  const ef = efs.find((e) => hRecall.get(e) >= warm.recall) ?? efs.reduce((a, b) => (hRecall.get(b) > hRecall.get(a) ? b : a));
  hnsw(ef);
  const a = [],
    b = [];
  for (let r = 0; r < Number(o.rounds); r++) {
    // alternate which goes first, so neither always follows the other
    if (r % 2) {
      b.push(hnsw(ef).qps);
      a.push(ours().qps);
    } else {
      a.push(ours().qps);
      b.push(hnsw(ef).qps);
    }
  }
  const ratios = a.map((x, i) => x / b[i]);
  const mem = index.memoryBytes / (n * d * 4);
  const f = (xs, p = 0) => xs.map((x) => x.toFixed(p)).join(', ');
  console.log(
    `| ${factory} nprobe ${nprobe} refine ${rf} | ${warm.recall.toFixed(4)} | ${mem.toFixed(3)} | ${ef} (${hRecall.get(ef).toFixed(4)}${hRecall.get(ef) < warm.recall ? ', its best, below ours' : ''}) | ${f(a)} | ${f(b)} | ${f(ratios, 2)} | **${median(ratios).toFixed(2)}×** |`,
  );
}
for (const index of built.values()) index.dispose();
refine.close();
