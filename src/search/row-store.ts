/**
 * The rows of an exact index in its arena: vectors, their squared norms (for the blocked
 * ‖q‖²+‖x‖²−2⟨q,x⟩ kernel) and ids, each contiguous. Regions are reallocated, never resized
 * in place, and old ones released through `releaseLater` once no search or save in flight
 * reads them. Rows 0..n never change in place (a save streams them from here); only the spare
 * capacity past n is written into.
 */
import type { Arena } from '../kernels/arena.js';
import type { Kernels } from '../kernels/types.js';

export class RowStore {
  n = 0;
  cap = 0;
  vectors = 0;
  norms = 0;
  ids = 0;

  constructor(
    private readonly arena: Arena,
    private readonly K: Kernels,
    readonly d: number,
    private readonly releaseLater: (ptr: number) => void,
    /** Most rows this store grows to (its part's size). */
    readonly maxRows: number = Number.MAX_SAFE_INTEGER,
  ) {}

  /** Bytes of the rows held (vectors, norms, ids). */
  get bytes(): number {
    return this.n * (this.d + 2) * 4;
  }

  idsView(): Int32Array {
    return this.arena.i32(this.ids, this.n);
  }
  vectorsView(): Float32Array {
    return this.arena.f32(this.vectors, this.n * this.d);
  }

  /**
   * Appends rows, growing by 1.5× so a stream of small adds stays amortised O(rows). Writing
   * into the current regions is safe while a save reads them: it only touches rows past n.
   */
  append(data: Float32Array, ids: Int32Array): void {
    const m = ids.length,
      need = this.n + m;
    if (need > this.cap) this.realloc(this.n === 0 ? need : Math.min(Math.max(this.maxRows, need), Math.max(need, Math.ceil(this.cap * 1.5))));
    this.arena.f32(this.vectors + this.n * this.d * 4, m * this.d).set(data);
    this.arena.i32(this.ids + this.n * 4, m).set(ids);
    this.K.norms(this.vectors + this.n * this.d * 4, m, this.d, this.norms + this.n * 4);
    this.n = need;
  }

  /**
   * Replaces all rows by `n` rows that `fill` writes into fresh regions (compaction after
   * removals, loading a file). Old regions are released once no search reads them.
   */
  rebuild(n: number, fill: (vectors: Float32Array, ids: Int32Array) => void): void {
    const old = [this.vectors, this.norms, this.ids];
    const vectors = this.arena.alloc(Math.max(1, n) * this.d * 4);
    const norms = this.arena.alloc(Math.max(1, n) * 4);
    const ids = this.arena.alloc(Math.max(1, n) * 4);
    fill(this.arena.f32(vectors, n * this.d), this.arena.i32(ids, n));
    this.K.norms(vectors, n, this.d, norms);
    for (const p of old) if (p) this.releaseLater(p);
    Object.assign(this, { vectors, norms, ids, n, cap: n });
  }

  /** Keeps rows `keep` (in that order). */
  keep(keep: Int32Array): void {
    const d = this.d,
      src = this.vectorsView(),
      srcIds = this.idsView();
    this.rebuild(keep.length, (vectors, ids) => {
      for (let i = 0; i < keep.length; i++) {
        const r = keep[i]!;
        vectors.set(src.subarray(r * d, (r + 1) * d), i * d);
        ids[i] = srcIds[r]!;
      }
    });
  }

  /** Frees the regions (once no search or save reads them). */
  dispose(): void {
    for (const p of [this.vectors, this.norms, this.ids]) if (p) this.releaseLater(p);
    Object.assign(this, { vectors: 0, norms: 0, ids: 0, n: 0, cap: 0 });
  }

  private realloc(cap: number): void {
    const n = this.n,
      d = this.d;
    const vectors = this.arena.alloc(cap * d * 4);
    const norms = this.arena.alloc(cap * 4);
    const ids = this.arena.alloc(cap * 4);
    if (n > 0) {
      this.arena.f32(vectors, n * d).set(this.arena.f32(this.vectors, n * d));
      this.arena.f32(norms, n).set(this.arena.f32(this.norms, n));
      this.arena.i32(ids, n).set(this.arena.i32(this.ids, n));
    }
    for (const p of [this.vectors, this.norms, this.ids]) if (p) this.releaseLater(p);
    Object.assign(this, { vectors, norms, ids, cap });
  }
}
