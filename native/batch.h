// The many-queries × many-rows kernel of the native addon, shared by its instruction-set builds.
// Semantics are batch_topk's in assembly/kernels.ts (see src/kernels/types.ts): L2 scores are
// qnorms[i] + xnorms[r] − 2⟨q_i, x_r⟩, IP scores −⟨q_i, x_r⟩, "smaller is better", each query's
// top-k a max-heap on (score, label) whose worst entry is at index 0.
#ifndef NITAMONO_NATIVE_BATCH_H
#define NITAMONO_NATIVE_BATCH_H

#include <stdint.h>

struct BatchArgs {
  int metric;  // 0 L2, 1 IP
  const float* Q;
  int nq;
  const float* qnorms;
  const float* X;
  const float* xnorms;
  int n;
  int d;
  int k;
  float* heapsD;
  int32_t* heapsI;
  int32_t* sizes;
  int rowOffset;
  const int32_t* labelMap;  // null: labels are row numbers
};

typedef void (*BatchFn)(const BatchArgs& a);

void batch_scalar(const BatchArgs& a);
#if defined(__x86_64__) || defined(__i386__)
void batch_avx2(const BatchArgs& a);
void batch_avx512(const BatchArgs& a);
#endif

#endif
