// Portable build of the batch kernel: plain C++ on 8-float groups (the compiler may vectorise it
// for the baseline instruction set), used where neither AVX2+FMA nor AVX-512F is available.
#include <stdint.h>

namespace {
struct Isa {
  struct V {
    float v[8];
  };
  static const int W = 8;
  static inline V zero() {
    V r;
    for (int i = 0; i < 8; i++) r.v[i] = 0.0f;
    return r;
  }
  static inline V load(const float* p) {
    V r;
    for (int i = 0; i < 8; i++) r.v[i] = p[i];
    return r;
  }
  static inline V loadTail(const float* p, int rem) {
    V r = zero();
    for (int i = 0; i < rem; i++) r.v[i] = p[i];
    return r;
  }
  static inline V fma(V a, V b, V acc) {
    for (int i = 0; i < 8; i++) acc.v[i] += a.v[i] * b.v[i];
    return acc;
  }
  static inline void reduce4(V a, V b, V c, V d, float* out) {
    const V* vs[4] = {&a, &b, &c, &d};
    for (int j = 0; j < 4; j++) {
      const float* l = vs[j]->v;
      out[j] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
  }
};
}  // namespace

#include "batch-impl.h"

void batch_scalar(const BatchArgs& a) { run<2>(a); }
