// One row scored against a query as the WASM kernels score it (assembly/kernels.ts l2Row and
// dotRow): 4-lane sums in four accumulators over 16-float steps, then 4-float steps into the
// first, summed (a0+a1)+(a2+a3), lanes as (l0+l2)+(l1+l3), then the scalar tail; the build
// forbids fused multiply-adds, so these are the very bits WASM computes. Shared by the native
// scans that must agree with WASM to the bit (refine.cc, rows.cc).
#ifndef NITAMONO_NATIVE_ROW_SCORE_H
#define NITAMONO_NATIVE_ROW_SCORE_H

#include <string.h>

namespace {

typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
  v4 v;
  memcpy(&v, p, 16);
  return v;
}

inline float hsum(v4 v) { return (v[0] + v[2]) + (v[1] + v[3]); }

// The squared L2 distance; with Bounded, it may stop early once the distance is certain to exceed
// `bound`, returning the partial sum, reduced as the full one is. Squares are non-negative and
// rounding to nearest is monotone, so every lane, and the reduction of the lanes, only grows as
// terms are added: a partial sum above the bound means the full sum is too. Below the bound the
// result is the full sum, bit for bit. Re-ranking scores candidates in their approximate order, so
// once its heap is full most rows are rejected before their last floats are summed.
template <bool Bounded>
inline float l2RowImpl(const float* q, const float* x, int d, float bound) {
  v4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 16 <= d; i += 16) {
    v4 t0 = load4(q + i) - load4(x + i), t1 = load4(q + i + 4) - load4(x + i + 4);
    v4 t2 = load4(q + i + 8) - load4(x + i + 8), t3 = load4(q + i + 12) - load4(x + i + 12);
    a0 = a0 + t0 * t0;
    a1 = a1 + t1 * t1;
    a2 = a2 + t2 * t2;
    a3 = a3 + t3 * t3;
    // every 64 floats (four cache lines)
    if (Bounded && (i & 63) == 48) {
      float partial = hsum((a0 + a1) + (a2 + a3));
      if (partial > bound) return partial;
    }
  }
  for (; i + 4 <= d; i += 4) {
    v4 t = load4(q + i) - load4(x + i);
    a0 = a0 + t * t;
  }
  float s = hsum((a0 + a1) + (a2 + a3));
  for (; i < d; i++) {
    float t = q[i] - x[i];
    s += t * t;
  }
  return s;
}

inline float l2Row(const float* q, const float* x, int d) { return l2RowImpl<false>(q, x, d, 0); }

inline float l2RowAbove(const float* q, const float* x, int d, float bound) { return l2RowImpl<true>(q, x, d, bound); }

inline float dotRow(const float* q, const float* x, int d) {
  v4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 16 <= d; i += 16) {
    a0 = a0 + load4(q + i) * load4(x + i);
    a1 = a1 + load4(q + i + 4) * load4(x + i + 4);
    a2 = a2 + load4(q + i + 8) * load4(x + i + 8);
    a3 = a3 + load4(q + i + 12) * load4(x + i + 12);
  }
  for (; i + 4 <= d; i += 4) a0 = a0 + load4(q + i) * load4(x + i);
  float s = hsum((a0 + a1) + (a2 + a3));
  for (; i < d; i++) s += q[i] * x[i];
  return s;
}

}  // namespace

#endif
