// Included once by each instruction-set file (isa-*.cc), after it defines `struct Isa`:
//   V                      a vector of W floats
//   zero(), load(p), loadTail(p, rem)  (rem < W floats, the rest zero; never reads past p + rem)
//   fma(a, b, acc)         acc + a·b
//   reduce4(a, b, c, d, out)  out[j] = the lanes of the j-th argument summed, in one fixed order
// Everything here has internal linkage, so each file's copy keeps its own instruction set.
#include "batch.h"
#include "heap.h"

namespace {

// Rows of a block stay in L2 while every query tile passes over them.
const int ROW_BLOCK_BYTES = 192 * 1024;
const int QT = 4;

/**
 * ⟨q_j, x_r⟩ for the QT queries q and RT rows x into dots[r][j]. Every (query, row) pair is
 * accumulated in one vector over the same chunks and reduced by reduce4 in the same lane order,
 * whatever RT and whichever slot the query fills, so identical rows score the same bits
 * everywhere and ties break on the label alone.
 */
template <int RT>
inline __attribute__((always_inline)) void tile(const float* const* q, const float* const* x, int dFull, int rem, float dots[][QT]) {
  typename Isa::V acc[RT][QT];
  for (int r = 0; r < RT; r++)
    for (int j = 0; j < QT; j++) acc[r][j] = Isa::zero();
  for (int o = 0; o < dFull; o += Isa::W) {
    typename Isa::V xv[RT];
    for (int r = 0; r < RT; r++) xv[r] = Isa::load(x[r] + o);
    for (int j = 0; j < QT; j++) {
      typename Isa::V qv = Isa::load(q[j] + o);
      for (int r = 0; r < RT; r++) acc[r][j] = Isa::fma(qv, xv[r], acc[r][j]);
    }
  }
  if (rem) {
    typename Isa::V xv[RT];
    for (int r = 0; r < RT; r++) xv[r] = Isa::loadTail(x[r] + dFull, rem);
    for (int j = 0; j < QT; j++) {
      typename Isa::V qv = Isa::loadTail(q[j] + dFull, rem);
      for (int r = 0; r < RT; r++) acc[r][j] = Isa::fma(qv, xv[r], acc[r][j]);
    }
  }
  for (int r = 0; r < RT; r++) Isa::reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], dots[r]);
}

struct QueryTile {
  const float* q[QT];
  float qn[QT];
  float thr[QT];
  int i0;
  int valid;
};

inline float threshold(const BatchArgs& a, int i) {
  return a.sizes[i] >= a.k ? a.heapsD[(int64_t)i * a.k] : __builtin_inff();
}

/** Offers the scores of row r (dots: one per query of the tile) to the heaps they do not fall behind. */
inline void offer(const BatchArgs& a, QueryTile& t, int r, const float* dots) {
  const bool l2 = a.metric == 0;
  const float xn = l2 ? a.xnorms[r] : 0.0f;
  const float c = l2 ? -2.0f : -1.0f;
  for (int j = 0; j < t.valid; j++) {
    // the same roundings as the WASM kernel: (qn + xn) + c·dot
    float s = (t.qn[j] + xn) + c * dots[j];
    if (s > t.thr[j]) continue;
    int i = t.i0 + j;
    int64_t off = (int64_t)i * a.k;
    int32_t label = a.rowOffset + r;
    if (a.labelMap) label = a.labelMap[label];
    int size = heapPush(a.heapsD + off, a.heapsI + off, a.k, a.sizes[i], s, label);
    a.sizes[i] = size;
    t.thr[j] = size >= a.k ? a.heapsD[off] : __builtin_inff();
  }
}

template <int RT>
void run(const BatchArgs& a) {
  const int d = a.d, n = a.n, nq = a.nq;
  if (a.k <= 0 || n <= 0 || nq <= 0) return;
  const int dFull = d - d % Isa::W, rem = d % Isa::W;
  int block = ROW_BLOCK_BYTES / (d * 4 > 0 ? d * 4 : 1);
  block -= block % RT;
  if (block < RT) block = RT;
  const bool l2 = a.metric == 0;
  for (int r0 = 0; r0 < n; r0 += block) {
    const int r1 = r0 + block < n ? r0 + block : n;
    for (int i0 = 0; i0 < nq; i0 += QT) {
      QueryTile t;
      t.i0 = i0;
      t.valid = nq - i0 < QT ? nq - i0 : QT;
      for (int j = 0; j < QT; j++) {
        // a short last tile repeats its first query in the empty slots, whose scores are dropped
        int i = j < t.valid ? i0 + j : i0;
        t.q[j] = a.Q + (int64_t)i * d;
        t.qn[j] = l2 ? a.qnorms[i] : 0.0f;
        t.thr[j] = threshold(a, i);
      }
      float dots[RT][QT];
      int r = r0;
      for (; r + RT <= r1; r += RT) {
        const float* x[RT];
        for (int u = 0; u < RT; u++) x[u] = a.X + (int64_t)(r + u) * d;
        tile<RT>(t.q, x, dFull, rem, dots);
        for (int u = 0; u < RT; u++) offer(a, t, r + u, dots[u]);
      }
      for (; r < r1; r++) {
        const float* x[1] = {a.X + (int64_t)r * d};
        tile<1>(t.q, x, dFull, rem, dots);
        offer(a, t, r, dots[0]);
      }
    }
  }
}

}  // namespace
