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
//
// Pooling and normalisation of MobileNetV2-mid (all from one forward pass of the same graph):
//   feature_vector  1792-d, GAP of Conv_1/Relu6 (the model 'mobilenetv2-mid')
//   gap3            2240-d, GAP of expanded_conv_14/add, expanded_conv_15/add, Conv_1/Relu6, each
//                   block L2-normalised, then concatenated ('mobilenetv2-mid-gap3')
//   ec15            224-d, expanded_conv_15/add alone (the middle block of gap3, re-normalised)
// each with   L2     as extracted
//             SSR    signed square root of every value (power normalisation), per block, then L2
//             PCA-w  PCA learned on the set itself (no labels), top 256 (and 64) components
//                    whitened, L2
// ms/img is the forward pass alone (decoded 224×224 inputs, one thread, batch 8, median and
// fastest of 15 alternating runs: the fastest shows the cost on a quiet machine), so pooling
// costs show; extraction is the wall time of the whole pipeline.
//
//   node bench/deep-model-compare.mjs --dir demo/images --per-class 1000     (the demo set)
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeatureExtractor } from 'nitamono';
import sharp from 'sharp';
import { DeepEmbedder } from '../dist/src/image/deep.js';
import { symmetricEigen } from './eigen.mjs';

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

/** Blocks [start, end) of a row layout; every block of every row gets `f` then its own L2. */
function perBlock(vecs, dim, blocks, f) {
  const m = Float32Array.from(vecs, f);
  for (let r = 0; r < m.length; r += dim) {
    for (const [a, b] of blocks) {
      let s = 0;
      for (let i = r + a; i < r + b; i++) s += m[i] * m[i];
      const k = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let i = r + a; i < r + b; i++) m[i] *= k;
    }
  }
  return m;
}

function columns(vecs, dim, a, b) {
  const n = vecs.length / dim;
  const out = new Float32Array(n * (b - a));
  for (let r = 0; r < n; r++) out.set(vecs.subarray(r * dim + a, r * dim + b), r * (b - a));
  return out;
}

const ssr = (x) => Math.sign(x) * Math.sqrt(Math.abs(x));

/**
 * PCA-whitening learned on the set itself: with X the centred rows, X·Xᵀ = U·Λ·Uᵀ, the
 * projection of row i on component j is √λⱼ·Uᵢⱼ, so its whitened value is Uᵢⱼ: only the n×n Gram
 * matrix is decomposed, never a dim×dim covariance.
 */
function pcaWhiten(vecs, dim, keeps) {
  const n = vecs.length / dim;
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i] += vecs[r * dim + i] / n;
  const x = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) x[r * dim + i] = vecs[r * dim + i] - mean[i];
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let i = 0; i < dim; i++) s += x[a * dim + i] * x[b * dim + i];
      g[a * n + b] = s;
      g[b * n + a] = s;
    }
  }
  const { values, vectors } = symmetricEigen(g, n);
  return keeps.map((keep) => {
    let k = 0;
    while (k < Math.min(keep, n) && values[k] > values[0] * 1e-9) k++;
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) out[r * k + j] = vectors[r * n + j];
    return { vecs: out, dim: k };
  });
}

/** Median forward-pass ms per image of each model, runs alternating so drift hits all alike. */
async function forwardMs(models, reps = 15, batchSize = 8) {
  const batch = [];
  for (const p of paths.slice(0, batchSize)) {
    batch.push(new Uint8Array(await sharp(p).removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer()));
  }
  const embedders = [];
  for (const m of models) embedders.push(await DeepEmbedder.create(m));
  const times = models.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < models.length; i++) {
      const t0 = performance.now();
      await embedders[i].embed(batch);
      times[i].push((performance.now() - t0) / batch.length);
    }
  }
  for (const e of embedders) e.dispose();
  return Object.fromEntries(
    models.map((m, i) => {
      const t = times[i].sort((a, b) => a - b);
      return [m, `${t[reps >> 1].toFixed(1)} (${t[0].toFixed(1)})`];
    }),
  );
}

const rows = [];
const add = (name, vecs, dim, secs, ms) => {
  const e = evaluate(vecs, dim);
  rows.push({ name, dim, ...e, secs, ms });
  console.log(`${name}: P@10 ${e.p10.toFixed(3)}`);
};
const ms = await forwardMs(['mobilenetv2-mid', 'mobilenetv2-mid-gap3']);
const extracted = {};
for (const [key, kinds, model] of [
  ['colour', ['color'], undefined],
  ['pooled', ['deep'], 'mobilenetv2-pooled'],
  ['mid', ['deep'], 'mobilenetv2-mid'],
  ['gap3', ['deep'], 'mobilenetv2-mid-gap3'],
]) {
  extracted[key] = await embed(kinds, model);
  console.log(`${key}: extracted in ${extracted[key].secs.toFixed(1)} s`);
}
if (tmp) rmSync(tmp, { recursive: true, force: true });
add('colour histogram', extracted.colour.vecs, extracted.colour.dim, extracted.colour.secs);
add('mobilenetv2-pooled', extracted.pooled.vecs, extracted.pooled.dim, extracted.pooled.secs);
const { mid, gap3 } = extracted;
const ec15 = perBlock(columns(gap3.vecs, gap3.dim, 224, 448), 224, [[0, 224]], (x) => x);
const variants = [
  ['feature_vector', mid.vecs, mid.dim, [[0, mid.dim]], mid.secs, ms['mobilenetv2-mid']],
  [
    'gap3',
    gap3.vecs,
    gap3.dim,
    [
      [0, 224],
      [224, 448],
      [448, 2240],
    ],
    gap3.secs,
    ms['mobilenetv2-mid-gap3'],
  ],
  ['ec15', ec15, 224, [[0, 224]], gap3.secs, ms['mobilenetv2-mid-gap3']],
];
for (const [name, vecs, dim, blocks, secs, t] of variants) {
  add(`${name} L2`, vecs, dim, secs, t);
  add(`${name} SSR`, perBlock(vecs, dim, blocks, ssr), dim, secs, t);
  for (const w of pcaWhiten(vecs, dim, [256, 64])) add(`${name} PCA-w${w.dim}`, w.vecs, w.dim, secs, t);
}

console.log(`\nLeave-one-out cosine retrieval, ${paths.length} images, ${classes.length} classes (chance P@1 ≈ ${(1 / classes.length).toFixed(2)})\n`);
console.log('| embedding               |  dim |  P@1  | P@10  |  mAP  | forward ms/img, median (fastest) | extraction |');
console.log('|-------------------------|-----:|------:|------:|------:|---------------------------------:|-----------:|');
for (const r of rows) {
  const t = r.ms ?? '–';
  console.log(
    `| ${r.name.padEnd(23)} | ${String(r.dim).padStart(4)} | ${r.p1.toFixed(3)} | ${r.p10.toFixed(3)} | ${r.map.toFixed(3)} | ${t.padStart(32)} | ${`${r.secs.toFixed(1)} s`.padStart(10)} |`,
  );
}
