#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
/**
 * nitamono against its peers, side by side in one run, on the same files, queries, thread count,
 * nlist, nprobe sweep and k-means settings, as ratios, with issue #9's targets checked at the end:
 *
 * - Faiss (Debian's python3-faiss on OpenBLAS, bench/peers.py): k-means, IndexFlatL2,
 *   IVF{n},Flat, and the compressed IVF{n},SQ8 and IVF{n},PQ{m}np, each also wrapped in
 *   IndexRefineFlat (k_factor = the refine factor), against nitamono's same factory strings;
 * - the npm peers a TypeScript user would pick, in this process: hnswlib-node (M=16,
 *   efConstruction=200, ef sweep) and usearch (connectivity 16, expansion_add 200,
 *   expansion_search sweep, f32), one query at a time on this thread;
 * - the streaming-read bound for an exact scan (bench/bandwidth.c).
 *
 * Prints markdown tables and the targets checklist, writes bench/out/ann-<dataset>.json and the
 * charts docs/recall-qps-<dataset>.svg and docs/recall-memory-<dataset>.svg (into bench/out/
 * instead when --limit makes a subset, so smoke runs never touch the checked-in charts).
 *
 *   npm run build && node bench/ann-bench.mjs [--datasets fmnist,clustered,synthetic1m] [--threads 1[,2]]
 *     [--queries Q]        queries for recall and one-query timings (first Q of the query set; default 1000)
 *     [--flat-queries F]   one-query timings of the exact scans (default 100)
 *     [--limit N]          first N base vectors only (smoke tests)
 *     [--nprobes 1,2,…,64] [--refine-factors 4,16] [--ef 10,20,40,80,160]
 *     [--codecs SQ8,PQ56]  storages after IVF{nlist} (default SQ8 and the dataset's PQ{m}); OPQ56+PQ56 is
 *                          OPQ56,IVF{nlist},PQ56 (Faiss: OPQ56,IVF{nlist},PQ56np); PQ56x4fs is 4-bit fast
 *                          scan on both sides (Faiss's IndexIVFPQFastScan, which by default encodes the
 *                          vectors, not their residuals: by_residual false, shown with its rows)
 *     [--opq-niter N]      OPQ rotation updates on both sides (default 50, Faiss's OPQMatrix.niter)
 *     [--refine-source disk|ram]  where nitamono re-ranks from (default disk: the base file)
 *     [--nlist N] [--no-ivf-flat] [--no-graphs] [--py-hnswlib] [--batch]
 *     [--kernels native,wasm]  exact search and k-means with each kernel build (NITAMONO_KERNELS) side
 *                          by side; the first runs everything, the others run in a child process
 *
 * Needs Debian's python3-faiss, python3-threadpoolctl, libopenblas0 (peers.py refuses the
 * reference BLAS), python3-hnswlib for --py-hnswlib, dataset-fashion-mnist (run with
 * /usr/bin/python3), and the devDependencies hnswlib-node and usearch.
 */
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import hnswlibNode from 'hnswlib-node';
import {
  ArrayRefine,
  clusteredVectors,
  FlatIndex,
  indexFactory,
  kernelsSummary,
  kmeans,
  readVectors,
  recallAt,
  refineMappingSupported,
  VectorFileRefine,
  writeFvecs,
  writeIvecs,
} from 'nitamono';
import usearch from 'usearch';
import { colorOf, svgRecallMemory, svgRecallQps } from './charts.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes(`--${name}`);
const list = (s) => String(s).split(',').filter(Boolean).map(Number);
const datasets = opt('datasets', 'fmnist').split(',');
const threadList = list(opt('threads', '1'));
const limit = Number(opt('limit', 0));
const nprobeList = list(opt('nprobes', '1,2,4,8,16,32,64'));
const refineFactors = list(opt('refine-factors', '4,16'));
const efList = list(opt('ef', '10,20,40,80,160'));
const ivfFlat = !flag('no-ivf-flat');
const graphs = !flag('no-graphs') && !flag('no-hnsw');
const pyHnsw = flag('py-hnswlib');
const batch = flag('batch');
const opqNiter = Number(opt('opq-niter', 50));
/** The factory string of a --codecs entry: 'SQ8' → IVF{n},SQ8; 'OPQ56+PQ56' → OPQ56,IVF{n},PQ56. */
const factoryOf = (nlist, codec) => {
  const [pre, storage] = codec.includes('+') ? codec.split('+') : [null, codec];
  return `${pre ? `${pre},` : ''}IVF${nlist},${storage}`;
};
/** Kernel builds to compare on exact search and k-means; set before any worker starts, as the workers read it too. */
const kernelList = opt('kernels', '').split(',').filter(Boolean);
if (kernelList.length) process.env.NITAMONO_KERNELS = kernelList[0];
/** Child mode of --kernels: exact search and k-means only, as JSON on stdout. */
const exactJson = flag('exact-json');
/** Where nitamono's re-ranking reads full vectors: 'disk' (the base file, by offset; not in the index's RAM — the product's design) or 'ram' (ArrayRefine over the loaded vectors, like Faiss's IndexRefineFlat). */
const refineSource = opt('refine-source', 'disk');
if (!['disk', 'ram'].includes(refineSource)) throw new Error(`--refine-source is disk or ram, got ${refineSource}`);
const K = 10;
const out = new URL('./out/', import.meta.url).pathname;
const docs = limit ? out : new URL('../docs/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
mkdirSync(docs, { recursive: true });
const log = (s) => process.stderr.write(`${s}\n`);
const started = performance.now();
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
/** Resident set size after garbage collection (rough: freed WebAssembly memories and buffers go back lazily). */
const rss = () => {
  gc();
  gc();
  return process.memoryUsage().rss;
};

/** k-means iterations on both sides (nitamono's and Faiss's defaults differ: 25 and 10), coarse and PQ alike. */
const KMEANS_ITERATIONS = 25;
/** Target thresholds of issue #9. */
const T = { recall: 0.99, vsHnsw: 1.5, ram: 0.2, recallDiff: 0.01, flatBatch: 0.5, kmeans: 1.5, scan: 1.5 };

/**
 * The peer process's environment only: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set on some hosts of
 * this machine kind for old OpenBLAS builds, slow a current one down; threads limited as for us.
 */
function peerEnv(threads) {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

function idx(path) {
  const buf = gunzipSync(readFileSync(path));
  const n = buf.readUInt32BE(4),
    rows = buf.readUInt32BE(8),
    cols = buf.readUInt32BE(12);
  const d = rows * cols,
    data = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) data[i] = buf[16 + i];
  return { data, n, d };
}

const DATA = {
  fmnist: {
    nlist: 256,
    pq: 56,
    graphs: true,
    note: 'Fashion-MNIST: 60,000 base / 10,000 queries, 784-d raw pixels 0..255',
    make() {
      const dir = '/usr/share/datasets/fashion-mnist';
      const b = idx(`${dir}/train-images-idx3-ubyte.gz`),
        q = idx(`${dir}/t10k-images-idx3-ubyte.gz`);
      return { base: b.data, queries: q.data, d: b.d };
    },
  },
  clustered: {
    nlist: 316,
    pq: 16,
    graphs: true,
    note: 'clustered synthetic: 100,000 base / 1,000 queries, 64-d, 300 Gaussian blobs',
    make() {
      const { data } = clusteredVectors(101_000, 64, { clusters: 300, spread: 0.5, seed: 7 });
      return { base: data.subarray(0, 100_000 * 64), queries: data.subarray(100_000 * 64), d: 64 };
    },
  },
  synthetic1m: {
    nlist: 1000,
    pq: 32,
    graphs: false,
    note: 'synthetic: 1,000,000 base / 1,000 queries, 128-d (the seed cost table), 2000 Gaussian blobs',
    make() {
      const { data } = clusteredVectors(1_001_000, 128, { clusters: 2000, spread: 0.6, seed: 3 });
      return { base: data.subarray(0, 1_000_000 * 128), queries: data.subarray(1_000_000 * 128), d: 128 };
    },
  },
};

/** The dataset's base (its first `limit` rows with --limit), queries and exact top-100 ground truth, as files. */
async function prepare(name) {
  const tag = limit ? `${name}-${limit}` : name;
  const bf = `${out}${tag}-base.fvecs`,
    qf = `${out}${tag}-queries.fvecs`,
    gf = `${out}${tag}-gt.ivecs`;
  if (!existsSync(gf)) {
    log(`[${tag}] writing vectors and exact ground truth …`);
    const made = DATA[name].make();
    const { queries, d } = made;
    const base = limit ? made.base.subarray(0, Math.min(limit, made.base.length / d) * d) : made.base;
    await writeFvecs(bf, base, d);
    await writeFvecs(qf, queries, d);
    const flat = new FlatIndex(d);
    flat.add(base);
    const r = await flat.searchAsync(queries, 100, { threads: 2 });
    await writeIvecs(gf, r.labels, 100);
    flat.dispose();
  }
  return { name, tag, bf, qf, gf };
}

/** Bytes/s of a streaming read by a C loop (bench/bandwidth.c), measured now, in this run. */
function streamingBandwidth() {
  const bin = `${out}bandwidth`;
  if (!existsSync(bin)) {
    const cc = spawnSync('cc', ['-O3', '-march=native', '-ffast-math', '-o', bin, new URL('./bandwidth.c', import.meta.url).pathname], { encoding: 'utf8' });
    if (cc.status !== 0) {
      log(`no C compiler: bandwidth not measured (${cc.stderr})`);
      return 0;
    }
  }
  const r = spawnSync(bin, { encoding: 'utf8' });
  return Number(r.stdout.split(' ')[0]);
}

const fmt = (x, p = 1) => (x === undefined || x === null ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(p));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const rssDelta = (b) => `RSS Δ ${b >= 0 ? '+' : '−'}${mib(Math.abs(b))}`;
const sign = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
const seconds = (t0) => (performance.now() - t0) / 1000;

/**
 * One pass of one-query-at-a-time searches per setting, on this thread: q/s, and recall from
 * those same answers; optionally (--batch) all queries in one searchAsync on `threads` workers.
 */
async function sweep(index, settings, ctx) {
  const { queries, dim, nq, gt, threads } = ctx;
  const rows = [];
  for (const s of settings) {
    const params = { ...(s.nprobe ? { nprobe: s.nprobe } : {}), ...(s.refineFactor ? { refineFactor: s.refineFactor } : {}) };
    const labels = new Int32Array(nq * K);
    let distances = 0;
    const t0 = performance.now();
    for (let i = 0; i < nq; i++) {
      const r = index.search(queries.subarray(i * dim, (i + 1) * dim), K, params);
      labels.set(r.labels, i * K);
      distances += r.distancesComputed;
    }
    const singleS = seconds(t0);
    const rec = recallAt({ labels, k: K, nq }, gt, K);
    const row = {
      nprobe: s.nprobe ?? null,
      refine_factor: s.refineFactor ?? null,
      recall_at_1: rec.recallAt1,
      recall_at_10: rec.kRecallAtK,
      qps_single: nq / singleS,
      distances_per_query: distances / nq,
    };
    if (batch) {
      const t2 = performance.now();
      await index.searchAsync(queries, K, { ...params, threads });
      row.qps_batch = nq / seconds(t2);
    }
    log(
      `  nitamono ${ctx.label} nprobe ${row.nprobe ?? '-'}${row.refine_factor ? ` refine ${row.refine_factor}` : ''}: 10-R@10 ${row.recall_at_10.toFixed(4)}  ${row.qps_single.toFixed(0)} q/s`,
    );
    rows.push(row);
  }
  return rows;
}

/** nitamono: k-means alone and exact search (one query at a time, and all in one call). */
async function runExact(ctx, spec) {
  const { base, dim, queries, nq, gt, threads } = ctx;
  const res = { kernels: kernelsSummary() };
  log(`[nitamono] kernels: ${res.kernels}`);
  log(`[nitamono] k-means K=${spec.nlist}, ${KMEANS_ITERATIONS} iterations, ${threads} thread(s) …`);
  let t0 = performance.now();
  const km = await kmeans(base, dim, spec.nlist, { iterations: KMEANS_ITERATIONS, maxPointsPerCentroid: 256, threads });
  res.kmeans = { k: spec.nlist, iterations: KMEANS_ITERATIONS, trained_on: km.trainedOn, train_s: seconds(t0), objective: km.objective.at(-1) };

  log('[nitamono] flat …');
  const flat = new FlatIndex(dim);
  flat.add(base);
  const nf = Math.min(ctx.flatQueries, nq);
  t0 = performance.now();
  for (let i = 0; i < nf; i++) flat.search(queries.subarray(i * dim, (i + 1) * dim), K);
  const qpsSingle = nf / seconds(t0);
  // the worker threads start (and load their kernels) outside the timing, as Faiss's threads have nothing to start
  await flat.searchAsync(queries.subarray(0, 8 * threads * dim), K, { threads });
  t0 = performance.now();
  const fb = await flat.searchAsync(queries, K, { threads });
  const qpsBatch = nq / seconds(t0);
  const fr = recallAt(fb, gt, K);
  res.flat = { qps_single: qpsSingle, qps_batch: qpsBatch, recall_at_1: fr.recallAt1, recall_at_10: fr.kRecallAtK, memory_bytes: flat.memoryBytes };
  flat.dispose();
  return res;
}

/** runExact with another kernel build, in a child process (worker threads pick their kernels when they start). */
function runExactWith(kernel, name, ctx) {
  log(`[nitamono] exact search and k-means with NITAMONO_KERNELS=${kernel} (child process) …`);
  const keep = ['queries', 'flat-queries', 'limit', 'nlist'].flatMap((o) => (opt(o) !== undefined ? [`--${o}`, opt(o)] : []));
  const child = spawnSync(
    process.execPath,
    [new URL(import.meta.url).pathname, '--exact-json', '--datasets', name, '--threads', String(ctx.threads), ...keep],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, NITAMONO_KERNELS: kernel },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (child.status !== 0) throw new Error(`exact run with ${kernel} failed (exit ${child.status})`);
  return { kernel, ...JSON.parse(child.stdout) };
}

/** nitamono: k-means alone, exact search, IVF{n},Flat and the compressed kinds (each without and with re-ranking). */
async function runNitamono(ctx, spec, codecs, files) {
  const { base, dim, threads } = ctx;
  const res = { coded: [], ...(await runExact(ctx, spec)) };
  res.kernel_runs = kernelList.slice(1).map((kernel) => runExactWith(kernel, files.name, ctx));

  const settings = nprobeList.filter((p) => p <= spec.nlist).map((nprobe) => ({ nprobe }));
  const build = async (factory) => {
    log(`[nitamono] ${factory}: training, ${threads} thread(s) …`);
    const r0 = rss();
    const index = indexFactory(dim, factory, factory.startsWith('OPQ') ? { opq: { niter: opqNiter } } : {});
    let t = performance.now();
    await index.train(base, { threads, iterations: KMEANS_ITERATIONS, maxPointsPerCentroid: 256 });
    const trainS = seconds(t);
    t = performance.now();
    index.add(base);
    const addS = seconds(t);
    return {
      index,
      info: {
        factory,
        kind: index.kind,
        nlist: spec.nlist,
        train_s: trainS,
        add_s: addS,
        memory_bytes: index.memoryBytes,
        rss_delta: rss() - r0,
        kernels: index.kernels,
      },
    };
  };
  if (ivfFlat) {
    const { index, info } = await build(`IVF${spec.nlist},Flat`);
    info.rows = await sweep(index, settings, { ...ctx, label: info.factory });
    res.ivf = info;
    index.dispose();
  }
  for (const codec of codecs) {
    const { index, info } = await build(factoryOf(spec.nlist, codec));
    info.rows = await sweep(index, settings, { ...ctx, label: info.factory });
    if (refineFactors.length) {
      // disk: the full vectors stay in the base file, read by offset when re-ranking, not in the
      // index's RAM; ram: read from the loaded array, as Faiss's IndexRefineFlat does
      const refine = refineSource === 'disk' ? VectorFileRefine.open(files.bf) : new ArrayRefine(base, dim);
      index.setRefineVectors(refine);
      info.refine_bytes = index.refineBytes;
      info.refine_mapped = refine.isMapped === true;
      for (const f of refineFactors)
        info.rows.push(
          ...(await sweep(
            index,
            settings.map((s) => ({ ...s, refineFactor: f })),
            { ...ctx, label: `${info.factory},RFlat` },
          )),
        );
      index.setRefineVectors(undefined);
      refine.close?.();
    }
    res.coded.push(info);
    index.dispose();
  }
  return res;
}

/** The npm graph peers, in this process, one query at a time on this thread. */
function runGraphPeers(ctx, tag) {
  const { base, dim, n, queries, nq, gt, threads } = ctx;
  const qArr = Array.from({ length: nq }, (_, i) => Array.from(queries.subarray(i * dim, (i + 1) * dim)));
  const res = {};

  // hnswlib-node 3.0.0: plain number[] in and out (converted outside the timed loop for queries)
  log('[hnswlib-node] build M=16 efConstruction=200 …');
  let r0 = rss();
  const h = new hnswlibNode.HierarchicalNSW('l2', dim);
  h.initIndex({ maxElements: n, m: 16, efConstruction: 200, randomSeed: 100 });
  let t0 = performance.now();
  for (let i = 0; i < n; i++) h.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i);
  const hBuild = seconds(t0);
  const hRss = rss() - r0;
  const hFile = `${out}${tag}-hnswlib-node.bin`;
  h.writeIndexSync(hFile);
  const hBytes = statSync(hFile).size;
  unlinkSync(hFile);
  const hRows = [];
  for (const ef of efList) {
    h.setEf(Math.max(ef, K));
    const labels = new Int32Array(nq * K);
    t0 = performance.now();
    for (let i = 0; i < nq; i++) labels.set(h.searchKnn(qArr[i], K).neighbors, i * K);
    const s = seconds(t0);
    const rec = recallAt({ labels, k: K, nq }, gt, K);
    hRows.push({ ef, recall_at_1: rec.recallAt1, recall_at_10: rec.kRecallAtK, qps_single: nq / s });
    log(`  hnswlib-node ef ${ef}: 10-R@10 ${rec.kRecallAtK.toFixed(4)}  ${(nq / s).toFixed(0)} q/s`);
  }
  res.hnswlib_node = {
    M: 16,
    ef_construction: 200,
    build_s: hBuild,
    memory_bytes: hBytes,
    memory_source: 'writeIndex file size',
    rss_delta: hRss,
    rows: hRows,
  };

  // usearch 2.x: expansion_search is fixed at construction in its JavaScript API, so the built
  // index is saved once and loaded into an Index made with each expansion_search
  const { Index, MetricKind, ScalarKind } = usearch;
  const cfg = { dimensions: dim, metric: MetricKind.L2sq, quantization: ScalarKind.F32, connectivity: 16, expansion_add: 200, expansion_search: 64 };
  log(`[usearch] build connectivity 16, expansion_add 200, f32, ${threads} thread(s) …`);
  r0 = rss();
  const u = new Index(cfg);
  const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  t0 = performance.now();
  u.add(keys, base, threads);
  const uBuild = seconds(t0);
  const uRss = rss() - r0;
  const uFile = `${out}${tag}-usearch.bin`;
  u.save(uFile);
  const uBytes = statSync(uFile).size;
  const uRows = [];
  for (const ef of efList) {
    const v = new Index({ ...cfg, expansion_search: Math.max(ef, K) });
    v.load(uFile);
    const labels = new Int32Array(nq * K);
    t0 = performance.now();
    for (let i = 0; i < nq; i++) {
      const m = v.search(queries.subarray(i * dim, (i + 1) * dim), K, 1);
      for (let j = 0; j < K; j++) labels[i * K + j] = j < m.keys.length ? Number(m.keys[j]) : -1;
    }
    const s = seconds(t0);
    const rec = recallAt({ labels, k: K, nq }, gt, K);
    uRows.push({ ef, recall_at_1: rec.recallAt1, recall_at_10: rec.kRecallAtK, qps_single: nq / s });
    log(`  usearch expansion_search ${ef}: 10-R@10 ${rec.kRecallAtK.toFixed(4)}  ${(nq / s).toFixed(0)} q/s`);
  }
  unlinkSync(uFile);
  res.usearch = {
    connectivity: 16,
    expansion_add: 200,
    quantization: 'f32',
    build_threads: threads,
    build_s: uBuild,
    memory_bytes: uBytes,
    memory_source: 'save() file size',
    rss_delta: uRss,
    rows: uRows,
  };
  return res;
}

function runFaiss(ctx, spec, codecs, files) {
  const { threads, nq } = ctx;
  log(`[Faiss] ${threads} thread(s) …`);
  const py = spawnSync(
    '/usr/bin/python3',
    [
      new URL('./peers.py', import.meta.url).pathname,
      '--base',
      files.bf,
      '--queries',
      files.qf,
      '--gt',
      files.gf,
      '--nq',
      String(nq),
      '--nlist',
      String(spec.nlist),
      '--nprobe',
      nprobeList.join(','),
      '--threads',
      String(threads),
      '--flat-single-queries',
      String(ctx.flatQueries),
      '--iterations',
      String(KMEANS_ITERATIONS),
      '--codecs',
      codecs.map((c) => (/(^|\+)pq\d+$/i.test(c) ? `${c}np` : c)).join(','),
      '--opq-niter',
      String(opqNiter),
      '--refine-factors',
      refineFactors.join(','),
      '--ef',
      efList.join(','),
      ...(ivfFlat ? [] : ['--no-ivf-flat']),
      ...(batch ? ['--batch'] : []),
      ...(pyHnsw && ctx.graphs ? ['--hnsw'] : []),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26, env: peerEnv(threads), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (py.status !== 0) throw new Error(`peers.py failed (exit ${py.status})`);
  return JSON.parse(py.stdout);
}

// ---------------------------------------------------------------- report

const report = [];
const say = (s = '') => {
  if (exactJson) return; // stdout carries the JSON
  report.push(s);
  process.stdout.write(`${s}\n`);
};
say(
  `# ann-bench — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus()[0].model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);
say(`\n\`node bench/ann-bench.mjs ${args.join(' ')}\``);
const bw = exactJson ? 0 : streamingBandwidth();

const codedLabel = (f) =>
  f
    .replace(/^OPQ\d+,IVF\d+,/, 'OPQ-IVF-')
    .replace(/^IVF\d+,/, 'IVF-')
    .replace(/np$/, '');

for (const name of datasets) {
  const spec = { ...DATA[name] };
  if (opt('nlist')) spec.nlist = Number(opt('nlist'));
  const codecs = opt('codecs', `SQ8,PQ${spec.pq}`).split(',').filter(Boolean);
  const files = await prepare(name);
  const base = await readVectors(files.bf),
    allQueries = await readVectors(files.qf);
  const dim = base.dim,
    n = base.data.length / dim;
  const nq = Math.min(Number(opt('queries', 1000)), allQueries.data.length / dim);
  const queries = allQueries.data.subarray(0, nq * dim);
  const gtFile = readFileSync(files.gf);
  const gtK = gtFile.readInt32LE(0);
  const gtAll = new Int32Array(gtFile.buffer, gtFile.byteOffset, gtFile.length / 4);
  const gt = { labels: new Int32Array(nq * gtK), k: gtK };
  for (let i = 0; i < nq; i++) gt.labels.set(gtAll.subarray(i * (gtK + 1) + 1, (i + 1) * (gtK + 1)), i * gtK);
  const rawBytes = n * dim * 4;
  const flatQueries = Number(opt('flat-queries', 100));
  if (exactJson) {
    const ctx = { base: base.data, dim, n, queries, nq, gt, threads: threadList[0], flatQueries };
    process.stdout.write(JSON.stringify(await runExact(ctx, spec)));
    process.exit(0);
  }
  say(`\n## ${spec.note}${limit ? ` — SUBSET: first ${n} base vectors` : ''}; ${nq} queries`);
  say(
    `\nnlist ${spec.nlist}, nprobe ${nprobeList.filter((p) => p <= spec.nlist).join(',')}, refine factors ${refineFactors.join(',') || 'none'}, k-means ${KMEANS_ITERATIONS} iterations (coarse and PQ) at most 256 points per centroid on both sides; one-query timings: ${nq} queries (exact scans: ${Math.min(flatQueries, nq)}), each on the calling thread; recall from those same answers.`,
  );
  const results = {};
  for (const threads of threadList) {
    const ctx = { base: base.data, dim, n, queries, nq, gt, threads, flatQueries, graphs: spec.graphs };
    const nita = await runNitamono(ctx, spec, codecs, files);
    const npm = graphs && spec.graphs && threads === threadList[0] ? runGraphPeers(ctx, files.tag) : null;
    const faiss = runFaiss(ctx, spec, codecs, files);
    results[threads] = { nitamono: nita, npm, faiss };
  }

  const targets = [];
  for (const threads of threadList) {
    const { nitamono: nita, npm, faiss } = results[threads];
    say(`\n### ${threads} thread(s)`);

    // exact search
    const f = nita.flat,
      pf = faiss.flat;
    const scanMs = 1000 / f.qps_single;
    const boundMs = bw ? (rawBytes / bw) * 1000 : 0;
    // the first kernel build ran everything; --kernels adds the others' exact search and k-means
    const runs = [{ kernel: kernelList[0], ...nita }, ...nita.kernel_runs];
    const who = (r) => (runs.length > 1 ? `nitamono ${r.kernel}` : 'nitamono');
    const cells = (fn) => runs.map(fn).join(' | ');
    say(`\nkernels: ${cells((r) => `${who(r)}: ${r.kernels}`).replaceAll(' | ', '; ')}`);
    say(`\n| exact search | ${cells(who)} | Faiss IndexFlatL2 (OpenBLAS) | ${cells((r) => `${who(r)} ÷ Faiss`)} |`);
    say(`|---|${'---|'.repeat(2 * runs.length + 1)}`);
    say(
      `| one query at a time: ms/query | ${cells((r) => (1000 / r.flat.qps_single).toFixed(2))} | ${(1000 / pf.qps_single).toFixed(2)} | ${cells((r) => `${ratio(r.flat.qps_single, pf.qps_single)} the q/s`)} |`,
    );
    say(
      `| all ${nq} queries in one call on ${threads} thread(s): q/s | ${cells((r) => fmt(r.flat.qps_batch))} | ${fmt(pf.qps_batch)} | ${cells((r) => ratio(r.flat.qps_batch, pf.qps_batch))} |`,
    );
    say(`| 10-recall@10 | ${cells((r) => r.flat.recall_at_10.toFixed(4))} | ${pf.recall_at_10.toFixed(4)} | ${cells(() => '')} |`);
    if (bw)
      say(
        `| one-query scan vs streaming-read bound (${mib(rawBytes)} at ${(bw / 1e9).toFixed(1)} GB/s = ${boundMs.toFixed(2)} ms) | ${cells((r) => `${(1000 / r.flat.qps_single / boundMs).toFixed(2)}× the bound`)} | ${(1000 / pf.qps_single / boundMs).toFixed(2)}× the bound | ${cells(() => '')} |`,
      );

    // k-means
    const pk = faiss.kmeans;
    for (const r of runs) {
      const km = r.kmeans;
      say(
        `\nk-means alone (K=${km.k}, ${km.iterations} iterations, ${km.trained_on} points, ${threads} thread(s)): ${who(r)} ${km.train_s.toFixed(2)} s, Faiss ${pk.train_s.toFixed(2)} s — ${who(r)} takes ${(km.train_s / pk.train_s).toFixed(2)}× Faiss's time; final objective ${km.objective.toExponential(4)} vs ${pk.objective?.toExponential(4)}`,
      );
    }

    // IVF-Flat
    if (nita.ivf && faiss.ivf) {
      const iv = nita.ivf,
        pv = faiss.ivf;
      say(
        `\n#### ${iv.factory}: train ${iv.train_s.toFixed(2)} s (Faiss ${pv.train_s.toFixed(2)} s), add ${iv.add_s.toFixed(2)} s (Faiss ${pv.add_s.toFixed(2)} s); RAM ${mib(iv.memory_bytes)} (Faiss ${mib(pv.memory_bytes)})`,
      );
      codedTable(iv.rows, pv.rows);
    }

    // compressed
    for (let c = 0; c < nita.coded.length; c++) {
      const ix = nita.coded[c],
        px = faiss.coded[c];
      const residual = px.by_residual === 0 ? ', by_residual false: both sides encode the vectors themselves, not their residuals' : '';
      say(
        `\n#### ${ix.factory} (Faiss ${px.factory}${residual}${refineFactors.length ? `; refined: IndexRefineFlat, k_factor ${refineFactors.join(', ')}` : ''})`,
      );
      say(
        `\ntrain ${ix.train_s.toFixed(2)} s (Faiss ${px.train_s.toFixed(2)} s), add ${ix.add_s.toFixed(2)} s (Faiss ${px.add_s.toFixed(2)} s); RAM ${mib(ix.memory_bytes)} = ${(ix.memory_bytes / rawBytes).toFixed(3)}× raw (Faiss ${mib(px.memory_bytes)} = ${(px.memory_bytes / rawBytes).toFixed(3)}× raw${px.memory_parts.table ? `, of which precomputed table ${mib(px.memory_parts.table)}` : ''}); re-ranking reads ${mib(ix.refine_bytes ?? 0)} of full vectors ${refineSource === 'disk' ? 'from the base file on disk' : 'from an array in RAM'} (Faiss: ${mib(px.refine_ram_bytes ?? 0)} copied into RAM)`,
      );
      codedTable(ix.rows, px.rows);
    }

    // graph peers
    if (npm) {
      const hn = npm.hnswlib_node,
        us = npm.usearch,
        py = faiss.hnsw;
      say(
        `\n#### Graph indexes (npm), one query at a time: hnswlib-node 3.0.0 (M=16, efConstruction=200) build ${hn.build_s.toFixed(1)} s, ${mib(hn.memory_bytes)} (${(hn.memory_bytes / rawBytes).toFixed(2)}× raw; ${rssDelta(hn.rss_delta)}); usearch ${usearchVersion()} (connectivity 16, expansion_add 200, f32, built on ${us.build_threads} thread(s)) build ${us.build_s.toFixed(1)} s, ${mib(us.memory_bytes)} (${(us.memory_bytes / rawBytes).toFixed(2)}× raw; ${rssDelta(us.rss_delta)})${py ? `; hnswlib (Python) build ${py.build_s.toFixed(1)} s` : ''}`,
      );
      say(`\n| ef | hnswlib-node 10-R@10 | q/s | usearch 10-R@10 | q/s |${py ? ' hnswlib (Python) 10-R@10 | q/s |' : ''}`);
      say(`|---|---|---|---|---|${py ? '---|---|' : ''}`);
      hn.rows.forEach((h, i) => {
        const u = us.rows[i],
          p = py?.rows[i];
        say(
          `| ${h.ef} | ${h.recall_at_10.toFixed(4)} | ${fmt(h.qps_single)} | ${u.recall_at_10.toFixed(4)} | ${fmt(u.qps_single)} |${p ? ` ${p.recall_at_10.toFixed(4)} | ${fmt(p.qps_single)} |` : ''}`,
        );
      });
    }

    // memory side by side
    say(`\n#### RAM of each index (raw float32 vectors: ${mib(rawBytes)})`);
    say('\n| index | RAM | ÷ raw | how measured | full vectors for re-ranking |');
    say('|---|---|---|---|---|');
    say(`| nitamono flat | ${mib(f.memory_bytes)} | ${(f.memory_bytes / rawBytes).toFixed(3)} | memoryBytes | – |`);
    if (nita.ivf) say(`| nitamono ${nita.ivf.factory} | ${mib(nita.ivf.memory_bytes)} | ${(nita.ivf.memory_bytes / rawBytes).toFixed(3)} | memoryBytes | – |`);
    for (const ix of nita.coded)
      say(
        `| nitamono ${ix.factory} | ${mib(ix.memory_bytes)} | ${(ix.memory_bytes / rawBytes).toFixed(3)} | memoryBytes (codes, 4-byte ids, centroids, codec, table); ${rssDelta(ix.rss_delta)} | ${ix.refine_bytes ? (refineSource === 'disk' ? `${mib(ix.refine_bytes)} on disk (base file)` : `${mib(ix.refine_bytes)} in RAM: ${((ix.memory_bytes + ix.refine_bytes) / rawBytes).toFixed(3)}× raw in all`) : '–'} |`,
      );
    say(`| Faiss IndexFlatL2 | ${mib(pf.memory_bytes)} | ${(pf.memory_bytes / rawBytes).toFixed(3)} | n·d·4 | – |`);
    if (faiss.ivf)
      say(
        `| Faiss ${faiss.ivf.factory} | ${mib(faiss.ivf.memory_bytes)} | ${(faiss.ivf.memory_bytes / rawBytes).toFixed(3)} | computed from its structures | – |`,
      );
    for (const px of faiss.coded)
      say(
        `| Faiss ${px.factory} | ${mib(px.memory_bytes)} | ${(px.memory_bytes / rawBytes).toFixed(3)} | computed: codes, 8-byte ids, centroids, codec, precomputed table (serialize_index: ${mib(px.serialized_bytes)}) | ${px.refine_ram_bytes ? `${mib(px.refine_ram_bytes)} in RAM (IndexRefineFlat): ${((px.memory_bytes + px.refine_ram_bytes) / rawBytes).toFixed(3)}× raw in all` : '–'} |`,
      );
    if (npm) {
      say(
        `| hnswlib-node | ${mib(npm.hnswlib_node.memory_bytes)} | ${(npm.hnswlib_node.memory_bytes / rawBytes).toFixed(3)} | writeIndex file size; ${rssDelta(npm.hnswlib_node.rss_delta)} | – |`,
      );
      say(
        `| usearch | ${mib(npm.usearch.memory_bytes)} | ${(npm.usearch.memory_bytes / rawBytes).toFixed(3)} | save() file size; ${rssDelta(npm.usearch.rss_delta)} | – |`,
      );
    }

    if (threads === threadList[0]) targets.push(...checkTargets({ nita, npm, faiss, rawBytes, boundMs, scanMs, threads }));
  }

  say(`\n### Targets of issue #9 (${threadList[0]} thread${threadList[0] > 1 ? 's' : ''}${limit ? '; SUBSET, not the real measurement' : ''})`);
  say('\n| | target | measured | |');
  say('|---|---|---|---|');
  for (const t of targets) say(`| ${t.id} | ${t.target} | ${t.measured} | **${t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL'}** |`);

  // charts, 1st thread count
  const t1 = results[threadList[0]];
  const series = [];
  const DASHES = [null, '6 3', '2 2', '8 2 2 2'];
  const nitaSeries = (ix, prefix, memory) => {
    const factors = [...new Set(ix.rows.map((r) => r.refine_factor))];
    factors.forEach((fct, i) => {
      series.push({
        name: `${prefix} ${codedLabel(ix.factory)}${fct ? ` + refine ×${fct}` : ''}`,
        dash: DASHES[i % DASHES.length],
        rows: ix.rows.filter((r) => r.refine_factor === fct),
        memory: memory(fct),
      });
    });
  };
  series.push({ name: 'nitamono flat', rows: [{ ...t1.nitamono.flat, label: 'exact' }], memory: t1.nitamono.flat.memory_bytes });
  if (t1.nitamono.ivf) nitaSeries(t1.nitamono.ivf, 'nitamono', () => t1.nitamono.ivf.memory_bytes);
  for (const ix of t1.nitamono.coded) nitaSeries(ix, 'nitamono', (fct) => ix.memory_bytes + (fct && refineSource === 'ram' ? ix.refine_bytes : 0));
  series.push({ name: 'Faiss flat', rows: [{ ...t1.faiss.flat, label: 'exact' }], memory: t1.faiss.flat.memory_bytes });
  if (t1.faiss.ivf) nitaSeries(t1.faiss.ivf, 'Faiss', () => t1.faiss.ivf.memory_bytes);
  for (const px of t1.faiss.coded) nitaSeries(px, 'Faiss', (fct) => px.memory_bytes + (fct ? px.refine_ram_bytes : 0));
  if (t1.npm) {
    series.push({ name: 'hnswlib-node', rows: t1.npm.hnswlib_node.rows, memory: t1.npm.hnswlib_node.memory_bytes });
    series.push({ name: 'usearch', rows: t1.npm.usearch.rows, memory: t1.npm.usearch.memory_bytes });
  }
  if (t1.faiss.hnsw) series.push({ name: 'hnswlib (Python)', rows: t1.faiss.hnsw.rows, memory: null });
  const label = (r) => r.label ?? (r.ef !== undefined ? `ef ${r.ef}` : `nprobe ${r.nprobe}${r.refine_factor ? ` refine ${r.refine_factor}` : ''}`);
  const chartSeries = series.map((s) => {
    const mem = s.memory;
    return {
      name: s.name,
      dash: s.dash,
      color: colorOf(s.name),
      points: s.rows.map((r) => ({ recall: r.recall_at_10, qps: r.qps_single, label: label(r), mem: mem ? mem / rawBytes : null })),
    };
  });
  const sub = limit ? ` (SUBSET: ${n} vectors)` : '';
  writeFileSync(
    `${docs}recall-qps-${files.tag}.svg`,
    svgRecallQps(`${name}${sub}: recall vs one-query q/s (${threadList[0]} thread)`, chartSeries, { recall: T.recall }),
  );
  writeFileSync(
    `${docs}recall-memory-${files.tag}.svg`,
    svgRecallMemory(
      `${name}${sub}: recall vs RAM of the index`,
      chartSeries.filter((s) => s.points.every((p) => p.mem)),
      { recall: T.recall, ram: T.ram },
    ),
  );
  writeFileSync(
    `${out}ann-${files.tag}.json`,
    JSON.stringify(
      {
        dataset: name,
        note: spec.note,
        n,
        dim,
        nq,
        limit: limit || null,
        raw_bytes: rawBytes,
        streaming_bytes_per_s: bw,
        nlist: spec.nlist,
        nprobes: nprobeList,
        refine_factors: refineFactors,
        kmeans_iterations: KMEANS_ITERATIONS,
        results,
        targets,
      },
      null,
      2,
    ),
  );
  say(`\nCharts: ${docs}recall-qps-${files.tag}.svg, ${docs}recall-memory-${files.tag}.svg; JSON: ${out}ann-${files.tag}.json`);
}
say('\n### How the peers were run, and what is not equal');
say(`
- One-query q/s: each library called once per query on one thread; Faiss from Python (each call pays the Python/SWIG call, about 10 µs), the others from this Node process. Recall is taken from those same answers.
- hnswlib-node takes and returns plain number[]: the queries are converted before the timed loop (in its favour); it was compiled by node-gyp at install without -march (SSE); usearch ships a prebuilt binary that picks its SIMD kernels at run time; Debian's Faiss 1.7.3 is a generic build (no AVX2) on OpenBLAS; nitamono's exact batch search and k-means assignment run its native kernel when it was built (AVX-512F or AVX2+FMA, picked at run time; the \`kernels:\` line above says which ran), everything else WebAssembly SIMD (128-bit, no FMA).
- usearch's JavaScript API fixes expansion_search at construction: the index is built once, saved, and loaded into an Index made with each value.
- Re-ranking: nitamono reads the full vectors ${refineSource === 'disk' ? (refineMappingSupported() ? "from the base file mapped read-only by the native addon (candidates scored in place from the kernel's page cache: shared, evictable pages of the file, not the index's RAM; reported as refineBytes on disk, outside memoryBytes)" : 'from the base file by offset (page cache, one pread per run of nearby rows), outside its RAM') : 'from an array in RAM (ArrayRefine)'}; Faiss's IndexRefineFlat holds them in RAM and counts them there.
- RAM: nitamono's memoryBytes (4-byte ids); Faiss computed from its structures (8-byte ids; the IVF-PQ precomputed table, which serialize_index omits, included); hnswlib-node and usearch: the size of their saved index file; RSS deltas are rough (garbage collection returns memory lazily).
- k-means: ${KMEANS_ITERATIONS} iterations and at most 256 points per centroid on both sides, coarse and PQ codebooks alike; Faiss's PQ without polysemous training ('np').`);
say(`\nElapsed: ${(seconds(started) / 60).toFixed(1)} min`);
writeFileSync(`${out}ann-bench-report${limit ? `-${limit}` : ''}.md`, `${report.join('\n')}\n`);

function usearchVersion() {
  try {
    return JSON.parse(readFileSync(new URL('../node_modules/usearch/package.json', import.meta.url), 'utf8')).version;
  } catch {
    return '2.x';
  }
}

/** Side-by-side rows of an IVF sweep: nitamono and Faiss at the same nprobe and refine factor. */
function codedTable(rows, peerRows) {
  const hasBatch = rows.some((r) => r.qps_batch !== undefined) && peerRows.some((r) => r.qps_batch !== undefined);
  say(
    `\n| nprobe | refine | 10-R@10 nitamono | 10-R@10 Faiss | Δ | R@1 nitamono | R@1 Faiss | q/s nitamono | q/s Faiss | q/s ratio | distances/query |${hasBatch ? ' batch q/s nitamono | batch q/s Faiss | batch ratio |' : ''}`,
  );
  say(`|---|---|---|---|---|---|---|---|---|---|---|${hasBatch ? '---|---|---|' : ''}`);
  for (const r of rows) {
    const p = peerRows.find((x) => x.nprobe === r.nprobe && (x.refine_factor ?? null) === (r.refine_factor ?? null));
    if (!p) continue;
    const d = r.recall_at_10 - p.recall_at_10;
    say(
      `| ${r.nprobe} | ${r.refine_factor ?? '–'} | ${r.recall_at_10.toFixed(4)} | ${p.recall_at_10.toFixed(4)} | ${Math.abs(d) > T.recallDiff ? `**${sign(d)}**` : sign(d)} | ${r.recall_at_1.toFixed(4)} | ${p.recall_at_1.toFixed(4)} | ${fmt(r.qps_single)} | ${fmt(p.qps_single)} | ${ratio(r.qps_single, p.qps_single)} | ${Math.round(r.distances_per_query)} |${hasBatch ? ` ${fmt(r.qps_batch)} | ${fmt(p.qps_batch)} | ${ratio(r.qps_batch, p.qps_batch)} |` : ''}`,
    );
  }
}

/** Issue #9's targets, from one thread count's results. */
function checkTargets({ nita, npm, faiss, rawBytes, boundMs, scanMs, threads }) {
  const out = [];
  // (a) a compressed setting: recall ≥ 0.99, RAM ≤ 0.2× raw, ≥ 1.5× hnswlib-node's q/s at its smallest ef with equal or higher recall
  if (npm) {
    const hrows = [...npm.hnswlib_node.rows].sort((x, y) => x.ef - y.ef);
    let best = null;
    for (const ix of nita.coded) {
      for (const r of ix.rows) {
        const mem = (ix.memory_bytes + (r.refine_factor && refineSource === 'ram' ? ix.refine_bytes : 0)) / rawBytes;
        if (r.recall_at_10 < T.recall || mem > T.ram) continue;
        let h = hrows.find((x) => x.recall_at_10 >= r.recall_at_10);
        const above = Boolean(h);
        if (!h) h = hrows.reduce((a, b) => (b.recall_at_10 > a.recall_at_10 ? b : a));
        const x = r.qps_single / h.qps_single;
        if (!best || x > best.x) best = { x, ix, r, h, mem, above };
      }
    }
    let measured;
    if (best) {
      const { ix, r, h, mem, x, above } = best;
      measured = `${ix.factory} nprobe ${r.nprobe}${r.refine_factor ? ` refine ${r.refine_factor}` : ''}: 10-R@10 ${r.recall_at_10.toFixed(4)}, ${fmt(r.qps_single)} q/s, RAM ${mem.toFixed(3)}× raw; hnswlib-node ef ${h.ef}: ${h.recall_at_10.toFixed(4)}, ${fmt(h.qps_single)} q/s${above ? '' : ' (its best recall, below ours)'} → **${x.toFixed(2)}×**`;
    } else {
      const within = nita.coded.flatMap((ix) =>
        ix.rows
          .filter((r) => (ix.memory_bytes + (r.refine_factor && refineSource === 'ram' ? ix.refine_bytes : 0)) / rawBytes <= T.ram)
          .map((r) => ({ ix, r })),
      );
      const top = within.reduce((a, b) => (!a || b.r.recall_at_10 > a.r.recall_at_10 ? b : a), null);
      measured = top
        ? `no compressed setting reaches 10-R@10 ≥ ${T.recall} within ${T.ram}× raw RAM; best within it: ${top.ix.factory} nprobe ${top.r.nprobe}${top.r.refine_factor ? ` refine ${top.r.refine_factor}` : ''} at ${top.r.recall_at_10.toFixed(4)}`
        : `no compressed index within ${T.ram}× raw RAM`;
    }
    out.push({
      id: 'a',
      target: `compressed nitamono: 10-R@10 ≥ ${T.recall} at ≥ ${T.vsHnsw}× hnswlib-node's one-query q/s (its smallest ef with equal or higher recall), RAM ≤ ${T.ram}× raw`,
      measured,
      pass: best ? best.x >= T.vsHnsw : false,
      value: best ? best.x : null,
    });
  } else out.push({ id: 'a', target: 'compressed nitamono vs hnswlib-node', measured: 'graph peers not run', pass: null });

  // (b) recall within ±0.01 of Faiss for IVF{n},SQ8 and IVF{n},PQ{m}, with and without refine, at every nprobe
  // (not fast scan: Faiss's encodes vectors where nitamono's encodes residuals, so recall differs by design)
  let worst = null,
    count = 0;
  const same = nita.coded.filter((c) => !/x4fs/i.test(c.factory));
  for (let c = 0; c < nita.coded.length; c++) {
    if (/x4fs/i.test(nita.coded[c].factory)) continue;
    for (const r of nita.coded[c].rows) {
      const p = faiss.coded[c].rows.find((x) => x.nprobe === r.nprobe && (x.refine_factor ?? null) === (r.refine_factor ?? null));
      if (!p) continue;
      count++;
      const d = r.recall_at_10 - p.recall_at_10;
      if (!worst || Math.abs(d) > Math.abs(worst.d)) worst = { d, f: nita.coded[c].factory, r };
    }
  }
  out.push({
    id: 'b',
    target: `10-R@10 within ±${T.recallDiff} of Faiss: ${same.map((c) => c.factory).join(', ')}, with and without refine, every nprobe`,
    measured: worst
      ? `${count} settings; largest difference ${sign(worst.d)} (${worst.f} nprobe ${worst.r.nprobe}${worst.r.refine_factor ? ` refine ${worst.r.refine_factor}` : ''})`
      : 'no settings compared',
    pass: worst ? Math.abs(worst.d) <= T.recallDiff : null,
    value: worst ? worst.d : null,
  });

  // (c) flat batch ≥ 0.5× Faiss + OpenBLAS
  const fb = nita.flat.qps_batch / faiss.flat.qps_batch;
  out.push({
    id: 'c',
    target: `flat batch search ≥ ${T.flatBatch}× Faiss IndexFlatL2 on OpenBLAS (${threads} thread${threads > 1 ? 's' : ''})`,
    measured: `${fmt(nita.flat.qps_batch)} vs ${fmt(faiss.flat.qps_batch)} q/s → **${fb.toFixed(2)}×**`,
    pass: fb >= T.flatBatch,
    value: fb,
  });

  // (d) k-means ≤ 1.5× Faiss's time
  const kr = nita.kmeans.train_s / faiss.kmeans.train_s;
  out.push({
    id: 'd',
    target: `k-means ≤ ${T.kmeans}× Faiss's time (same K, iterations, sample)`,
    measured: `${nita.kmeans.train_s.toFixed(2)} s vs ${faiss.kmeans.train_s.toFixed(2)} s (K=${nita.kmeans.k}, ${nita.kmeans.iterations} iterations, ${nita.kmeans.trained_on} points) → **${kr.toFixed(2)}×**`,
    pass: kr <= T.kmeans,
    value: kr,
  });

  // (e) one-query flat scan ≤ 1.5× the streaming-read bound
  out.push({
    id: 'e',
    target: `one-query flat scan ≤ ${T.scan}× the streaming-read bound`,
    measured: boundMs
      ? `${scanMs.toFixed(2)} ms vs ${boundMs.toFixed(2)} ms (${mib(rawBytes)} at ${(bw / 1e9).toFixed(1)} GB/s) → **${(scanMs / boundMs).toFixed(2)}×**`
      : 'bandwidth not measured (no C compiler)',
    pass: boundMs ? scanMs / boundMs <= T.scan : null,
    value: boundMs ? scanMs / boundMs : null,
  });
  return out;
}
