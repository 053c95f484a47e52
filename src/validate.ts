/**
 * Argument checks shared by the engine and the application layer, so a bad argument gets the
 * same error wherever it is caught: a NitamonoError naming the parameter, what was given, and
 * what is accepted. (Like sharp's lib/is.js.)
 */
import { invalid, NitamonoError } from './errors.js';
import type { Metric } from './search/types.js';

/** The most results one user-facing query may ask for (CLI, HTTP API). The engine itself has no limit. */
export const MAX_K = 1000;

/** Ids are stored as int32 and -1 pads results, so an id is an integer in [0, MAX_ID]. */
export const MAX_ID = 0x7fffffff;

/** The metrics every index supports. */
export const METRICS: readonly Metric[] = ['l2', 'ip'];

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : String(v));
const prefix = (what: string | undefined): string => (what ? `${what}: ` : '');

/** An integer in [min, max]; `name` is how the caller's user knows the parameter. */
export function checkInt(name: string, v: unknown, range: { min?: number; max?: number } = {}): number {
  const { min = -Infinity, max = Infinity } = range;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const want =
      min === 1 && max === Infinity ? 'a positive integer' : min === 0 && max === Infinity ? 'a non-negative integer' : `an integer from ${min} to ${max}`;
    throw invalid(`${name} must be ${want}, got ${show(v)}`);
  }
  return v;
}

export function checkPositiveInt(name: string, v: unknown): number {
  return checkInt(name, v, { min: 1 });
}

/** A vector dimension. `what` names the data it belongs to, as in checkVectors. */
export function checkDim(dim: unknown, what?: string): number {
  return checkPositiveInt(`${prefix(what)}dimension`, dim);
}

/** A result count: a positive integer, at most `max` when given (MAX_K for user-facing queries). */
export function checkK(k: unknown, options: { max?: number; name?: string } = {}): number {
  const name = options.name ?? 'k';
  return options.max === undefined ? checkPositiveInt(name, k) : checkInt(name, k, { min: 1, max: options.max });
}

export function checkOneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw invalid(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

/** 'l2' or 'ip'. Cosine similarity is 'ip' on L2-normalised vectors (see l2Normalize). */
export function checkMetric(v: unknown, name = 'metric'): Metric {
  if (v === 'cosine') {
    throw invalid(
      `${name} must be one of ${METRICS.map((m) => `'${m}'`).join(', ')}, got 'cosine' (for cosine similarity, l2Normalize the vectors and use 'ip')`,
    );
  }
  return checkOneOf(name, v, METRICS);
}

/**
 * Ids for `n` new rows: integers in [0, MAX_ID], distinct, and not already stored (`taken`).
 * Returns them as an Int32Array.
 */
export function checkIds(ids: ArrayLike<number>, n: number, taken: (id: number) => boolean = () => false): Int32Array {
  if (ids.length !== n) throw invalid(`got ${n} vectors but ${ids.length} ids`);
  const out = new Int32Array(n);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw invalid(`id ${id} at position ${i} is not an integer in [0, ${MAX_ID}]`);
    if (taken(id) || seen.has(id)) throw invalid(`id ${id} is already in the index`);
    seen.add(id);
    out[i] = id;
  }
  return out;
}

/**
 * Checks that `vectors` holds whole rows of `dim` floats, all finite, and returns the row count.
 *
 * Throws NitamonoError:
 * - 'INVALID_ARGUMENT' when `dim` is not a positive integer;
 * - 'DIMENSION_MISMATCH' when the length is not a multiple of `dim`;
 * - 'NOT_FINITE' naming the first row and column holding NaN or ±Infinity.
 *
 * One pass over the data with no allocation (`x - x` is 0 for finite x and NaN otherwise).
 */
export function checkVectors(vectors: Float32Array, dim: number, what = 'vectors'): number {
  checkDim(dim, what);
  const len = vectors.length;
  if (len % dim !== 0) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `${what}: length ${len} is not a multiple of the dimension ${dim} (${Math.floor(len / dim)} whole rows and ${len % dim} extra values)`,
    );
  }
  // Accumulating `x - x` and testing once per block keeps the inner loop branch-light; the
  // sum of zeros stays zero, while any NaN/±Inf poisons it.
  const BLOCK = 1024;
  for (let start = 0; start < len; start += BLOCK) {
    const end = Math.min(len, start + BLOCK);
    let acc = 0;
    for (let i = start; i < end; i++) {
      const x = vectors[i]!;
      acc += x - x;
    }
    if (acc !== 0) {
      for (let i = start; i < end; i++) {
        const x = vectors[i]!;
        if (x - x !== 0) {
          const row = Math.floor(i / dim);
          const col = i - row * dim;
          throw new NitamonoError('NOT_FINITE', `${what}: row ${row}, column ${col} is ${String(x)} (all values must be finite)`);
        }
      }
    }
  }
  return len / dim;
}
