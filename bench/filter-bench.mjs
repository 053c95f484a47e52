#!/usr/bin/env node
// Filtered search at the collection level (issue #11, item 4): a collection of N synthetic
// vectors (default 100,000 × 256-d, clustered), searched one query at a time with
// Collection.search: unfiltered exact vs `filter: { in: folder }` (the catalogue resolves the
// folder to ids, the index scans only those rows), then the same on an IVF index.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/filter-bench.mjs [--n 100000] [--dim 256] [--queries 50] [--sequential]
// Folders (N = 100,000): 99 folders d<g>/f<b> of 1 % each whose images were added together
// (their rows follow each other, one row in 100 belonging to another folder), 10 folders d<g>
// of 10 % (d9: 9 %), and `mixed`, 1 %, whose images were added interleaved with all the others
// (every 100th row: scattered over the whole index).
// Times are wall-clock per Collection.search call (catalogue reads, filter resolution, scan,
// paths), median over the queries, the searches of each query interleaved (same machine load); "scan" is the response's took_ms (the index scan alone).
// "new folder each query": every query searches a folder not searched before (its ids from the
// in-memory folder index, read on the warm-up search); "same folder": one folder throughout.
// Every filtered answer of the flat index, and of the IVF subset scans, is checked against a
// brute-force filter. Then a breakdown of one filtered search into its parts, each timed alone.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Collection, checkImageFilter, clusteredVectors, FlatIndex, loadIndex, SQLiteCatalogStore } from 'nitamono';
import { FilterIdCache } from '../dist/src/collection/filter-cache.js';
import { FIRST_READ_PAGE, FolderIds } from '../dist/src/collection/folder-ids.js';
import { IdRows } from '../dist/src/search/id-rows.js';
import { arg, percentile } from './lib.mjs';

const N = Number(arg('n', 100_000));
const D = Number(arg('dim', 256));
const Q = Number(arg('queries', 50));
const K = 10;
// --sequential: each kind of search over all the queries in turn (caches stay warm with the folder's rows) instead of interleaved
const SEQUENTIAL = process.argv.includes('--sequential');
const BLOCK = Math.floor(N / 100); // images of a 1 % folder
const SPACE = { kind: 'color', model: 'rgb-hist-4' };

/** The folder of vector i (see the header). */
function folderOf(i) {
  if (i % 100 === 99) return 'mixed';
  const b = Math.floor((i - Math.floor(i / 100)) / BLOCK);
  return `d${Math.floor(b / 10)}/f${String(b).padStart(2, '0')}`;
}
const BLOCKS = Math.ceil((N - Math.floor(N / 100)) / BLOCK);
const blockFolder = (b) => `d${Math.floor(b / 10)}/f${String(b).padStart(2, '0')}`;

/** A collection whose catalogue holds the N vectors as colour features (the space the index reads), under `policy`. */
async function makeCollection(base, name, data, policy) {
  const dir = join(base, name);
  const root = join(base, 'root');
  await mkdir(root, { recursive: true });
  (await Collection.open(dir, { create: true, root, features: ['color'], index: policy })).close();
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'));
  for (let i0 = 0; i0 < N; i0 += 5000) {
    const writes = [];
    for (let i = i0; i < Math.min(N, i0 + 5000); i++) {
      writes.push({
        op: 'put',
        image: { relpath: `${folderOf(i)}/img-${i}.png`, size: 1000 + i, mtime_ms: 1e12 + i, sha256: `h${i}`, status: 'ok' },
        vectors: [{ space: SPACE, vector: data.subarray(i * D, (i + 1) * D) }],
      });
    }
    await store.commit(writes);
  }
  await store.close();
  const c = await Collection.open(dir);
  await c.syncIndexes();
  return { c, dir };
}

const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/**
 * Times each search of `variants` (name → (query number) → options) on every query id, the
 * variants interleaved query by query so that all of them see the same machine load; after one
 * warm-up each (query number -1). Returns per variant the median wall and scan (took_ms) times,
 * the median distances computed, and the answers.
 */
async function runInterleaved(c, ids, variants) {
  const out = {};
  for (const [name, opts] of Object.entries(variants)) {
    await c.search({ id: ids[0] }, opts(-1));
    out[name] = { wall: [], scan: [], computed: [], answers: [] };
  }
  const one = async (name, q) => {
    const t0 = performance.now();
    const r = await c.search({ id: ids[q] }, variants[name](q));
    out[name].wall.push(performance.now() - t0);
    out[name].scan.push(r.took_ms);
    out[name].computed.push(r.distances_computed);
    out[name].answers.push(r);
  };
  if (SEQUENTIAL) for (const name of Object.keys(variants)) for (let q = 0; q < ids.length; q++) await one(name, q);
  else for (let q = 0; q < ids.length; q++) for (const name of Object.keys(variants)) await one(name, q);
  for (const v of Object.values(out)) {
    v.wall = median(v.wall);
    v.scan = median(v.scan);
    v.computed = median(v.computed);
  }
  return out;
}

/** Brute force: the k nearest of `members` (vector numbers) to vector `id` (squared L2, ties by id). */
function bruteForce(data, id, members) {
  const scored = [];
  for (const i of members) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (data[id * D + j] - data[i * D + j]) ** 2;
    scored.push([s, i]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return scored.slice(0, K).map((e) => e[1]);
}

/** Median ms of `fn` over `reps` calls (after one warm-up), each call given its repetition number. */
async function timeIt(reps, fn) {
  await fn(-1);
  const t = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn(r);
    t.push(performance.now() - t0);
  }
  return median(t);
}

const base = await mkdtemp(join(tmpdir(), 'nitamono-filter-bench-'));
try {
  const { data } = clusteredVectors(N, D, { clusters: 200, seed: 7 });
  const members = new Map();
  for (let i = 0; i < N; i++) {
    for (const f of new Set([folderOf(i), folderOf(i).split('/')[0]])) {
      if (!members.has(f)) members.set(f, []);
      members.get(f).push(i);
    }
  }
  // catalogue ids are 1-based in insertion order: vector i is image i + 1
  const queryIds = Array.from({ length: Q }, (_, q) => 1 + ((q * 1999) % N));
  // a new 1 % folder for each query (the warm-up, q = -1, takes block 0)
  const newFolder = (q) => blockFolder((q + 1) % BLOCKS);
  const filtered = {
    'in a 1 % folder, rows together, new folder each query': newFolder,
    'in a 1 % folder, rows together, same folder': () => blockFolder(0),
    'in a 1 % folder, rows interleaved (`mixed`), same folder': () => 'mixed',
    'in a 10 % folder, rows together, same folder': () => 'd1',
  };
  const rows = [];
  const checks = [];
  const breakdowns = [];
  let flatDir;
  for (const [label, policy, method] of [
    ['Flat', 'flat', 'exact'],
    ['IVF', 'ivf', 'ivf'],
  ]) {
    const t0 = performance.now();
    const { c, dir } = await makeCollection(base, label, data, policy);
    const buildS = (performance.now() - t0) / 1000;
    try {
      const variants = {
        un: () => ({ k: K, method }),
        ...(method === 'exact' ? {} : { exact: () => ({ k: K, method: 'exact' }) }),
      };
      for (const [name, folder] of Object.entries(filtered)) variants[name] = (q) => ({ k: K, method, filter: { in: folder(q) } });
      const r = await runInterleaved(c, queryIds, variants);
      r.exact ??= r.un;
      const ref = r.exact.wall;
      const row = (index, build_s, what, v, extra = '') => rows.push({ index, build_s, what, ...v, ref, extra });
      row(`${label} (${r.un.answers[0].index ?? label})`, buildS.toFixed(1), `unfiltered ${method}`, r.un);
      if (method !== 'exact') row('', '', 'unfiltered exact', r.exact);
      for (const [name, folder] of Object.entries(filtered)) {
        const v = r[name];
        const size = v.answers[0].filtered;
        // a subset scan computes exactly |S| distances; a probed scan those of the probed lists' rows
        const path = v.computed === size ? 'subset' : 'probed lists, rows outside skipped';
        let same = 0;
        queryIds.forEach((id, q) => {
          const want = bruteForce(data, id - 1, members.get(folder(q))).map((i) => i + 1);
          if (JSON.stringify(v.answers[q].results.map((h) => h.id)) === JSON.stringify(want)) same++;
        });
        checks.push(`${label}, ${name} (${path}): ${same} of ${Q}`);
        row('', '', `${name} (${size.toLocaleString('en')} images; ${path})`, v);
      }
      if (label === 'Flat') {
        breakdowns.push(await measureParts(c, dir, queryIds, newFolder));
        flatDir = dir;
      } else breakdowns.push(await measureIvfParts(dir, queryIds, newFolder));
    } finally {
      await c.close();
    }
  }
  console.log(
    `filter-bench: N = ${N.toLocaleString('en')} × ${D}-d clustered synthetic vectors, k = ${K}, ${Q} queries one at a time${SEQUENTIAL ? ', each kind of search over all queries in turn' : ', the searches of each query interleaved'}`,
  );
  console.log('| index | build s | search | median ms (wall) | median ms (scan) | wall ÷ unfiltered exact |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.index} | ${r.build_s} | ${r.what} | ${r.wall.toFixed(3)} | ${r.scan.toFixed(3)} | ${(r.wall / r.ref).toFixed(3)} |`);
  console.log('filtered answers equal to a brute-force filter:');
  for (const line of checks) console.log(`  ${line}`);
  for (const b of breakdowns) console.log(b);
  console.log(await measureFirstRead(flatDir, queryIds, data, members));
} finally {
  await rm(base, { recursive: true, force: true });
}

/**
 * The parts of one search in a 1 % folder (rows together) on the flat collection, each timed
 * alone over the queries (median): the catalogue reads a collection search makes, the two ways
 * of resolving the folder (SQL each time, or the filter cache), an in-memory path-prefix index
 * (the alternative to the cache), ids → rows (a Map per id, as before, against IdRows), the scan,
 * and the unfiltered scan for scale. The engine parts run on a FlatIndex of the same vectors.
 */
async function measureParts(c, dir, ids, folderOfQuery) {
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'), { readonly: true });
  const { ids: rowIds, vectors } = await c.vectors('color');
  const index = new FlatIndex(D);
  index.add(vectors, rowIds);
  try {
    const gen = await store.generation();
    const at = (r) => Math.max(r, 0);
    const filterOf = (r) => checkImageFilter({ in: folderOfQuery(at(r)) });
    const idsOf = [];
    for (let r = 0; r < ids.length; r++) idsOf.push(await store.filterIds(filterOf(r)));
    const queries = [];
    for (const id of ids) queries.push((await store.okVector(id, SPACE)).vector);
    const parts = [];
    const part = async (what, fn, note = '') => parts.push([what, await timeIt(ids.length, fn), note]);

    await part('catalogue generation (read by every search)', () => store.generation());
    await part('query vector by id from the catalogue (before)', (r) => store.okVector(ids[at(r)], SPACE));
    await part('query vector by id from the index (now)', (r) => index.reconstruct(ids[at(r)]));
    await part('folder → ids by SQL (a folder not cached)', (r) => store.filterIds(filterOf(r)));
    const cache = new FilterIdCache(ids.length + 1);
    for (let r = 0; r < ids.length; r++) await cache.resolve(store, filterOf(r), gen);
    await part('folder → ids from the filter cache', (r) => cache.resolve(store, filterOf(r), gen));
    // the folder index a collection keeps (src/collection/folder-ids.ts): read once, then a
    // folder's first lookup copies and sorts its Set (the per-folder arrays are dropped before each call)
    const folderIds = new FolderIds();
    const tb = performance.now();
    await folderIds.resolve(store, ['d0'], gen);
    const folderIdsBuild = performance.now() - tb;
    await part(
      'folder → ids from the folder index (first lookup of the folder)',
      (r) => {
        folderIds.sorted.clear();
        return folderIds.resolve(store, [folderOfQuery(at(r))], gen);
      },
      `first read of every path: ${folderIdsBuild.toFixed(1)} ms (${N.toLocaleString('en')} images), once; then only each generation's changes`,
    );
    // the alternative rejected before: every searchable path in memory, sorted; a folder is a range of it
    const t0 = performance.now();
    const all = (await store.okRows()).sort((a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0));
    const paths = all.map((x) => x.relpath);
    const pathIds = Int32Array.from(all, (x) => x.id);
    const prefixBuild = performance.now() - t0;
    const lower = (s) => {
      let lo = 0,
        hi = paths.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (paths[mid] < s) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    await part(
      'folder → ids from a path-prefix index',
      (r) => {
        const f = folderOfQuery(at(r));
        return pathIds.slice(lower(`${f}/`), lower(`${f}0`)).sort();
      },
      `built in ${prefixBuild.toFixed(1)} ms per generation (${all.length.toLocaleString('en')} paths)`,
    );
    const map = new Map();
    const idv = index.ids();
    for (let r = 0; r < idv.length; r++) map.set(idv[r], r);
    await part('ids → rows, a Map lookup per id (before)', (r) => {
      const a = idsOf[at(r)];
      const out = new Int32Array(a.length);
      let m = 0;
      for (const id of a) {
        const row = map.get(id);
        if (row !== undefined) out[m++] = row;
      }
      return out.subarray(0, m).sort();
    });
    const dense = new IdRows();
    dense.reset(idv);
    await part('ids → rows, IdRows (dense typed array; first time for these ids)', (r) => dense.allowedRows(idsOf[at(r)].slice()));
    await part('ids → rows, IdRows (the same ids again: remembered)', (r) => dense.allowedRows(idsOf[at(r)]));
    await part('scan of the folder (FlatIndex.search with allowed, rows remembered), one thread', (r) =>
      index.search(queries[at(r)], K, { allowed: idsOf[at(r)] }),
    );
    const top = queries.map((q, r) => index.search(q, K, { allowed: idsOf[r] }).labels);
    await part('ids of the query and the top 10 → paths (every search)', (r) => store.relpaths([ids[at(r)], ...top[at(r)]], gen));
    await part('unfiltered scan, one thread (for scale)', (r) => index.search(queries[at(r)], K));
    await part('unfiltered scan, worker threads (as the collection runs it)', (r) => index.searchAsync(queries[at(r)], K));
    const lines = [
      `breakdown of a search in a 1 % folder (rows together, a new folder each query; flat, ${ids.length} queries, median ms of each part timed alone):`,
      '| part | median ms | note |',
      '|---|---|---|',
      ...parts.map(([what, ms, note]) => `| ${what} | ${ms.toFixed(4)} | ${note} |`),
    ];
    return lines.join('\n');
  } finally {
    index.dispose();
    await store.close();
  }
}

/** The file of a collection's primary colour index (its kind's own format), wherever the collection keeps it. */
async function colorIndexFile(dir) {
  const found = (await readdir(dir, { recursive: true })).find((f) => f.endsWith('color.index'));
  if (!found) throw new Error(`no color.index under ${dir}`);
  return join(dir, found);
}

/**
 * The engine parts of a search in a new 1 % folder on the IVF collection's own index (loaded
 * from its file): the query vector read from the index, ids → rows, and the scan of the
 * folder's rows both warm (repeated) and cold (right after an unfiltered exact scan evicted
 * them from the caches, as in the interleaved runs above), against the same on a flat index.
 */
async function measureIvfParts(dir, ids, folderOfQuery) {
  const ivf = await loadIndex(await colorIndexFile(dir));
  const flat = new FlatIndex(D);
  const store = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'), { readonly: true });
  try {
    const byId = ivf.ids().sort();
    const vecs = new Float32Array(byId.length * D);
    for (let j = 0; j < byId.length; j++) vecs.set(ivf.reconstruct(byId[j]), j * D);
    flat.add(vecs, byId);
    const at = (r) => Math.max(r, 0);
    const idsOf = [];
    for (let r = 0; r < ids.length; r++) idsOf.push(await store.filterIds(checkImageFilter({ in: folderOfQuery(r) })));
    const queries = ids.map((id) => ivf.reconstruct(id));
    const nlist = ivf.describe({ lists: false }).nlist;
    const parts = [];
    for (const [name, index, all] of [
      ['IVF', ivf, { nprobe: nlist }],
      ['Flat', flat, {}],
    ]) {
      parts.push([`${name}: query vector by id from the index`, await timeIt(ids.length, (r) => index.reconstruct(ids[at(r)]))]);
      // a fresh array each time: rows not remembered, as for the first search in a folder
      parts.push([
        `${name}: scan of a new folder, cache warm (ids → rows included)`,
        await timeIt(ids.length, (r) => index.search(queries[at(r)], K, { allowed: idsOf[at(r)].slice() })),
      ]);
      const cold = [];
      for (let r = -1; r < ids.length; r++) {
        index.search(queries[at(r)], K, all);
        const t0 = performance.now();
        index.search(queries[at(r)], K, { allowed: idsOf[at(r)].slice() });
        if (r >= 0) cold.push(performance.now() - t0);
      }
      parts.push([`${name}: scan of a new folder after an unfiltered exact scan (cache cold)`, median(cold)]);
    }
    return [
      `engine parts of a search in a new 1 % folder, IVF-Flat (the collection's index, nlist ${nlist}) beside a flat index of the same vectors in id order (${ids.length} queries, median ms):`,
      '| part | median ms |',
      '|---|---|',
      ...parts.map(([what, ms]) => `| ${what} | ${ms.toFixed(4)} |`),
    ].join('\n');
  } finally {
    ivf.dispose();
    flat.dispose();
    await store.close();
  }
}

/**
 * The first folder search of a process (the folder index's first read of every path, in pages):
 * a fresh Collection on the flat collection, its index loaded by an unfiltered search first;
 * then one search in a folder with three more in other folders started while it runs. Reports
 * its wall time, the longest event-loop stall meanwhile (a setImmediate chain's longest gap)
 * and whether all four answers equal a brute-force filter.
 */
async function measureFirstRead(dir, ids, data, members) {
  const c = await Collection.open(dir);
  try {
    await c.search({ id: ids[0] }, { k: K, method: 'exact' });
    // the event loop's gaps (a setImmediate chain) while `work` runs: the longest three
    const gaps = async (work) => {
      const seen = [];
      let last = performance.now(),
        running = true;
      const tick = () => {
        const now = performance.now();
        seen.push(now - last);
        last = now;
        if (running) setImmediate(tick);
      };
      setImmediate(tick);
      const out = await work();
      running = false;
      return { out, longest: seen.sort((a, b) => b - a).slice(0, 3) };
    };
    const folders = [blockFolder(7), blockFolder(23), blockFolder(42), 'mixed'];
    const t0 = performance.now();
    const { out: answers, longest } = await gaps(async () => {
      const first = c.search({ id: ids[1] }, { k: K, method: 'exact', filter: { in: folders[0] } });
      await new Promise((r) => setImmediate(r));
      const others = folders.slice(1).map((f, j) => c.search({ id: ids[2 + j] }, { k: K, method: 'exact', filter: { in: f } }));
      return [await first, ...(await Promise.all(others))];
    });
    const wall = performance.now() - t0;
    // the machine's own noise: the same chain over as long with nothing to do
    const idle = (await gaps(() => new Promise((r) => setTimeout(r, wall)))).longest;
    let same = 0;
    answers.forEach((a, j) => {
      const want = bruteForce(data, ids[1 + j] - 1, members.get(folders[j])).map((i) => i + 1);
      if (JSON.stringify(a.results.map((h) => h.id)) === JSON.stringify(want)) same++;
    });
    const ms = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
    return `first folder search of a process (${N.toLocaleString('en')} images; the folder index read in pages of ${FIRST_READ_PAGE.toLocaleString('en')} paths), with 3 more started during it: ${wall.toFixed(1)} ms for all four; longest event-loop stalls ${ms(longest)} ms (idle for as long: ${ms(idle)} ms); answers equal to a brute-force filter: ${same} of 4`;
  } finally {
    await c.close();
  }
}
