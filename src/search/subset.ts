/**
 * Filtered (subset) search: `allowed` ids restrict a search to a subset S of an index, inside
 * the scan rather than by filtering a top-k afterwards (as Matsui's Rii does).
 *
 * The rule, per call (Rii measures a threshold |S| ≤ f(L) between a linear scan over S and an
 * inverted-file scan that skips rows outside S; we estimate the same two costs instead):
 * - exact kinds without lists (flat): scan only S's rows — |S|·d, exact, always;
 * - kinds with lists: the *subset scan* (every list, S's rows only: exact for IVF-Flat, the
 *   codes' estimate for the compressed kinds before re-ranking) when its cost |S|·d is no more
 *   than the unfiltered search's (queryCost: centroids + probed lists), else the *probed scan*
 *   (nprobe lists, their rows outside S skipped). A probed scan that finds fewer than
 *   min(k, |S|) rows for some query is redone as a subset scan, so a filtered search returns k
 *   results whenever S holds k.
 *
 * Rows are located through the index's id → row map and handed to the scan loops
 * (./scan.ts) as each part's increasing local rows (`allowed` in a layout).
 */
import { invalid } from '../errors.js';
import { MAX_ID } from '../validate.js';

/** Sorted, distinct ids from what a caller passed as `allowed` (an array or typed array of integers). */
export function parseAllowed(v: unknown): Int32Array | undefined {
  if (v === undefined) return undefined;
  // the caller's array itself when already strictly increasing (a filter's ids): no copy, and
  // the index remembers its rows by the array (./id-rows.ts)
  if (v instanceof Int32Array) return strictlyIncreasing(v) ? v : distinctSorted(v);
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw invalid(`allowed must be an array of ids, got ${typeof v}`);
  const a = v as ArrayLike<unknown>;
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const id = a[i];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID)
      throw invalid(`allowed ids must be integers in 0..${MAX_ID}, got ${String(id)}`);
    out[i] = id;
  }
  return distinctSorted(out);
}

function strictlyIncreasing(ids: Int32Array): boolean {
  for (let i = 1; i < ids.length; i++) if (ids[i - 1]! >= ids[i]!) return false;
  return ids.length === 0 || (ids[0]! >= 0 && ids[ids.length - 1]! <= MAX_ID);
}

function distinctSorted(ids: Int32Array): Int32Array {
  const s = ids.slice().sort();
  let m = 0;
  for (let i = 0; i < s.length; i++) if (i === 0 || s[i] !== s[m - 1]) s[m++] = s[i]!;
  return s.subarray(0, m);
}

/** True when scanning the subset's |S| rows (dimension d) costs no more than the unfiltered search (`probedCost` multiply-adds). */
export function preferSubsetScan(subsetRows: number, d: number, probedCost: number): boolean {
  return subsetRows * d <= probedCost;
}

/** True when some query found fewer than min(k, subset) rows: a probed scan missed S's rows in lists it did not probe. */
export function tooFewFound(labels: Int32Array, nq: number, k: number, subsetRows: number): boolean {
  const want = Math.min(k, subsetRows);
  for (let i = 0; i < nq; i++) if (want > 0 && labels[i * k + want - 1]! < 0) return true;
  return false;
}
