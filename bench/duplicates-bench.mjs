#!/usr/bin/env node
// Near-duplicates: calibrates the default threshold of each feature kind and checks it on a
// separate set (issue #11, item 3; target: pairwise precision and recall ≥ 0.95).
//
//   npm run build && flock /tmp/nitamono-bench.flock node bench/duplicates-bench.mjs \
//       [--originals 210] [--calibration-originals 140] [--unrelated 180] [--features color,deep] [--keep DIR]
//
// Two generated sets with no image in common (src/eval/near-duplicates.ts): originals — the
// demo's clip-art (shuffled, split between the sets) and generated photo-like scenes (a third)
// — each with a resized, a JPEG-recompressed (quality 60–90), a 5 %-cropped and a PNG↔JPEG-
// converted copy, mixed with unrelated images (the rest of the demo images and other scenes).
// Each set is indexed as a collection (colour and deep features).
//
// Calibration set, without the pixel check (`verify: false`): `findDuplicates` at a ladder of
// thresholds (10 per decade); the threshold kept is the geometric middle of the run of ladder
// steps of best pairwise F1. With the pixel check: candidate thresholds 1×, 1.6×, … 10× that one,
// each with pixel thresholds 1, 2, … 40, each scored by its worst F1 within ±2 grey levels (F1
// falls off a cliff just past its peak); kept: the pair of best score (the smaller candidate
// threshold on a tie, the middle of the run of best pixel thresholds). Test set: pairwise
// precision and recall (overall and per copy kind) at those thresholds and at the library's
// defaults (DUPLICATE_THRESHOLDS unverified; DUPLICATE_CANDIDATE_THRESHOLDS and
// PIXEL_DUPLICATE_THRESHOLD verified), the time of one run, and the pixel check's cost per pair
// (the first verified run on the test set: no pixel distance of its images is cached yet).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COPY_KINDS,
  Collection,
  DUPLICATE_CANDIDATE_THRESHOLDS,
  DUPLICATE_THRESHOLDS,
  PIXEL_DUPLICATE_THRESHOLD,
  sceneJpeg,
  scoreDuplicateGroups,
  writeDuplicateSet,
} from 'nitamono';
import { arg, demoImages } from './lib.mjs';

const testOriginals = Number(arg('originals', 210));
const calOriginals = Number(arg('calibration-originals', 140));
const unrelatedPerSet = Number(arg('unrelated', 180));
const kinds = String(arg('features', 'color,deep')).split(',');
const keep = arg('keep', undefined);

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const demo = demoImages();
const r = rng(11);
for (let i = demo.length - 1; i > 0; i--) {
  const j = Math.floor(r() * (i + 1));
  [demo[i], demo[j]] = [demo[j], demo[i]];
}
let sceneSeed = 1;
const scenes = async (n, prefix) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push({ name: `${prefix}-scene${sceneSeed}`, bytes: { data: await sceneJpeg(sceneSeed++), ext: '.jpg' } });
  return out;
};

/** originals: 2/3 demo images, 1/3 scenes; unrelated: the demo images left for this set, then scenes. */
async function sources(nOriginals, demoShare, prefix) {
  const nDemo = Math.min(demoShare.length, Math.round((nOriginals * 2) / 3));
  const originals = [...demoShare.slice(0, nDemo), ...(await scenes(nOriginals - nDemo, prefix))];
  const restDemo = demoShare.slice(nDemo, nDemo + unrelatedPerSet);
  const unrelated = [...restDemo, ...(await scenes(unrelatedPerSet - restDemo.length, `${prefix}-u`))];
  return { originals, unrelated };
}

const work = keep ?? mkdtempSync(join(tmpdir(), 'nitamono-dups-bench-'));
const split = Math.round((demo.length * calOriginals) / (calOriginals + testOriginals));

async function buildSet(name, nOriginals, demoShare, seed) {
  const { originals, unrelated } = await sources(nOriginals, demoShare, name);
  const root = join(work, name);
  const files = await writeDuplicateSet(root, originals, unrelated, seed);
  const t0 = performance.now();
  const c = await Collection.open(join(work, `${name}.nitamono`), { create: true, root, features: ['color', 'deep'] });
  await c.update();
  const indexS = (performance.now() - t0) / 1000;
  return { c, files, originals: originals.length, unrelated: unrelated.length, indexS };
}

const groupsOf = (rep) => rep.groups.map((g) => g.images.map((i) => i.path));
const f3 = (x) => x.toFixed(3);
const ladder = Array.from({ length: 71 }, (_, i) => 10 ** (-6 + i / 10)); // 1e-6 … 1e1

try {
  const cal = await buildSet('calibration', calOriginals, demo.slice(0, split), 101);
  const test = await buildSet('test', testOriginals, demo.slice(split), 202);
  for (const s of [cal, test])
    console.log(
      `${s === cal ? 'calibration' : 'test'} set: ${s.originals} originals × (1 + ${COPY_KINDS.length} copies) + ${s.unrelated} unrelated = ${s.files.length} images, indexed in ${s.indexS.toFixed(1)} s`,
    );
  const rows = [];
  for (const kind of kinds) {
    const f1s = [];
    let model = '';
    for (const t of ladder) {
      const rep = await cal.c.findDuplicates({ features: kind, threshold: t, verify: false });
      model = rep.model;
      f1s.push(scoreDuplicateGroups(cal.files, groupsOf(rep)).all.f1);
    }
    const best = Math.max(...f1s);
    const at = f1s.indexOf(best);
    let lo = at,
      hi = at;
    while (hi + 1 < ladder.length && f1s[hi + 1] >= best - 1e-9) hi++;
    const calibrated = Number(Math.sqrt(ladder[lo] * ladder[hi]).toPrecision(2));
    const dflt = DUPLICATE_THRESHOLDS[`${kind}:${model}`];
    console.log(
      `${kind} (${model}), not verified: best calibration F1 ${f3(best)} for thresholds ${ladder[lo].toPrecision(2)} … ${ladder[hi].toPrecision(2)} → calibrated ${calibrated}; library default ${dflt}`,
    );
    // verified: candidate threshold × pixel threshold (the pixel distances are cached by content after the first run)
    let vbest = { f1: -1 };
    for (let i = 5; i >= 0; i--) {
      const tc = Number((calibrated * 10 ** (i / 5)).toPrecision(2));
      const pf1 = [];
      for (let tp = 1; tp <= 40; tp++) {
        const rep = await cal.c.findDuplicates({ features: kind, threshold: tc, pixelThreshold: tp });
        pf1.push(scoreDuplicateGroups(cal.files, groupsOf(rep)).all.f1);
      }
      // each pixel threshold scored by its worst F1 within ±2: a threshold on a plateau, not at the edge of a cliff
      const robust = pf1.map((_, i) => Math.min(...pf1.slice(Math.max(0, i - 2), i + 3)));
      const b = Math.max(...robust);
      let plo = robust.indexOf(b),
        phi = plo;
      while (phi + 1 < robust.length && robust[phi + 1] >= b - 1e-9) phi++;
      if (b >= vbest.f1 - 1e-9) vbest = { f1: b, peak: Math.max(...pf1), tc, tp: (plo + phi + 2) / 2, range: `${plo + 1} … ${phi + 1}` };
    }
    const vdefault = [DUPLICATE_CANDIDATE_THRESHOLDS[`${kind}:${model}`], PIXEL_DUPLICATE_THRESHOLD];
    console.log(
      `${kind} (${model}), verified: best calibration F1 within ±2 grey levels ${f3(vbest.f1)} (peak ${f3(vbest.peak)}) at candidate threshold ${vbest.tc}, pixel thresholds ${vbest.range} → calibrated ${vbest.tc} / ${vbest.tp}; library default ${vdefault.join(' / ')}`,
    );
    for (const [label, t, tp] of [
      ['default, verified', ...vdefault],
      ['calibrated, verified', vbest.tc, vbest.tp],
      ['default, not verified', dflt],
      ['calibrated, not verified', calibrated],
    ]) {
      if (t === undefined) continue;
      if (label.startsWith('calibrated') && rows.some((r) => r.kind === kind && r.t === t && r.tp === tp)) continue;
      const rep = await test.c.findDuplicates({ features: kind, threshold: t, ...(tp === undefined ? { verify: false } : { pixelThreshold: tp }) });
      const sc = scoreDuplicateGroups(test.files, groupsOf(rep));
      rows.push({ kind, label, t, tp, sc, rep });
    }
  }
  console.log('\nTest set, pairwise precision / recall (pairs inside found groups vs copies of one original)');
  const setting = ({ t, tp, label }) => `${t}${tp === undefined ? '' : ` / px ${tp}`} (${label})`.padEnd(40);
  console.log(
    `features  thresholds (candidate / pixel)           ${['all', ...COPY_KINDS].map((k) => k.padEnd(15)).join('')}groups  method  run time  pixel pairs  per pair`,
  );
  for (const row of rows) {
    const { kind, sc, rep } = row;
    const cells = ['all', ...COPY_KINDS].map((k) => `${f3(sc[k].precision)}/${f3(sc[k].recall)}`.padEnd(15)).join('');
    const px = rep.verified ? `${String(rep.pixel_pairs).padStart(11)}  ${((rep.pixel_ms / Math.max(1, rep.pixel_pairs)) * 1000).toFixed(0)} µs` : '';
    console.log(
      `${kind.padEnd(9)} ${setting(row)} ${cells}${String(rep.groups.length).padStart(6)}  ${rep.method.padEnd(6)}  ${(rep.took_ms / 1000).toFixed(2)} s  ${px}`,
    );
  }
  console.log(
    "(per pair: the pixel check's time over the pairs it compared, 2 worker threads; after the first verified run of a set, pairs already compared come from a cache)",
  );
  // the same groups scored on the pairs inside one source (a pair across sources is left out)
  console.log('\nTest set by source of the images (precision / recall over pairs of two images of that source)');
  const sources = [
    ['clip-art (demo)', (f) => !f.relpath.includes('-scene')],
    ['photo-like (generated)', (f) => f.relpath.includes('-scene')],
  ];
  for (const row of rows)
    for (const [name, keepFile] of sources) {
      const sc = scoreDuplicateGroups(test.files.filter(keepFile), groupsOf(row.rep));
      const cells = ['all', ...COPY_KINDS].map((k) => `${f3(sc[k].precision)}/${f3(sc[k].recall)}`.padEnd(15)).join('');
      console.log(`${row.kind.padEnd(9)} ${setting(row)} ${name.padEnd(24)} ${cells}`);
    }
  await cal.c.close();
  await test.c.close();
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
