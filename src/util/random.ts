/** Seeded pseudo-random numbers: Math.random cannot be seeded, and results must be repeatable. */

/** mulberry32: small and fast; uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first m entries of a seeded random permutation of 0..n-1 (partial Fisher–Yates). */
export function samplePermutation(n: number, m: number, seed: number): Int32Array {
  const rand = rng(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm.subarray(0, m);
}

/** `m` distinct indices of 0..n-1 in increasing order (all of them if m ≥ n): a seeded sample. */
export function sampleIndices(n: number, m: number, seed = 1): Int32Array {
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  return samplePermutation(n, m, seed).slice().sort();
}
