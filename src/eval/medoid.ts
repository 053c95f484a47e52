/**
 * Medoids: the most typical member of a group of vectors — the member with the least summed
 * squared Euclidean distance to all members. Unlike the mean it is an actual item (an image one
 * can show), e.g. the demo's query for each folder.
 *
 * Σ_b ‖a − b‖² = m·‖a − μ‖² + Σ_b ‖b − μ‖² (μ the group mean, m its size), so the medoid under
 * squared distances is simply the member nearest to the mean: two passes, O(n·d), instead of all
 * pairs, O(m²·d) per group.
 */
import { invalid } from '../errors.js';
import { checkVectors } from '../vectors/matrix.js';

/**
 * The medoid row of each group. `vectors` holds n rows of `dim` floats; `groups[i]` is row i's
 * group in 0 … nGroups − 1, or negative to leave the row out. Returns, per group, its medoid's row
 * (−1 for a group without rows). Equally typical rows resolve to the lowest row, so callers order
 * rows to choose (e.g. by path).
 */
export function groupMedoids(vectors: Float32Array, dim: number, groups: ArrayLike<number>, nGroups?: number): Int32Array {
  const n = checkVectors(vectors, dim);
  if (groups.length !== n) throw invalid(`groups: ${groups.length} entries for ${n} rows`);
  let maxGroup = -1;
  for (let i = 0; i < n; i++) {
    const g = groups[i]!;
    if (!Number.isInteger(g)) throw invalid(`groups[${i}] = ${g} is not an integer`);
    if (g > maxGroup) maxGroup = g;
  }
  const g = nGroups ?? maxGroup + 1;
  if (!Number.isInteger(g) || g < 0) throw invalid(`nGroups must be a non-negative integer, got ${g}`);
  if (maxGroup >= g) throw invalid(`groups: group ${maxGroup} is not below nGroups = ${g}`);

  // Means in float64: with thousands of rows float32 sums would lose the digits that separate near-ties.
  const sums = new Float64Array(g * dim);
  const counts = new Int32Array(g);
  for (let i = 0; i < n; i++) {
    const gi = groups[i]!;
    if (gi < 0) continue;
    counts[gi]!++;
    const s = gi * dim,
      v = i * dim;
    for (let j = 0; j < dim; j++) sums[s + j]! += vectors[v + j]!;
  }
  for (let k = 0; k < g; k++) {
    const c = counts[k]!;
    if (c > 0) for (let j = 0; j < dim; j++) sums[k * dim + j]! /= c;
  }

  const best = new Int32Array(g).fill(-1);
  const bestDist = new Float64Array(g).fill(Infinity);
  for (let i = 0; i < n; i++) {
    const gi = groups[i]!;
    if (gi < 0) continue;
    const m = gi * dim,
      v = i * dim;
    let d = 0;
    for (let j = 0; j < dim; j++) {
      const t = vectors[v + j]! - sums[m + j]!;
      d += t * t;
    }
    if (d < bestDist[gi]!) {
      bestDist[gi] = d;
      best[gi] = i;
    }
  }
  return best;
}

/** The medoid row of all n rows of `vectors` (−1 when there are none). */
export function medoid(vectors: Float32Array, dim: number): number {
  const n = checkVectors(vectors, dim);
  return groupMedoids(vectors, dim, new Int32Array(n), 1)[0]!;
}
