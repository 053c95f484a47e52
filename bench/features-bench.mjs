#!/usr/bin/env node
// Feature-extraction throughput: images/s for colour-only, deep-only and colour+deep extraction
// through FeatureExtractor (worker_threads + sharp + tfjs-wasm), with 1 and 2 threads.
//
//   npx tsc -p . && node bench/features-bench.mjs [--color N] [--deep N] [--threads 1,2] [--models a,b]
//
// Besides images/s (wall clock, what you get on this machine now, shared with whatever else
// runs), it prints the CPU time per image summed over all threads of the process: that is
// independent of other load, and cores / (CPU ms per image) bounds the throughput of an idle
// machine.
//
// Input: generated 1000×800 JPEGs (quality 85) that look roughly like photos — smooth colour
// blobs (low-resolution noise upscaled) plus fine grain — written to a temporary folder.
// Model load time is excluded from images/s (it is printed separately); the first pass over
// the files warms the page cache.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEEP_MODELS, DEFAULT_DEEP_MODEL, FeatureExtractor } from 'nitamono';
import sharp from 'sharp';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const nColor = Number(opt('color', 200));
const nDeep = Number(opt('deep', 60));
const threadList = String(opt('threads', '1,2')).split(',').map(Number);
const models = String(opt('models', [DEFAULT_DEEP_MODEL, ...DEEP_MODELS.filter((m) => m !== DEFAULT_DEEP_MODEL)].join(','))).split(',');
const W = 1000;
const H = 800;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function makeJpeg(i) {
  const r = rng(i + 1);
  const sw = 8 + Math.floor(r() * 40);
  const sh = Math.max(4, Math.floor((sw * H) / W));
  const small = Buffer.alloc(sw * sh * 3);
  for (let k = 0; k < small.length; k++) small[k] = Math.floor(r() * 256);
  const base = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(W, H, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  const amp = 6 + Math.floor(r() * 20);
  for (let k = 0; k < base.length; k++) {
    const v = base[k] + Math.floor((r() - 0.5) * amp);
    base[k] = v < 0 ? 0 : Math.min(v, 255);
  }
  return sharp(base, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const dir = mkdtempSync(join(tmpdir(), 'nitamono-bench-'));
const nFiles = Math.max(nColor, nDeep);
const paths = [];
let bytes = 0;
const tGen = performance.now();
for (let i = 0; i < nFiles; i++) {
  const p = join(dir, `img-${String(i).padStart(4, '0')}.jpg`);
  writeFileSync(p, await makeJpeg(i));
  bytes += statSync(p).size;
  paths.push(p);
}
console.log(
  `${nFiles} JPEGs ${W}×${H}, mean ${(bytes / nFiles / 1024).toFixed(0)} KiB, generated in ${((performance.now() - tGen) / 1000).toFixed(1)} s; ` +
    `cores: ${availableParallelism()}, node ${process.version}; default deep model ${DEFAULT_DEEP_MODEL}`,
);

async function run(kinds, n, threads, model = DEFAULT_DEEP_MODEL) {
  const fx = new FeatureExtractor({ kinds, threads, deepModel: model });
  const t0 = performance.now();
  await fx.start();
  const load = performance.now() - t0;
  const list = paths.slice(0, n);
  // Warm-up pass on a few files (page cache, first-batch allocation), not timed.
  for await (const _ of fx.extractMany(list.slice(0, Math.min(8, n)))) void _;
  const load1 = (await import('node:os')).loadavg()[0];
  const c0 = process.cpuUsage();
  const t1 = performance.now();
  let ok = 0;
  for await (const r of fx.extractMany(list)) if (r.ok) ok++;
  const secs = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(c0);
  await fx.close();
  if (ok !== n) throw new Error(`only ${ok}/${n} images extracted`);
  const name = kinds.includes('deep') ? `${kinds.join('+')} (${model.replace('mobilenetv2-', '')})` : kinds.join('+');
  return { kinds: name, threads, n, secs, ips: n / secs, load, cpuMs: (cpu.user + cpu.system) / 1000 / n, sysLoad: load1 };
}

const rows = [];
for (const threads of threadList) {
  if (nColor > 0) rows.push(await run(['color'], nColor, threads));
  if (nDeep > 0) for (const m of models) rows.push(await run(['deep'], nDeep, threads, m));
  if (nDeep > 0) rows.push(await run(['color', 'deep'], nDeep, threads));
}
rmSync(dir, { recursive: true, force: true });

console.log('\n| features          | threads | images | seconds | images/s | CPU ms/image | worker start | load avg |');
console.log('|-------------------|--------:|-------:|--------:|---------:|-------------:|-------------:|---------:|');
for (const r of rows) {
  console.log(
    `| ${r.kinds.padEnd(17)} | ${String(r.threads).padStart(7)} | ${String(r.n).padStart(6)} | ${r.secs.toFixed(2).padStart(7)} | ${r.ips.toFixed(1).padStart(8)} | ${r.cpuMs.toFixed(1).padStart(12)} | ${(`${r.load.toFixed(0)} ms`).padStart(12)} | ${r.sysLoad.toFixed(1).padStart(8)} |`,
  );
}
console.log('\n(load avg: 1-minute system load when the timed pass started; on 2 cores, above ~2 means other processes were competing)');
