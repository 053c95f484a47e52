// scanTopKRows natively: a filtered search's scan of the rows a folder holds, wherever they lie
// (an inverted file scatters a folder's 1,000 rows of 1 KB through 100 MB, one cache and TLB miss
// each that no hardware prefetcher foresees). WASM has no prefetch instruction; here the rows
// AHEAD of the one scored are asked for with __builtin_prefetch, so their misses overlap the
// arithmetic instead of following one another.
//
// Scores are the WASM kernel's to the bit (./row-score.h) and rows enter the heap in the same
// order as in assembly/kernels.ts scan_topk_rows, so both kernels return the same heap. Plain
// 4-lane vectors: the scan waits on memory, not on arithmetic, so it needs no per-instruction-set
// build.
#include "rows.h"

#include <stdint.h>

#include "heap.h"
#include "memory-arg.h"
#include "row-score.h"

namespace {

/** Rows prefetched ahead of the one scored (16 KB of 1 KB rows in flight). */
const int AHEAD = 16;
const size_t LINE = 64;

inline void prefetchRow(const char* x, size_t bytes) {
  for (size_t o = 0; o < bytes; o += LINE) __builtin_prefetch(x + o);
  // a row not aligned to a line reaches into one more
  __builtin_prefetch(x + bytes - 1);
}

template <bool L2>
int scanRows(const float* q, const char* base, int d, const int32_t* rows, int n, int k, float* hd, int32_t* hi, int size, const int32_t* labels) {
  const size_t rowBytes = (size_t)d * 4;
  for (int j = 0; j < n && j < AHEAD; j++) prefetchRow(base + rows[j] * rowBytes, rowBytes);
  float root = size >= k ? hd[0] : __builtin_inff();
  for (int i = 0; i < n; i++) {
    if (i + AHEAD < n) prefetchRow(base + rows[i + AHEAD] * rowBytes, rowBytes);
    const int32_t r = rows[i];
    const float* x = (const float*)(base + r * rowBytes);
    const float s = L2 ? l2Row(q, x, d) : -dotRow(q, x, d);
    if (s > root) continue;
    size = heapPush(hd, hi, k, size, s, labels ? labels[r] : r);
    if (size >= k) root = hd[0];
  }
  return size;
}

napi_value fail(napi_env env, const char* msg) {
  napi_throw_range_error(env, "NITAMONO_NATIVE", msg);
  return nullptr;
}

/** `count` items of `size` bytes at byte offset `off` lie inside the memory of `length` bytes, 4-aligned. */
bool fits(double off, double count, double size, size_t length) {
  return off >= 0 && ((int64_t)off & 3) == 0 && count >= 0 && off + count * size <= (double)length;
}

}  // namespace

napi_value ScanTopKRows(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  uint8_t* mem;
  size_t length;
  if (const char* wrong = kernelArgs(env, info, 12, argv, &mem, &length)) return fail(env, wrong);
  double v[11];
  for (int i = 0; i < 11; i++)
    if (napi_get_value_double(env, argv[i + 1], &v[i]) != napi_ok || v[i] != (double)(int64_t)v[i] || v[i] < 0 || v[i] > 4294967295.0)
      return fail(env, "scanTopKRows: arguments after the memory must be integers in [0, 2^32)");
  const double metric = v[0], qAt = v[1], baseAt = v[2], d = v[3], rowsAt = v[4], n = v[5], k = v[6], hdAt = v[7], hiAt = v[8], size = v[9], labelsAt = v[10];
  if (metric != 0 && metric != 1) return fail(env, "scanTopKRows: metric must be 0 (L2) or 1 (IP)");
  if (!(d >= 1 && n <= 2147483647.0 && k <= 2147483647.0 && size <= k)) return fail(env, "scanTopKRows: d ≥ 1, n and k below 2^31, size within [0, k]");
  napi_value out;
  if (k == 0 || n == 0) {
    napi_create_double(env, size, &out);
    return out;
  }
  if (!fits(qAt, d, 4, length) || !fits(rowsAt, n, 4, length) || !fits(hdAt, k, 4, length) || !fits(hiAt, k, 4, length) || !fits(baseAt, 0, 4, length))
    return fail(env, "scanTopKRows: a region lies outside the memory");
  const int32_t* rows = (const int32_t*)(mem + (size_t)rowsAt);
  // every row (and its label) inside the memory before anything is read through it
  for (int i = 0; i < (int)n; i++)
    if (!fits(baseAt, (rows[i] + 1.0) * d, 4, length) || rows[i] < 0 || (labelsAt != 0 && !fits(labelsAt, rows[i] + 1.0, 4, length)))
      return fail(env, "scanTopKRows: a row lies outside the memory");
  const float* q = (const float*)(mem + (size_t)qAt);
  const char* base = (const char*)(mem + (size_t)baseAt);
  float* hd = (float*)(mem + (size_t)hdAt);
  int32_t* hi = (int32_t*)(mem + (size_t)hiAt);
  const int32_t* labels = labelsAt != 0 ? (const int32_t*)(mem + (size_t)labelsAt) : nullptr;
  const int s = metric == 0 ? scanRows<true>(q, base, (int)d, rows, (int)n, (int)k, hd, hi, (int)size, labels)
                            : scanRows<false>(q, base, (int)d, rows, (int)n, (int)k, hd, hi, (int)size, labels);
  napi_create_double(env, s, &out);
  return out;
}
