// Refine vectors mapped read-only (the mmap source of src/search/refine.ts): the rows of a .fvecs
// or .npy file scored against a query straight from the page cache, with no system call, buffer
// or copy per candidate. The mapping is process memory that the kernel backs with the file's
// page-cache pages; it is not the index's RAM.
//
// A read past the end of a file that shrank after it was mapped raises SIGBUS, which would kill
// the process. So the layout is checked against the file's size when mapping, and again (one
// fstat) at the start of every call: a file truncated before a call is a BAD_FILE error. What is
// not covered is a truncation *during* a call (microseconds); a file replaced by rename is safe,
// as the mapping keeps the old file's pages.
//
// Scores are l2Row / dotRow of assembly/kernels.ts in the same order of operations (4-lane sums,
// four accumulators, then the same horizontal sum; the build forbids fused multiply-adds), so
// they are the very bits the WASM scanTopK computes on a copy of the rows.
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heap.h"
#include "row-score.h"

namespace {

struct Mapping {
  int fd = -1;
  const uint8_t* base = nullptr;
  size_t length = 0;
  uint64_t offset = 0, stride = 0, need = 0;
  int64_t rows = 0;
  int dim = 0;
};

napi_value fail(napi_env env, const char* code, const char* msg) {
  napi_throw_error(env, code, msg);
  return nullptr;
}

/** The arguments of a call, or null after throwing when there are fewer than `n`. */
bool args(napi_env env, napi_callback_info info, size_t n, napi_value* argv, const char* name) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < n) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s takes %zu arguments", name, n);
    fail(env, "INVALID_ARGUMENT", msg);
    return false;
  }
  return true;
}

bool number(napi_env env, napi_value v, double* out) { return napi_get_value_double(env, v, out) == napi_ok; }

/** The data and element count of a typed array of `type`. */
bool typed(napi_env env, napi_value v, napi_typedarray_type type, void** data, size_t* length) {
  bool is = false;
  napi_typedarray_type t;
  napi_value buffer;
  size_t byteOffset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, v, &t, length, data, &buffer, &byteOffset) != napi_ok || t != type) return false;
  return *data != nullptr || *length == 0;
}

/** The open mapping of a handle; throws (and returns null) when it was closed or its file shrank. */
Mapping* live(napi_env env, napi_value handle) {
  void* p = nullptr;
  if (napi_get_value_external(env, handle, &p) != napi_ok || !p) {
    fail(env, "INVALID_ARGUMENT", "not a refine mapping");
    return nullptr;
  }
  Mapping* m = (Mapping*)p;
  if (m->fd < 0) {
    fail(env, "CLOSED", "the refine vectors file was closed");
    return nullptr;
  }
  struct stat st;
  if (fstat(m->fd, &st) != 0) {
    fail(env, "IO", strerror(errno));
    return nullptr;
  }
  if ((uint64_t)st.st_size < m->need) {
    char msg[160];
    snprintf(msg, sizeof msg, "truncated: the refine vectors file shrank to %lld bytes, its rows need %llu", (long long)st.st_size, (unsigned long long)m->need);
    fail(env, "BAD_FILE", msg);
    return nullptr;
  }
  return m;
}

void release(Mapping* m) {
  if (m->base) munmap((void*)m->base, m->length);
  if (m->fd >= 0) close(m->fd);
  m->base = nullptr;
  m->fd = -1;
}

void finalize(napi_env, void* data, void*) {
  release((Mapping*)data);
  delete (Mapping*)data;
}

/** Throws NOT_FOUND for a label that is neither −1 (no candidate) nor a row; false then. */
bool rowsOk(napi_env env, const Mapping* m, const int32_t* ids, size_t n, bool allowNone) {
  for (size_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if ((id >= 0 && id < m->rows) || (allowNone && id == -1)) continue;
    char msg[128];
    snprintf(msg, sizeof msg, "id %d has no row in the refine vectors (%lld rows)", id, (long long)m->rows);
    fail(env, "NOT_FOUND", msg);
    return false;
  }
  return true;
}

inline const float* row(const Mapping* m, int32_t id) { return (const float*)(m->base + m->offset + (uint64_t)id * m->stride); }

// refineMap(path, offset, stride, rows, dim): a handle; BAD_FILE when the file is shorter than the layout
napi_value Map(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args(env, info, 5, argv, "refineMap")) return nullptr;
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) return fail(env, "INVALID_ARGUMENT", "refineMap: bad path");
  double v[4];
  for (int i = 0; i < 4; i++)
    if (!number(env, argv[i + 1], &v[i]) || !(v[i] >= 0) || v[i] != (double)(int64_t)v[i]) return fail(env, "INVALID_ARGUMENT", "refineMap: offset, stride, rows and dim are integers ≥ 0");
  if (!(v[3] >= 1 && v[3] <= 2147483647.0) || (int64_t)v[0] % 4 != 0 || (int64_t)v[1] % 4 != 0 || v[1] < v[3] * 4)
    return fail(env, "INVALID_ARGUMENT", "refineMap: rows must be 4-aligned and hold dim floats");
  Mapping* m = new Mapping();
  m->offset = (uint64_t)v[0];
  m->stride = (uint64_t)v[1];
  m->rows = (int64_t)v[2];
  m->dim = (int)v[3];
  m->need = m->rows > 0 ? m->offset + (uint64_t)(m->rows - 1) * m->stride + (uint64_t)m->dim * 4 : 0;
  m->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  const char* problem = nullptr;
  char msg[160];
  if (m->fd < 0 || fstat(m->fd, &st) != 0) {
    problem = strerror(errno);
  } else if ((uint64_t)st.st_size < m->need) {
    snprintf(msg, sizeof msg, "truncated: %lld bytes, its rows need %llu", (long long)st.st_size, (unsigned long long)m->need);
    problem = msg;
  } else if (st.st_size > 0) {
    m->length = (size_t)st.st_size;
    void* p = mmap(nullptr, m->length, PROT_READ, MAP_SHARED, m->fd, 0);
    if (p == MAP_FAILED) {
      problem = strerror(errno);
    } else {
      m->base = (const uint8_t*)p;
      // candidates are scattered rows: read-ahead would only fetch pages nobody asked for
      madvise(p, m->length, MADV_RANDOM);
    }
  }
  if (problem) {
    bool truncated = problem == msg;
    release(m);
    delete m;
    return fail(env, truncated ? "BAD_FILE" : "IO", problem);
  }
  napi_value handle;
  if (napi_create_external(env, m, finalize, nullptr, &handle) != napi_ok) {
    release(m);
    delete m;
    return fail(env, "IO", "refineMap: cannot create the handle");
  }
  return handle;
}

// refineUnmap(handle): unmaps and closes now (the garbage collector would, later)
napi_value Unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void* p = nullptr;
  if (!args(env, info, 1, argv, "refineUnmap")) return nullptr;
  if (napi_get_value_external(env, argv[0], &p) == napi_ok && p) release((Mapping*)p);
  return nullptr;
}

// refineGather(handle, ids: Int32Array, out: Float32Array): the rows of ids into out, in order
napi_value Gather(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, "refineGather")) return nullptr;
  Mapping* m = live(env, argv[0]);
  if (!m) return nullptr;
  int32_t* ids;
  float* out;
  size_t n, outLen;
  if (!typed(env, argv[1], napi_int32_array, (void**)&ids, &n) || !typed(env, argv[2], napi_float32_array, (void**)&out, &outLen))
    return fail(env, "INVALID_ARGUMENT", "refineGather takes an Int32Array of ids and a Float32Array");
  if (outLen < n * (size_t)m->dim) return fail(env, "INVALID_ARGUMENT", "refineGather: the output is too short");
  if (!rowsOk(env, m, ids, n, false)) return nullptr;
  for (size_t i = 0; i < n; i++) memcpy(out + i * m->dim, row(m, ids[i]), (size_t)m->dim * 4);
  return nullptr;
}

// refineTopK(handle, metric, query: Float32Array, labels: Int32Array, k, memory: Uint8Array, heapD, heapI, size):
// the exact scores of the candidate rows `labels` (−1: none) pushed into the heap of k at heapD/heapI in
// memory holding `size` entries; returns its new size
napi_value TopK(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!args(env, info, 9, argv, "refineTopK")) return nullptr;
  Mapping* m = live(env, argv[0]);
  if (!m) return nullptr;
  float* q;
  int32_t* labels;
  uint8_t* mem;
  size_t qLen, n, memLen;
  double metric, k, heapD, heapI, size;
  if (!typed(env, argv[2], napi_float32_array, (void**)&q, &qLen) || !typed(env, argv[3], napi_int32_array, (void**)&labels, &n) ||
      !typed(env, argv[5], napi_uint8_array, (void**)&mem, &memLen) || !number(env, argv[1], &metric) || !number(env, argv[4], &k) ||
      !number(env, argv[6], &heapD) || !number(env, argv[7], &heapI) || !number(env, argv[8], &size))
    return fail(env, "INVALID_ARGUMENT", "refineTopK: bad arguments");
  if (qLen != (size_t)m->dim) return fail(env, "INVALID_ARGUMENT", "refineTopK: the query's length is not the dimension");
  if ((metric != 0 && metric != 1) || !(k >= 1 && k <= 1 << 24 && k == (int)k) || !(size >= 0 && size <= k && size == (int)size))
    return fail(env, "INVALID_ARGUMENT", "refineTopK: metric is 0 or 1, 1 ≤ k < 2^24, 0 ≤ size ≤ k");
  const double heaps[2] = {heapD, heapI};
  for (double off : heaps)
    if (!(off >= 0 && off == (double)(int64_t)off && ((int64_t)off & 3) == 0 && off + k * 4 <= (double)memLen))
      return fail(env, "INVALID_ARGUMENT", "refineTopK: a heap lies outside the memory");
  if (!rowsOk(env, m, labels, n, true)) return nullptr;
  float* hd = (float*)(mem + (size_t)heapD);
  int32_t* hi = (int32_t*)(mem + (size_t)heapI);
  int s = (int)size;
  const bool l2 = metric == 0;
  const size_t rowBytes = (size_t)m->dim * 4;
  size_t next = 0;
  while (next < n && labels[next] < 0) next++;
  for (size_t j = next; j < n; j = next) {
    const float* x = row(m, labels[j]);
    // the rows are scattered: fetch the next one while this one is scored
    for (next = j + 1; next < n && labels[next] < 0;) next++;
    if (next < n) {
      // all of it, though most rows are given up after a few lines: fetching less measured slower
      // (320 candidates of 784 floats: 163 µs a query with the first 512 bytes, 119 µs whole)
      const char* y = (const char*)row(m, labels[next]);
      for (size_t o = 0; o < rowBytes; o += 64) __builtin_prefetch(y + o);
    }
    // a full heap gives a bound: most later candidates exceed it after their first cache lines
    float score = !l2 ? -dotRow(q, x, m->dim) : s < (int)k ? l2Row(q, x, m->dim) : l2RowAbove(q, x, m->dim, hd[0]);
    s = heapPush(hd, hi, (int)k, s, score, labels[j]);
  }
  napi_value r;
  napi_create_int32(env, s, &r);
  return r;
}

// refineResident(handle, labels: Int32Array): whether every page of those rows (−1: none) is in the
// page cache now, so that reading them costs no disk wait (mincore)
napi_value Resident(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args(env, info, 2, argv, "refineResident")) return nullptr;
  Mapping* m = live(env, argv[0]);
  if (!m) return nullptr;
  int32_t* labels;
  size_t n;
  if (!typed(env, argv[1], napi_int32_array, (void**)&labels, &n)) return fail(env, "INVALID_ARGUMENT", "refineResident takes an Int32Array");
  if (!rowsOk(env, m, labels, n, true)) return nullptr;
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  bool all = true;
  unsigned char vec[64];
  for (size_t j = 0; j < n && all; j++) {
    if (labels[j] < 0) continue;
    uint64_t start = m->offset + (uint64_t)labels[j] * m->stride, end = start + (uint64_t)m->dim * 4;
    for (uint64_t a = start / page * page; a < end && all; a += 64 * page) {
      uint64_t len = end - a < 64 * page ? end - a : 64 * page;
      if (mincore((void*)(m->base + a), len, vec) != 0) {
        all = false;
        break;
      }
      for (uint64_t p = 0; p < (len + page - 1) / page; p++)
        if (!(vec[p] & 1)) all = false;
    }
  }
  napi_value r;
  napi_get_boolean(env, all, &r);
  return r;
}

}  // namespace

void registerRefine(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"refineMap", nullptr, Map, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"refineUnmap", nullptr, Unmap, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"refineGather", nullptr, Gather, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"refineTopK", nullptr, TopK, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"refineResident", nullptr, Resident, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
