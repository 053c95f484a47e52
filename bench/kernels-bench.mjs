#!/usr/bin/env node
// Kernel micro-benchmark: WASM SIMD vs the TypeScript reference (and the native batch kernel on
// each instruction set this CPU has, when it is built), single thread.
//   node bench/kernels-bench.mjs          (needs `npm run build` first)
// Prints, per shape, ms per single-query scanTopK and the GB/s of rows it streams, next to a
// native single-thread read-bandwidth yardstick (memchr over a buffer of the same size, via
// Buffer#indexOf), then batchTopK throughput in queries/s over all rows.
import { performance } from 'node:perf_hooks';
import {
  Arena,
  createNativeKernels,
  createReferenceKernels,
  createWasmKernels,
  kernelsSummary,
  METRIC_IP,
  METRIC_L2,
  nativeKernelInfo,
  useNativeIsa,
} from 'nitamono';

const K_TOP = 10;

function fillRandom(f32, seed) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < f32.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    f32[i] = s / 4294967296 - 0.5;
  }
}

/** Median of `reps` timings of fn() in ms (after one warm-up call). */
function time(fn, reps) {
  fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

/** Native read bandwidth (GB/s): memchr for a byte that is not there, over `bytes` real bytes. */
function memchrGBs(bytes) {
  // filled explicitly: a fresh zeroed allocation may be copy-on-write zero pages, read from cache
  const buf = Buffer.allocUnsafe(bytes).fill(2);
  const ms = time(() => {
    if (buf.indexOf(1) !== -1) throw new Error('unexpected');
  }, 7);
  return bytes / ms / 1e6;
}

const fmt = (x, p = 1) => x.toFixed(p);

const shapes = [
  { name: '100k×128', n: 100_000, d: 128, batchQ: 200, refBatchQ: 4 },
  { name: '60k×784', n: 60_000, d: 784, batchQ: 100, refBatchQ: 2 },
];

console.log(`node ${process.version}, single thread, k = ${K_TOP}; kernels: ${kernelsSummary()}\n`);
/** The native builds this CPU can run, widest last. */
const nativeIsas = nativeKernelInfo().available ? ['scalar', 'avx2', 'avx512'].filter((isa) => useNativeIsa(isa) === isa) : [];
const scanTable = [];
const batchTable = [];
for (const sh of shapes) {
  const { n, d } = sh;
  const bytes = n * d * 4;
  const arena = new Arena(bytes + (64 << 20));
  const wasm = createWasmKernels(arena.memory);
  const ref = createReferenceKernels(arena.memory);
  const nq = sh.batchQ;
  const xp = arena.alloc(bytes),
    qp = arena.alloc(nq * d * 4);
  fillRandom(arena.f32(xp, n * d), 12345 + d);
  fillRandom(arena.f32(qp, nq * d), 999 + d);
  const xn = arena.alloc(n * 4),
    qn = arena.alloc(nq * 4);
  const hd = arena.alloc(nq * K_TOP * 4),
    hi = arena.alloc(nq * K_TOP * 4),
    sizes = arena.alloc(nq * 4);
  const bw = memchrGBs(bytes);

  // single-query scans
  for (const [metric, mname] of [
    [METRIC_L2, 'L2'],
    [METRIC_IP, 'IP'],
  ]) {
    const scan = (K) => () => K.scanTopK(metric, qp, xp, n, d, K_TOP, hd, hi, 0, 0);
    const w = time(scan(wasm), 15);
    const r = time(scan(ref), 3);
    scanTable.push({
      shape: sh.name,
      metric: mname,
      'wasm ms': fmt(w, 2),
      'wasm GB/s': fmt(bytes / w / 1e6),
      'ref ms': fmt(r, 1),
      'ref GB/s': fmt(bytes / r / 1e6, 2),
      speedup: `${fmt(r / w)}×`,
      'memchr GB/s': fmt(bw),
      'wasm/memchr': `${fmt((100 * bytes) / w / 1e6 / bw, 0)}%`,
    });
  }

  // many queries: batchTopK (L2 via norms) vs one scanTopK per query
  const tNorms = time(() => wasm.norms(xp, n, d, xn), 5);
  wasm.norms(qp, nq, d, qn);
  const batch = (K, q) => () => {
    arena.i32(sizes, q).fill(0);
    K.batchTopK(METRIC_L2, qp, q, qn, xp, xn, n, d, K_TOP, hd, hi, sizes, 0);
  };
  const wb = time(batch(wasm, nq), 3);
  const rb = time(batch(ref, sh.refBatchQ), 1);
  const ws =
    time(() => {
      for (let i = 0; i < 8; i++) wasm.scanTopK(METRIC_L2, qp + i * d * 4, xp, n, d, K_TOP, hd + i * K_TOP * 4, hi + i * K_TOP * 4, 0, 0);
    }, 3) / 8;
  batchTable.push({
    shape: sh.name,
    queries: nq,
    'wasm batch q/s': fmt((nq * 1000) / wb, 0),
    'wasm scan-per-query q/s': fmt(1000 / ws, 0),
    'ref batch q/s': fmt((sh.refBatchQ * 1000) / rb, 1),
    'batch vs ref': `${fmt((nq * 1000) / wb / ((sh.refBatchQ * 1000) / rb), 0)}×`,
    'wasm GFLOP/s': fmt((2 * nq * n * d) / wb / 1e6),
    'norms ms': fmt(tNorms, 2),
  });
  if (nativeIsas.length) {
    const native = createNativeKernels(arena.memory);
    const row = batchTable.at(-1);
    for (const isa of nativeIsas) {
      useNativeIsa(isa);
      const nb = time(batch(native, nq), 3);
      row[`native ${isa} q/s`] = fmt((nq * 1000) / nb, 0);
      row[`native ${isa} ÷ wasm`] = `${fmt(wb / nb, 2)}×`;
    }
  }
}

console.log('scanTopK, one query over all rows:');
console.table(scanTable);
console.log('batchTopK (L2 via qnorm + xnorm − 2·dot) over all rows, queries/s:');
console.table(batchTable);
