#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
// Which deep embedding retrieves better? Leave-one-out retrieval on a labelled image folder
// (default: Fashion-MNIST test split, 100 images × 10 classes, made by
// scripts/fashion-mnist-to-png.mjs into a temporary folder).
//
//   npx tsc -p . && node bench/deep-model-compare.mjs [--dir LABELLED_DIR] [--per-class 100] [--split test|train] [--threads 2]
//
// Every image is a query against all the others (brute force, cosine similarity); an answer is
// relevant when it has the query's class (its folder name). Reported per embedding:
//   P@1   fraction of queries whose nearest other image has the same class
//   P@10  mean fraction of same-class images among the 10 nearest
//   mAP   mean average precision over the full ranking
// The 12-d colour histogram (the seed's feature) is included as a baseline.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeatureExtractor } from 'nitamono';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const perClass = Number(opt('per-class', 100));
const threads = Number(opt('threads', 2));
const split = opt('split', 'test');
let dir = opt('dir', undefined);
let tmp;
if (!dir) {
  tmp = mkdtempSync(join(tmpdir(), 'nitamono-fmnist-'));
  dir = tmp;
  const script = fileURLToPath(new URL('../scripts/fashion-mnist-to-png.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--out', dir, '--split', split, '--limit', String(perClass)], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const paths = [];
const labels = [];
const classes = readdirSync(dir)
  .filter((d) => statSync(join(dir, d)).isDirectory())
  .sort();
classes.forEach((c, ci) => {
  const files = readdirSync(join(dir, c))
    .filter((f) => /\.(png|jpe?g|webp|gif|tiff?|avif)$/i.test(f))
    .sort()
    .slice(0, perClass);
  for (const f of files) {
    paths.push(join(dir, c, f));
    labels.push(ci);
  }
});
console.log(`${paths.length} images in ${classes.length} classes from ${dir}`);

async function embed(kinds, deepModel) {
  const fx = new FeatureExtractor({ kinds, deepModel, threads });
  await fx.start();
  const index = new Map(paths.map((p, i) => [p, i]));
  const key = kinds[0];
  let dim = 0;
  let vecs;
  const t0 = performance.now();
  for await (const r of fx.extractMany(paths)) {
    if (!r.ok) throw new Error(`${r.path}: ${r.code} ${r.error}`);
    const v = r.features[key];
    if (!vecs) {
      dim = v.length;
      vecs = new Float32Array(paths.length * dim);
    }
    vecs.set(v, index.get(r.path) * dim);
  }
  const secs = (performance.now() - t0) / 1000;
  await fx.close();
  return { vecs, dim, secs };
}

function normalizeRows(m, dim) {
  for (let r = 0; r < m.length; r += dim) {
    let s = 0;
    for (let i = r; i < r + dim; i++) s += m[i] * m[i];
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = r; i < r + dim; i++) m[i] *= k;
  }
}

function evaluate(vecs, dim) {
  const n = labels.length;
  const m = Float32Array.from(vecs);
  normalizeRows(m, dim);
  let p1 = 0;
  let p10 = 0;
  let map = 0;
  const sims = new Float64Array(n);
  const order = new Int32Array(n - 1);
  for (let q = 0; q < n; q++) {
    const qo = q * dim;
    for (let j = 0; j < n; j++) {
      let s = 0;
      const jo = j * dim;
      for (let k = 0; k < dim; k++) s += m[qo + k] * m[jo + k];
      sims[j] = s;
    }
    let t = 0;
    for (let j = 0; j < n; j++) if (j !== q) order[t++] = j;
    // Ties broken by index, so results are reproducible.
    order.sort((a, b) => sims[b] - sims[a] || a - b);
    const lab = labels[q];
    let relevant = 0;
    for (let j = 0; j < n; j++) if (j !== q && labels[j] === lab) relevant++;
    if (labels[order[0]] === lab) p1++;
    let hits10 = 0;
    for (let r = 0; r < 10 && r < order.length; r++) if (labels[order[r]] === lab) hits10++;
    p10 += hits10 / Math.min(10, order.length);
    let hits = 0;
    let ap = 0;
    for (let r = 0; r < order.length; r++) {
      if (labels[order[r]] === lab) {
        hits++;
        ap += hits / (r + 1);
      }
    }
    map += relevant > 0 ? ap / relevant : 0;
  }
  return { p1: p1 / n, p10: p10 / n, map: map / n };
}

const rows = [];
for (const [name, kinds, model] of [
  ['colour histogram (12-d)', ['color'], undefined],
  ['mobilenetv2-pooled (1280-d)', ['deep'], 'mobilenetv2-pooled'],
  ['mobilenetv2-mid (1792-d)', ['deep'], 'mobilenetv2-mid'],
]) {
  const { vecs, dim, secs } = await embed(kinds, model);
  const e = evaluate(vecs, dim);
  rows.push({ name, ...e, secs });
  console.log(`${name}: extracted in ${secs.toFixed(1)} s`);
}
if (tmp) rmSync(tmp, { recursive: true, force: true });

console.log(`\nLeave-one-out cosine retrieval, ${paths.length} images, ${classes.length} classes (chance P@1 ≈ ${(1 / classes.length).toFixed(2)})\n`);
console.log('| embedding                   |  P@1  | P@10  |  mAP  | extraction |');
console.log('|-----------------------------|------:|------:|------:|-----------:|');
for (const r of rows) {
  console.log(`| ${r.name.padEnd(27)} | ${r.p1.toFixed(3)} | ${r.p10.toFixed(3)} | ${r.map.toFixed(3)} | ${(`${r.secs.toFixed(1)} s`).padStart(10)} |`);
}
