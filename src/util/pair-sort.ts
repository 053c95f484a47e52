/**
 * Sorts the first n (score, id) pairs of two parallel typed arrays in place, ascending by score,
 * then by id: the order every search result takes. Heapsort: no allocation, no comparison
 * closure and no boxing, which matter when each of many queries sorts a few hundred candidates
 * (a re-ranked search gathers refineFactor·k of them). Entries that already form a max-heap in
 * that order (a kernel's top-k heap) are re-heapified at the cost of one comparison each;
 * entries already sorted are left as they are after one pass.
 */
export function sortPairs(scores: Float32Array | Float64Array, ids: Int32Array, n: number): void {
  // input already in order (a reservoir's answer, Kernels.reservoirEnd) costs one pass; a heap fails at its first pair
  let j = 1;
  while (j < n && !after(scores[j - 1]!, ids[j - 1]!, scores[j]!, ids[j]!)) j++;
  if (j >= n) return;
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(scores, ids, i, n);
  for (let end = n - 1; end > 0; end--) {
    // the largest to the end, then restore the heap on the rest
    const s = scores[0]!,
      id = ids[0]!;
    scores[0] = scores[end]!;
    ids[0] = ids[end]!;
    scores[end] = s;
    ids[end] = id;
    siftDown(scores, ids, 0, end);
  }
}

/** Whether (sa, ia) comes after (sb, ib) in the sorted order. */
function after(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa > sb || (sa === sb && ia > ib);
}

function siftDown(scores: Float32Array | Float64Array, ids: Int32Array, i: number, n: number): void {
  const s = scores[i]!,
    id = ids[i]!;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && after(scores[c + 1]!, ids[c + 1]!, scores[c]!, ids[c]!)) c++;
    if (!after(scores[c]!, ids[c]!, s, id)) break;
    scores[i] = scores[c]!;
    ids[i] = ids[c]!;
    i = c;
  }
  scores[i] = s;
  ids[i] = id;
}
