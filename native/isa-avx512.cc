// AVX-512F build of the batch kernel (compiled with -mavx512f -mavx2 -mfma; run only where the CPU and OS support AVX-512F).
#include <immintrin.h>
#include <stdint.h>

namespace {
struct Isa {
  typedef __m512 V;
  static const int W = 16;
  static inline V zero() { return _mm512_setzero_ps(); }
  static inline V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline V loadTail(const float* p, int rem) { return _mm512_maskz_loadu_ps((__mmask16)((1u << rem) - 1), p); }
  static inline V fma(V a, V b, V acc) { return _mm512_fmadd_ps(a, b, acc); }
  static inline __m256 fold(V v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); }
  /** out[j]: the 16 lanes of argument j folded to 8 (l_i + l_{i+8}), then summed as the AVX2 build does. */
  static inline void reduce4(V a, V b, V c, V d, float* out) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(fold(a), fold(b)), _mm256_hadd_ps(fold(c), fold(d)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
};
}  // namespace

#include "batch-impl.h"

void batch_avx512(const BatchArgs& a) { run<4>(a); }
