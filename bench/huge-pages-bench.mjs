#!/usr/bin/env node
// Arenas on 2 MiB pages or 4 KiB pages (src/kernels/huge-pages.ts): the scan of a filtered
// search's rows scattered through an index — the native scanTopKRows over S random rows of N ×
// D, one query, k = 10 — in two arenas of the same process holding the same rows, one advised
// onto huge pages (as every arena is by default) and one made with NITAMONO_HUGE_PAGES=0. Before
// each scan the caches are emptied by reading a buffer larger than the last-level cache, as an
// unfiltered scan of the whole index would; the two arenas alternate which goes first.
//   npm run build && flock /tmp/nitamono-bench.flock node bench/huge-pages-bench.mjs [--n 100000] [--dim 256] [--subset 1000] [--rounds 200]
import { readFileSync } from 'node:fs';
import { Arena } from '../dist/src/kernels/arena.js';
import { createNativeKernels, nativeKernelInfo } from '../dist/src/kernels/index.js';
import { rng } from '../dist/src/util/random.js';
import { arg, percentile } from './lib.mjs';

const N = Number(arg('n', 100_000));
const D = Number(arg('dim', 256));
const S = Number(arg('subset', 1000));
const ROUNDS = Number(arg('rounds', 200));
const K = 10;
const EVICT_BYTES = 192 << 20;

if (!nativeKernelInfo().available) throw new Error('the native kernel is not built (npm run build)');
const rand = rng(1);
const data = Float32Array.from({ length: N * D }, rand);

/** An arena holding the N rows, made with huge pages advised or not; its scan of `rows`. */
function makeSide(huge) {
  const before = process.env.NITAMONO_HUGE_PAGES;
  process.env.NITAMONO_HUGE_PAGES = huge ? '1' : '0';
  const arena = new Arena(N * D * 4 + (S + D + 4 * K) * 4 + (1 << 20));
  if (before === undefined) delete process.env.NITAMONO_HUGE_PAGES;
  else process.env.NITAMONO_HUGE_PAGES = before;
  const X = arena.alloc(N * D * 4);
  arena.f32(X, N * D).set(data);
  const rows = arena.alloc(S * 4),
    q = arena.alloc(D * 4),
    hd = arena.alloc(K * 4),
    hi = arena.alloc(K * 4);
  const kernels = createNativeKernels(arena.memory);
  return {
    name: huge ? '2 MiB (advised)' : '4 KiB (NITAMONO_HUGE_PAGES=0)',
    set(rowList, query) {
      arena.i32(rows, S).set(rowList);
      arena.f32(q, D).set(query);
    },
    scan: () => kernels.scanTopKRows(0, q, X, D, rows, S, K, hd, hi, 0),
    labels: () => [...arena.i32(hi, K)].sort((a, b) => a - b).join(','),
    times: [],
  };
}

const sides = [makeSide(true), makeSide(false)];
const evict = new Float32Array(EVICT_BYTES / 4).fill(1);
const flush = () => {
  let acc = 0;
  for (let i = 0; i < evict.length; i += 16) acc += evict[i];
  return acc;
};
let mismatches = 0;
for (let r = -10; r < ROUNDS; r++) {
  const picks = new Set();
  while (picks.size < S) picks.add(Math.floor(rand() * N));
  const rowList = Int32Array.from([...picks].sort((a, b) => a - b));
  const query = Float32Array.from({ length: D }, rand);
  for (const s of sides) s.set(rowList, query);
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    flush();
    const t0 = performance.now();
    s.scan();
    if (r >= 0) s.times.push(performance.now() - t0);
  }
  if (sides[0].labels() !== sides[1].labels()) mismatches++;
}
const smaps = readFileSync('/proc/self/smaps_rollup', 'utf8');
const thp = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
console.log(
  `huge-pages-bench: ${S.toLocaleString('en')} random rows of ${N.toLocaleString('en')} × ${D}-d scanned (native scanTopKRows, k = ${K}) after a ${EVICT_BYTES >> 20} MiB read empties the caches; ${ROUNDS} rounds; transparent huge pages: ${thp}; this process's AnonHugePages: ${/AnonHugePages:\s+(\d+ kB)/.exec(smaps)?.[1]}`,
);
console.log('| pages | median ms | p90 ms | ÷ 4 KiB pages |');
console.log('|---|---|---|---|');
const sorted = sides.map((s) => [...s.times].sort((a, b) => a - b));
const base = percentile(sorted[1], 50);
sides.forEach((s, i) => {
  const med = percentile(sorted[i], 50);
  console.log(`| ${s.name} | ${med.toFixed(4)} | ${percentile(sorted[i], 90).toFixed(4)} | ${(med / base).toFixed(3)} |`);
});
console.log(`same top ${K} on both sides: ${ROUNDS + 10 - mismatches} of ${ROUNDS + 10} rounds`);
