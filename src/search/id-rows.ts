/**
 * An index's id → row mapping. Beside the Map every index always had, a dense Int32Array
 * indexed by id while the ids stay compact (catalogue ids are 1, 2, 3 … with gaps where images
 * left): a filtered search maps its |S| ids to rows with typed-array reads instead of |S| Map
 * lookups, and the rows of an id list are remembered until the mapping changes, so repeated
 * searches in one folder (the same ids array, from the collection's filter cache) only compare
 * the ids with a copy instead of mapping and sorting them again.
 */

/** Dense slots allowed per stored id (beyond that, ids are too sparse and only the Map serves). */
const DENSE_SLOTS_PER_ID = 4;
/** Dense slots allowed whatever the count (64K ids, 256 KB). */
const DENSE_MIN_SLOTS = 1 << 16;

export class IdRows {
  private readonly map = new Map<number, number>();
  /** row + 1 per id (0: not stored), or null while ids are too sparse for it. */
  private dense: Int32Array | null = new Int32Array(1024);
  /** Bumped by every change: remembered row lists of an older version are recomputed. */
  private version = 0;
  /** By the caller's array, with a copy of what it held (a caller may refill its array between searches). */
  private readonly remembered = new WeakMap<Int32Array, { version: number; ids: Int32Array; rows: Int32Array }>();

  get size(): number {
    return this.map.size;
  }

  get(id: number): number | undefined {
    return this.map.get(id);
  }

  has(id: number): boolean {
    return this.map.has(id);
  }

  set(id: number, row: number): void {
    this.map.set(id, row);
    this.version++;
    let dense = this.dense;
    if (dense === null) return;
    if (id >= dense.length) {
      const want = Math.max(id + 1, dense.length * 2);
      if (want > Math.max(DENSE_MIN_SLOTS, DENSE_SLOTS_PER_ID * this.map.size)) {
        this.dense = null;
        return;
      }
      const grown = new Int32Array(want);
      grown.set(dense);
      this.dense = dense = grown;
    }
    dense[id] = row + 1;
  }

  /** Row r holds ids[r], for every r (rows moved: the mapping starts over). */
  reset(ids: Int32Array): void {
    this.map.clear();
    this.version++;
    let max = -1;
    for (let r = 0; r < ids.length; r++) if (ids[r]! > max) max = ids[r]!;
    this.dense = max < Math.max(DENSE_MIN_SLOTS, DENSE_SLOTS_PER_ID * ids.length) ? new Int32Array(Math.max(1024, max + 1)) : null;
    const dense = this.dense;
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      this.map.set(id, r);
      if (dense) dense[id] = r + 1;
    }
  }

  /**
   * The rows of the ids the index holds, increasing (ids it does not hold are ignored). The
   * answer is shared with later calls for the same array while the mapping is unchanged: callers
   * must not write to it.
   */
  allowedRows(ids: Int32Array): Int32Array {
    const known = this.remembered.get(ids);
    if (known?.version === this.version && sameIds(known.ids, ids)) return known.rows;
    const rows = new Int32Array(ids.length);
    let m = 0;
    const dense = this.dense;
    if (dense) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const r = id >= 0 && id < dense.length ? dense[id]! : 0;
        if (r !== 0) rows[m++] = r - 1;
      }
    } else {
      for (let i = 0; i < ids.length; i++) {
        const r = this.map.get(ids[i]!);
        if (r !== undefined) rows[m++] = r;
      }
    }
    const out = rows.subarray(0, m);
    // rows usually follow the ids (a flat index fed in catalogue order): sort only when they do not
    let sorted = true;
    for (let i = 1; i < m && sorted; i++) sorted = out[i - 1]! < out[i]!;
    if (!sorted) out.sort();
    this.remembered.set(ids, { version: this.version, ids: ids.slice(), rows: out });
    return out;
  }
}

function sameIds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
