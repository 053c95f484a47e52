#!/usr/bin/env node
/**
 * Old build vs new build, in one process, interleaved: the same data, the same queries, the
 * same thread count, alternating A, B, A, B … so machine noise falls on both sides alike.
 * Prints a table of the best of `--rounds` rounds per side and the ratio new/old.
 *
 *   node bench/compare-builds.mjs --old /path/to/old/checkout --new . [--rounds 5]
 *
 * Each checkout must be built (`npm run build`); its dist/src/index.js (or, for builds older
 * than the public API, dist/src/… modules) is imported directly.
 *
 * Measured, per build:
 * - engine: FlatIndex and IVFIndex (nlist 256, nprobe 8) on Fashion-MNIST (Debian
 *   dataset-fashion-mnist: 60,000 × 784 base, the first 1,000 test images as queries), one
 *   query at a time on the calling thread, and a 1,000-query batch with searchAsync on 2 threads;
 * - collection: `Collection.search({ id })` on a collection of `--images` generated PNGs
 *   (colour features), the whole library path a CLI or HTTP search takes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { rng } from 'nitamono';
import sharp from 'sharp';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const OLD = resolve(opt('old', '../wt-old'));
const NEW = resolve(opt('new', '.'));
const ROUNDS = Number(opt('rounds', '5'));
const IMAGES = Number(opt('images', '2000'));
const log = (s) => process.stderr.write(`${s}\n`);

async function load(root) {
  const dist = pathToFileURL(join(root, 'dist/src/')).href;
  const mod = (p) => import(new URL(p, dist).href);
  const flat = await mod('search/flat.js');
  const ivf = await mod('search/ivf.js');
  const col = await mod('collection/collection.js');
  return { FlatIndex: flat.FlatIndex, IVFIndex: ivf.IVFIndex, Collection: col.Collection };
}

function idx(path, limit = Infinity) {
  const buf = gunzipSync(readFileSync(path));
  const n = Math.min(buf.readUInt32BE(4), limit);
  const d = buf.readUInt32BE(8) * buf.readUInt32BE(12);
  const data = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) data[i] = buf[16 + i];
  return { data, n, d };
}

const FM = '/usr/share/datasets/fashion-mnist';
if (!existsSync(`${FM}/train-images-idx3-ubyte.gz`)) {
  log('Fashion-MNIST is missing: apt-get install dataset-fashion-mnist');
  process.exit(2);
}
const base = idx(`${FM}/train-images-idx3-ubyte.gz`);
const queries = idx(`${FM}/t10k-images-idx3-ubyte.gz`, 1000);
const d = base.d;

/** Queries per second of one query at a time over `m` queries. */
function oneByOne(index, m, params) {
  const t0 = performance.now();
  for (let i = 0; i < m; i++) index.search(queries.data.subarray(i * d, (i + 1) * d), 10, params);
  return m / ((performance.now() - t0) / 1000);
}

async function batch(index, params) {
  const t0 = performance.now();
  await index.searchAsync(queries.data, 10, { ...params, threads: 2 });
  return queries.n / ((performance.now() - t0) / 1000);
}

async function makeImages(dir, n) {
  mkdirSync(dir, { recursive: true });
  const rand = rng(7);
  for (let i = 0; i < n; i++) {
    const sub = join(dir, `g${i % 20}`);
    mkdirSync(sub, { recursive: true });
    const c = { r: Math.floor(rand() * 256), g: Math.floor(rand() * 256), b: Math.floor(rand() * 256) };
    await sharp({ create: { width: 24, height: 24, channels: 3, background: c } })
      .png()
      .toFile(join(sub, `${i}.png`));
  }
}

const builds = { old: await load(OLD), new: await load(NEW) };
const work = mkdtempSync(join(tmpdir(), 'nitamono-compare-'));
const images = join(work, 'images');
log(`making ${IMAGES} images …`);
await makeImages(images, IMAGES);

const state = {};
for (const [name, b] of Object.entries(builds)) {
  log(`[${name}] building indexes …`);
  const needEngine = !opt('only', '') || /flat|IVF/.test(opt('only', ''));
  const flat = new b.FlatIndex(d);
  const ivf = new b.IVFIndex(d, { nlist: 256 });
  if (needEngine) {
    flat.add(base.data);
    await ivf.train(base.data, { seed: 1234, iterations: 10 });
    ivf.add(base.data);
  }
  const c = await b.Collection.open(join(work, `col-${name}`), { create: true, root: images, features: ['color'] });
  await c.update();
  const ids = (await c.search({ path: join(images, 'g0', '0.png') }, { k: 1000 })).results.map((h) => h.id);
  state[name] = { flat, ivf, c, ids };
}

const only = opt('only', '');
const rows = [
  ['flat, one query (q/s)', (s) => oneByOne(s.flat, 100)],
  ['flat, batch of 1,000 on 2 threads (q/s)', (s) => batch(s.flat, {})],
  ['IVF nlist 256 nprobe 8, one query (q/s)', (s) => oneByOne(s.ivf, 1000, { nprobe: 8 })],
  ['IVF nlist 256 nprobe 8, batch on 2 threads (q/s)', (s) => batch(s.ivf, { nprobe: 8 })],
  [
    `Collection.search by id, ${IMAGES} images, colour (searches/s)`,
    async (s) => {
      const t0 = performance.now();
      const m = 2000;
      for (let i = 0; i < m; i++) await s.c.search({ id: s.ids[i % s.ids.length] }, { k: 10 });
      return m / ((performance.now() - t0) / 1000);
    },
  ],
  [
    `Collection.search by id, method ivf nprobe 8, ${IMAGES} images, colour (searches/s)`,
    async (s) => {
      const t0 = performance.now();
      const m = 2000;
      for (let i = 0; i < m; i++) await s.c.search({ id: s.ids[i % s.ids.length] }, { k: 10, method: 'ivf', nprobe: 8 });
      return m / ((performance.now() - t0) / 1000);
    },
  ],
];

if (only) rows.splice(0, rows.length, ...rows.filter(([label]) => label.includes(only)));
const best = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [label, fn] of rows) {
    // alternate which build goes first, so neither always runs on a warmer machine
    const order = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
    for (const name of order) {
      const v = await fn(state[name]);
      best[label] ??= {};
      best[label][name] = Math.max(best[label][name] ?? 0, v);
    }
  }
  log(`round ${r + 1}/${ROUNDS} done`);
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log(`| measurement | old | new | new / old |`);
console.log(`|---|---:|---:|---:|`);
for (const [label] of rows) {
  const b = best[label];
  console.log(`| ${label} | ${fmt(b.old)} | ${fmt(b.new)} | ${(b.new / b.old).toFixed(3)} |`);
}
for (const s of Object.values(state)) {
  s.flat.dispose();
  s.ivf.dispose();
  await s.c.close();
}
rmSync(work, { recursive: true, force: true });
process.exit(0);
