// AVX2 + FMA build of the batch kernel (compiled with -mavx2 -mfma; run only where the CPU has both).
#include <immintrin.h>
#include <stdint.h>

namespace {
struct Isa {
  typedef __m256 V;
  static const int W = 8;
  static inline V zero() { return _mm256_setzero_ps(); }
  static inline V load(const float* p) { return _mm256_loadu_ps(p); }
  static inline V loadTail(const float* p, int rem) {
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i*)(m + 8 - rem)));
  }
  static inline V fma(V a, V b, V acc) { return _mm256_fmadd_ps(a, b, acc); }
  /** out[j] = ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) of argument j. */
  static inline void reduce4(V a, V b, V c, V d, float* out) {
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
};
}  // namespace

#include "batch-impl.h"

void batch_avx2(const BatchArgs& a) { run<3>(a); }
