#!/usr/bin/env node
// Near-duplicates at library scale (issue #11, item 3): what `findDuplicates` with the pixel
// check costs on a collection of ≥ 10,000 images, and its pairwise precision / recall there.
//
//   npm run build && node bench/duplicates-scale.mjs --dir /tmp/dupscale-set --prepare   # generate + index, not measured
//   flock /tmp/nitamono-bench.flock node bench/duplicates-scale.mjs --dir /tmp/dupscale-set [--fresh-prints] [--label after]
//
// The set (src/eval/near-duplicates.ts, as bench/duplicates-bench.mjs): originals — the demo's
// clip-art and generated photo-like scenes (640–1280 px JPEGs; sceneJpeg's recipe without its
// grain, which costs half a second per image to make) — each with a resized, a
// recompressed, a 5 %-cropped and a converted copy, among unrelated scenes; indexed once with
// deep features (the default) and kept in --dir, so runs before and after a change measure the
// same collection. Each run opens the collection in a new process (no pixel distance cached in
// memory) and runs findDuplicates once at the library's defaults. --fresh-prints first deletes
// the collection's print cache (when the library keeps one), so the run computes every print.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nitamono from 'nitamono';
import sharp from 'sharp';
import { arg, demoImages } from './lib.mjs';

const { Collection, scoreDuplicateGroups, writeDuplicateSet } = nitamono;
const dir = arg('dir', '/tmp/nitamono-dupscale');
const nOriginals = Number(arg('originals', 1700));
const nUnrelated = Number(arg('unrelated', 1500));
const features = String(arg('features', 'deep'));
const label = String(arg('label', ''));
const root = join(dir, 'images');
const collectionDir = join(dir, 'set.nitamono');
const setFile = join(dir, 'set.json');

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A photo-like JPEG: smooth colour blobs (low-resolution noise upscaled) under a few shapes. */
async function sceneJpeg(seed) {
  const r = rng(seed * 7919 + 17);
  const w = 640 + Math.floor(r() * 640),
    h = 480 + Math.floor(r() * 420);
  const sw = 3 + Math.floor(r() * 6),
    sh = 3 + Math.floor(r() * 5);
  const small = Buffer.alloc(sw * sh * 3);
  const base = [r() * 255, r() * 255, r() * 255];
  for (let i = 0; i < small.length; i++) small[i] = Math.max(0, Math.min(255, Math.round(base[i % 3] + (r() - 0.5) * 200)));
  const colour = () => `rgb(${Math.floor(r() * 256)},${Math.floor(r() * 256)},${Math.floor(r() * 256)})`;
  let shapes = '';
  for (let i = 2 + Math.floor(r() * 6); i > 0; i--) {
    const x = r() * w,
      y = r() * h,
      s = (0.08 + r() * 0.25) * Math.min(w, h);
    if (r() < 0.5) shapes += `<circle cx="${x}" cy="${y}" r="${s}" fill="${colour()}" fill-opacity="${0.6 + r() * 0.4}"/>`;
    else shapes += `<rect x="${x - s}" y="${y - s / 2}" width="${2 * s}" height="${s}" fill="${colour()}" transform="rotate(${r() * 90} ${x} ${y})"/>`;
  }
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${shapes}</svg>`);
  return sharp(small, { raw: { width: sw, height: sh, channels: 3 } })
    .resize(w, h, { kernel: 'cubic' })
    .composite([{ input: svg, top: 0, left: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function prepare() {
  const demo = demoImages();
  const scene = async (seed, prefix) => ({ name: `${prefix}${seed}`, bytes: { data: await sceneJpeg(seed), ext: '.jpg' } });
  const nDemo = Math.min(demo.length, nOriginals);
  // two writers at a time (sharp's threads do the encoding); each part its own names and seed
  const parts = 4;
  const t0 = performance.now();
  const files = (
    await Promise.all(
      Array.from({ length: parts }, async (_, p) => {
        const originals = demo.filter((_, i) => i < nDemo && i % parts === p);
        for (let s = nDemo + p; s < nOriginals; s += parts) originals.push(await scene(s + 1, 'scene'));
        const unrelated = [];
        for (let s = p; s < nUnrelated; s += parts) unrelated.push(await scene(100_000 + s, 'other'));
        return writeDuplicateSet(root, originals, unrelated, 300 + p);
      }),
    )
  ).flat();
  console.log(`generated ${files.length} images in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const t1 = performance.now();
  const c = await Collection.open(collectionDir, { create: true, root, features: [features] });
  await c.update();
  await c.close();
  console.log(`indexed (${features}) in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
  writeFileSync(setFile, JSON.stringify(files));
}

if (process.argv.includes('--prepare')) {
  if (existsSync(setFile)) console.log(`${setFile} exists: the set is ready`);
  else await prepare();
} else {
  const files = JSON.parse(readFileSync(setFile, 'utf8'));
  if (process.argv.includes('--fresh-prints') && nitamono.PRINT_CACHE_FILE) rmSync(join(collectionDir, nitamono.PRINT_CACHE_FILE), { force: true });
  const c = await Collection.open(collectionDir, { root });
  const rep = await c.findDuplicates({ features });
  await c.close();
  const sc = scoreDuplicateGroups(
    files,
    rep.groups.map((g) => g.images.map((i) => i.path)),
  ).all;
  const pixelS = rep.pixel_ms / 1000;
  const joinS = (rep.took_ms - rep.pixel_ms) / 1000;
  const row = [
    label.padEnd(14),
    String(rep.n).padStart(6),
    String(rep.candidate_pairs ?? '–').padStart(9),
    String(rep.pixel_pairs).padStart(8),
    joinS.toFixed(1).padStart(10),
    pixelS.toFixed(1).padStart(8),
    ((rep.pixel_ms / Math.max(1, rep.pixel_pairs)) * 1000).toFixed(0).padStart(9),
    ((rep.pixel_ms / rep.n) * 1000).toFixed(0).padStart(9),
    sc.precision.toFixed(3).padStart(9),
    sc.recall.toFixed(3).padStart(6),
    String(rep.groups.length).padStart(6),
  ];
  console.log('run            images candidates  checked  join+group s  pixel s  µs/pair  µs/image  precision  recall  groups');
  console.log(row.join(' '));
  console.log(
    `(${features} features, ${rep.method} self-join, ${rep.neighbours} neighbours, candidate threshold ${rep.threshold}, pixel threshold ${rep.pixel_threshold}; candidates: links the self-join found, checked: pairs compared on the pixels; per pair/image: pixel time over pairs checked / images)`,
  );
}
