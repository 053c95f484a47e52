#!/usr/bin/env node
// Filtered search at the collection level (issue #11, item 4): a collection of N synthetic
// vectors (default 100,000 × 256-d, clustered) in F folders (default 100: each folder holds 1 %
// of the images, spread over the whole vector space), searched one query at a time with
// Collection.search: unfiltered exact vs `filter: { in: folder }` (the catalogue resolves the
// folder to ids, the index scans only those rows), then the same on an IVF index.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/filter-bench.mjs [--n 100000] [--dim 256] [--folders 100] [--queries 50] [--sequential]
// Times are wall-clock per Collection.search call (catalogue reads, filter resolution, scan,
// paths), median over the queries, the searches of each query interleaved (same machine load); "scan" is the response's took_ms (the index scan alone).
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
// --sequential: each kind of search over all the queries in turn (caches stay warm with the folder's rows) instead of interleaved
const SEQUENTIAL = process.argv.includes('--sequential');

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

/**
 * Times each search of `variants` (name → options) on every query id, the variants interleaved
 * query by query so that all of them see the same machine load; after one warm-up each.
 * Returns per variant the median wall and scan (took_ms) times and the answers.
 */
async function runInterleaved(c, ids, variants) {
  const out = {};
  for (const [name, opts] of Object.entries(variants)) {
    await c.search({ id: ids[0] }, opts(ids[0]));
    out[name] = { wall: [], scan: [], answers: [] };
  }
  const one = async (name, id) => {
    const t0 = performance.now();
    const r = await c.search({ id }, variants[name](id));
    out[name].wall.push(performance.now() - t0);
    out[name].scan.push(r.took_ms);
    out[name].answers.push(r);
  };
  if (SEQUENTIAL) for (const name of Object.keys(variants)) for (const id of ids) await one(name, id);
  else for (const id of ids) for (const name of Object.keys(variants)) await one(name, id);
  for (const v of Object.values(out)) {
    v.wall = percentile(
      [...v.wall].sort((a, b) => a - b),
      50,
    );
    v.scan = percentile(
      [...v.scan].sort((a, b) => a - b),
      50,
    );
  }
  return out;
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
      // one folder per query, as a user would pick one
      const r = await runInterleaved(c, queryIds, {
        un: () => ({ k: K, method }),
        ...(method === 'exact' ? {} : { exact: () => ({ k: K, method: 'exact' }) }),
        filtered: (id) => ({ k: K, method, filter: { in: folderOfQuery(id) } }),
      });
      r.exact ??= r.un;
      queryIds.forEach((id, q) => {
        const want = bruteForce(data, id - 1, folderOfQuery(id)).map((i) => i + 1);
        exactChecked++;
        if (JSON.stringify(r.filtered.answers[q].results.map((h) => h.id)) === JSON.stringify(want)) exactSame++;
      });
      const ref = r.exact.wall;
      rows.push({
        index: `${label} (${r.un.answers[0].index ?? label})`,
        build_s: buildS.toFixed(1),
        what: `unfiltered ${method}`,
        wall: r.un.wall,
        scan: r.un.scan,
        ref,
      });
      if (method !== 'exact') rows.push({ index: '', build_s: '', what: 'unfiltered exact', wall: r.exact.wall, scan: r.exact.scan, ref });
      rows.push({
        index: '',
        build_s: '',
        what: `in one folder (${r.filtered.answers[0].filtered} images)`,
        wall: r.filtered.wall,
        scan: r.filtered.scan,
        ref,
      });
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
