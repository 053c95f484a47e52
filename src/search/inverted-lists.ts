/**
 * The inverted lists of an inverted file (Faiss's InvertedLists): for each of nlist lists, the
 * codes of its vectors and their ids. Here all lists share two contiguous arena regions, rows
 * grouped by list, with list l at rows offsets[l] .. offsets[l+1] — one scan per probed list,
 * and worker threads read it all in place.
 *
 * Regions are replaced, never changed in place: a search or save in flight keeps reading the
 * regions it was given until it ends, and the old ones are released after (`releaseLater`).
 */

import { NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import { checkPositiveInt } from '../validate.js';
import type { ListStats } from './types.js';

/** Sizes of the lists summarised: how even the split is, which is what IVF search time depends on. */
export function listStats(sizes: ArrayLike<number>): ListStats {
  const k = sizes.length;
  let min = Infinity,
    max = 0,
    empty = 0,
    n = 0,
    sq = 0;
  for (let l = 0; l < k; l++) {
    const v = sizes[l]!;
    min = Math.min(min, v);
    max = Math.max(max, v);
    if (v === 0) empty++;
    n += v;
    sq += v * v;
  }
  return {
    nlist: k,
    min: k ? min : 0,
    max,
    mean: k ? n / k : 0,
    empty,
    expectedScanPerProbe: n ? sq / n : 0,
    imbalance: n ? (sq * k) / (n * n) : 0,
  };
}

export class InvertedLists {
  /** Rows in all lists. */
  n = 0;
  /** n codes of codeSize bytes, grouped by list */
  codes = 0;
  /** i32 n: the id of each row */
  ids = 0;
  /** i32 nlist+1: where each list starts */
  offsets: number;

  constructor(
    private readonly arena: Arena,
    readonly nlist: number,
    readonly codeSize: number,
    private readonly releaseLater: (ptr: number) => void,
  ) {
    checkPositiveInt('nlist', nlist);
    checkPositiveInt('code size', codeSize);
    this.offsets = arena.alloc((nlist + 1) * 4);
  }

  get memoryBytes(): number {
    return this.n * (this.codeSize + 4) + (this.nlist + 1) * 4;
  }

  offsetsView(): Int32Array {
    return this.arena.i32(this.offsets, this.nlist + 1);
  }
  idsView(): Int32Array {
    return this.arena.i32(this.ids, this.n);
  }
  codesView(): Uint8Array {
    return new Uint8Array(this.arena.memory.buffer, this.codes, this.n * this.codeSize);
  }
  /** The code of row r (a view). */
  code(r: number): Uint8Array {
    return new Uint8Array(this.arena.memory.buffer, this.codes + r * this.codeSize, this.codeSize);
  }

  sizes(): Int32Array {
    const o = this.offsetsView(),
      out = new Int32Array(this.nlist);
    for (let l = 0; l < this.nlist; l++) out[l] = o[l + 1]! - o[l]!;
    return out;
  }

  stats(): ListStats {
    return listStats(this.sizes());
  }

  /**
   * Appends m rows (`codes` m×codeSize, their ids, and the list of each). Within a list the
   * rows already there come first, then the new ones in the order given.
   */
  add(codes: Uint8Array, ids: Int32Array, lists: Int32Array): void {
    const m = ids.length,
      cs = this.codeSize,
      nlist = this.nlist;
    if (lists.length !== m || codes.length < m * cs) {
      throw new NitamonoError('INVALID_ARGUMENT', `inverted lists: ${m} ids need ${m} lists and ${m * cs} code bytes`);
    }
    if (m === 0) return;
    // counting sort: the old rows of list l, then the new rows of list l
    const oldOff = this.offsetsView().slice();
    const newOff = new Int32Array(nlist + 1);
    for (let i = 0; i < m; i++) {
      const l = lists[i]!;
      if (!(l >= 0 && l < nlist)) throw new NitamonoError('INVALID_ARGUMENT', `inverted lists: list ${l} of row ${i} is not in [0, ${nlist})`);
      newOff[l + 1]!++;
    }
    for (let l = 0; l < nlist; l++) newOff[l + 1]! += newOff[l]! + (oldOff[l + 1]! - oldOff[l]!);
    const oldCodes = this.codesView(),
      oldIds = this.idsView();
    this.replace(this.n + m, newOff, (c, idv) => {
      const cursor = new Int32Array(nlist);
      for (let l = 0; l < nlist; l++) {
        const a = oldOff[l]!,
          b = oldOff[l + 1]!,
          dst = newOff[l]!;
        c.set(oldCodes.subarray(a * cs, b * cs), dst * cs);
        idv.set(oldIds.subarray(a, b), dst);
        cursor[l] = dst + (b - a);
      }
      for (let i = 0; i < m; i++) {
        const r = cursor[lists[i]!]!++;
        c.set(codes.subarray(i * cs, (i + 1) * cs), r * cs);
        idv[r] = ids[i]!;
      }
    });
  }

  /** Removes the given rows; the others keep their order, so lists stay grouped. Returns how many went. */
  remove(rows: ReadonlySet<number>): number {
    let removed = 0;
    for (const r of rows) if (Number.isInteger(r) && r >= 0 && r < this.n) removed++;
    if (removed === 0) return 0;
    const keep = new Int32Array(this.n - removed);
    let j = 0;
    for (let r = 0; r < this.n; r++) if (!rows.has(r)) keep[j++] = r;
    this.compact(keep);
    return removed;
  }

  /** Keeps only rows `keep` (increasing row numbers), packed; each list's end is recounted. */
  compact(keep: Int32Array): void {
    const off = this.offsetsView(),
      cs = this.codeSize,
      nlist = this.nlist;
    const newOff = new Int32Array(nlist + 1);
    let l = 0,
      prev = -1;
    for (let i = 0; i < keep.length; i++) {
      const r = keep[i]!;
      if (!(r > prev && r < this.n)) throw new NitamonoError('INVALID_ARGUMENT', 'inverted lists: rows to keep must be increasing row numbers');
      prev = r;
      while (r >= off[l + 1]!) l++;
      newOff[l + 1]!++;
    }
    for (let j = 0; j < nlist; j++) newOff[j + 1]! += newOff[j]!;
    const oldCodes = this.codesView(),
      oldIds = this.idsView();
    this.replace(keep.length, newOff, (c, idv) => {
      for (let i = 0; i < keep.length; i++) {
        const r = keep[i]!;
        c.set(oldCodes.subarray(r * cs, (r + 1) * cs), i * cs);
        idv[i] = oldIds[r]!;
      }
    });
  }

  /** Takes rows already grouped by list, as an index file stores them. */
  load(codes: Uint8Array, ids: Int32Array, offsets: Int32Array): void {
    const n = ids.length,
      nlist = this.nlist;
    if (offsets.length !== nlist + 1 || offsets[0] !== 0 || offsets[nlist] !== n || codes.length !== n * this.codeSize) {
      throw new NitamonoError('INVALID_ARGUMENT', 'inverted lists: offsets, ids and codes do not agree');
    }
    for (let l = 0; l < nlist; l++) {
      if (offsets[l]! > offsets[l + 1]!) throw new NitamonoError('INVALID_ARGUMENT', 'inverted lists: offsets decrease');
    }
    this.replace(n, offsets, (c, idv) => {
      c.set(codes);
      idv.set(ids);
    });
  }

  /** Frees the regions (once no search reads them). */
  dispose(): void {
    for (const p of [this.codes, this.ids, this.offsets]) if (p) this.releaseLater(p);
    this.codes = this.ids = this.offsets = 0;
    this.n = 0;
  }

  /** Moves to fresh regions of n rows that `fill` writes, with these list offsets. */
  private replace(n: number, offsets: Int32Array, fill: (codes: Uint8Array, ids: Int32Array) => void): void {
    const a = this.arena;
    const codes = a.alloc(Math.max(1, n * this.codeSize));
    const ids = a.alloc(Math.max(1, n) * 4);
    const off = a.alloc((this.nlist + 1) * 4);
    fill(new Uint8Array(a.memory.buffer, codes, n * this.codeSize), a.i32(ids, n));
    a.i32(off, this.nlist + 1).set(offsets);
    for (const p of [this.codes, this.ids, this.offsets]) if (p) this.releaseLater(p);
    this.codes = codes;
    this.ids = ids;
    this.offsets = off;
    this.n = n;
  }
}
