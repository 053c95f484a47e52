/**
 * Row-by-matrix products y = x·Bᵀ through the blocked many-queries kernel, on this thread or on
 * the worker pool: OPQ's rotation of queries and vectors (./opq.ts, ./coded.ts) and the
 * products of its training. One kernel call per block of rows, whoever runs it, so a row's
 * result does not depend on the thread or on how the rows were split.
 */
import { Arena } from '../kernels/arena.js';
import { type Kernels, METRIC_IP } from '../kernels/types.js';
import { splitRange } from '../util/ranges.js';
import { sharedPool, type Task } from './pool.js';

/** Rows multiplied per kernel call: bounds the scratch (rows × cols × 8 bytes of heaps). */
export const PRODUCT_BLOCK_ROWS = 1024;

/** Arena room a product of `rows` rows by `cols` columns needs for its heaps. */
export function productScratchBytes(rows: number, cols: number): number {
  return rows * cols * 8 + rows * 4;
}

/**
 * out (n×cols, from row outOffset/cols) = a (n×d) · bᵀ (b: cols×d); `a` and `b` at pointers of
 * `memory`, `scratch` a region of productScratchBytes(n, cols). IP scores in heaps of size
 * cols keep every column, read back by label: the WASM SIMD path of the flat search, with no
 * kernel of its own.
 */
export function multiplyABtWith(
  K: Kernels,
  memory: WebAssembly.Memory,
  a: number,
  n: number,
  b: number,
  cols: number,
  d: number,
  scratch: number,
  out: Float32Array,
  outOffset = 0,
): void {
  if (n === 0) return;
  const heapsD = scratch,
    heapsI = scratch + n * cols * 4,
    sizes = scratch + n * cols * 8;
  new Int32Array(memory.buffer, sizes, n).fill(0);
  K.setLabelMap(0);
  K.batchTopK(METRIC_IP, a, n, 0, b, 0, cols, d, cols, heapsD, heapsI, sizes, 0);
  // one `buffer` read: on a shared memory each read makes a new object
  const buf = memory.buffer;
  const hd = new Float32Array(buf, heapsD, n * cols),
    hi = new Int32Array(buf, heapsI, n * cols);
  for (let i = 0; i < n; i++) {
    const o = outOffset + i * cols;
    for (let t = i * cols; t < (i + 1) * cols; t++) out[o + hi[t]!] = -hd[t]!;
  }
}

/** The same with scratch taken from (and given back to) `arena`. */
export function multiplyABt(K: Kernels, arena: Arena, a: number, n: number, b: number, cols: number, d: number, out: Float32Array, outOffset = 0): void {
  if (n === 0) return;
  const s = arena.alloc(productScratchBytes(n, cols));
  try {
    multiplyABtWith(K, arena.memory, a, n, b, cols, d, s, out, outOffset);
  } finally {
    arena.release(s);
  }
}

/**
 * y = R·x for the n rows of `x` (y = x·Rᵀ), R a d×d matrix at `r` in `arena`; x is copied in
 * blocks into the arena. Returns y (a new array unless `out` is given).
 */
export function rotateRows(K: Kernels, arena: Arena, r: number, d: number, x: Float32Array, n: number, out = new Float32Array(n * d)): Float32Array {
  const block = Math.min(n, PRODUCT_BLOCK_ROWS);
  if (block === 0) return out;
  const xp = arena.alloc(block * d * 4);
  try {
    for (let i0 = 0; i0 < n; i0 += block) {
      const cnt = Math.min(block, n - i0);
      arena.f32(xp, cnt * d).set(x.subarray(i0 * d, (i0 + cnt) * d));
      multiplyABt(K, arena, xp, cnt, r, d, d, out, i0 * d);
    }
  } finally {
    arena.release(xp);
  }
  return out;
}

/** A pool task: rows [q0, q1) of the n×d rows at `src`, rotated by the d×d `r` into `dst`. */
export type RotateTask = { op: 'rotate'; r: number; d: number; src: number; dst: number; q0: number; q1: number; scratch: number };

/** Runs a RotateTask (on a worker): blocks of PRODUCT_BLOCK_ROWS rows, as rotateRows does. */
export function rotateRange(K: Kernels, memory: WebAssembly.Memory, t: RotateTask): number {
  const { d, q0, q1 } = t;
  for (let i0 = q0; i0 < q1; i0 += PRODUCT_BLOCK_ROWS) {
    const cnt = Math.min(PRODUCT_BLOCK_ROWS, q1 - i0);
    multiplyABtWith(K, memory, t.src + i0 * d * 4, cnt, t.r, d, d, t.scratch, new Float32Array(memory.buffer, t.dst, q1 * d), i0 * d);
  }
  return (q1 - q0) * d * d;
}

/** Bytes of rows (in and out) rotated per round of pool tasks: bounds the arena room a call takes. */
const ROUND_BYTES = 64 << 20;

/**
 * rotateRows on the worker pool: x goes through `arena` in rounds, each round's rows split over
 * `threads` workers; the calling thread only copies. R must stay at `r` until this settles.
 * Each worker multiplies whole blocks of PRODUCT_BLOCK_ROWS from the round's start, as
 * rotateRows does from row 0, so the results are the same bit for bit.
 */
export async function rotateOnWorkers(
  arena: Arena,
  r: number,
  d: number,
  x: Float32Array,
  n: number,
  threads: number,
  out = new Float32Array(n * d),
): Promise<Float32Array> {
  if (n === 0) return out;
  const blocks = Math.max(1, Math.floor(ROUND_BYTES / (PRODUCT_BLOCK_ROWS * d * 8)));
  const round = Math.min(n, blocks * PRODUCT_BLOCK_ROWS);
  const src = arena.alloc(round * d * 4),
    dst = arena.alloc(round * d * 4);
  const ranges = splitRange(Math.ceil(round / PRODUCT_BLOCK_ROWS), threads);
  const scratch = ranges.map(() => arena.alloc(productScratchBytes(Math.min(round, PRODUCT_BLOCK_ROWS), d)));
  try {
    for (let i0 = 0; i0 < n; i0 += round) {
      const cnt = Math.min(round, n - i0);
      arena.f32(src, cnt * d).set(x.subarray(i0 * d, (i0 + cnt) * d));
      const tasks: Task[] = [];
      ranges.forEach(([b0, b1], w) => {
        const q0 = b0 * PRODUCT_BLOCK_ROWS,
          q1 = Math.min(cnt, b1 * PRODUCT_BLOCK_ROWS);
        if (q0 < q1) tasks.push({ op: 'rotate', r, d, src, dst, q0, q1, scratch: scratch[w]! });
      });
      await sharedPool().run(arena, tasks);
      out.set(arena.f32(dst, cnt * d), i0 * d);
    }
  } finally {
    for (const p of [src, dst, ...scratch]) arena.release(p);
  }
  return out;
}

/** rotateOnWorkers with R given as an array: placed in a scratch arena of its own for the call. */
export async function rotateArrayOnWorkers(rotation: Float32Array, d: number, x: Float32Array, n: number, threads: number): Promise<Float32Array> {
  const arena = Arena.take(rotation.byteLength + (1 << 20));
  try {
    const r = arena.alloc(rotation.byteLength);
    arena.f32(r, d * d).set(rotation);
    return await rotateOnWorkers(arena, r, d, x, n, threads);
  } finally {
    // handed to the next arena, not dropped (see Arena.recycle): the workers keep their instance
    arena.recycle();
  }
}
