/**
 * An index's rows as a sequence of parts spread over its arenas (./arenas.ts). Part p holds
 * rows starts[p] .. starts[p+1] of the index's row order; rows are appended to the last part
 * (the open one) until it holds rowsPerPart rows, then a new part is opened, in the last arena
 * while it has room, else in a new arena. Removals compact each part in place of itself; a
 * part left empty is dropped.
 *
 * RowParts: float32 rows with norms (FlatIndex), appended in place into spare capacity.
 * ListParts: codes grouped by list (every inverted-file kind, and the flat compressed kinds as
 * one list): each part is an InvertedLists over all nlist lists, so a list's rows are its rows
 * in part 0, then in part 1, … — the order a single InvertedLists would keep (old rows first,
 * then new ones in the order given).
 */
import type { ArenaSet, ArenaSlot } from './arenas.js';
import { InvertedLists } from './inverted-lists.js';
import { RowStore } from './row-store.js';

/** Frees a region of a slot's arena once nothing in flight reads it. */
export type ReleaseIn = (slot: ArenaSlot, ptr: number) => void;

export interface Part<S> {
  readonly slot: ArenaSlot;
  readonly store: S;
}

interface Store {
  n: number;
  dispose(): void;
}

abstract class Parts<S extends Store> {
  parts: Part<S>[] = [];
  /** First row of each part, and the total at the end. */
  private starts: number[] = [0];

  protected constructor(
    protected readonly arenas: ArenaSet,
    protected readonly releaseIn: ReleaseIn,
    /** Rows a part holds at most. */
    readonly rowsPerPart: number,
  ) {}

  /** Rows in all parts. */
  get n(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /** The first row of each part. */
  partStarts(): readonly number[] {
    return this.starts;
  }

  /** The part holding row r and r's row in it. */
  locate(r: number): [Part<S>, number] {
    let lo = 0,
      hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= r) lo = mid;
      else hi = mid - 1;
    }
    return [this.parts[lo]!, r - this.starts[lo]!];
  }

  /** The parts in `slot`, in order. */
  partsIn(slot: ArenaSlot): Part<S>[] {
    return this.parts.filter((p) => p.slot === slot);
  }

  /** The slots holding at least one part, in order. */
  slotsInUse(): ArenaSlot[] {
    const out: ArenaSlot[] = [];
    for (const p of this.parts) if (!out.includes(p.slot)) out.push(p.slot);
    return out;
  }

  /** Increasing rows of the whole sequence as each part's local rows (parts holding none are absent); views of `rows` where they coincide, not to be written. */
  split(rows: Int32Array): Map<Part<S>, Int32Array> {
    const out = new Map<Part<S>, Int32Array>();
    let j = 0;
    this.parts.forEach((p, i) => {
      const a = this.starts[i]!,
        b = this.starts[i + 1]!;
      let e = j;
      while (e < rows.length && rows[e]! < b) e++;
      if (e > j) out.set(p, a === 0 ? rows.subarray(j, e) : rows.subarray(j, e).map((r) => r - a));
      j = e;
    });
    return out;
  }

  /** The ids of every row, in row order (a copy). */
  ids(): Int32Array {
    const out = new Int32Array(this.n);
    this.parts.forEach((p, i) => {
      out.set(this.idsOf(p.store), this.starts[i]!);
    });
    return out;
  }

  /** Keeps rows `keep` (increasing row numbers of the whole sequence); parts left empty are dropped. */
  keepRows(keep: Int32Array): void {
    const next: Part<S>[] = [];
    let j = 0;
    this.parts.forEach((p, i) => {
      const a = this.starts[i]!,
        b = this.starts[i + 1]!;
      let e = j;
      while (e < keep.length && keep[e]! < b) e++;
      const local = keep.subarray(j, e).map((r) => r - a);
      j = e;
      if (local.length === p.store.n) next.push(p);
      else if (local.length === 0) p.store.dispose();
      else {
        this.keepLocal(p.store, local);
        next.push(p);
      }
    });
    this.parts = next;
    this.recount();
  }

  /** Frees every part. */
  dispose(): void {
    for (const p of this.parts) p.store.dispose();
    this.parts = [];
    this.recount();
  }

  protected abstract make(slot: ArenaSlot): S;
  protected abstract idsOf(store: S): Int32Array;
  protected abstract keepLocal(store: S, local: Int32Array): void;

  /** The open part when it has room, else a new one. */
  protected open(): Part<S> {
    const last = this.parts[this.parts.length - 1];
    if (last && last.store.n < this.rowsPerPart) return last;
    const slot = this.arenas.placePart();
    const part = { slot, store: this.make(slot) };
    this.parts.push(part);
    return part;
  }

  protected recount(): void {
    this.starts = [0];
    for (const p of this.parts) this.starts.push(this.starts[this.starts.length - 1]! + p.store.n);
  }
}

/** Float32 rows, their squared norms and ids (FlatIndex). */
export class RowParts extends Parts<RowStore> {
  constructor(
    arenas: ArenaSet,
    readonly d: number,
    releaseIn: ReleaseIn,
  ) {
    super(arenas, releaseIn, Math.max(1, Math.floor(arenas.limits.partBytes / ((d + 2) * 4))));
  }

  protected make(slot: ArenaSlot): RowStore {
    return new RowStore(slot.arena, slot.K, this.d, (p) => this.releaseIn(slot, p), this.rowsPerPart);
  }
  protected idsOf(store: RowStore): Int32Array {
    return store.idsView();
  }
  protected keepLocal(store: RowStore, local: Int32Array): void {
    store.keep(local);
  }

  /** Appends rows, filling the open part before opening the next. */
  append(data: Float32Array, ids: Int32Array): void {
    const d = this.d,
      m = ids.length;
    for (let i = 0; i < m; ) {
      const part = this.open();
      const take = Math.min(m - i, this.rowsPerPart - part.store.n);
      part.store.append(data.subarray(i * d, (i + take) * d), ids.subarray(i, i + take));
      i += take;
      this.recount();
    }
  }

  /** The vector of row r (a view of its arena). */
  row(r: number): Float32Array {
    const [p, local] = this.locate(r);
    return p.slot.arena.f32(p.store.vectors + local * this.d * 4, this.d);
  }

  get bytes(): number {
    return this.n * (this.d + 2) * 4;
  }
}

/** Codes grouped by list, with their ids (every inverted file; one list for the flat compressed kinds). */
export class ListParts extends Parts<InvertedLists> {
  constructor(
    arenas: ArenaSet,
    readonly nlist: number,
    readonly codeSize: number,
    releaseIn: ReleaseIn,
  ) {
    super(arenas, releaseIn, Math.max(1, Math.floor(arenas.limits.partBytes / (codeSize + 4))));
  }

  protected make(slot: ArenaSlot): InvertedLists {
    return new InvertedLists(slot.arena, this.nlist, this.codeSize, (p) => this.releaseIn(slot, p));
  }
  protected idsOf(store: InvertedLists): Int32Array {
    return store.idsView();
  }
  protected keepLocal(store: InvertedLists, local: Int32Array): void {
    store.compact(local);
  }

  /** RAM of the codes, ids and each part's list offsets. */
  get memoryBytes(): number {
    return this.parts.reduce((a, p) => a + p.store.memoryBytes, 0);
  }

  /** Appends m rows (codes m×codeSize, ids, the list of each), filling the open part first. */
  add(codes: Uint8Array, ids: Int32Array, lists: Int32Array): void {
    const m = ids.length,
      cs = this.codeSize;
    for (let i = 0; i < m; ) {
      const part = this.open();
      const take = Math.min(m - i, this.rowsPerPart - part.store.n);
      part.store.add(codes.subarray(i * cs, (i + take) * cs), ids.subarray(i, i + take), lists.subarray(i, i + take));
      i += take;
      this.recount();
    }
  }

  /**
   * Takes rows grouped by list (`offsets`: nlist+1, as an index file stores one part) after the
   * rows already held, cut into parts of at most rowsPerPart rows (each still grouped by list).
   */
  load(codes: Uint8Array, ids: Int32Array, offsets: Int32Array): void {
    const n = ids.length,
      cs = this.codeSize,
      nlist = this.nlist;
    for (let r0 = 0; r0 < n; r0 += this.rowsPerPart) {
      const r1 = Math.min(n, r0 + this.rowsPerPart);
      const local = new Int32Array(nlist + 1);
      for (let l = 0; l <= nlist; l++) local[l] = Math.min(r1, Math.max(r0, offsets[l]!)) - r0;
      const slot = this.arenas.placePart();
      const part = { slot, store: this.make(slot) };
      part.store.load(codes.subarray(r0 * cs, r1 * cs), ids.subarray(r0, r1), local);
      this.parts.push(part);
    }
    this.recount();
  }

  /** Removes the given rows (of the whole sequence); returns how many went. */
  remove(rows: ReadonlySet<number>): number {
    let removed = 0;
    for (const r of rows) if (Number.isInteger(r) && r >= 0 && r < this.n) removed++;
    if (removed === 0) return 0;
    const keep = new Int32Array(this.n - removed);
    let j = 0;
    for (let r = 0; r < this.n; r++) if (!rows.has(r)) keep[j++] = r;
    this.keepRows(keep);
    return removed;
  }

  /** Sizes of the nlist lists over all parts. */
  sizes(): Int32Array {
    const out = new Int32Array(this.nlist);
    for (const p of this.parts) {
      const s = p.store.sizes();
      for (let l = 0; l < this.nlist; l++) out[l]! += s[l]!;
    }
    return out;
  }

  /** The code of row r (a view) and the list it is in. */
  code(r: number): { code: Uint8Array; list: number } {
    const [p, local] = this.locate(r);
    const off = p.store.offsetsView();
    let lo = 0,
      hi = this.nlist - 1;
    // the list whose rows contain r: the last l with off[l] ≤ r (skipping empty lists)
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (off[mid]! <= local) lo = mid;
      else hi = mid - 1;
    }
    return { code: p.store.code(local), list: lo };
  }
}
