#!/usr/bin/env node
// `nitamono learn` on labelled image sets: held-out precision@10 and mAP before (the frozen deep
// features) and after (the learned projection), and the training time.
//
//   npm run build && flock /tmp/nitamono-bench.flock node bench/learn-bench.mjs [--seeds 1,2,3] [--hidden 512]
//                                           [--sets demo,fmnist-1k,fmnist-10k]
//
// Sets (made and indexed with --features deep once, cached under bench/out/learn/; reruns only
// learn):
//   demo       demo/images: 303 clip-art images in 8 folders
//   fmnist-1k  Fashion-MNIST test split, 100 images per class (scripts/fashion-mnist-to-png.mjs)
//   fmnist-10k the whole test split, 10,000 images: training time on 10,000 images
// Each: `nitamono learn --holdout 0.3 --seed S --json` on a copy-free re-learn (learning again
// replaces the kind). The held-out images are never trained on; the figures are over them only
// (each a query against the other held-out images, relevant = same folder).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg, MAIN } from './lib.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const out = join(repo, 'bench/out/learn');
const seeds = String(arg('seeds', '1,2,3')).split(',').map(Number);
const hidden = arg('hidden', '512');
const only = String(arg('sets', 'demo,fmnist-1k,fmnist-10k')).split(',');
const threads = String(arg('threads', 2));

function run(args, what) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, NITAMONO_NO_PROGRESS: '1' } });
  if (r.status !== 0) {
    process.stderr.write(`${what} failed (${r.status}):\n${r.stderr}`);
    process.exit(1);
  }
  return r.stdout;
}

/** The set's collection, indexed with deep features (a no-op when the cache is current). */
function prepare(name, images, make) {
  if (make && !existsSync(images)) {
    mkdirSync(images, { recursive: true });
    const r = spawnSync(process.execPath, [join(repo, 'scripts/fashion-mnist-to-png.mjs'), '--out', images, ...make], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const collection = join(out, name, 'collection');
  const t0 = performance.now();
  run(['index', images, '--collection', collection, '--features', 'deep', '--threads', threads, '--json'], `index ${name}`);
  console.error(`${name}: indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return collection;
}

function learn(collection, seed, extra = []) {
  const t0 = performance.now();
  const r = JSON.parse(run(['learn', '--collection', collection, '--holdout', '0.3', '--seed', String(seed), '--json', ...extra], 'learn'));
  return { ...r, wall_ms: Math.round(performance.now() - t0) };
}

const sets = [
  { name: 'demo', images: join(repo, 'demo/images') },
  { name: 'fmnist-1k', images: join(out, 'fmnist-1k/images'), make: ['--split', 'test', '--limit', '100'] },
];
const rows = [];
for (const s of sets.filter((x) => only.includes(x.name))) {
  const collection = prepare(s.name, s.images, s.make);
  for (const seed of seeds) rows.push({ set: s.name, seed, head: 'linear', ...learn(collection, seed) });
  if (hidden) rows.push({ set: s.name, seed: seeds[0], head: `mlp ${hidden}`, ...learn(collection, seeds[0], ['--hidden', hidden]) });
}
if (only.includes('fmnist-10k')) {
  const collection = prepare('fmnist-10k', join(out, 'fmnist-10k/images'), ['--split', 'test']);
  rows.push({ set: 'fmnist-10k', seed: seeds[0], head: 'linear', ...learn(collection, seeds[0]) });
}

const f3 = (x) => x.toFixed(3);
const sign = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;
console.log(`machine: ${cpus()[0]?.model ?? '?'} · ${new Date().toISOString().slice(0, 10)} · node ${process.version}`);
console.log('');
console.log('| set | seed | head | train / held-out | P@10 deep → learned | mAP deep → learned | epochs (best) | training | learn total |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.set} | ${r.seed} | ${r.head} | ${r.train_images} / ${r.holdout_images} | ${f3(r.before.precision_at_10)} → ${f3(r.after.precision_at_10)} (${sign(r.after.precision_at_10 - r.before.precision_at_10)}) | ${f3(r.before.map)} → ${f3(r.after.map)} (${sign(r.after.map - r.before.map)}) | ${r.epochs_run} (${r.best_epoch}) | ${(r.train_ms / 1000).toFixed(1)} s (${r.backend}) | ${(r.wall_ms / 1000).toFixed(1)} s |`,
  );
}
for (const set of new Set(rows.filter((r) => r.head === 'linear' && r.set !== 'fmnist-10k').map((r) => r.set))) {
  const rs = rows.filter((r) => r.set === set && r.head === 'linear');
  const gain = rs.map((r) => r.after.precision_at_10 - r.before.precision_at_10);
  console.log(
    `${set}: held-out P@10 gain over ${rs.length} seed(s): mean ${sign(gain.reduce((a, b) => a + b, 0) / gain.length)}, min ${sign(Math.min(...gain))} (target ≥ +0.10)`,
  );
}
const big = rows.find((r) => r.set === 'fmnist-10k');
if (big) console.log(`fmnist-10k: learn on ${big.train_images + big.holdout_images} images took ${(big.wall_ms / 1000).toFixed(1)} s in all (target ≤ 300 s)`);
writeFileSync(
  join(out, 'learn-bench.json'),
  `${JSON.stringify(
    rows.map(({ holdout_paths, labels, ...r }) => r),
    null,
    2,
  )}\n`,
);
