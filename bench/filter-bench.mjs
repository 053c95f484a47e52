#!/usr/bin/env node
// Filtered search at the collection level (issue #11, item 4): a collection of N synthetic
// vectors (default 100,000 × 256-d, clustered) in F folders (default 100: each folder holds 1 %
// of the images, spread over the whole vector space), searched one query at a time with
// Collection.search: unfiltered exact vs `filter: { in: folder }` (the catalogue resolves the
// folder to ids, the index scans only those rows), then the same on an IVF index.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/filter-bench.mjs [--n 100000] [--dim 256] [--folders 100] [--queries 50]
// Times are wall-clock per Collection.search call (catalogue reads, filter resolution, scan,
// paths), median over the queries; "scan" is the response's took_ms (the index scan alone).
// The filtered answers of the flat index are checked against a brute-force filter.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Collection, clusteredVectors, SQLiteCatalogStore } from 'nitamono';
import { arg, percentile } from './lib.mjs';

const N = Number(arg('n', 100_000));
const D = Number(arg('dim', 256));
const FOLDERS = Number(arg('folders', 100));
const Q = Number(arg('queries', 50));
const K = 10;

const folderOf = (i) => `f${String((i * 7919) % FOLDERS).padStart(3, '0')}`;

/** A collection whose catalogue holds the N vectors as colour features (the space the index reads), under `policy`. */
async function makeCollection(base, name, data, policy) {
  const dir = join(base, name);
  const root = join(base, 'root');
  await mkdir(root, { recursive: true });
  (await Collection.open(dir, { create: true, root, features: ['color'], index: policy })).close();
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'));
  const space = { kind: 'color', model: 'rgb-hist-4' };
  for (let i0 = 0; i0 < N; i0 += 5000) {
    const writes = [];
    for (let i = i0; i < Math.min(N, i0 + 5000); i++) {
      writes.push({
        op: 'put',
        image: { relpath: `${folderOf(i)}/img-${i}.png`, size: 1000 + i, mtime_ms: 1e12 + i, sha256: `h${i}`, status: 'ok' },
        vectors: [{ space, vector: data.subarray(i * D, (i + 1) * D) }],
      });
    }
    await store.commit(writes);
  }
  await store.close();
  const c = await Collection.open(dir);
  await c.syncIndexes();
  return c;
}

/** Median wall time and scan time (ms) of searching each query id with `opts`, and the answers. */
async function run(c, ids, opts) {
  await c.search({ id: ids[0] }, opts); // warm-up
  const wall = [],
    scan = [],
    answers = [];
  for (const id of ids) {
    const t0 = performance.now();
    const r = await c.search({ id }, opts);
    wall.push(performance.now() - t0);
    scan.push(r.took_ms);
    answers.push(r);
  }
  wall.sort((a, b) => a - b);
  scan.sort((a, b) => a - b);
  return { wall: percentile(wall, 50), scan: percentile(scan, 50), answers };
}

/** Brute force: the k nearest of the ids in `folder` to vector `id` (squared L2, ties by id). */
function bruteForce(data, id, folder) {
  const scored = [];
  for (let i = 0; i < N; i++) {
    if (folderOf(i) !== folder) continue;
    let s = 0;
    for (let j = 0; j < D; j++) s += (data[id * D + j] - data[i * D + j]) ** 2;
    scored.push([s, i]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return scored.slice(0, K).map((e) => e[1]);
}

const base = await mkdtemp(join(tmpdir(), 'nitamono-filter-bench-'));
try {
  const { data } = clusteredVectors(N, D, { clusters: 200, seed: 7 });
  // catalogue ids are 1-based in insertion order: vector i is image i + 1
  const queryIds = Array.from({ length: Q }, (_, q) => 1 + ((q * 1999) % N));
  const folderOfQuery = (id) => folderOf((id * 31) % N); // a folder other than the query's own, mostly
  const rows = [];
  let exactChecked = 0,
    exactSame = 0;
  for (const [label, policy, method] of [
    ['Flat', 'flat', 'exact'],
    ['IVF', 'ivf', 'ivf'],
  ]) {
    const t0 = performance.now();
    const c = await makeCollection(base, label, data, policy);
    const buildS = (performance.now() - t0) / 1000;
    try {
      const un = await run(c, queryIds, { k: K, method });
      const unExact = method === 'exact' ? un : await run(c, queryIds, { k: K, method: 'exact' });
      // one folder per query, as a user would pick one
      const filtered = { wall: [], scan: [], answers: [] };
      for (const id of queryIds) {
        const r = await run(c, [id], { k: K, method, filter: { in: folderOfQuery(id) } });
        filtered.wall.push(r.wall);
        filtered.scan.push(r.scan);
        filtered.answers.push(r.answers[0]);
      }
      filtered.wall.sort((a, b) => a - b);
      filtered.scan.sort((a, b) => a - b);
      const fw = percentile(filtered.wall, 50),
        fs = percentile(filtered.scan, 50);
      const subset = filtered.answers[0].filtered;
      if (label === 'Flat' || label === 'IVF') {
        queryIds.forEach((id, q) => {
          const want = bruteForce(data, id - 1, folderOfQuery(id)).map((i) => i + 1);
          exactChecked++;
          if (JSON.stringify(filtered.answers[q].results.map((h) => h.id)) === JSON.stringify(want)) exactSame++;
        });
      }
      rows.push({
        index: `${label} (${un.answers[0].index ?? label})`,
        build_s: buildS.toFixed(1),
        what: `unfiltered ${method}`,
        wall: un.wall,
        scan: un.scan,
        ref: unExact.wall,
      });
      if (method !== 'exact') rows.push({ index: '', build_s: '', what: 'unfiltered exact', wall: unExact.wall, scan: unExact.scan, ref: unExact.wall });
      rows.push({ index: '', build_s: '', what: `in one folder (${subset} images)`, wall: fw, scan: fs, ref: unExact.wall });
    } finally {
      await c.close();
    }
  }
  console.log(
    `filter-bench: N = ${N.toLocaleString('en')} × ${D}-d clustered synthetic vectors, ${FOLDERS} folders (1 folder = ${(100 / FOLDERS).toFixed(1)} %), k = ${K}, ${Q} queries one at a time`,
  );
  console.log('| index | build s | search | median ms (wall) | median ms (scan) | wall ÷ unfiltered exact |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.index} | ${r.build_s} | ${r.what} | ${r.wall.toFixed(3)} | ${r.scan.toFixed(3)} | ${(r.wall / r.ref).toFixed(3)} |`);
  console.log(`filtered answers equal to a brute-force filter: ${exactSame} of ${exactChecked} queries (flat and IVF)`);
} finally {
  await rm(base, { recursive: true, force: true });
}
