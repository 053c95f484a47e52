/**
 * Applying a learned head to frozen feature vectors, in plain TypeScript (no tfjs on the
 * search path): layers of x·W + b (ReLU between them), then L2 normalisation, since the head was
 * trained on cosine similarity and the collection's indexes rank by squared L2, which for unit
 * vectors orders neighbours exactly as cosine does.
 */

/** One dense layer: weights in×out row-major. */
export interface HeadLayer {
  in: number;
  out: number;
  relu: boolean;
  weights: Float32Array;
  bias: Float32Array;
}

/** Rows projected per slice of `projectAsync` before yielding to the event loop (≈ 10–50 ms of work). */
const ROWS_PER_SLICE = 256;

/** n rows of `x` (n×layers[0].in) through the head: n×out, each row of unit length (zero rows stay zero). */
export function projectRows(layers: readonly HeadLayer[], x: Float32Array, n: number): Float32Array {
  let cur = x;
  for (const l of layers) {
    const out = new Float32Array(n * l.out);
    for (let r = 0; r < n; r++) {
      const y = out.subarray(r * l.out, (r + 1) * l.out);
      y.set(l.bias);
      const xo = r * l.in;
      for (let i = 0; i < l.in; i++) {
        const v = cur[xo + i]!;
        if (v === 0) continue;
        const wo = i * l.out;
        for (let j = 0; j < l.out; j++) y[j]! += v * l.weights[wo + j]!;
      }
      if (l.relu) for (let j = 0; j < l.out; j++) if (y[j]! < 0) y[j] = 0;
    }
    cur = out;
  }
  const d = layers[layers.length - 1]!.out;
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = r * d; j < (r + 1) * d; j++) s += cur[j]! * cur[j]!;
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let j = r * d; j < (r + 1) * d; j++) cur[j]! *= inv;
    }
  }
  return cur;
}

/**
 * The same, slice by slice with a yield to the event loop between slices: a snapshot of tens of
 * thousands of vectors takes seconds, which a server must not spend in one go.
 */
export async function projectAsync(layers: readonly HeadLayer[], x: Float32Array, n: number): Promise<Float32Array> {
  if (n <= ROWS_PER_SLICE) return projectRows(layers, x, n);
  const d = layers[0]!.in;
  const o = layers[layers.length - 1]!.out;
  const out = new Float32Array(n * o);
  for (let r = 0; r < n; r += ROWS_PER_SLICE) {
    const m = Math.min(ROWS_PER_SLICE, n - r);
    out.set(projectRows(layers, x.subarray(r * d, (r + m) * d), m), r * o);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}
