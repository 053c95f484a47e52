// The native scan of scattered rows (native/rows.cc) against the WASM kernel it stands in for:
// the same heaps to the bit, whatever the row order, the heap it starts from or the label map,
// and a refusal of any row outside the memory.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Arena } from '../../src/kernels/arena.js';
import { createNativeKernels, createWasmKernels, type Kernels, METRIC_IP, METRIC_L2, nativeKernelInfo } from '../../src/kernels/index.js';
import { rng } from '../../src/util/random.js';

function put(arena: Arena, data: Float32Array | Int32Array): number {
  const off = arena.alloc(Math.max(4, data.length * 4));
  if (data instanceof Float32Array) arena.f32(off, data.length).set(data);
  else arena.i32(off, data.length).set(data);
  return off;
}

/** Scans `rows` in `calls` pieces into a fresh heap of k; the heap's scores and labels. */
function scan(arena: Arena, K: Kernels, metric: 0 | 1, qp: number, xp: number, d: number, rows: Int32Array, k: number, labels: number, calls: number) {
  const hd = arena.alloc(k * 4),
    hi = arena.alloc(k * 4);
  const rp = put(arena, rows);
  K.setLabelMap(labels);
  let size = 0;
  const step = Math.ceil(rows.length / calls);
  for (let a = 0; a < rows.length; a += step) size = K.scanTopKRows(metric, qp, xp, d, rp + a * 4, Math.min(step, rows.length - a), k, hd, hi, size);
  K.setLabelMap(0);
  const out = { scores: [...arena.f32(hd, size)], labels: [...arena.i32(hi, size)] };
  for (const p of [hd, hi, rp]) arena.release(p);
  return out;
}

test('native scanTopKRows keeps the WASM kernel’s heap to the bit (both metrics, any row order, label map, heap carried over calls)', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  const arena = new Arena(1 << 22);
  const wasm = createWasmKernels(arena.memory),
    native = createNativeKernels(arena.memory);
  assert.equal(native.name, 'native');
  const r = rng(11);
  const rand = () => r() * 2 - 1;
  const n = 500;
  for (const d of [1, 4, 17, 64, 130, 256]) {
    const X = Float32Array.from({ length: n * d }, rand),
      q = Float32Array.from({ length: d }, rand);
    // rows 150 and 420 equal row 3: ties break on the label
    X.copyWithin(150 * d, 3 * d, 4 * d);
    X.copyWithin(420 * d, 3 * d, 4 * d);
    const xp = put(arena, X),
      qp = put(arena, q),
      labels = put(
        arena,
        Int32Array.from({ length: n }, (_, i) => 7000 - 3 * i),
      );
    // a few rows, and many in no order (more than the rows prefetched ahead)
    for (const rows of [Int32Array.from([3, 9, 10, 150, 11, 420]), Int32Array.from({ length: 301 }, (_, j) => (j * 37) % n)]) {
      for (const metric of [METRIC_L2, METRIC_IP] as const) {
        for (const k of [1, 4, 20]) {
          for (const [map, calls] of [
            [0, 1],
            [labels, 1],
            [labels, 3],
          ] as const) {
            const what = `d=${d} rows=${rows.length} metric=${metric} k=${k} labels=${map !== 0} calls=${calls}`;
            const want = scan(arena, wasm, metric, qp, xp, d, rows, k, map, calls);
            assert.equal(want.scores.length, Math.min(k, rows.length), what);
            assert.deepEqual(scan(arena, native, metric, qp, xp, d, rows, k, map, calls), want, what);
          }
        }
      }
    }
    for (const p of [xp, qp, labels]) arena.release(p);
  }
});

test('native scanTopKRows refuses rows and regions outside the memory, and heap sizes above k', (t) => {
  if (!nativeKernelInfo().available) return t.skip('native kernel not built');
  const arena = new Arena(1 << 20);
  const native = createNativeKernels(arena.memory);
  const end = arena.memory.buffer.byteLength;
  const d = 8;
  const xp = put(arena, new Float32Array(10 * d)),
    qp = put(arena, new Float32Array(d)),
    hd = arena.alloc(16),
    hi = arena.alloc(16);
  const rowsPast = put(arena, Int32Array.from([1, Math.floor((end - xp) / (d * 4))]));
  const negative = put(arena, Int32Array.from([1, -1]));
  assert.throws(() => native.scanTopKRows(METRIC_L2, qp, xp, d, rowsPast, 2, 4, hd, hi, 0), /a row lies outside the memory/);
  assert.throws(() => native.scanTopKRows(METRIC_L2, qp, xp, d, negative, 2, 4, hd, hi, 0), /a row lies outside the memory/);
  assert.throws(() => native.scanTopKRows(METRIC_L2, qp, xp, d, end - 4, 2, 4, hd, hi, 0), /a region lies outside the memory/);
  assert.throws(() => native.scanTopKRows(METRIC_L2, qp, xp, d, negative, 1, 4, hd, hi, 5), /size within \[0, k\]/);
  // the rows inside are scanned: one row, one entry
  assert.equal(native.scanTopKRows(METRIC_L2, qp, xp, d, negative, 1, 4, hd, hi, 0), 1);
});
