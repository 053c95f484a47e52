/* Streaming-read bandwidth: the ceiling for an exact scan, which must read every byte of the
 * vectors once per query. Sums a 1 GiB float array with 8 independent AVX-friendly
 * accumulators (gcc -O3 -march=native vectorises it); prints the best of 5 in bytes/s. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void) {
  size_t n = (size_t)1 << 28; /* 1 GiB of floats */
  float *a = malloc(n * sizeof(float));
  if (!a) return 1;
  for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
  double best = 1e9;
  float sink = 0;
  for (int r = 0; r < 5; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    float s[16] = {0};
    for (size_t i = 0; i < n; i += 16)
      for (int j = 0; j < 16; j++) s[j] += a[i + j];
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int j = 0; j < 16; j++) sink += s[j];
    double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (dt < best) best = dt;
  }
  printf("%.0f %g\n", n * sizeof(float) / best, sink);
  return 0;
}
