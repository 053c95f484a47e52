// adviseHugePages: asks Linux to back an arena with 2 MiB pages (madvise MADV_HUGEPAGE) before
// its pages are first touched. A filtered search reads a folder's rows scattered through an
// index — an inverted file spreads 1,000 rows of 1 KB over 100 MB — and on 4 KiB pages each row
// is a TLB miss whose page walk itself misses the cache; 2 MiB pages map 100 MB with 50 entries.
// Measured (BENCHMARKS.md, "Huge pages for the arenas"): 1,000 scattered rows scanned in 0.72× the time.
// Debian's default transparent-huge-page mode is `madvise`, so without this call no index memory
// gets them. Only a hint: the kernel falls back to small pages when it has no huge one free.
#include <node_api.h>
#include <stdint.h>

#if defined(__linux__)
#include <errno.h>
#include <sys/mman.h>
#endif

namespace {

const uintptr_t HUGE_PAGE = (uintptr_t)2 << 20;

napi_value fail(napi_env env, const char* msg) {
  napi_throw_range_error(env, "NITAMONO_NATIVE", msg);
  return nullptr;
}

/**
 * adviseHugePages(memory: Uint8Array over the start of a WebAssembly memory, from, to): advises
 * the whole 2 MiB pages lying between byte offsets `from` and `to` of that memory's address
 * range. `to` may pass the view's length: a shared memory's address range is reserved up to its
 * maximum when it is made, so pages it grows into later are advised too. Returns the bytes
 * advised, or −errno when madvise refused (0 where there is nothing to advise, or no Linux).
 */
napi_value AdviseHugePages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 3) return fail(env, "adviseHugePages(memory, from, to)");
  bool typed = false;
  napi_is_typedarray(env, argv[0], &typed);
  napi_typedarray_type type;
  size_t length;
  void* p = nullptr;
  size_t byteOffset = 0;
  napi_value ab;
  if (!typed || napi_get_typedarray_info(env, argv[0], &type, &length, &p, &ab, &byteOffset) != napi_ok || type != napi_uint8_array || !p || byteOffset != 0)
    return fail(env, "adviseHugePages: the memory must be a Uint8Array over the whole buffer");
  double from, to;
  if (napi_get_value_double(env, argv[1], &from) != napi_ok || napi_get_value_double(env, argv[2], &to) != napi_ok || !(from >= 0) || !(to >= from) ||
      to > 4294967296.0)
    return fail(env, "adviseHugePages: 0 ≤ from ≤ to ≤ 4 GiB");
  double advised = 0;
#if defined(__linux__)
  const uintptr_t base = (uintptr_t)p;
  const uintptr_t start = (base + (uintptr_t)from + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  const uintptr_t end = (base + (uintptr_t)to) & ~(HUGE_PAGE - 1);
  if (end > start) advised = madvise((void*)start, end - start, MADV_HUGEPAGE) == 0 ? (double)(end - start) : -(double)errno;
#endif
  napi_value out;
  napi_create_double(env, advised, &out);
  return out;
}

}  // namespace

void registerHugePages(napi_env env, napi_value exports) {
  napi_property_descriptor prop = {"adviseHugePages", nullptr, AdviseHugePages, nullptr, nullptr, nullptr, napi_enumerable, nullptr};
  napi_define_properties(env, exports, 1, &prop);
}
