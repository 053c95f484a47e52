/**
 * Plain TypeScript kernels: the reference the WASM SIMD build is tested against, and the
 * fallback where WASM SIMD is unavailable. Same pointer conventions as ./types.ts.
 */
import { fromHalf } from '../util/half.js';
import { sortPairs } from '../util/pair-sort.js';
import { type Kernels, METRIC_L2, type MetricCode } from './types.js';

/** The direct-formula score of the row at float index x0 against the query at q0: Σ(q−x)², or −Σq·x; as f32. */
function directScore(F: Float32Array, metric: MetricCode, q0: number, x0: number, d: number): number {
  let s = 0;
  if (metric === METRIC_L2) {
    for (let j = 0; j < d; j++) {
      const t = F[q0 + j]! - F[x0 + j]!;
      s += t * t;
    }
  } else {
    for (let j = 0; j < d; j++) s += F[q0 + j]! * F[x0 + j]!;
    s = -s;
  }
  return Math.fround(s);
}

/** Pushes (score, label) into a max-heap of capacity k holding `size` entries; returns new size. */
export function heapPush(hd: Float32Array, hi: Int32Array, h0: number, k: number, size: number, score: number, label: number): number {
  if (size < k) {
    // sift up
    let i = size;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = hd[h0 + p]!,
        pl = hi[h0 + p]!;
      if (ps > score || (ps === score && pl > label)) break;
      hd[h0 + i] = ps;
      hi[h0 + i] = pl;
      i = p;
    }
    hd[h0 + i] = score;
    hi[h0 + i] = label;
    return size + 1;
  }
  const ts = hd[h0]!;
  if (score > ts || (score === ts && label >= hi[h0]!)) return size;
  // replace the root and sift down
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    let c = l;
    if (r < size) {
      const ls = hd[h0 + l]!,
        rs = hd[h0 + r]!;
      if (rs > ls || (rs === ls && hi[h0 + r]! > hi[h0 + l]!)) c = r;
    }
    const cs = hd[h0 + c]!,
      cl = hi[h0 + c]!;
    if (cs > score || (cs === score && cl > label)) {
      hd[h0 + i] = cs;
      hi[h0 + i] = cl;
      i = c;
    } else break;
  }
  hd[h0 + i] = score;
  hi[h0 + i] = label;
  return size;
}

export function createReferenceKernels(memory: WebAssembly.Memory): Kernels {
  // Views are re-made on every call: the memory may have grown since the last one.
  const f32 = () => new Float32Array(memory.buffer);
  const i32 = () => new Int32Array(memory.buffer);
  let labelMap = 0;
  const label = (I: Int32Array, l: number) => (labelMap ? I[(labelMap >> 2) + l]! : l);

  /** Views a coded scan reads (floats, ints, code bytes) and the query's heap of k at heapD/heapI. */
  const codedViews = (heapD: number, heapI: number, k: number) => {
    const F = f32(),
      I = i32();
    return {
      F,
      I,
      U: new Uint8Array(memory.buffer),
      hd: F.subarray(heapD >> 2, (heapD >> 2) + k),
      hi: I.subarray(heapI >> 2, (heapI >> 2) + k),
    };
  };

  return {
    name: 'reference',
    memory,

    setLabelMap(ptr: number): void {
      labelMap = ptr;
    },

    // the reference keeps its heap throughout: the reservoir's answer is that heap, sorted
    reservoirBegin(): void {},

    reservoirEnd(heapD: number, heapI: number, k: number, size: number): number {
      const { hd, hi } = codedViews(heapD, heapI, k);
      sortPairs(hd, hi, size);
      return size;
    },

    scanTopK(
      metric: MetricCode,
      q: number,
      base: number,
      n: number,
      d: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      const F = f32(),
        I = i32();
      const q0 = q >> 2,
        h0d = heapD >> 2,
        h0i = heapI >> 2;
      // heapPush indexes both arrays with one offset; use aligned views to keep that simple
      const hd = F.subarray(h0d, h0d + k),
        hi = I.subarray(h0i, h0i + k);
      for (let r = 0; r < n; r++) {
        size = heapPush(hd, hi, 0, k, size, directScore(F, metric, q0, (base >> 2) + r * d, d), label(I, rowOffset + r));
      }
      return size;
    },

    scanTopKRows(
      metric: MetricCode,
      q: number,
      base: number,
      d: number,
      rows: number,
      n: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
    ): number {
      const I = i32();
      for (let i = 0; i < n; i++) {
        const r = I[(rows >> 2) + i]!;
        size = this.scanTopK(metric, q, base + r * d * 4, 1, d, k, heapD, heapI, size, r);
      }
      return size;
    },

    scoresAt(metric: MetricCode, q: number, base: number, d: number, rows: number, n: number, out: number): void {
      const F = f32(),
        I = i32();
      const q0 = q >> 2;
      for (let i = 0; i < n; i++) {
        F[(out >> 2) + i] = directScore(F, metric, q0, (base >> 2) + I[(rows >> 2) + i]! * d, d);
      }
    },

    batchTopK(
      metric: MetricCode,
      Q: number,
      nq: number,
      qnorms: number,
      base: number,
      xnorms: number,
      n: number,
      d: number,
      k: number,
      heapsD: number,
      heapsI: number,
      sizes: number,
      rowOffset: number,
    ): void {
      const F = f32(),
        I = i32();
      for (let i = 0; i < nq; i++) {
        const q0 = (Q >> 2) + i * d;
        const hd = F.subarray((heapsD >> 2) + i * k, (heapsD >> 2) + (i + 1) * k);
        const hi = I.subarray((heapsI >> 2) + i * k, (heapsI >> 2) + (i + 1) * k);
        let size = I[(sizes >> 2) + i]!;
        const qn = metric === METRIC_L2 ? F[(qnorms >> 2) + i]! : 0;
        for (let r = 0; r < n; r++) {
          const x0 = (base >> 2) + r * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += F[q0 + j]! * F[x0 + j]!;
          const s = metric === METRIC_L2 ? qn + F[(xnorms >> 2) + r]! - 2 * dot : -dot;
          size = heapPush(hd, hi, 0, k, size, Math.fround(s), label(I, rowOffset + r));
        }
        I[(sizes >> 2) + i] = size;
      }
    },

    norms(X: number, n: number, d: number, out: number): void {
      const F = f32();
      for (let r = 0; r < n; r++) {
        const x0 = (X >> 2) + r * d;
        let s = 0;
        for (let j = 0; j < d; j++) s += F[x0 + j]! * F[x0 + j]!;
        F[(out >> 2) + r] = s;
      }
    },

    accumulate(X: number, n: number, d: number, assign: number, sums: number, counts: number): void {
      const F = f32(),
        I = i32();
      for (let r = 0; r < n; r++) {
        const c = I[(assign >> 2) + r]!;
        if (c < 0) continue;
        const x0 = (X >> 2) + r * d,
          s0 = (sums >> 2) + c * d;
        for (let j = 0; j < d; j++) F[s0 + j]! += F[x0 + j]!;
        I[(counts >> 2) + c]! += 1;
      }
    },

    madd(n: number, a: number, alpha: number, b: number, out: number): void {
      const F = f32(),
        a0 = a >> 2,
        b0 = b >> 2,
        o0 = out >> 2,
        al = Math.fround(alpha);
      for (let i = 0; i < n; i++) F[o0 + i] = F[a0 + i]! + Math.fround(al * F[b0 + i]!);
    },

    pqTables(metric: MetricCode, q: number, cb: number, m: number, dsub: number, ksub: number, out: number): void {
      const F = f32();
      for (let j = 0; j < m; j++) {
        const q0 = (q >> 2) + j * dsub;
        for (let c = 0; c < ksub; c++) {
          F[(out >> 2) + j * ksub + c] = directScore(F, metric, q0, (cb >> 2) + (j * ksub + c) * dsub, dsub);
        }
      }
    },

    pqScan(lut: number, codes: number, n: number, m: number, bias: number, k: number, heapD: number, heapI: number, size: number, rowOffset: number): number {
      const { F, I, U, hd, hi } = codedViews(heapD, heapI, k);
      const t0 = lut >> 2,
        b = Math.fround(bias);
      const s = [0, 0, 0, 0];
      for (let r = 0; r < n; r++) {
        const c0 = codes + r * m;
        s[0] = s[1] = s[2] = s[3] = 0;
        // f32 sums in the kernel's order, so both give the same bits
        for (let j = 0; j < m; j++) s[j & 3] = Math.fround(s[j & 3]! + F[t0 + j * 256 + U[c0 + j]!]!);
        const score = Math.fround(b + Math.fround(Math.fround(s[0]! + s[1]!) + Math.fround(s[2]! + s[3]!)));
        size = heapPush(hd, hi, 0, k, size, score, label(I, rowOffset + r));
      }
      return size;
    },

    pq4Quantize(lut: number, m: number, bias: number, out: number, params: number): void {
      const F = f32(),
        U = new Uint8Array(memory.buffer);
      const mins = new Float32Array(m);
      let base = Math.fround(bias),
        range = 0;
      for (let j = 0; j < m; j++) {
        const t = F.subarray((lut >> 2) + j * 16, (lut >> 2) + j * 16 + 16);
        let mn = t[0]!,
          mx = t[0]!;
        for (const v of t) {
          mn = Math.min(mn, v);
          mx = Math.max(mx, v);
        }
        mins[j] = mn;
        base = Math.fround(base + mn);
        range = Math.max(range, Math.fround(mx - mn));
      }
      const a = range > 0 ? Math.fround(255 / range) : 0;
      for (let j = 0; j < m; j++) {
        for (let c = 0; c < 16; c++) {
          const x = Math.fround(Math.fround(F[(lut >> 2) + j * 16 + c]! - mins[j]!) * a);
          U[out + j * 16 + c] = Math.min(255, Math.floor(Math.fround(x + 0.5)));
        }
      }
      F[params >> 2] = base;
      F[(params >> 2) + 1] = range > 0 ? Math.fround(range / 255) : 0;
    },

    pq4Scan(
      qlut: number,
      params: number,
      bias: number,
      codes: number,
      n: number,
      m: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      const { F, I, U, hd, hi } = codedViews(heapD, heapI, k);
      const mb = m >> 1,
        b = Math.fround(F[params >> 2]! + Math.fround(bias)),
        st = F[(params >> 2) + 1]!;
      for (let r = 0; r < n; r++) {
        let sum = 0;
        for (let j = 0; j < mb; j++) {
          const byte = U[codes + r * mb + j]!;
          sum += U[qlut + j * 32 + (byte & 15)]! + U[qlut + j * 32 + 16 + (byte >> 4)]!;
        }
        size = heapPush(hd, hi, 0, k, size, Math.fround(b + Math.fround(sum * st)), label(I, rowOffset + r));
      }
      return size;
    },

    sq8Scan(
      metric: MetricCode,
      qp: number,
      sc: number,
      codes: number,
      n: number,
      d: number,
      bias: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      const { F, I, U, hd, hi } = codedViews(heapD, heapI, k);
      const q0 = qp >> 2,
        s0 = sc >> 2;
      for (let r = 0; r < n; r++) {
        const c0 = codes + r * d;
        let s = 0;
        if (metric === METRIC_L2) {
          for (let j = 0; j < d; j++) {
            const t = F[q0 + j]! - U[c0 + j]! * F[s0 + j]!;
            s += t * t;
          }
        } else {
          for (let j = 0; j < d; j++) s -= U[c0 + j]! * F[q0 + j]!;
        }
        size = heapPush(hd, hi, 0, k, size, Math.fround(bias + s), label(I, rowOffset + r));
      }
      return size;
    },

    f16Scan(
      metric: MetricCode,
      q: number,
      codes: number,
      n: number,
      d: number,
      bias: number,
      k: number,
      heapD: number,
      heapI: number,
      size: number,
      rowOffset: number,
    ): number {
      const { F, I, U, hd, hi } = codedViews(heapD, heapI, k);
      const q0 = q >> 2;
      for (let r = 0; r < n; r++) {
        const c0 = codes + r * 2 * d;
        let s = 0;
        for (let j = 0; j < d; j++) {
          const x = fromHalf(U[c0 + 2 * j]! | (U[c0 + 2 * j + 1]! << 8));
          if (metric === METRIC_L2) s += (F[q0 + j]! - x) ** 2;
          else s -= F[q0 + j]! * x;
        }
        size = heapPush(hd, hi, 0, k, size, Math.fround(bias + s), label(I, rowOffset + r));
      }
      return size;
    },
  };
}
