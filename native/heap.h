// The top-k heap of the native kernels, as the WASM kernels keep it (assembly/kernels.ts): a
// max-heap on (score, label) whose worst entry is at index 0, ties broken by the larger label.
// Internal linkage: each instruction-set file keeps its own copy.
#ifndef NITAMONO_NATIVE_HEAP_H
#define NITAMONO_NATIVE_HEAP_H

#include <stdint.h>

namespace {

inline int heapPush(float* hd, int32_t* hi, int k, int size, float score, int32_t label) {
  if (size < k) {
    int i = size;
    while (i > 0) {
      int p = (i - 1) >> 1;
      float ps = hd[p];
      int32_t pl = hi[p];
      if (ps > score || (ps == score && pl > label)) break;
      hd[i] = ps;
      hi[i] = pl;
      i = p;
    }
    hd[i] = score;
    hi[i] = label;
    return size + 1;
  }
  float ts = hd[0];
  if (score > ts || (score == ts && label >= hi[0])) return size;
  int i = 0;
  for (;;) {
    int l = 2 * i + 1;
    if (l >= size) break;
    int r = l + 1, c = l;
    if (r < size && (hd[r] > hd[l] || (hd[r] == hd[l] && hi[r] > hi[l]))) c = r;
    if (hd[c] > score || (hd[c] == score && hi[c] > label)) {
      hd[i] = hd[c];
      hi[i] = hi[c];
      i = c;
    } else break;
  }
  hd[i] = score;
  hi[i] = label;
  return size;
}

}  // namespace

#endif
