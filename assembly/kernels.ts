// WASM SIMD kernels for nitamono. Compiled by scripts/build-wasm.mjs with AssemblyScript
// (--runtime stub, imported shared memory, SIMD enabled, -O3 --noAssert).
//
// The semantics are exactly those of src/kernels/reference.ts (see src/kernels/types.ts):
// pointers are byte offsets into the imported memory, scores are "smaller is better"
// (squared L2, or the negated inner product), and a top-k heap is a binary max-heap on
// (score, label) held in two arrays (f32 scores, i32 labels) of capacity k.
//
// Nothing here allocates, and there is no static data: the module's own footprint in memory
// is nil, well inside the 64 KiB the arena reserves for it.

const METRIC_L2: i32 = 0;

// Row block of batch_topk: this many bytes of rows stay hot (L2) while every query tile
// passes over them.
const ROW_BLOCK_BYTES: i32 = 96 * 1024;

// ---------------------------------------------------------------------------------------------
// Heap

/**
 * Pushes (score, label) into the max-heap at hd/hi of capacity k currently holding `size`
 * entries; returns the new size. A full heap takes the candidate only when
 * (score, label) < (root score, root label); the root is replaced and sifted down past every
 * larger child.
 */
// @ts-ignore: decorator
@inline
function heapPush(hd: usize, hi: usize, k: i32, size: i32, score: f32, label: i32): i32 {
  if (size < k) {
    // sift up
    let i = size;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = load<f32>(hd + (<usize>p << 2));
      const pl = load<i32>(hi + (<usize>p << 2));
      if (ps > score || (ps == score && pl > label)) break;
      store<f32>(hd + (<usize>i << 2), ps);
      store<i32>(hi + (<usize>i << 2), pl);
      i = p;
    }
    store<f32>(hd + (<usize>i << 2), score);
    store<i32>(hi + (<usize>i << 2), label);
    return size + 1;
  }
  const ts = load<f32>(hd);
  if (score > ts || (score == ts && label >= load<i32>(hi))) return size;
  // replace the root and sift down
  let i = 0;
  while (true) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    let c = l;
    if (r < size) {
      const ls = load<f32>(hd + (<usize>l << 2));
      const rs = load<f32>(hd + (<usize>r << 2));
      if (rs > ls || (rs == ls && load<i32>(hi + (<usize>r << 2)) > load<i32>(hi + (<usize>l << 2)))) c = r;
    }
    const cs = load<f32>(hd + (<usize>c << 2));
    const cl = load<i32>(hi + (<usize>c << 2));
    if (cs > score || (cs == score && cl > label)) {
      store<f32>(hd + (<usize>i << 2), cs);
      store<i32>(hi + (<usize>i << 2), cl);
      i = c;
    } else break;
  }
  store<f32>(hd + (<usize>i << 2), score);
  store<i32>(hi + (<usize>i << 2), label);
  return size;
}

/**
 * Horizontal sum as (l0 + l2) + (l1 + l3): the order hsum4 uses, so a dot product reduced by
 * either gives the same bits.
 */
// @ts-ignore: decorator
@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 2)) +
         (f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 3));
}

/** [hsum(a), hsum(b), hsum(c), hsum(d)] with six shuffles and three adds. */
// @ts-ignore: decorator
@inline
function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  // [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  // [(a0+a2)+(a1+a3), (b0+b2)+(b1+b3), (c0+c2)+(c1+c3), (d0+d2)+(d1+d3)]
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// Kept out of line: it runs rarely (only for candidates that beat the heap's root) and
// keeping it out of the hot loops keeps their register allocation clean.
function push(hd: usize, hi: usize, k: i32, size: i32, score: f32, label: i32): i32 {
  // Labels become ids here, off the hot path, so ties break on the caller's id whatever order
  // the rows are stored in (an inverted file groups them by list).
  const l = labelMap ? load<i32>(labelMap + (<usize>label << 2)) : label;
  if (resCap != 0) return reservoirPush(hd, hi, k, score, l);
  return heapPush(hd, hi, k, size, score, l);
}

// ---------------------------------------------------------------------------------------------
// Reservoir (Faiss's ReservoirTopN): for a large k, a heap's sift costs log k per accepted
// candidate, and a scan of a few thousand codes accepts k·ln(n/k) of them. Between
// reservoir_begin and reservoir_end, push appends to a buffer of `cap` (> k) entries instead;
// when it fills, one selection keeps the k best and their worst becomes the threshold. The
// scans need no change: push mirrors the threshold into the heap's root slot (hd[0], hi[0]) and
// reports a full heap once a threshold exists, which is exactly what their root checks read.

let resCap: i32 = 0;
let resCount: i32 = 0;
let resD: usize = 0;
let resI: usize = 0;
let resFull: bool = false;
let resThrS: f32 = Infinity;
let resThrL: i32 = 0;

/** Starts a reservoir of cap entries (f32 scores at bufD, i32 labels at bufI) for the next scans' pushes. */
export function reservoir_begin(bufD: usize, bufI: usize, cap: i32): void {
  resCap = cap;
  resD = bufD;
  resI = bufI;
  resCount = 0;
  resFull = false;
  resThrS = Infinity;
  resThrL = 0;
}

// @ts-ignore: decorator
@inline
function pairLess(d: usize, l: usize, i: i32, s: f32, lab: i32): bool {
  const x = load<f32>(d + (<usize>i << 2));
  return x < s || (x == s && load<i32>(l + (<usize>i << 2)) < lab);
}

// @ts-ignore: decorator
@inline
function pairSwap(d: usize, l: usize, i: i32, j: i32): void {
  const pi = <usize>i << 2, pj = <usize>j << 2;
  const s = load<f32>(d + pi), t = load<i32>(l + pi);
  store<f32>(d + pi, load<f32>(d + pj));
  store<i32>(l + pi, load<i32>(l + pj));
  store<f32>(d + pj, s);
  store<i32>(l + pj, t);
}

/** Reorders the n pairs at d/l so that the k best by (score, label) come first, the k-th of them at k − 1 (quickselect). */
function selectBest(d: usize, l: usize, n: i32, k: i32): void {
  let lo = 0, hi = n - 1;
  const want = k - 1;
  while (hi > lo) {
    // median of three as the pivot: sorted inputs (lists often are, by distance) stay linear
    const mid = lo + ((hi - lo) >> 1);
    if (pairLess(d, l, mid, load<f32>(d + (<usize>lo << 2)), load<i32>(l + (<usize>lo << 2)))) pairSwap(d, l, lo, mid);
    if (pairLess(d, l, hi, load<f32>(d + (<usize>lo << 2)), load<i32>(l + (<usize>lo << 2)))) pairSwap(d, l, lo, hi);
    if (pairLess(d, l, hi, load<f32>(d + (<usize>mid << 2)), load<i32>(l + (<usize>mid << 2)))) pairSwap(d, l, mid, hi);
    const ps = load<f32>(d + (<usize>mid << 2)), pl = load<i32>(l + (<usize>mid << 2));
    let i = lo, j = hi;
    while (i <= j) {
      while (pairLess(d, l, i, ps, pl)) i++;
      // j's pair above the pivot: (ps, pl) < (d[j], l[j])
      while (true) {
        const x = load<f32>(d + (<usize>j << 2));
        if (!(ps < x || (ps == x && pl < load<i32>(l + (<usize>j << 2))))) break;
        j--;
      }
      if (i <= j) {
        pairSwap(d, l, i, j);
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else break;
  }
}

function reservoirPush(hd: usize, hi: usize, k: i32, score: f32, label: i32): i32 {
  if (score > resThrS || (score == resThrS && label >= resThrL)) return k;
  store<f32>(resD + (<usize>resCount << 2), score);
  store<i32>(resI + (<usize>resCount << 2), label);
  resCount++;
  if (resCount >= resCap) {
    selectBest(resD, resI, resCount, k);
    resCount = k;
    resThrS = load<f32>(resD + (<usize>(k - 1) << 2));
    resThrL = load<i32>(resI + (<usize>(k - 1) << 2));
    resFull = true;
    store<f32>(hd, resThrS);
    store<i32>(hi, resThrL);
  }
  // below k the scans keep their root at +∞ and push everything
  return resFull ? k : min(resCount, k - 1);
}

/**
 * Ends the reservoir: writes its best min(k, count) pairs to heapD/heapI in increasing
 * (score, label) order — sorted, the final answer for this query, no longer a heap — and
 * returns how many. Pushes after it go to heaps again.
 */
export function reservoir_end(heapD: usize, heapI: usize, k: i32): i32 {
  let n = resCount;
  if (n > k) {
    selectBest(resD, resI, n, k);
    n = k;
  }
  resCap = 0;
  memory.copy(heapD, resD, <usize>n << 2);
  memory.copy(heapI, resI, <usize>n << 2);
  sortPairs(heapD, heapI, n);
  return n;
}

/** Sorts n pairs at d/l by increasing (score, label): heapsort, in place. */
function sortPairs(d: usize, l: usize, n: i32): void {
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(d, l, i, n);
  for (let end = n - 1; end > 0; end--) {
    pairSwap(d, l, 0, end);
    siftDown(d, l, 0, end);
  }
}

/** Max-heap sift-down of the pair at i among the first n. */
// @ts-ignore: decorator
@inline
function siftDown(d: usize, l: usize, i: i32, n: i32): void {
  const s = load<f32>(d + (<usize>i << 2)), lab = load<i32>(l + (<usize>i << 2));
  while (true) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && pairLess(d, l, c, load<f32>(d + (<usize>(c + 1) << 2)), load<i32>(l + (<usize>(c + 1) << 2)))) c++;
    const cs = load<f32>(d + (<usize>c << 2)), cl = load<i32>(l + (<usize>c << 2));
    if (!(s < cs || (s == cs && lab < cl))) break;
    store<f32>(d + (<usize>i << 2), cs);
    store<i32>(l + (<usize>i << 2), cl);
    i = c;
  }
  store<f32>(d + (<usize>i << 2), s);
  store<i32>(l + (<usize>i << 2), lab);
}

/** 0: a row's label is its row number; else the address of an i32 label per row. */
let labelMap: usize = 0;

export function set_label_map(ptr: usize): void {
  labelMap = ptr;
}

// ---------------------------------------------------------------------------------------------
// Single-query scan (direct formula)

// @ts-ignore: decorator
@inline
function l2Row(q: usize, x: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const end16 = q + (<usize>(d & ~15) << 2);
  const end4 = q + (<usize>(d & ~3) << 2);
  const end = q + (<usize>d << 2);
  let qp = q, xp = x;
  while (qp < end16) {
    const t0 = f32x4.sub(v128.load(qp), v128.load(xp));
    const t1 = f32x4.sub(v128.load(qp, 16), v128.load(xp, 16));
    const t2 = f32x4.sub(v128.load(qp, 32), v128.load(xp, 32));
    const t3 = f32x4.sub(v128.load(qp, 48), v128.load(xp, 48));
    a0 = f32x4.add(a0, f32x4.mul(t0, t0));
    a1 = f32x4.add(a1, f32x4.mul(t1, t1));
    a2 = f32x4.add(a2, f32x4.mul(t2, t2));
    a3 = f32x4.add(a3, f32x4.mul(t3, t3));
    qp += 64; xp += 64;
  }
  while (qp < end4) {
    const t = f32x4.sub(v128.load(qp), v128.load(xp));
    a0 = f32x4.add(a0, f32x4.mul(t, t));
    qp += 16; xp += 16;
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  while (qp < end) {
    const t = load<f32>(qp) - load<f32>(xp);
    s += t * t;
    qp += 4; xp += 4;
  }
  return s;
}

// @ts-ignore: decorator
@inline
function dotRow(q: usize, x: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const end16 = q + (<usize>(d & ~15) << 2);
  const end4 = q + (<usize>(d & ~3) << 2);
  const end = q + (<usize>d << 2);
  let qp = q, xp = x;
  while (qp < end16) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(qp), v128.load(xp)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(qp, 16), v128.load(xp, 16)));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(qp, 32), v128.load(xp, 32)));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(qp, 48), v128.load(xp, 48)));
    qp += 64; xp += 64;
  }
  while (qp < end4) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(qp), v128.load(xp)));
    qp += 16; xp += 16;
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  while (qp < end) {
    s += load<f32>(qp) * load<f32>(xp);
    qp += 4; xp += 4;
  }
  return s;
}

/**
 * Scans n rows at `base` (d floats each) against the query at `q`, pushing
 * (score, rowOffset + r) into the heap holding `size` entries; returns the new size.
 */
export function scan_topk(metric: i32, q: usize, base: usize, n: i32, d: i32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  const rowBytes = <usize>d << 2;
  // While the heap is not full every row enters; +inf makes the "score > root" test fail.
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  let x = base;
  if (metric == METRIC_L2) {
    for (let r = 0; r < n; r++) {
      const s = l2Row(q, x, d);
      x += rowBytes;
      if (s > root) continue;
      size = push(heapD, heapI, k, size, s, rowOffset + r);
      if (size >= k) root = load<f32>(heapD);
    }
  } else {
    for (let r = 0; r < n; r++) {
      const s = -dotRow(q, x, d);
      x += rowBytes;
      if (s > root) continue;
      size = push(heapD, heapI, k, size, s, rowOffset + r);
      if (size >= k) root = load<f32>(heapD);
    }
  }
  return size;
}

/** The second results of l2Row2 / dotRow2 (AssemblyScript functions return one value). */
let pairA: f32 = 0;
let pairB: f32 = 0;

/**
 * l2Row of two rows at once, sharing the query's loads: the two rows' memory is read in
 * parallel (scattered rows of a filtered scan each start with a cache miss, and two misses
 * in flight cost about one). Each row's sum is formed in l2Row's order, so the same bits.
 */
// @ts-ignore: decorator
@inline
function l2Row2(q: usize, x: usize, y: usize, d: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const end16 = q + (<usize>(d & ~15) << 2);
  const end4 = q + (<usize>(d & ~3) << 2);
  const end = q + (<usize>d << 2);
  let qp = q, xp = x, yp = y;
  while (qp < end16) {
    const q0 = v128.load(qp), q1 = v128.load(qp, 16), q2 = v128.load(qp, 32), q3 = v128.load(qp, 48);
    const t0 = f32x4.sub(q0, v128.load(xp));
    const t1 = f32x4.sub(q1, v128.load(xp, 16));
    const t2 = f32x4.sub(q2, v128.load(xp, 32));
    const t3 = f32x4.sub(q3, v128.load(xp, 48));
    a0 = f32x4.add(a0, f32x4.mul(t0, t0));
    a1 = f32x4.add(a1, f32x4.mul(t1, t1));
    a2 = f32x4.add(a2, f32x4.mul(t2, t2));
    a3 = f32x4.add(a3, f32x4.mul(t3, t3));
    const u0 = f32x4.sub(q0, v128.load(yp));
    const u1 = f32x4.sub(q1, v128.load(yp, 16));
    const u2 = f32x4.sub(q2, v128.load(yp, 32));
    const u3 = f32x4.sub(q3, v128.load(yp, 48));
    b0 = f32x4.add(b0, f32x4.mul(u0, u0));
    b1 = f32x4.add(b1, f32x4.mul(u1, u1));
    b2 = f32x4.add(b2, f32x4.mul(u2, u2));
    b3 = f32x4.add(b3, f32x4.mul(u3, u3));
    qp += 64; xp += 64; yp += 64;
  }
  while (qp < end4) {
    const qv = v128.load(qp);
    const t = f32x4.sub(qv, v128.load(xp));
    a0 = f32x4.add(a0, f32x4.mul(t, t));
    const u = f32x4.sub(qv, v128.load(yp));
    b0 = f32x4.add(b0, f32x4.mul(u, u));
    qp += 16; xp += 16; yp += 16;
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  let r = hsum(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)));
  while (qp < end) {
    const qs = load<f32>(qp);
    const t = qs - load<f32>(xp);
    s += t * t;
    const u = qs - load<f32>(yp);
    r += u * u;
    qp += 4; xp += 4; yp += 4;
  }
  pairA = s;
  pairB = r;
}

/** dotRow of two rows at once (as l2Row2). */
// @ts-ignore: decorator
@inline
function dotRow2(q: usize, x: usize, y: usize, d: i32): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
  const end16 = q + (<usize>(d & ~15) << 2);
  const end4 = q + (<usize>(d & ~3) << 2);
  const end = q + (<usize>d << 2);
  let qp = q, xp = x, yp = y;
  while (qp < end16) {
    const q0 = v128.load(qp), q1 = v128.load(qp, 16), q2 = v128.load(qp, 32), q3 = v128.load(qp, 48);
    a0 = f32x4.add(a0, f32x4.mul(q0, v128.load(xp)));
    a1 = f32x4.add(a1, f32x4.mul(q1, v128.load(xp, 16)));
    a2 = f32x4.add(a2, f32x4.mul(q2, v128.load(xp, 32)));
    a3 = f32x4.add(a3, f32x4.mul(q3, v128.load(xp, 48)));
    b0 = f32x4.add(b0, f32x4.mul(q0, v128.load(yp)));
    b1 = f32x4.add(b1, f32x4.mul(q1, v128.load(yp, 16)));
    b2 = f32x4.add(b2, f32x4.mul(q2, v128.load(yp, 32)));
    b3 = f32x4.add(b3, f32x4.mul(q3, v128.load(yp, 48)));
    qp += 64; xp += 64; yp += 64;
  }
  while (qp < end4) {
    const qv = v128.load(qp);
    a0 = f32x4.add(a0, f32x4.mul(qv, v128.load(xp)));
    b0 = f32x4.add(b0, f32x4.mul(qv, v128.load(yp)));
    qp += 16; xp += 16; yp += 16;
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  let r = hsum(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)));
  while (qp < end) {
    const qs = load<f32>(qp);
    s += qs * load<f32>(xp);
    r += qs * load<f32>(yp);
    qp += 4; xp += 4; yp += 4;
  }
  pairA = s;
  pairB = r;
}

/**
 * scan_topk over the n rows whose numbers are the i32 at `rows` (rows of d floats at `base`),
 * each pushed with its row number as label: a filtered scan of scattered rows in one call.
 * Rows are scored two at a time (l2Row2), then pushed in order as one at a time would.
 */
export function scan_topk_rows(metric: i32, q: usize, base: usize, d: i32, rows: usize, n: i32, k: i32,
  heapD: usize, heapI: usize, size: i32): i32 {
  if (k <= 0) return size;
  const rowBytes = <usize>d << 2;
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const r0 = load<i32>(rows + (<usize>i << 2));
    const r1 = load<i32>(rows + (<usize>i << 2), 4);
    const x = base + <usize>r0 * rowBytes, y = base + <usize>r1 * rowBytes;
    let s0: f32, s1: f32;
    if (metric == METRIC_L2) {
      l2Row2(q, x, y, d);
      s0 = pairA;
      s1 = pairB;
    } else {
      dotRow2(q, x, y, d);
      s0 = -pairA;
      s1 = -pairB;
    }
    if (!(s0 > root)) {
      size = push(heapD, heapI, k, size, s0, r0);
      if (size >= k) root = load<f32>(heapD);
    }
    if (!(s1 > root)) {
      size = push(heapD, heapI, k, size, s1, r1);
      if (size >= k) root = load<f32>(heapD);
    }
  }
  for (; i < n; i++) {
    const r = load<i32>(rows + (<usize>i << 2));
    const x = base + <usize>r * rowBytes;
    const s: f32 = metric == METRIC_L2 ? l2Row(q, x, d) : -dotRow(q, x, d);
    if (s > root) continue;
    size = push(heapD, heapI, k, size, s, r);
    if (size >= k) root = load<f32>(heapD);
  }
  return size;
}

/**
 * The scores of the query at `q` against the n rows whose numbers are the i32 at `rows`
 * (rows of d floats at `base`), written as f32 to `out`: exactly the scores scan_topk computes
 * for those rows (a graph search over centroids gets the same bits as the exhaustive scan).
 */
export function scores_at(metric: i32, q: usize, base: usize, d: i32, rows: usize, n: i32, out: usize): void {
  const rowBytes = <usize>d << 2;
  for (let i = 0; i < n; i++) {
    const x = base + <usize>load<i32>(rows + (<usize>i << 2)) * rowBytes;
    const s: f32 = metric == METRIC_L2 ? l2Row(q, x, d) : -dotRow(q, x, d);
    store<f32>(out + (<usize>i << 2), s);
  }
}

// ---------------------------------------------------------------------------------------------
// Many queries × many rows
//
// Rows are processed in blocks of ROW_BLOCK_BYTES; within a block, tiles of 4 queries × 2 rows
// keep 8 f32x4 accumulators in registers (each row load feeds 4 queries, each query load 2 rows),
// and the 4 scores of a row are checked against the 4 heaps' thresholds with one vector compare.
//
// Every (query, row) dot product is accumulated in one f32x4 accumulator over chunks of 4, then
// reduced as (l0 + l2) + (l1 + l3) (hsum or hsum4), then the scalar tail is added in order,
// whatever tile it is computed in: identical rows therefore get bit-identical scores and ties
// break on the label as in the reference.

/** The score a candidate must not exceed to be offered to query i's heap (+inf until it is full). */
// @ts-ignore: decorator
@inline
function threshold(i: i32, k: i32, heapsD: usize, sizes: usize): f32 {
  return load<i32>(sizes + (<usize>i << 2)) >= k ? load<f32>(heapsD + ((<usize>i * <usize>k) << 2)) : Infinity;
}

/** Pushes into query i's heap and returns its new threshold. */
// @ts-ignore: decorator
@inline
function offer(i: i32, s: f32, label: i32, k: i32, heapsD: usize, heapsI: usize, sizes: usize): f32 {
  const off = (<usize>i * <usize>k) << 2;
  const sp = sizes + (<usize>i << 2);
  const size = push(heapsD + off, heapsI + off, k, load<i32>(sp), s, label);
  store<i32>(sp, size);
  return size >= k ? load<f32>(heapsD + off) : Infinity;
}

// Scores are qn + xn + c·dot with c = −2 for L2 and, for IP, qn = xn = 0 and c = −1: the same
// roundings as qn + xn − 2·dot and −dot. A candidate is offered unless s > threshold (so NaN
// is offered, as in the reference).

/**
 * Offers the four scores in `sv` (one per query i..i+3) for the row labelled `label` to the
 * queries whose threshold they do not exceed; returns the updated thresholds.
 */
// @ts-ignore: decorator
@inline
function offer4(i: i32, sv: v128, tv: v128, label: i32, k: i32, heapsD: usize, heapsI: usize, sizes: usize): v128 {
  const over = i32x4.bitmask(f32x4.gt(sv, tv));
  if (over == 15) return tv;
  if (!(over & 1)) tv = f32x4.replace_lane(tv, 0, offer(i, f32x4.extract_lane(sv, 0), label, k, heapsD, heapsI, sizes));
  if (!(over & 2)) tv = f32x4.replace_lane(tv, 1, offer(i + 1, f32x4.extract_lane(sv, 1), label, k, heapsD, heapsI, sizes));
  if (!(over & 4)) tv = f32x4.replace_lane(tv, 2, offer(i + 2, f32x4.extract_lane(sv, 2), label, k, heapsD, heapsI, sizes));
  if (!(over & 8)) tv = f32x4.replace_lane(tv, 3, offer(i + 3, f32x4.extract_lane(sv, 3), label, k, heapsD, heapsI, sizes));
  return tv;
}

/** Queries i..i+3 against rows [r0, r1). */
function tile4(metric: i32, Q: usize, i: i32, qnorms: usize, base: usize, xnorms: usize,
  r0: i32, r1: i32, d: i32, k: i32, heapsD: usize, heapsI: usize, sizes: usize, rowOffset: i32): void {
  const rowBytes = <usize>d << 2;
  const q0 = Q + <usize>i * rowBytes;
  const q1 = q0 + rowBytes, q2 = q1 + rowBytes, q3 = q2 + rowBytes;
  const b4 = <usize>(d & ~3) << 2;
  const bd = rowBytes;
  const l2 = metric == METRIC_L2;
  const cv = f32x4.splat(l2 ? -2 : -1);
  const qnv = l2 ? v128.load(qnorms + (<usize>i << 2)) : f32x4.splat(0);
  let tv = f32x4.splat(threshold(i, k, heapsD, sizes));
  tv = f32x4.replace_lane(tv, 1, threshold(i + 1, k, heapsD, sizes));
  tv = f32x4.replace_lane(tv, 2, threshold(i + 2, k, heapsD, sizes));
  tv = f32x4.replace_lane(tv, 3, threshold(i + 3, k, heapsD, sizes));
  let r = r0;
  for (; r + 2 <= r1; r += 2) {
    const xa = base + <usize>r * rowBytes;
    const xb = xa + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
    let o: usize = 0;
    for (; o < b4; o += 16) {
      const x0 = v128.load(xa + o);
      const x1 = v128.load(xb + o);
      let v = v128.load(q0 + o);
      a0 = f32x4.add(a0, f32x4.mul(v, x0));
      b0 = f32x4.add(b0, f32x4.mul(v, x1));
      v = v128.load(q1 + o);
      a1 = f32x4.add(a1, f32x4.mul(v, x0));
      b1 = f32x4.add(b1, f32x4.mul(v, x1));
      v = v128.load(q2 + o);
      a2 = f32x4.add(a2, f32x4.mul(v, x0));
      b2 = f32x4.add(b2, f32x4.mul(v, x1));
      v = v128.load(q3 + o);
      a3 = f32x4.add(a3, f32x4.mul(v, x0));
      b3 = f32x4.add(b3, f32x4.mul(v, x1));
    }
    // lane j of sa / sb: ⟨q_{i+j}, x_r⟩ / ⟨q_{i+j}, x_{r+1}⟩
    let sa = hsum4(a0, a1, a2, a3);
    let sb = hsum4(b0, b1, b2, b3);
    for (; o < bd; o += 4) {
      let qv = f32x4.splat(load<f32>(q0 + o));
      qv = f32x4.replace_lane(qv, 1, load<f32>(q1 + o));
      qv = f32x4.replace_lane(qv, 2, load<f32>(q2 + o));
      qv = f32x4.replace_lane(qv, 3, load<f32>(q3 + o));
      sa = f32x4.add(sa, f32x4.mul(qv, f32x4.splat(load<f32>(xa + o))));
      sb = f32x4.add(sb, f32x4.mul(qv, f32x4.splat(load<f32>(xb + o))));
    }
    let xna = f32x4.splat(0), xnb = f32x4.splat(0);
    if (l2) {
      xna = v128.load32_splat(xnorms + (<usize>r << 2));
      xnb = v128.load32_splat(xnorms + (<usize>r << 2), 4);
    }
    const la = rowOffset + r;
    tv = offer4(i, f32x4.add(f32x4.add(qnv, xna), f32x4.mul(cv, sa)), tv, la, k, heapsD, heapsI, sizes);
    tv = offer4(i, f32x4.add(f32x4.add(qnv, xnb), f32x4.mul(cv, sb)), tv, la + 1, k, heapsD, heapsI, sizes);
  }
  if (r < r1) {
    const xa = base + <usize>r * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let o: usize = 0;
    for (; o < b4; o += 16) {
      const x0 = v128.load(xa + o);
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q0 + o), x0));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(q1 + o), x0));
      a2 = f32x4.add(a2, f32x4.mul(v128.load(q2 + o), x0));
      a3 = f32x4.add(a3, f32x4.mul(v128.load(q3 + o), x0));
    }
    let sa = hsum4(a0, a1, a2, a3);
    for (; o < bd; o += 4) {
      let qv = f32x4.splat(load<f32>(q0 + o));
      qv = f32x4.replace_lane(qv, 1, load<f32>(q1 + o));
      qv = f32x4.replace_lane(qv, 2, load<f32>(q2 + o));
      qv = f32x4.replace_lane(qv, 3, load<f32>(q3 + o));
      sa = f32x4.add(sa, f32x4.mul(qv, f32x4.splat(load<f32>(xa + o))));
    }
    const xna = l2 ? v128.load32_splat(xnorms + (<usize>r << 2)) : f32x4.splat(0);
    offer4(i, f32x4.add(f32x4.add(qnv, xna), f32x4.mul(cv, sa)), tv, rowOffset + r, k, heapsD, heapsI, sizes);
  }
}

/** Query i alone against rows [r0, r1) (the nq % 4 leftover queries). */
function tile1(metric: i32, Q: usize, i: i32, qnorms: usize, base: usize, xnorms: usize,
  r0: i32, r1: i32, d: i32, k: i32, heapsD: usize, heapsI: usize, sizes: usize, rowOffset: i32): void {
  const rowBytes = <usize>d << 2;
  const q0 = Q + <usize>i * rowBytes;
  const b4 = <usize>(d & ~3) << 2;
  const bd = rowBytes;
  const l2 = metric == METRIC_L2;
  const c: f32 = l2 ? -2 : -1;
  const qn0: f32 = l2 ? load<f32>(qnorms + (<usize>i << 2)) : 0;
  let t0 = threshold(i, k, heapsD, sizes);
  let r = r0;
  for (; r + 2 <= r1; r += 2) {
    const xa = base + <usize>r * rowBytes;
    const xb = xa + rowBytes;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    let o: usize = 0;
    for (; o < b4; o += 16) {
      const v = v128.load(q0 + o);
      a0 = f32x4.add(a0, f32x4.mul(v, v128.load(xa + o)));
      b0 = f32x4.add(b0, f32x4.mul(v, v128.load(xb + o)));
    }
    let sa0 = hsum(a0), sb0 = hsum(b0);
    for (; o < bd; o += 4) {
      const v = load<f32>(q0 + o);
      sa0 += v * load<f32>(xa + o);
      sb0 += v * load<f32>(xb + o);
    }
    let xna: f32 = 0, xnb: f32 = 0;
    if (l2) {
      xna = load<f32>(xnorms + (<usize>r << 2));
      xnb = load<f32>(xnorms + (<usize>r << 2), 4);
    }
    let s: f32;
    s = qn0 + xna + c * sa0; if (!(s > t0)) t0 = offer(i, s, rowOffset + r, k, heapsD, heapsI, sizes);
    s = qn0 + xnb + c * sb0; if (!(s > t0)) t0 = offer(i, s, rowOffset + r + 1, k, heapsD, heapsI, sizes);
  }
  if (r < r1) {
    const xa = base + <usize>r * rowBytes;
    let a0 = f32x4.splat(0);
    let o: usize = 0;
    for (; o < b4; o += 16) a0 = f32x4.add(a0, f32x4.mul(v128.load(q0 + o), v128.load(xa + o)));
    let sa0 = hsum(a0);
    for (; o < bd; o += 4) sa0 += load<f32>(q0 + o) * load<f32>(xa + o);
    const xna: f32 = l2 ? load<f32>(xnorms + (<usize>r << 2)) : 0;
    const s = qn0 + xna + c * sa0;
    if (!(s > t0)) offer(i, s, rowOffset + r, k, heapsD, heapsI, sizes);
  }
}

/**
 * nq queries at Q against n rows at base. L2 scores are qnorms[i] + xnorms[r] − 2⟨q_i, x_r⟩,
 * IP scores −⟨q_i, x_r⟩. Query i's heap is at heapsD/heapsI + 4·i·k, its size at sizes + 4·i.
 */
export function batch_topk(metric: i32, Q: usize, nq: i32, qnorms: usize, base: usize, xnorms: usize,
  n: i32, d: i32, k: i32, heapsD: usize, heapsI: usize, sizes: usize, rowOffset: i32): void {
  if (k <= 0 || n <= 0 || nq <= 0) return;
  let block = ROW_BLOCK_BYTES / max(d << 2, 1);
  block = max(block & ~1, 2);
  for (let r0 = 0; r0 < n; r0 += block) {
    const r1 = min(n, r0 + block);
    let i = 0;
    for (; i + 4 <= nq; i += 4) tile4(metric, Q, i, qnorms, base, xnorms, r0, r1, d, k, heapsD, heapsI, sizes, rowOffset);
    for (; i < nq; i++) tile1(metric, Q, i, qnorms, base, xnorms, r0, r1, d, k, heapsD, heapsI, sizes, rowOffset);
  }
}

// ---------------------------------------------------------------------------------------------
// Norms and k-means accumulation

/** out[r] = Σ_j X[r,j]² for n rows. */
export function norms(X: usize, n: i32, d: i32, out: usize): void {
  const rowBytes = <usize>d << 2;
  let x = X;
  for (let r = 0; r < n; r++) {
    store<f32>(out + (<usize>r << 2), dotRow(x, x, d));
    x += rowBytes;
  }
}

/**
 * For each row r with assign[r] = c ≥ 0: sums[c] += X[r] (d floats) and counts[c] += 1.
 */
export function accumulate(X: usize, n: i32, d: i32, assign: usize, sums: usize, counts: usize): void {
  const rowBytes = <usize>d << 2;
  const b4 = <usize>(d & ~3) << 2;
  for (let r = 0; r < n; r++) {
    const c = load<i32>(assign + (<usize>r << 2));
    if (c < 0) continue;
    const x = X + <usize>r * rowBytes;
    const s = sums + <usize>c * rowBytes;
    let o: usize = 0;
    for (; o < b4; o += 16) v128.store(s + o, f32x4.add(v128.load(s + o), v128.load(x + o)));
    for (; o < rowBytes; o += 4) store<f32>(s + o, load<f32>(s + o) + load<f32>(x + o));
    const cp = counts + (<usize>c << 2);
    store<i32>(cp, load<i32>(cp) + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Compressed codes: scalar quantizer (SQ8) and product quantizer (PQ) scans
//
// Codes are bytes, read in place in the inverted lists (rows need not be aligned: codes are
// codeSize bytes each). Each scan pushes (score, rowOffset + r) into one heap, as scan_topk.

/** out[i] = a[i] + alpha·b[i] for n floats (Faiss's fvec_madd); out may be a or b. */
export function madd(n: i32, a: usize, alpha: f32, b: usize, out: usize): void {
  const av = f32x4.splat(alpha);
  const end4 = <usize>(n & ~3) << 2;
  const end = <usize>n << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(out + o, f32x4.add(v128.load(a + o), f32x4.mul(av, v128.load(b + o))));
  for (; o < end; o += 4) store<f32>(out + o, load<f32>(a + o) + alpha * load<f32>(b + o));
}

/**
 * The lookup tables of asymmetric distance computation: for each of the m sub-vectors q_j of
 * the query at q (dsub floats each) and the ksub codewords C_jc of sub-quantizer j (cb holds
 * m×ksub×dsub floats), out[j·ksub + c] = ‖q_j − C_jc‖² (L2) or −⟨q_j, C_jc⟩ (IP).
 */
export function pq_tables(metric: i32, q: usize, cb: usize, m: i32, dsub: i32, ksub: i32, out: usize): void {
  const subBytes = <usize>dsub << 2;
  let x = cb, o = out;
  for (let j = 0; j < m; j++) {
    const qj = q + <usize>j * subBytes;
    if (metric == METRIC_L2) {
      for (let c = 0; c < ksub; c++) {
        store<f32>(o, l2Row(qj, x, dsub));
        x += subBytes; o += 4;
      }
    } else {
      for (let c = 0; c < ksub; c++) {
        store<f32>(o, -dotRow(qj, x, dsub));
        x += subBytes; o += 4;
      }
    }
  }
}

/** pq_scan one row at a time (the rows left over after blocks of four); same sums, same bits. */
function pqRows(lut: usize, codes: usize, n: i32, m: i32, bias: f32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const m4 = <usize>(m & ~3);
  const mb = <usize>m;
  let c = codes;
  for (let r = 0; r < n; r++) {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    let t = lut;
    let j: usize = 0;
    for (; j < m4; j += 4) {
      // four codes in one load: fewer memory operations than four byte loads
      const w = load<u32>(c + j);
      s0 += load<f32>(t + (<usize>(w & 255) << 2));
      s1 += load<f32>(t + (<usize>((w >> 8) & 255) << 2), 1024);
      s2 += load<f32>(t + (<usize>((w >> 16) & 255) << 2), 2048);
      s3 += load<f32>(t + (<usize>(w >> 24) << 2), 3072);
      t += 4096;
    }
    for (; j < mb; j++) {
      const t2 = j & 3;
      const v = load<f32>(t + (<usize>load<u8>(c + j) << 2));
      if (t2 == 0) s0 += v;
      else if (t2 == 1) s1 += v;
      else s2 += v;
      t += 1024;
    }
    const s = bias + ((s0 + s1) + (s2 + s3));
    c += mb;
    if (s > root) continue;
    size = push(heapD, heapI, k, size, s, rowOffset + r);
    if (size >= k) root = load<f32>(heapD);
  }
  return size;
}

/** Four code bytes at p as f32x4. */
// @ts-ignore: decorator
@inline
function u8x4(p: usize): v128 {
  return f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p))));
}

/** Σ_j (qp_j − c_j·sc_j)² over d code bytes at c. */
// @ts-ignore: decorator
@inline
function sq8L2Row(qp: usize, sc: usize, c: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const d16 = <usize>(d & ~15);
  const d4 = <usize>(d & ~3);
  const dn = <usize>d;
  let j: usize = 0;
  for (; j < d16; j += 16) {
    const v = v128.load(c + j);
    const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
    const o = j << 2;
    const t0 = f32x4.sub(v128.load(qp + o), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), v128.load(sc + o)));
    const t1 = f32x4.sub(v128.load(qp + o, 16), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), v128.load(sc + o, 16)));
    const t2 = f32x4.sub(v128.load(qp + o, 32), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), v128.load(sc + o, 32)));
    const t3 = f32x4.sub(v128.load(qp + o, 48), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), v128.load(sc + o, 48)));
    a0 = f32x4.add(a0, f32x4.mul(t0, t0));
    a1 = f32x4.add(a1, f32x4.mul(t1, t1));
    a2 = f32x4.add(a2, f32x4.mul(t2, t2));
    a3 = f32x4.add(a3, f32x4.mul(t3, t3));
  }
  for (; j < d4; j += 4) {
    const o = j << 2;
    const t = f32x4.sub(v128.load(qp + o), f32x4.mul(u8x4(c + j), v128.load(sc + o)));
    a0 = f32x4.add(a0, f32x4.mul(t, t));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; j < dn; j++) {
    const t = load<f32>(qp + (j << 2)) - <f32>load<u8>(c + j) * load<f32>(sc + (j << 2));
    s += t * t;
  }
  return s;
}

/** Σ_j c_j·qp_j over d code bytes at c. */
// @ts-ignore: decorator
@inline
function sq8DotRow(qp: usize, c: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const d16 = <usize>(d & ~15);
  const d4 = <usize>(d & ~3);
  const dn = <usize>d;
  let j: usize = 0;
  for (; j < d16; j += 16) {
    const v = v128.load(c + j);
    const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
    const o = j << 2;
    a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), v128.load(qp + o)));
    a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), v128.load(qp + o, 16)));
    a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), v128.load(qp + o, 32)));
    a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), v128.load(qp + o, 48)));
  }
  for (; j < d4; j += 4) a0 = f32x4.add(a0, f32x4.mul(u8x4(c + j), v128.load(qp + (j << 2))));
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; j < dn; j++) s += <f32>load<u8>(c + j) * load<f32>(qp + (j << 2));
  return s;
}

/**
 * Scores n SQ8 codes of d bytes at `codes`, decoding on the fly. L2: bias + Σ_j (qp_j − c_j·sc_j)²
 * (qp is the query minus the codec's offsets, sc its steps); IP: bias − Σ_j c_j·qp_j (qp is
 * the query times the steps; sc is not read).
 */
export function sq8_scan(metric: i32, qp: usize, sc: usize, codes: usize, n: i32, d: i32, bias: f32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const rowBytes = <usize>d;
  let c = codes;
  if (metric == METRIC_L2) {
    for (let r = 0; r < n; r++) {
      const s = bias + sq8L2Row(qp, sc, c, d);
      c += rowBytes;
      if (s > root) continue;
      size = push(heapD, heapI, k, size, s, rowOffset + r);
      if (size >= k) root = load<f32>(heapD);
    }
  } else {
    for (let r = 0; r < n; r++) {
      const s = bias - sq8DotRow(qp, c, d);
      c += rowBytes;
      if (s > root) continue;
      size = push(heapD, heapI, k, size, s, rowOffset + r);
      if (size >= k) root = load<f32>(heapD);
    }
  }
  return size;
}

/** 2¹¹²: scales a half's bits, shifted into a float32's place, to the half's value (normals and subnormals alike). */
const HALF_SCALE: f32 = reinterpret<f32>(0x77800000);

/** Four halves (u16 in the low bits of each i32 lane) as float32. */
// @ts-ignore: decorator
@inline
function halves(w: v128): v128 {
  const mag = f32x4.mul(i32x4.shl(v128.and(w, i32x4.splat(0x7fff)), 13), f32x4.splat(HALF_SCALE));
  return v128.or(mag, i32x4.shl(v128.and(w, i32x4.splat(0x8000)), 16));
}

/** One half at p as float32. */
// @ts-ignore: decorator
@inline
function half(p: usize): f32 {
  const h = <u32>load<u16>(p);
  return reinterpret<f32>(reinterpret<u32>(reinterpret<f32>((h & 0x7fff) << 13) * HALF_SCALE) | ((h & 0x8000) << 16));
}

/** Σ_j (q_j − x_j)² (L2) or Σ_j q_j·x_j (dot) over d halves x at c. */
// @ts-ignore: decorator
@inline
function f16Row(l2: bool, q: usize, c: usize, d: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  const d8 = <usize>(d & ~7);
  const dn = <usize>d;
  let j: usize = 0;
  for (; j < d8; j += 8) {
    const v = v128.load(c + (j << 1));
    const x0 = halves(i32x4.extend_low_i16x8_u(v)), x1 = halves(i32x4.extend_high_i16x8_u(v));
    const o = j << 2;
    if (l2) {
      const t0 = f32x4.sub(v128.load(q + o), x0), t1 = f32x4.sub(v128.load(q + o, 16), x1);
      a0 = f32x4.add(a0, f32x4.mul(t0, t0));
      a1 = f32x4.add(a1, f32x4.mul(t1, t1));
    } else {
      a0 = f32x4.add(a0, f32x4.mul(v128.load(q + o), x0));
      a1 = f32x4.add(a1, f32x4.mul(v128.load(q + o, 16), x1));
    }
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; j < dn; j++) {
    const x = half(c + (j << 1));
    const qj = load<f32>(q + (j << 2));
    if (l2) {
      const t = qj - x;
      s += t * t;
    } else s += qj * x;
  }
  return s;
}

/**
 * Scores n rows of d halves (binary16, little-endian) at `codes`, widened on the fly. L2:
 * bias + Σ_j (q_j − x_j)²; IP: bias − Σ_j q_j·x_j. `q` is the query, less the list's centroid
 * for residual codes under L2.
 */
export function f16_scan(metric: i32, q: usize, codes: usize, n: i32, d: i32, bias: f32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const rowBytes = <usize>d << 1;
  const l2 = metric == METRIC_L2;
  let c = codes;
  for (let r = 0; r < n; r++) {
    const s = l2 ? bias + f16Row(true, q, c, d) : bias - f16Row(false, q, c, d);
    c += rowBytes;
    if (s > root) continue;
    size = push(heapD, heapI, k, size, s, rowOffset + r);
    if (size >= k) root = load<f32>(heapD);
  }
  return size;
}

// @ts-ignore: decorator
@inline
function gather4(t: usize, w0: u32, w1: u32, w2: u32, w3: u32, sh: u32): v128 {
  let v = v128.load32_zero(t + (<usize>((w0 >> sh) & 255) << 2));
  v = v128.load32_lane(t + (<usize>((w1 >> sh) & 255) << 2), v, 1);
  v = v128.load32_lane(t + (<usize>((w2 >> sh) & 255) << 2), v, 2);
  return v128.load32_lane(t + (<usize>((w3 >> sh) & 255) << 2), v, 3);
}

/**
 * Scores n PQ codes of m bytes at `codes` with the table `lut` (m×256 f32):
 * score = bias + ((s0 + s1) + (s2 + s3)), where s_t sums lut[j·256 + code_j] over j ≡ t (mod 4)
 * in increasing j (the reference adds in the same order, so both give the same bits).
 *
 * Four rows go through at once, one per SIMD lane: WASM has no gather, so each lane's table
 * entry is loaded into its lane (load32_lane), four code bytes of a row per u32 load. Measured
 * (smoke run, m = 8…56) faster than the one-row scalar loop with four accumulators, which
 * handles the rows left over.
 */
export function pq_scan(lut: usize, codes: usize, n: i32, m: i32, bias: f32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const mb = <usize>m;
  const m4 = <usize>(m & ~3);
  const bv = f32x4.splat(bias);
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const c0 = codes + <usize>r * mb;
    const c1 = c0 + mb, c2 = c1 + mb, c3 = c2 + mb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let t = lut;
    let j: usize = 0;
    for (; j < m4; j += 4) {
      const w0 = load<u32>(c0 + j), w1 = load<u32>(c1 + j), w2 = load<u32>(c2 + j), w3 = load<u32>(c3 + j);
      a0 = f32x4.add(a0, gather4(t, w0, w1, w2, w3, 0));
      a1 = f32x4.add(a1, gather4(t + 1024, w0, w1, w2, w3, 8));
      a2 = f32x4.add(a2, gather4(t + 2048, w0, w1, w2, w3, 16));
      a3 = f32x4.add(a3, gather4(t + 3072, w0, w1, w2, w3, 24));
      t += 4096;
    }
    for (; j < mb; j++) {
      let v = v128.load32_zero(t + (<usize>load<u8>(c0 + j) << 2));
      v = v128.load32_lane(t + (<usize>load<u8>(c1 + j) << 2), v, 1);
      v = v128.load32_lane(t + (<usize>load<u8>(c2 + j) << 2), v, 2);
      v = v128.load32_lane(t + (<usize>load<u8>(c3 + j) << 2), v, 3);
      const t2 = j & 3;
      if (t2 == 0) a0 = f32x4.add(a0, v);
      else if (t2 == 1) a1 = f32x4.add(a1, v);
      else a2 = f32x4.add(a2, v);
      t += 1024;
    }
    const sv = f32x4.add(bv, f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
    if (i32x4.bitmask(f32x4.gt(sv, f32x4.splat(root))) == 15) continue;
    let s = f32x4.extract_lane(sv, 0);
    if (!(s > root)) { size = push(heapD, heapI, k, size, s, rowOffset + r); if (size >= k) root = load<f32>(heapD); }
    s = f32x4.extract_lane(sv, 1);
    if (!(s > root)) { size = push(heapD, heapI, k, size, s, rowOffset + r + 1); if (size >= k) root = load<f32>(heapD); }
    s = f32x4.extract_lane(sv, 2);
    if (!(s > root)) { size = push(heapD, heapI, k, size, s, rowOffset + r + 2); if (size >= k) root = load<f32>(heapD); }
    s = f32x4.extract_lane(sv, 3);
    if (!(s > root)) { size = push(heapD, heapI, k, size, s, rowOffset + r + 3); if (size >= k) root = load<f32>(heapD); }
  }
  if (r < n) size = pqRows(lut, codes + <usize>r * mb, n - r, m, bias, k, heapD, heapI, size, rowOffset + r);
  return size;
}

// ---------------------------------------------------------------------------------------------
// 4-bit PQ, "fast scan" (André, Kermarrec, Le Scouarnec 2015; Faiss's IndexPQFastScan): 16
// codewords per sub-quantizer, so a query's table for one sub-quantizer is 16 entries, which,
// quantized to bytes, fit one v128 and are looked up for 16 codes at once by i8x16.swizzle.

/**
 * Quantizes the m×16 f32 table at `lut` (sub-quantizer j's 16 entries at j·16) to bytes at
 * `out`: q[j][c] = min(255, ⌊(lut[j][c] − min_j)·a + 0.5⌋), a = 255 / R with R the largest
 * range max_j − min_j (a = 0 when R is 0). Writes two f32 at `params`: base = bias + Σ_j min_j
 * (summed in j order) and step = R / 255, so that base + step·Σ_j q[j][c_j] approximates the
 * table's sum for a code. One scale for all sub-quantizers keeps the byte sums comparable.
 */
export function pq4_quantize(lut: usize, m: i32, bias: f32, out: usize, params: usize): void {
  let range: f32 = 0;
  let base = bias;
  for (let j = 0; j < m; j++) {
    const t = lut + (<usize>j << 6);
    const v0 = v128.load(t), v1 = v128.load(t, 16), v2 = v128.load(t, 32), v3 = v128.load(t, 48);
    const lo = f32x4.min(f32x4.min(v0, v1), f32x4.min(v2, v3));
    const hi = f32x4.max(f32x4.max(v0, v1), f32x4.max(v2, v3));
    const mn = min(min(f32x4.extract_lane(lo, 0), f32x4.extract_lane(lo, 1)), min(f32x4.extract_lane(lo, 2), f32x4.extract_lane(lo, 3)));
    const mx = max(max(f32x4.extract_lane(hi, 0), f32x4.extract_lane(hi, 1)), max(f32x4.extract_lane(hi, 2), f32x4.extract_lane(hi, 3)));
    store<f32>(out + (<usize>j << 2), mn);
    base += mn;
    range = max(range, mx - mn);
  }
  // the minima were parked in `out` (4 bytes each, below the 16 bytes of row j that overwrite them later)
  const a: f32 = range > 0 ? <f32>255 / range : 0;
  const av = f32x4.splat(a), half = f32x4.splat(0.5);
  for (let j = m - 1; j >= 0; j--) {
    const t = lut + (<usize>j << 6);
    const mv = f32x4.splat(load<f32>(out + (<usize>j << 2)));
    const q0 = i32x4.trunc_sat_f32x4_u(f32x4.floor(f32x4.add(f32x4.mul(f32x4.sub(v128.load(t), mv), av), half)));
    const q1 = i32x4.trunc_sat_f32x4_u(f32x4.floor(f32x4.add(f32x4.mul(f32x4.sub(v128.load(t, 16), mv), av), half)));
    const q2 = i32x4.trunc_sat_f32x4_u(f32x4.floor(f32x4.add(f32x4.mul(f32x4.sub(v128.load(t, 32), mv), av), half)));
    const q3 = i32x4.trunc_sat_f32x4_u(f32x4.floor(f32x4.add(f32x4.mul(f32x4.sub(v128.load(t, 48), mv), av), half)));
    // saturating narrows: anything above 255 (rounding at the top of the range) becomes 255
    v128.store(out + (<usize>j << 4), i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3)));
  }
  store<f32>(params, base);
  store<f32>(params, range > 0 ? range / <f32>255 : 0, 4);
}

/** pq4_scan one code at a time (codes left over after blocks of 16); the same integer sums. */
function pq4Rows(qlut: usize, codes: usize, n: i32, m: i32, base: f32, step: f32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const mb = <usize>(m >> 1);
  let c = codes;
  for (let r = 0; r < n; r++) {
    let sum: u32 = 0;
    for (let j: usize = 0; j < mb; j++) {
      const b = <usize>load<u8>(c + j);
      sum += <u32>load<u8>(qlut + (j << 5) + (b & 15)) + <u32>load<u8>(qlut + (j << 5) + 16 + (b >> 4));
    }
    c += mb;
    const s = base + <f32>sum * step;
    if (s > root) continue;
    size = push(heapD, heapI, k, size, s, rowOffset + r);
    if (size >= k) root = load<f32>(heapD);
  }
  return size;
}

/**
 * Scores n codes of m/2 bytes at `codes` (sub-code 2j in the low nibble of byte j, 2j+1 in the
 * high one) against the byte table at qlut (m×16, from pq4_quantize, whose base and step are at
 * `params`): score = (base + bias) + f32(Σ_j qlut[j·16 + c_j])·step, pushed as (score, rowOffset + r). Blocks of 16 codes are
 * transposed in registers (four rounds of byte, 16-, 32- and 64-bit interleaves) so that one
 * vector holds byte j of 16 codes; its two nibbles index sub-quantizers 2j and 2j+1's tables with
 * one swizzle each. Sums are kept in u16 lanes: the odd codes' (high bytes) apart, and the lanes
 * whole, from which the even codes' follow; m ≤ 256 keeps each below 2^16. Same heap as pq_scan; same bits as pq4Rows.
 */
export function pq4_scan(qlut: usize, params: usize, bias: f32, codes: usize, n: i32, m: i32, k: i32,
  heapD: usize, heapI: usize, size: i32, rowOffset: i32): i32 {
  if (k <= 0) return size;
  const base = load<f32>(params) + bias, step = load<f32>(params, 4);
  let root: f32 = size >= k ? load<f32>(heapD) : Infinity;
  const mb = <usize>(m >> 1);
  const chunks = (mb + 15) >> 4;
  // a block's last code is read 16 bytes at a time: this many bytes past the block's end
  const over = (chunks << 4) - mb;
  const total = <usize>n * mb;
  const low4 = i8x16.splat(15);
  const bv = f32x4.splat(base), sv = f32x4.splat(step);
  let r = 0;
  for (; <usize>(r + 16) * mb + over <= total; r += 16) {
    const blk = codes + <usize>r * mb;
    let accE = i16x8.splat(0), accO = i16x8.splat(0);
    for (let b: usize = 0; b < mb; b += 16) {
    const p = blk + b;
      const x0 = v128.load(p + 0);
      const x1 = v128.load(p + 1 * mb);
      const x2 = v128.load(p + 2 * mb);
      const x3 = v128.load(p + 3 * mb);
      const x4 = v128.load(p + 4 * mb);
      const x5 = v128.load(p + 5 * mb);
      const x6 = v128.load(p + 6 * mb);
      const x7 = v128.load(p + 7 * mb);
      const x8 = v128.load(p + 8 * mb);
      const x9 = v128.load(p + 9 * mb);
      const x10 = v128.load(p + 10 * mb);
      const x11 = v128.load(p + 11 * mb);
      const x12 = v128.load(p + 12 * mb);
      const x13 = v128.load(p + 13 * mb);
      const x14 = v128.load(p + 14 * mb);
      const x15 = v128.load(p + 15 * mb);
      const y0_0 = v128.shuffle<u8>(x0, x1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_1 = v128.shuffle<u8>(x0, x1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_2 = v128.shuffle<u8>(x2, x3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_3 = v128.shuffle<u8>(x2, x3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_4 = v128.shuffle<u8>(x4, x5, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_5 = v128.shuffle<u8>(x4, x5, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_6 = v128.shuffle<u8>(x6, x7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_7 = v128.shuffle<u8>(x6, x7, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_8 = v128.shuffle<u8>(x8, x9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_9 = v128.shuffle<u8>(x8, x9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_10 = v128.shuffle<u8>(x10, x11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_11 = v128.shuffle<u8>(x10, x11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_12 = v128.shuffle<u8>(x12, x13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_13 = v128.shuffle<u8>(x12, x13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y0_14 = v128.shuffle<u8>(x14, x15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const y0_15 = v128.shuffle<u8>(x14, x15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const y1_0 = v128.shuffle<u8>(y0_0, y0_2, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_2 = v128.shuffle<u8>(y0_0, y0_2, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_1 = v128.shuffle<u8>(y0_1, y0_3, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_3 = v128.shuffle<u8>(y0_1, y0_3, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_4 = v128.shuffle<u8>(y0_4, y0_6, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_6 = v128.shuffle<u8>(y0_4, y0_6, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_5 = v128.shuffle<u8>(y0_5, y0_7, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_7 = v128.shuffle<u8>(y0_5, y0_7, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_8 = v128.shuffle<u8>(y0_8, y0_10, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_10 = v128.shuffle<u8>(y0_8, y0_10, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_9 = v128.shuffle<u8>(y0_9, y0_11, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_11 = v128.shuffle<u8>(y0_9, y0_11, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_12 = v128.shuffle<u8>(y0_12, y0_14, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_14 = v128.shuffle<u8>(y0_12, y0_14, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y1_13 = v128.shuffle<u8>(y0_13, y0_15, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
      const y1_15 = v128.shuffle<u8>(y0_13, y0_15, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
      const y2_0 = v128.shuffle<u8>(y1_0, y1_4, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_4 = v128.shuffle<u8>(y1_0, y1_4, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_1 = v128.shuffle<u8>(y1_1, y1_5, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_5 = v128.shuffle<u8>(y1_1, y1_5, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_2 = v128.shuffle<u8>(y1_2, y1_6, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_6 = v128.shuffle<u8>(y1_2, y1_6, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_3 = v128.shuffle<u8>(y1_3, y1_7, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_7 = v128.shuffle<u8>(y1_3, y1_7, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_8 = v128.shuffle<u8>(y1_8, y1_12, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_12 = v128.shuffle<u8>(y1_8, y1_12, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_9 = v128.shuffle<u8>(y1_9, y1_13, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_13 = v128.shuffle<u8>(y1_9, y1_13, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_10 = v128.shuffle<u8>(y1_10, y1_14, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_14 = v128.shuffle<u8>(y1_10, y1_14, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y2_11 = v128.shuffle<u8>(y1_11, y1_15, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
      const y2_15 = v128.shuffle<u8>(y1_11, y1_15, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
      const y3_0 = v128.shuffle<u8>(y2_0, y2_8, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_8 = v128.shuffle<u8>(y2_0, y2_8, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_1 = v128.shuffle<u8>(y2_1, y2_9, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_9 = v128.shuffle<u8>(y2_1, y2_9, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_2 = v128.shuffle<u8>(y2_2, y2_10, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_10 = v128.shuffle<u8>(y2_2, y2_10, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_3 = v128.shuffle<u8>(y2_3, y2_11, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_11 = v128.shuffle<u8>(y2_3, y2_11, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_4 = v128.shuffle<u8>(y2_4, y2_12, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_12 = v128.shuffle<u8>(y2_4, y2_12, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_5 = v128.shuffle<u8>(y2_5, y2_13, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_13 = v128.shuffle<u8>(y2_5, y2_13, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_6 = v128.shuffle<u8>(y2_6, y2_14, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_14 = v128.shuffle<u8>(y2_6, y2_14, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      const y3_7 = v128.shuffle<u8>(y2_7, y2_15, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
      const y3_15 = v128.shuffle<u8>(y2_7, y2_15, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
      if (b + 0 < mb) {
        const lt = qlut + ((b + 0) << 5);
        const v = y3_0;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 1 < mb) {
        const lt = qlut + ((b + 1) << 5);
        const v = y3_8;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 2 < mb) {
        const lt = qlut + ((b + 2) << 5);
        const v = y3_4;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 3 < mb) {
        const lt = qlut + ((b + 3) << 5);
        const v = y3_12;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 4 < mb) {
        const lt = qlut + ((b + 4) << 5);
        const v = y3_2;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 5 < mb) {
        const lt = qlut + ((b + 5) << 5);
        const v = y3_10;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 6 < mb) {
        const lt = qlut + ((b + 6) << 5);
        const v = y3_6;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 7 < mb) {
        const lt = qlut + ((b + 7) << 5);
        const v = y3_14;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 8 < mb) {
        const lt = qlut + ((b + 8) << 5);
        const v = y3_1;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 9 < mb) {
        const lt = qlut + ((b + 9) << 5);
        const v = y3_9;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 10 < mb) {
        const lt = qlut + ((b + 10) << 5);
        const v = y3_5;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 11 < mb) {
        const lt = qlut + ((b + 11) << 5);
        const v = y3_13;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 12 < mb) {
        const lt = qlut + ((b + 12) << 5);
        const v = y3_3;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 13 < mb) {
        const lt = qlut + ((b + 13) << 5);
        const v = y3_11;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 14 < mb) {
        const lt = qlut + ((b + 14) << 5);
        const v = y3_7;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
      if (b + 15 < mb) {
        const lt = qlut + ((b + 15) << 5);
        const v = y3_15;
        const d0 = i8x16.swizzle(v128.load(lt), v128.and(v, low4));
        const d1 = i8x16.swizzle(v128.load(lt, 16), i8x16.shr_u(v, 4));
        accE = i16x8.add(accE, i16x8.add(d0, d1));
        accO = i16x8.add(accO, i16x8.add(i16x8.shr_u(d0, 8), i16x8.shr_u(d1, 8)));
      }
    }
    // accE summed whole u16 lanes, even + 256·odd (mod 2^16): take the odd codes' sums out
    accE = i16x8.sub(accE, i16x8.shl(accO, 8));
    const e0 = f32x4.add(bv, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(accE)), sv));
    const e1 = f32x4.add(bv, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(accE)), sv));
    const o0 = f32x4.add(bv, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(accO)), sv));
    const o1 = f32x4.add(bv, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(accO)), sv));
    // back to code order, four at a time: [e, o, e, o] interleaves
    size = pushFour(v128.shuffle<f32>(e0, o0, 0, 4, 1, 5), root, heapD, heapI, k, size, rowOffset + r);
    if (size >= k) root = load<f32>(heapD);
    size = pushFour(v128.shuffle<f32>(e0, o0, 2, 6, 3, 7), root, heapD, heapI, k, size, rowOffset + r + 4);
    if (size >= k) root = load<f32>(heapD);
    size = pushFour(v128.shuffle<f32>(e1, o1, 0, 4, 1, 5), root, heapD, heapI, k, size, rowOffset + r + 8);
    if (size >= k) root = load<f32>(heapD);
    size = pushFour(v128.shuffle<f32>(e1, o1, 2, 6, 3, 7), root, heapD, heapI, k, size, rowOffset + r + 12);
    if (size >= k) root = load<f32>(heapD);
  }
  if (r < n) size = pq4Rows(qlut, codes + <usize>r * mb, n - r, m, base, step, k, heapD, heapI, size, rowOffset + r);
  return size;
}

/** Pushes the four scores of sv (labels label..label+3, in order) that are not above the heap's root. */
// @ts-ignore: decorator
@inline
function pushFour(sv: v128, root: f32, heapD: usize, heapI: usize, k: i32, size: i32, label: i32): i32 {
  if (i32x4.bitmask(f32x4.gt(sv, f32x4.splat(root))) == 15) return size;
  let s = f32x4.extract_lane(sv, 0);
  if (!(s > root)) { size = push(heapD, heapI, k, size, s, label); if (size >= k) root = load<f32>(heapD); }
  s = f32x4.extract_lane(sv, 1);
  if (!(s > root)) { size = push(heapD, heapI, k, size, s, label + 1); if (size >= k) root = load<f32>(heapD); }
  s = f32x4.extract_lane(sv, 2);
  if (!(s > root)) { size = push(heapD, heapI, k, size, s, label + 2); if (size >= k) root = load<f32>(heapD); }
  s = f32x4.extract_lane(sv, 3);
  if (!(s > root)) { size = push(heapD, heapI, k, size, s, label + 3); }
  return size;
}
