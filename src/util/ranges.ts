/**
 * Splits [0, n) into at most `parts` contiguous, non-empty ranges whose lengths differ by at
 * most one: how a batch of queries or points is spread over worker threads.
 */
export function splitRange(n: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, n));
  const out: Array<[number, number]> = [];
  for (let t = 0; t < p; t++) {
    const a = Math.floor((t * n) / p),
      b = Math.floor(((t + 1) * n) / p);
    if (b > a) out.push([a, b]);
  }
  return out;
}
