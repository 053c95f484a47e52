/**
 * The per-vector work of adding to an inverted-file or coded index — OPQ rotation, the nearest
 * list (the coarse step, N·K·D), the residual and the code — on rows already in an index's
 * arena. One function runs it whoever calls it: add() on the calling thread, addAsync() and
 * training's assignment on the worker pool (./worker.ts), so both give the same lists and codes
 * bit for bit. Rows go in units of a fixed size from row 0 of the call, on either path, so
 * every kernel call sees the same rows.
 */
import type { Arena } from '../kernels/arena.js';
import type { Kernels } from '../kernels/types.js';
import { F32Codec, type VectorCodec } from './codec.js';
import { FP16Codec } from './fp16.js';
import { type HNSWLayout, hnswScratchBytes, hnswSearch } from './hnsw.js';
import { sharedPool } from './pool.js';
import { PQCodec } from './pq.js';
import { PRODUCT_BLOCK_ROWS, productScratchBytes, type RotateTask, rotateRange } from './rotate.js';
import { BATCH_MIN_QUERIES, type FlatLayout, flatSearchRange } from './scan.js';
import { SQ8Codec } from './sq8.js';

/** Bytes of rows per unit: bounds the arena room one unit takes (rows, rotated rows, codes). */
const UNIT_BYTES = 16 << 20;
/** Most rows per unit (the old add() step). */
const UNIT_MAX_ROWS = 1 << 14;

/** Rows per unit for dimension d: whole blocks of the rotation's kernel calls, at least one. */
export function unitRows(d: number): number {
  const rows = Math.floor(UNIT_BYTES / (d * 4) / PRODUCT_BLOCK_ROWS) * PRODUCT_BLOCK_ROWS;
  return Math.min(UNIT_MAX_ROWS, Math.max(PRODUCT_BLOCK_ROWS, rows));
}

/** A codec as a worker rebuilds it: its trained parameters, cloned with the task. */
export type CodecSpec =
  | { name: 'f32' }
  | { name: 'fp16' }
  | { name: 'sq8'; min: Float32Array; diff: Float32Array }
  | { name: 'pq'; m: number; nbits: number; codebooks: Float32Array };

/** What turns rows into lists and codes, besides the rows: pointers into the same arena. */
export interface RowPlan {
  d: number;
  /** OPQ's d×d rotation, 0 for none. */
  rotation: number;
  /** The coarse step (null for the flat kinds: every row goes to list 0). */
  coarse: { layout: FlatLayout; hnsw: HNSWLayout | null; ef: number } | null;
  /** The batched kernel for the flat coarse step: decided once per call, for every unit alike. */
  batched: boolean;
  /** Encode x − centroid of its list (the coded inverted-file kinds) rather than x. */
  byResidual: boolean;
}

/** Arena regions of one unit of up to `rows` rows. */
export interface UnitRegions {
  rows: number;
  /** f32 rows×d: the rows as given */
  src: number;
  /** f32 rows×d: rotated rows, then residuals (a stub when there are neither) */
  work: number;
  /** i32 rows: the list of each row */
  lists: number;
  /** u8 rows×codeSize (0 when only assigning) */
  codes: number;
  /** queryNorms, heapsD, sizes of the coarse step; the rotation's and the graph's scratch */
  norms: number;
  heapsD: number;
  sizes: number;
  rotScratch: number;
  graphScratch: number;
}

/** A pool task: the first `n` rows of a unit, prepared with `plan` and encoded by `codec` (none: assign only). */
export type PrepareTask = { op: 'prepare'; plan: RowPlan; unit: UnitRegions; n: number; codec: CodecSpec | null };

/**
 * Rows per unit for n rows here: unitRows(d), halved until `count` units take at most half the
 * arena's room (an arena capped small — NITAMONO_ARENA_BYTES, or one nearly full — still adds,
 * in smaller steps).
 */
export function fittedRows(arena: Arena, plan: RowPlan, n: number, codeSize: number, count = 1): number {
  let rows = Math.min(n, unitRows(plan.d));
  const budget = arena.contiguousRoom / 2;
  while (rows > 1 && count * unitBytes(plan, rows, codeSize) > budget) rows = Math.ceil(rows / 2);
  return rows;
}

function unitSizes(plan: RowPlan, rows: number, codeSize: number): number[] {
  const d = plan.d;
  return [
    rows * d * 4,
    plan.rotation || plan.byResidual ? rows * d * 4 : 0,
    rows * 4,
    rows * codeSize,
    rows * 4,
    rows * 4,
    rows * 4,
    plan.rotation ? productScratchBytes(Math.min(rows, PRODUCT_BLOCK_ROWS), d) : 0,
    plan.coarse?.hnsw ? hnswScratchBytes(plan.coarse.hnsw.M) : 0,
  ];
}

/** Arena bytes of one unit of `rows` rows (each region rounded up to the 64-byte alignment). */
function unitBytes(plan: RowPlan, rows: number, codeSize: number): number {
  return unitSizes(plan, rows, codeSize).reduce((a, b) => a + Math.ceil(Math.max(4, b) / 64) * 64, 0);
}

export function allocUnit(arena: Arena, plan: RowPlan, rows: number, codeSize: number): UnitRegions {
  const sizes = unitSizes(plan, rows, codeSize);
  const p: number[] = [];
  try {
    for (const b of sizes) p.push(arena.alloc(Math.max(4, b)));
  } catch (err) {
    for (const q of p) arena.release(q);
    throw err;
  }
  const [src, work, lists, codes, norms, heapsD, sz, rotScratch, graphScratch] = p as [number, number, number, number, number, number, number, number, number];
  return { rows, src, work, lists, codes, norms, heapsD, sizes: sz, rotScratch, graphScratch };
}

export function releaseUnit(arena: Arena, u: UnitRegions): void {
  for (const p of [u.src, u.work, u.lists, u.codes, u.norms, u.heapsD, u.sizes, u.rotScratch, u.graphScratch]) arena.release(p);
}

/**
 * Rows [0, n) of u.src: rotated (OPQ), assigned to lists (into u.lists; zeros without a coarse
 * step), made residuals, and encoded into u.codes by `codec` (skipped when null).
 */
export function prepareRows(K: Kernels, memory: WebAssembly.Memory, plan: RowPlan, u: UnitRegions, n: number, codec: VectorCodec | null): number {
  const d = plan.d;
  if (n === 0) return 0;
  let x = u.src;
  if (plan.rotation) {
    const t: RotateTask = { op: 'rotate', r: plan.rotation, d, src: u.src, dst: u.work, q0: 0, q1: n, scratch: u.rotScratch };
    rotateRange(K, memory, t);
    x = u.work;
  }
  const c = plan.coarse;
  if (!c) new Int32Array(memory.buffer, u.lists, n).fill(0);
  else if (c.hnsw) {
    for (let i = 0; i < n; i++) hnswSearch(K, c.layout.metric, d, c.layout.vectors, c.hnsw, x + i * d * 4, 1, c.ef, u.heapsD, u.lists + i * 4, u.graphScratch);
  } else {
    new Int32Array(memory.buffer, u.sizes, n).fill(0);
    flatSearchRange(K, c.layout, { queries: x, queryNorms: u.norms, heapsD: u.heapsD, heapsI: u.lists, sizes: u.sizes, k: 1 }, 0, n, plan.batched);
  }
  if (!codec) return n;
  const buf = memory.buffer;
  if (plan.byResidual && c) {
    const lists = new Int32Array(buf, u.lists, n),
      cent = new Float32Array(buf, c.layout.vectors, c.layout.n * d);
    subtractCentroids(new Float32Array(buf, x, n * d), n, lists, cent, d, new Float32Array(buf, u.work, n * d));
    x = u.work;
  }
  codec.encode(new Float32Array(buf, x, n * d), n, new Uint8Array(buf, u.codes, n * codec.codeSize(d)));
  return n;
}

/** out = x − centroid of its list, for n rows (out may be x). */
export function subtractCentroids(x: Float32Array, n: number, lists: Int32Array, centroids: Float32Array, d: number, out: Float32Array = x): void {
  for (let i = 0; i < n; i++) {
    const l = lists[i]! * d;
    for (let j = 0; j < d; j++) out[i * d + j] = x[i * d + j]! - centroids[l + j]!;
  }
}

/** The flat coarse step batches when the call has enough rows (as a search does), the same for every unit. */
export function batchedFor(n: number): boolean {
  return n >= BATCH_MIN_QUERIES;
}

/** The codec a worker encodes with, rebuilt from its spec (the same code as the index's own). */
export function codecOf(d: number, spec: CodecSpec): VectorCodec {
  if (spec.name === 'f32') return new F32Codec(d);
  if (spec.name === 'fp16') return new FP16Codec(d);
  if (spec.name === 'sq8') {
    const c = new SQ8Codec(d);
    c.setRanges(spec.min, spec.diff);
    return c;
  }
  const c = new PQCodec(d, spec.m, spec.nbits);
  c.setCodebooks(spec.codebooks);
  return c;
}

/** Runs a PrepareTask (on a worker). */
export function prepareRange(K: Kernels, memory: WebAssembly.Memory, t: PrepareTask): number {
  return prepareRows(K, memory, t.plan, t.unit, t.n, t.codec ? codecOf(t.plan.d, t.codec) : null);
}

/** Where a call's lists and codes go: whole arrays for all its rows. */
export interface Prepared {
  lists: Int32Array;
  codes: Uint8Array;
}

function copyOut(memory: WebAssembly.Memory, u: UnitRegions, i0: number, cnt: number, cs: number, out: Prepared): void {
  const buf = memory.buffer;
  out.lists.set(new Int32Array(buf, u.lists, cnt), i0);
  if (cs) out.codes.set(new Uint8Array(buf, u.codes, cnt * cs), i0 * cs);
}

/** prepareRows over n rows of `vectors` on this thread, unit by unit. */
export function prepareHere(K: Kernels, arena: Arena, plan: RowPlan, vectors: Float32Array, n: number, codec: VectorCodec | null): Prepared {
  const d = plan.d,
    cs = codec ? codec.codeSize(d) : 0;
  const out: Prepared = { lists: new Int32Array(n), codes: new Uint8Array(n * cs) };
  if (n === 0) return out;
  const rows = fittedRows(arena, plan, n, cs);
  const u = allocUnit(arena, plan, rows, cs);
  try {
    for (let i0 = 0; i0 < n; i0 += rows) {
      const cnt = Math.min(rows, n - i0);
      arena.f32(u.src, cnt * d).set(vectors.subarray(i0 * d, (i0 + cnt) * d));
      prepareRows(K, arena.memory, plan, u, cnt, codec);
      copyOut(arena.memory, u, i0, cnt, cs, out);
    }
  } finally {
    releaseUnit(arena, u);
  }
  return out;
}

/**
 * The same on the worker pool: rounds of one unit per worker; the calling thread only copies
 * rows in and results out. Everything `plan` points at must stay in place until this settles.
 */
export async function prepareOnWorkers(
  arena: Arena,
  plan: RowPlan,
  vectors: Float32Array,
  n: number,
  codec: { spec: CodecSpec; codeSize: number } | null,
  threads: number,
): Promise<Prepared> {
  const d = plan.d,
    cs = codec ? codec.codeSize : 0;
  const out: Prepared = { lists: new Int32Array(n), codes: new Uint8Array(n * cs) };
  if (n === 0) return out;
  const width = Math.max(1, Math.min(threads, Math.ceil(n / Math.min(n, unitRows(d)))));
  const rows = fittedRows(arena, plan, n, cs, width);
  const units: UnitRegions[] = [];
  try {
    for (let w = 0; w < width; w++) units.push(allocUnit(arena, plan, rows, cs));
    for (let r0 = 0; r0 < n; r0 += rows * width) {
      const tasks: PrepareTask[] = [];
      for (let w = 0; w < width; w++) {
        const i0 = r0 + w * rows;
        if (i0 >= n) break;
        const cnt = Math.min(rows, n - i0);
        arena.f32(units[w]!.src, cnt * d).set(vectors.subarray(i0 * d, (i0 + cnt) * d));
        tasks.push({ op: 'prepare', plan, unit: units[w]!, n: cnt, codec: codec ? codec.spec : null });
      }
      await sharedPool().run(arena, tasks);
      tasks.forEach((t, w) => {
        copyOut(arena.memory, t.unit, r0 + w * rows, t.n, cs, out);
      });
    }
  } finally {
    for (const u of units) releaseUnit(arena, u);
  }
  return out;
}
