/**
 * TEMPORARY: JS stand-ins for the pq4Quantize / pq4Scan kernels until they land in ../kernels
 * (then scan.ts calls K directly and this file goes). Same definitions as the interface states.
 */
import { type Kernels, METRIC_IP } from '../kernels/types.js';

export interface PQ4Ops {
  pq4Quantize(lut: number, m: number, bias: number, out: number, params: number): void;
  pq4Scan(
    qlut: number,
    codes: number,
    n: number,
    m: number,
    base: number,
    step: number,
    k: number,
    heapD: number,
    heapI: number,
    size: number,
    rowOffset: number,
  ): number;
}

/** Scratch floats the stand-in pushes scores through (−1 and the score: scanTopK's IP of d = 1 gives the score back exactly). */
export const PQ4_SHIM_FLOATS = 2;

const cache = new WeakMap<Kernels, PQ4Ops>();

export function pq4(K: Kernels): PQ4Ops {
  const own = K as Kernels & Partial<PQ4Ops>;
  if (own.pq4Quantize && own.pq4Scan) return own as PQ4Ops;
  let ops = cache.get(K);
  if (ops) return ops;
  let push = 0;
  ops = {
    pq4Quantize(lut, m, bias, out, params) {
      const F = new Float32Array(K.memory.buffer),
        U = new Uint8Array(K.memory.buffer);
      let range = 0,
        base = Math.fround(bias);
      const mins: number[] = [];
      for (let j = 0; j < m; j++) {
        let lo = Number.POSITIVE_INFINITY,
          hi = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < 16; c++) {
          const v = F[(lut >> 2) + j * 16 + c]!;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        mins.push(lo);
        range = Math.max(range, Math.fround(hi - lo));
        base = Math.fround(base + lo);
      }
      const a = range > 0 ? Math.fround(255 / range) : 0;
      for (let j = 0; j < m; j++)
        for (let c = 0; c < 16; c++) {
          const v = Math.fround(Math.fround(F[(lut >> 2) + j * 16 + c]! - mins[j]!) * a);
          U[out + j * 16 + c] = Math.min(255, Math.floor(Math.fround(v + 0.5)));
        }
      F[params >> 2] = base;
      F[(params >> 2) + 1] = Math.fround(range / 255);
      // the scratch's last floats (scan.ts places them right after params)
      push = params + 8;
    },
    pq4Scan(qlut, codes, n, m, base, step, k, heapD, heapI, size, rowOffset) {
      const F = new Float32Array(K.memory.buffer),
        U = new Uint8Array(K.memory.buffer);
      F[push >> 2] = -1;
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let j = 0; j < m; j++) {
          const b = U[codes + r * (m >> 1) + (j >> 1)]!;
          s += U[qlut + j * 16 + ((b >> ((j & 1) * 4)) & 15)]!;
        }
        F[(push >> 2) + 1] = Math.fround(base + Math.fround(Math.fround(s) * step));
        size = K.scanTopK(METRIC_IP, push, push + 4, 1, 1, k, heapD, heapI, size, rowOffset + r);
      }
      return size;
    },
  };
  cache.set(K, ops);
  return ops;
}
