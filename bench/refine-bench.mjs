#!/usr/bin/env node
/**
 * Where re-ranking's time goes (issue #9, target a): IVF256,PQ56 on Fashion-MNIST re-ranked from
 * the base file, by positional reads (pread) and from the native mapping (mmap), side by side in
 * one run: CPU time per one-query search (process.cpuUsage, so other load on the machine counts
 * less than in wall time), one-query searchAsync q/s, and the event loop's longest delay during
 * a 1,000-query searchAsync. Needs the files bench/ann-bench.mjs writes (bench/out/fmnist-*);
 * the index is trained once (10 k-means iterations) and kept in bench/out/refine-bench.index.
 *   flock /tmp/nitamono-bench.flock node bench/refine-bench.mjs [--queries 1000]
 */
import { existsSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { indexFactory, loadIndex, readVectors, VectorFileRefine } from 'nitamono';

const args = process.argv.slice(2);
const nq = Number(args[args.indexOf('--queries') + 1] || 1000);
const out = new URL('./out/', import.meta.url).pathname;
const baseFile = `${out}fmnist-base.fvecs`;
if (!existsSync(baseFile)) throw new Error(`${baseFile} is missing: run bench/ann-bench.mjs --datasets fmnist first`);
const saved = `${out}refine-bench.index`;
let index;
if (existsSync(saved)) index = await loadIndex(saved);
else {
  const base = await readVectors(baseFile);
  index = indexFactory(base.dim, 'IVF256,PQ56');
  await index.train(base.data, { threads: 1, iterations: 10, maxPointsPerCentroid: 256 });
  index.add(base.data);
  await index.save(saved);
}
const dim = index.dim;
const queries = (await readVectors(`${out}fmnist-queries.fvecs`)).data;
const Q = (i) => queries.subarray(i * dim, (i + 1) * dim);
const cpuUs = (f) => {
  const t = process.cpuUsage();
  for (let i = 0; i < nq; i++) f(i);
  const u = process.cpuUsage(t);
  return (u.user + u.system) / nq;
};
const sources = { pread: VectorFileRefine.open(baseFile, { map: false }), mmap: VectorFileRefine.open(baseFile) };
if (!sources.mmap.isMapped) console.log('(the native addon is not built: both columns are pread)');
// first touch of the pages (page cache, and the mapping's page tables) outside the timings
for (const src of Object.values(sources)) {
  index.setRefineVectors(src);
  for (let i = 0; i < nq; i++) index.search(Q(i), 10, { nprobe: 16, refineFactor: 16 });
}
const rows = [];
for (const [nprobe, refineFactor] of [
  [8, 8],
  [16, 8],
  [16, 16],
]) {
  const plain = cpuUs((i) => index.search(Q(i), 10, { nprobe }));
  const row = { setting: `nprobe ${nprobe} refine ${refineFactor}`, plain };
  for (const [name, src] of Object.entries(sources)) {
    index.setRefineVectors(src);
    row[name] = cpuUs((i) => index.search(Q(i), 10, { nprobe, refineFactor }));
    let t = performance.now();
    for (let i = 0; i < nq; i++) await index.searchAsync(Q(i), 10, { nprobe, refineFactor, threads: 1 });
    row[`${name}Async`] = nq / ((performance.now() - t) / 1000);
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    t = performance.now();
    await index.searchAsync(queries.subarray(0, nq * dim), 10, { nprobe, refineFactor, threads: 1 });
    row[`${name}Batch`] = nq / ((performance.now() - t) / 1000);
    h.disable();
    row[`${name}Delay`] = h.max / 1e6;
  }
  rows.push(row);
}
const f = (x) => x.toFixed(0);
console.log(`\nIVF256,PQ56, ${nq} queries, k = 10; CPU µs per one-query search() (re-ranking's share: minus the same search without it)\n`);
console.log(
  '| setting | no refine | pread | mmap | re-rank pread | re-rank mmap | ratio | searchAsync q/s pread / mmap | batch q/s pread / mmap | loop delay max ms pread / mmap |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.setting} | ${f(r.plain)} | ${f(r.pread)} | ${f(r.mmap)} | ${f(r.pread - r.plain)} | ${f(r.mmap - r.plain)} | ${((r.pread - r.plain) / (r.mmap - r.plain)).toFixed(1)}× | ${f(r.preadAsync)} / ${f(r.mmapAsync)} | ${f(r.preadBatch)} / ${f(r.mmapBatch)} | ${r.preadDelay.toFixed(1)} / ${r.mmapDelay.toFixed(1)} |`,
  );
}
for (const src of Object.values(sources)) src.close();
index.dispose();
