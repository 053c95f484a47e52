#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
/**
 * nitamono vs Faiss (IndexFlatL2, IndexIVFFlat) and hnswlib, side by side in one run, on the
 * same files, thread count, nlist, nprobe sweep and k-means settings. Prints markdown tables of
 * absolute numbers and ratios, writes bench/out/ann-<dataset>.json and docs/recall-qps-<dataset>.svg.
 *
 *   npm run build && node bench/ann-bench.mjs [--datasets fmnist,synthetic1m,clustered] [--threads 1,2] [--no-hnsw]
 *
 * Needs Debian's python3-faiss, python3-hnswlib, python3-threadpoolctl, libopenblas0 (peers.py refuses the
 * reference BLAS) and dataset-fashion-mnist (run with /usr/bin/python3).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { clusteredVectors, FlatIndex, readVectors, runAnnBenchmark, writeFvecs, writeIvecs } from 'nitamono';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const datasets = opt('datasets', 'fmnist,clustered,synthetic1m').split(',');
const threadList = opt('threads', '1,2').split(',').map(Number);
const hnsw = !args.includes('--no-hnsw');
const out = new URL('./out/', import.meta.url).pathname;
const docs = new URL('../docs/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
mkdirSync(docs, { recursive: true });
const log = (s) => process.stderr.write(`${s}\n`);

/** k-means iterations on both sides (nitamono's and Faiss's defaults differ: 25 and 10). */
const KMEANS_ITERATIONS = 25;

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
    singleFlat: 200,
    single: 1000,
    hnsw: true,
    make() {
      const dir = '/usr/share/datasets/fashion-mnist';
      const b = idx(`${dir}/train-images-idx3-ubyte.gz`),
        q = idx(`${dir}/t10k-images-idx3-ubyte.gz`);
      return { base: b.data, queries: q.data, d: b.d, note: 'Fashion-MNIST: 60,000 base / 10,000 queries, 784-d raw pixels 0..255' };
    },
  },
  clustered: {
    nlist: 316,
    singleFlat: 300,
    single: 1000,
    hnsw: true,
    make() {
      const { data } = clusteredVectors(101_000, 64, { clusters: 300, spread: 0.5, seed: 7 });
      return {
        base: data.subarray(0, 100_000 * 64),
        queries: data.subarray(100_000 * 64),
        d: 64,
        note: 'clustered synthetic: 100,000 base / 1,000 queries, 64-d, 300 Gaussian blobs',
      };
    },
  },
  synthetic1m: {
    nlist: 1000,
    singleFlat: 100,
    single: 1000,
    hnsw: false,
    make() {
      const { data } = clusteredVectors(1_001_000, 128, { clusters: 2000, spread: 0.6, seed: 3 });
      return {
        base: data.subarray(0, 1_000_000 * 128),
        queries: data.subarray(1_000_000 * 128),
        d: 128,
        note: 'synthetic: 1,000,000 base / 1,000 queries, 128-d (the seed cost table), 2000 Gaussian blobs',
      };
    },
  },
};

async function prepare(name) {
  const spec = DATA[name];
  const bf = `${out}${name}-base.fvecs`,
    qf = `${out}${name}-queries.fvecs`,
    gf = `${out}${name}-gt.ivecs`;
  if (!existsSync(gf)) {
    log(`[${name}] writing vectors and exact ground truth …`);
    const { base, queries, d } = spec.make();
    await writeFvecs(bf, base, d);
    await writeFvecs(qf, queries, d);
    const flat = new FlatIndex(d);
    flat.add(base);
    const r = await flat.searchAsync(queries, 100, { threads: 2 });
    await writeIvecs(gf, r.labels, 100);
    flat.dispose();
  }
  return { bf, qf, gf };
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

const fmt = (x, p = 1) => (x >= 100 ? x.toFixed(0) : x.toFixed(p));
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;

function svgChart(title, series) {
  const W = 720,
    H = 420,
    L = 70,
    R = 20,
    T = 40,
    B = 50;
  const pts = series.flatMap((s) => s.points);
  const ymin = Math.log10(Math.min(...pts.map((p) => p.qps)) * 0.8),
    ymax = Math.log10(Math.max(...pts.map((p) => p.qps)) * 1.2);
  const xmin = Math.max(0, Math.floor(Math.min(...pts.map((p) => p.recall)) * 20) / 20 - 0.05),
    xmax = 1.005;
  const step = xmax - xmin > 0.3 ? 0.1 : 0.05;
  const X = (r) => L + ((r - xmin) / (xmax - xmin)) * (W - L - R);
  const Y = (q) => T + (1 - (Math.log10(q) - ymin) / (ymax - ymin)) * (H - T - B);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n`;
  s += `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>\n`;
  for (let e = Math.ceil(ymin); e <= Math.floor(ymax); e++) {
    s += `<line x1="${L}" x2="${W - R}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}" stroke="#ddd"/><text x="${L - 6}" y="${Y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>\n`;
  }
  for (let r = Math.ceil(xmin / step) * step; r <= 1.0001; r += step) {
    s += `<line y1="${T}" y2="${H - B}" x1="${X(r)}" x2="${X(r)}" stroke="#eee"/><text x="${X(r)}" y="${H - B + 16}" text-anchor="middle">${r.toFixed(2)}</text>\n`;
  }
  s += `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">10-recall@10</text>`;
  s += `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">queries/s, one at a time, 1 thread (log)</text>\n`;
  series.forEach((se, i) => {
    const path = se.points.map((p, j) => `${j ? 'L' : 'M'}${X(p.recall).toFixed(1)},${Y(p.qps).toFixed(1)}`).join(' ');
    s += `<path d="${path}" fill="none" stroke="${se.color}" stroke-width="2"/>\n`;
    for (const p of se.points)
      s += `<circle cx="${X(p.recall).toFixed(1)}" cy="${Y(p.qps).toFixed(1)}" r="3.5" fill="${se.color}"><title>${se.name} ${p.label}: recall ${p.recall.toFixed(4)}, ${p.qps.toFixed(0)} q/s</title></circle>\n`;
    s += `<rect x="${L + 12}" y="${T + 8 + i * 18}" width="12" height="12" fill="${se.color}"/><text x="${L + 30}" y="${T + 18 + i * 18}">${se.name}</text>\n`;
  });
  return `${s}</svg>\n`;
}

const report = [];
const say = (s = '') => {
  report.push(s);
  process.stdout.write(`${s}\n`);
};
say(
  `# ann-bench — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0].model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
);

for (const name of datasets) {
  const spec = DATA[name];
  const { bf, qf, gf } = await prepare(name);
  const base = await readVectors(bf),
    queries = await readVectors(qf);
  const gtFile = readFileSync(gf);
  const gtK = gtFile.readInt32LE(0),
    gtN = gtFile.length / 4 / (gtK + 1);
  const gtAll = new Int32Array(gtFile.buffer, gtFile.byteOffset, gtFile.length / 4);
  const gt = new Int32Array(gtN * gtK);
  for (let i = 0; i < gtN; i++) gt.set(gtAll.subarray(i * (gtK + 1) + 1, (i + 1) * (gtK + 1)), i * gtK);
  say(`\n## ${spec.make.toString().match(/note: '([^']+)'/)[1]}`);
  const nprobes = [1, 2, 4, 8, 16, 32, 64, 128].filter((p) => p <= spec.nlist);
  const results = {};
  for (const threads of threadList) {
    log(`[${name}] nitamono, ${threads} thread(s) …`);
    const common = { base: base.data, queries: queries.data, dim: base.dim, groundTruth: { labels: gt, k: gtK }, threads, log };
    const flat = await runAnnBenchmark({ ...common, index: 'flat', singleQueries: spec.singleFlat });
    const ivf = await runAnnBenchmark({ ...common, index: 'ivf', nlist: spec.nlist, nprobes, singleQueries: spec.single, iterations: KMEANS_ITERATIONS });
    log(`[${name}] Faiss${hnsw && spec.hnsw && threads === 1 ? ' + hnswlib' : ''}, ${threads} thread(s) …`);
    const py = spawnSync(
      '/usr/bin/python3',
      [
        new URL('./peers.py', import.meta.url).pathname,
        '--base',
        bf,
        '--queries',
        qf,
        '--gt',
        gf,
        '--nlist',
        String(spec.nlist),
        '--nprobe',
        nprobes.join(','),
        '--threads',
        String(threads),
        '--single-queries',
        String(spec.single),
        '--flat-single-queries',
        String(spec.singleFlat),
        '--iterations',
        String(KMEANS_ITERATIONS),
        ...(hnsw && spec.hnsw && threads === 1 ? ['--hnsw'] : []),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 26, env: peerEnv(threads) },
    );
    if (py.status !== 0) throw new Error(`peers.py failed: ${py.stderr}`);
    const peers = JSON.parse(py.stdout);
    results[threads] = { flat, ivf, peers };
  }
  writeFileSync(`${out}ann-${name}.json`, JSON.stringify(results, null, 2));

  const bw = streamingBandwidth();
  for (const threads of threadList) {
    const { flat, ivf, peers } = results[threads];
    const f = flat.rows[0];
    const scanMs = 1000 / f.qps_single,
      bytes = flat.n * flat.dim * 4;
    say(`\n### ${threads} thread(s)`);
    say('\n| exact search | nitamono | Faiss IndexFlatL2 | ratio |');
    say('|---|---|---|---|');
    say(
      `| one query at a time: ms/query | ${scanMs.toFixed(2)} | ${(1000 / peers.flat.qps_single).toFixed(2)} | ${ratio(f.qps_single, peers.flat.qps_single)} faster |`,
    );
    say(`| all queries in one call: queries/s | ${fmt(f.qps_batch)} | ${fmt(peers.flat.qps_batch)} | ${ratio(f.qps_batch, peers.flat.qps_batch)} |`);
    say(`| 10-recall@10 | ${f.recall_at_10.toFixed(4)} | ${peers.flat.recall_at_10.toFixed(4)} | |`);
    if (bw && threads === 1)
      say(
        `| scan rate (GB/s) vs streaming-read limit ${(bw / 1e9).toFixed(1)} GB/s | ${(bytes / scanMs / 1e6).toFixed(1)} (${((bytes / scanMs / 1e6 / (bw / 1e9)) * 100).toFixed(0)} %) | ${((bytes * peers.flat.qps_single) / 1e9).toFixed(1)} (${(((bytes * peers.flat.qps_single) / bw) * 100).toFixed(0)} %) | |`,
      );
    say(
      `\nIVF, nlist ${ivf.nlist}: k-means ${ivf.train_s.toFixed(2)} s (Faiss ${peers.ivf.train_s.toFixed(2)} s, ${ratio(peers.ivf.train_s, ivf.train_s)} faster), add ${ivf.add_s.toFixed(2)} s (Faiss ${peers.ivf.add_s.toFixed(2)} s); index ${(ivf.index_bytes / 2 ** 20).toFixed(1)} MiB = ${(ivf.index_bytes / (ivf.raw_bytes + ivf.n * 4 + ivf.nlist * ivf.dim * 4)).toFixed(3)} × (raw vectors + ids + centroids)`,
    );
    say(
      '\n| nprobe | distances/query | 10-R@10 nitamono | 10-R@10 Faiss | R@1 nitamono | R@1 Faiss | ms/query nitamono | ms/query Faiss | single ratio | batch q/s nitamono | batch q/s Faiss | batch ratio |',
    );
    say('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of ivf.rows) {
      const p = peers.ivf.rows.find((x) => x.nprobe === r.nprobe);
      if (!p) continue;
      say(
        `| ${r.nprobe} | ${Math.round(r.distances_per_query)} | ${r.recall_at_10.toFixed(4)} | ${p.recall_at_10.toFixed(4)} | ${r.recall_at_1.toFixed(4)} | ${p.recall_at_1.toFixed(4)} | ${(1000 / r.qps_single).toFixed(3)} | ${(1000 / p.qps_single).toFixed(3)} | ${ratio(r.qps_single, p.qps_single)} | ${fmt(r.qps_batch)} | ${fmt(p.qps_batch)} | ${ratio(r.qps_batch, p.qps_batch)} |`,
      );
    }
    if (peers.hnsw) {
      say(`\nhnswlib (M=16, ef_construction=200): build ${peers.hnsw.build_s.toFixed(1)} s`);
      say('\n| ef | 10-R@10 | R@1 | ms/query | batch q/s |');
      say('|---|---|---|---|---|');
      for (const h of peers.hnsw.rows)
        say(`| ${h.ef} | ${h.recall_at_10.toFixed(4)} | ${h.recall_at_1.toFixed(4)} | ${(1000 / h.qps_single).toFixed(3)} | ${fmt(h.qps_batch)} |`);
    }
  }
  const t1 = results[threadList[0]];
  const series = [
    { name: 'nitamono IVF', color: '#d6336c', points: t1.ivf.rows.map((r) => ({ recall: r.recall_at_10, qps: r.qps_single, label: `nprobe ${r.nprobe}` })) },
    {
      name: 'Faiss IndexIVFFlat',
      color: '#1c7ed6',
      points: t1.peers.ivf.rows.map((r) => ({ recall: r.recall_at_10, qps: r.qps_single, label: `nprobe ${r.nprobe}` })),
    },
    { name: 'nitamono flat (exact)', color: '#862e9c', points: [{ recall: t1.flat.rows[0].recall_at_10, qps: t1.flat.rows[0].qps_single, label: 'exact' }] },
    { name: 'Faiss IndexFlatL2', color: '#1864ab', points: [{ recall: t1.peers.flat.recall_at_10, qps: t1.peers.flat.qps_single, label: 'exact' }] },
  ];
  if (t1.peers.hnsw)
    series.push({
      name: 'hnswlib',
      color: '#2b8a3e',
      points: t1.peers.hnsw.rows.map((r) => ({ recall: r.recall_at_10, qps: r.qps_single, label: `ef ${r.ef}` })),
    });
  writeFileSync(`${docs}recall-qps-${name}.svg`, svgChart(`${name}: recall vs queries/s (1 thread)`, series));
}
writeFileSync(`${out}ann-bench-report.md`, `${report.join('\n')}\n`);
