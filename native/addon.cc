// nitamono's optional native kernel: the blocked many-queries × many-rows scan behind flat batch
// search and the k-means assignment step, with AVX-512F or AVX2+FMA chosen at run time and a
// portable build otherwise. It reads the arena (a shared WebAssembly memory) through a
// Uint8Array view, so pointers are the same byte offsets the WASM kernels take; every region is
// checked against the view before anything is read or written. Context-aware: worker threads
// load it too.
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

#include "batch.h"
#include "memory-arg.h"
#include "rows.h"

namespace {

enum Level { SCALAR = 0, AVX2 = 1, AVX512 = 2 };
const char* const LEVEL_NAMES[] = {"scalar", "avx2", "avx512"};

Level cpuLevel() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0)
  if (__builtin_cpu_supports("avx512f")) return AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return AVX2;
#endif
  return SCALAR;
}

Level parseLevel(const char* s, Level fallback) {
  if (!s) return fallback;
  for (int l = SCALAR; l <= AVX512; l++)
    if (strcmp(s, LEVEL_NAMES[l]) == 0) return (Level)l;
  return fallback;
}

// Process-wide, so worker threads use what the main thread chose. NITAMONO_NATIVE_ISA caps it
// (for tests and measurements of the narrower builds); never above what the CPU has.
std::atomic<int> chosen{-1};

Level level() {
  int l = chosen.load();
  if (l < 0) {
    Level cpu = cpuLevel();
    Level want = parseLevel(getenv("NITAMONO_NATIVE_ISA"), cpu);
    l = want < cpu ? want : cpu;
    chosen.store(l);
  }
  return (Level)l;
}

BatchFn batchFn(Level l) {
#if defined(__x86_64__) || defined(__i386__)
  if (l == AVX512) return batch_avx512;
  if (l == AVX2) return batch_avx2;
#endif
  return batch_scalar;
}

napi_value throwRange(napi_env env, const char* msg) {
  napi_throw_range_error(env, "NITAMONO_NATIVE", msg);
  return nullptr;
}

bool getNumber(napi_env env, napi_value v, double* out) { return napi_get_value_double(env, v, out) == napi_ok; }

struct Memory {
  uint8_t* base;
  size_t length;
  /** The address of `bytes` bytes at byte offset `off`, or null when they do not lie inside the memory (or off is not 4-aligned). */
  void* at(double off, double bytes) const {
    if (!(off >= 0) || off != (double)(int64_t)off || ((int64_t)off & 3) != 0 || !(bytes >= 0)) return nullptr;
    if (off + bytes > (double)length) return nullptr;
    return base + (size_t)off;
  }
};

// batchTopK(memory: Uint8Array, metric, Q, nq, qnorms, base, xnorms, n, d, k, heapsD, heapsI, sizes, rowOffset, labelMap)
napi_value BatchTopK(napi_env env, napi_callback_info info) {
  napi_value argv[15];
  uint8_t* data;
  size_t length;
  if (const char* wrong = kernelArgs(env, info, 15, argv, &data, &length)) return throwRange(env, wrong);
  Memory mem{data, length};
  double v[14];
  for (int i = 0; i < 14; i++)
    if (!getNumber(env, argv[i + 1], &v[i])) return throwRange(env, "batchTopK: arguments after the memory must be numbers");
  const double metric = v[0], nq = v[2], n = v[6], d = v[7], k = v[8], rowOffset = v[12], labelMap = v[13];
  if (metric != 0 && metric != 1) return throwRange(env, "batchTopK: metric must be 0 (L2) or 1 (IP)");
  // nothing to do, as in the WASM kernel (a caller may pass an empty or reversed row range)
  if (!(nq > 0 && n > 0 && k > 0)) return nullptr;
  const double LIMIT = 2147483647.0;
  if (!(nq >= 0 && nq <= LIMIT && n >= 0 && n <= LIMIT && d >= 1 && d <= LIMIT && k >= 0 && k <= LIMIT && rowOffset >= 0 && rowOffset + n <= LIMIT) ||
      nq != (int64_t)nq || n != (int64_t)n || d != (int64_t)d || k != (int64_t)k || rowOffset != (int64_t)rowOffset)
    return throwRange(env, "batchTopK: counts must be integers below 2^31 (d ≥ 1, rowOffset ≥ 0)");
  const bool l2 = metric == 0;
  BatchArgs a;
  a.metric = (int)metric;
  a.nq = (int)nq;
  a.n = (int)n;
  a.d = (int)d;
  a.k = (int)k;
  a.rowOffset = (int)rowOffset;
  a.Q = (const float*)mem.at(v[1], nq * d * 4);
  a.qnorms = l2 ? (const float*)mem.at(v[3], nq * 4) : nullptr;
  a.X = (const float*)mem.at(v[4], n * d * 4);
  a.xnorms = l2 ? (const float*)mem.at(v[5], n * 4) : nullptr;
  a.heapsD = (float*)mem.at(v[9], nq * k * 4);
  a.heapsI = (int32_t*)mem.at(v[10], nq * k * 4);
  a.sizes = (int32_t*)mem.at(v[11], nq * 4);
  a.labelMap = labelMap == 0 ? nullptr : (const int32_t*)mem.at(labelMap, (rowOffset + n) * 4);
  if (!a.Q || !a.X || !a.heapsD || !a.heapsI || !a.sizes || (l2 && (!a.qnorms || !a.xnorms)) || (labelMap != 0 && !a.labelMap))
    return throwRange(env, "batchTopK: a region lies outside the memory");
  for (int i = 0; i < a.nq; i++)
    if (a.sizes[i] < 0 || a.sizes[i] > a.k) return throwRange(env, "batchTopK: a heap size is outside [0, k]");
  batchFn(level())(a);
  return nullptr;
}

napi_value Isa(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, LEVEL_NAMES[level()], NAPI_AUTO_LENGTH, &s);
  return s;
}

// useIsa(name): caps the instruction set for the whole process from now on (tests); returns the one in use.
napi_value UseIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16] = {0};
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return throwRange(env, "useIsa takes a name: scalar, avx2 or avx512");
  Level cpu = cpuLevel();
  Level want = parseLevel(name, (Level)-1);
  if ((int)want < 0) return throwRange(env, "useIsa takes a name: scalar, avx2 or avx512");
  chosen.store(want < cpu ? want : cpu);
  return Isa(env, info);
}

}  // namespace

void registerRefine(napi_env env, napi_value exports);     // refine.cc
void registerHugePages(napi_env env, napi_value exports);  // huge-pages.cc

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"batchTopK", nullptr, BatchTopK, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"scanTopKRows", nullptr, ScanTopKRows, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"isa", nullptr, Isa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"useIsa", nullptr, UseIsa, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  registerRefine(env, exports);
  registerHugePages(env, exports);
  return exports;
}
