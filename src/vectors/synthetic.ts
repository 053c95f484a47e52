/**
 * Seeded synthetic data for tests and benchmarks. Recall on uniform random vectors says
 * nothing (every point is about equally far), so the default is clustered data: Gaussian
 * blobs around random centres, like real features.
 */
import { rng } from '../util/random.js';

/** Standard normal samples from a seeded uniform generator (Box–Muller). */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let a = 0;
    while (a === 0) a = u();
    const b = u();
    const r = Math.sqrt(-2 * Math.log(a));
    spare = r * Math.sin(2 * Math.PI * b);
    return r * Math.cos(2 * Math.PI * b);
  };
}

export interface ClusteredOptions {
  /** Number of blobs (default ⌈√n⌉). */
  clusters?: number;
  /** Standard deviation inside a blob relative to the spread of the centres (default 0.3). */
  spread?: number;
  seed?: number;
}

/** n×d vectors drawn around `clusters` random centres; also returns each row's blob. */
export function clusteredVectors(n: number, d: number, options: ClusteredOptions = {}): { data: Float32Array; labels: Int32Array; centres: Float32Array } {
  const clusters = options.clusters ?? Math.max(1, Math.ceil(Math.sqrt(n)));
  const spread = options.spread ?? 0.3;
  const g = gaussian(options.seed ?? 42);
  const u = rng((options.seed ?? 42) + 7);
  const centres = new Float32Array(clusters * d);
  for (let i = 0; i < centres.length; i++) centres[i] = g();
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(u() * clusters);
    labels[i] = c;
    for (let j = 0; j < d; j++) data[i * d + j] = centres[c * d + j]! + spread * g();
  }
  return { data, labels, centres };
}

/** n×d uniform random vectors in [0, 1): for kernel tests, not for recall. */
export function uniformVectors(n: number, d: number, seed = 1): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n * d);
  for (let i = 0; i < out.length; i++) out[i] = u();
  return out;
}
