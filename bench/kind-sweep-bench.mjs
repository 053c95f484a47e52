#!/usr/bin/env node
// The recall–memory–time comparison of index kinds on a collection's own vectors (issue #9,
// item 6: what GET /api/sweep?kinds=all and the "how it works" chart show), measured on a
// generated collection, with the event loop's delay while it runs.
//
//   npm run build && flock /tmp/nitamono-bench.flock node bench/kind-sweep-bench.mjs \
//       [--images 10000] [--bins 64] [--queries 50] [--k 10] [--keep DIR]
//
// Images: generated PNGs (four noisy quadrants), indexed with colour histograms of `bins` bins
// per channel (D = 3·bins). Queries: `queries` images of the collection evenly spaced by id.
// Kinds: the collection's own IVF-Flat (nlist ⌈√N⌉) and IVF-SQ8, IVF-PQ{m}, IVF-PQ{m},RFlat
// built for the comparison (m as `auto` would take it below IVF-SQ8's RAM). One query at a
// time, as a collection search. Ratios are against IVF-Flat in the same run.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Collection, sweepIndexKinds } from 'nitamono';
import { arg, quadrantPng } from './lib.mjs';

const images = Number(arg('images', 10_000));
const bins = Number(arg('bins', 64));
const queries = Number(arg('queries', 50));
const k = Number(arg('k', 10));
const keep = arg('keep', undefined);

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const base = keep ?? mkdtempSync(join(tmpdir(), 'nitamono-kinds-'));
const root = join(base, 'images');
const colPath = join(base, 'collection');
const fresh = !existsSync(colPath);
if (fresh) {
  const r = rng(5);
  const t = performance.now();
  for (let i = 0; i < images; i++) {
    const dir = join(root, `g${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `img-${String(i).padStart(6, '0')}.png`), await quadrantPng(r, 24));
  }
  console.error(`${images} images written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const col = await Collection.open(colPath, fresh ? { create: true, root, features: ['color'], colorBins: bins } : {});
try {
  if (fresh) {
    const t = performance.now();
    await col.update();
    console.error(`indexed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const ivf = await col.ivfIndex('color');
  const nlist = ivf.describe({ lists: false }).nlist;
  const rows = await col.searchableImages();
  const queryIds = Array.from(
    { length: Math.min(queries, rows.length) },
    (_, i) => rows[Math.floor(((i + 0.5) * rows.length) / Math.min(queries, rows.length))].id,
  );
  const nprobes = [];
  for (let p = 1; p < nlist; p *= 2) nprobes.push(p);
  nprobes.push(nlist);

  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const t0 = performance.now();
  const r = await sweepIndexKinds(col, 'color', { k, queryIds, nprobes });
  const took = performance.now() - t0;
  lag.disable();

  const mb = (b) => (b / 2 ** 20).toFixed(2);
  const flat = r.series.find((s) => s.name === 'flat');
  const at = (s, target) => s.points.find((p) => p.recall_at_k >= target) ?? s.points.reduce((a, b) => (b.recall_at_k > a.recall_at_k ? b : a));
  console.log(
    `\nN = ${r.n}, D = ${r.dim}, nlist = ${r.nlist}, k = ${r.k}, ${r.queries} queries; trained on ${r.train_vectors} vectors; sweep ${(took / 1000).toFixed(1)} s`,
  );
  console.log(
    `event loop delay during the sweep: p50 ${(lag.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
  );
  if (r.skipped.length) console.log('skipped:', r.skipped.map((s) => `${s.factory}: ${s.reason}`).join('; '));
  for (const target of [0.9, 0.95]) {
    const ref = flat && at(flat, target);
    console.log(`\ncheapest nprobe reaching recall@${k} ≥ ${target} (else the best), ratios against IVF-Flat at its own:`);
    console.log('| kind | factory | RAM MB | RAM ÷ IVF-Flat | disk MB | build s | nprobe | recall | p50 ms | p50 ÷ IVF-Flat |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of r.series) {
      const p = at(s, target);
      console.log(
        `| ${s.label} | ${s.factory} | ${mb(s.memory_bytes)} | ${flat ? (s.memory_bytes / flat.memory_bytes).toFixed(3) : '–'} | ${mb(s.refine_bytes)} | ${(s.build_ms / 1000).toFixed(1)} | ${p.nprobe} | ${p.recall_at_k.toFixed(3)} | ${p.p50_ms.toFixed(3)} | ${ref ? (p.p50_ms / ref.p50_ms).toFixed(2) : '–'} |`,
      );
    }
  }
  console.log(`\nrecall@${k} / p50 ms per nprobe:`);
  console.log(`| kind | ${nprobes.map((p) => `nprobe ${p}`).join(' | ')} |`);
  console.log(`|---|${nprobes.map(() => '---:').join('|')}|`);
  for (const s of r.series) console.log(`| ${s.label} | ${s.points.map((p) => `${p.recall_at_k.toFixed(3)} / ${p.p50_ms.toFixed(3)}`).join(' | ')} |`);
} finally {
  await col.close();
  if (!keep) rmSync(base, { recursive: true, force: true });
}
