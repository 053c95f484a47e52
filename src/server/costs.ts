/**
 * The seed lecture's cost model, recomputed for a collection: exact search costs N·D
 * (one D-dimensional distance per stored vector), an inverted file with K groups costs
 * D·(K + N/K) (K representatives, then on average N/K vectors of the chosen group), which is
 * smallest at K = √N where it is 2·D·√N.
 *
 * The third axis, memory (bytes of RAM, as the collection's index manager estimates them:
 * ../collection/auto-index.ts estimateIndexBytes): float32 vectors N·D·4 (+ ids); an inverted
 * file adds K centroids of D floats; SQ8 keeps one byte per number, N·D; PQ keeps m bytes per
 * vector, N·m, plus 256 codewords per sub-space, and is re-ranked with the full vectors read
 * from disk (the catalogue), which cost no RAM.
 */
import { AUTO_PQ_M, estimateIndexBytes } from '../collection/index.js';
export interface CostRow {
  n: number;
  d: number;
  /** Groups K used for the inverted-file figure. */
  k_groups: number;
  /** N·D */
  exact: number;
  /** D·(K + N/K) with this K */
  ivf: number;
  /** D·√N, the approximate-search column of the seed's cost table */
  ivf_seed: number;
  /** 2·D·√N, D·(K + N/K) at its minimum K = √N */
  ivf_optimal: number;
  /** exact / ivf */
  ratio: number;
  /** RAM, bytes: flat float32 vectors (+ ids) */
  memory_flat: number;
  /** RAM, bytes: inverted file of float32 vectors with K lists */
  memory_ivf: number;
  /** RAM, bytes: inverted file of 8-bit codes (SQ8) */
  memory_ivf_sq8: number;
  /** RAM, bytes: inverted file of PQ codes, pq_m bytes a vector (re-ranked from disk) */
  memory_ivf_pq: number;
  /** The PQ's sub-quantizers (bytes per vector) in memory_ivf_pq */
  pq_m: number;
}

/**
 * The m of the PQ figure for dimension d: the largest of auto's choices that divides d with
 * sub-vectors of at least 4 numbers, else the smallest that divides d (d itself when none).
 */
export function costPqM(d: number): number {
  const ok = AUTO_PQ_M.filter((m) => m < d && d % m === 0);
  return ok.find((m) => d / m >= 4) ?? ok[ok.length - 1] ?? d;
}

export function costRow(n: number, d: number, kGroups?: number): CostRow {
  const k = Math.max(1, Math.round(kGroups ?? Math.sqrt(Math.max(1, n))));
  const exact = n * d;
  const ivf = d * (k + n / k);
  const m = costPqM(d);
  return {
    n,
    d,
    k_groups: k,
    exact,
    ivf: Math.round(ivf),
    ivf_seed: Math.round(d * Math.sqrt(n)),
    ivf_optimal: Math.round(2 * d * Math.sqrt(n)),
    ratio: ivf > 0 ? exact / ivf : 1,
    memory_flat: estimateIndexBytes({ kind: 'flat' }, n, d),
    memory_ivf: estimateIndexBytes({ kind: 'ivf', nlist: k }, n, d),
    memory_ivf_sq8: estimateIndexBytes({ kind: 'ivf-sq8', nlist: k }, n, d),
    memory_ivf_pq: estimateIndexBytes({ kind: 'ivf-pq', nlist: k, m }, n, d),
    pq_m: m,
  };
}

/** The seed's table (N = 100, 10,000, 1,000,000) for dimension d, plus this collection's N. */
export function costTable(n: number, d: number, nlist: number | null): { collection: CostRow; seed: CostRow[] } {
  return {
    collection: costRow(n, d, nlist ?? undefined),
    seed: [100, 10_000, 1_000_000].map((m) => costRow(m, d)),
  };
}

/** The nprobe values an nprobe sweep visits: 1, 2, 3, 4, 6, 8, 12, 16, … up to nlist (at most `max`). */
export function sweepProbes(nlist: number, max = 12): number[] {
  const out = new Set<number>();
  for (let p = 1; p <= nlist; p = p < 4 ? p + 1 : Math.ceil(p * 1.5)) out.add(p);
  out.add(nlist);
  let list = [...out].sort((a, b) => a - b);
  if (list.length > max) {
    // keep the ends, thin the middle evenly in log space
    const picked = new Set<number>([list[0]!, list[list.length - 1]!]);
    for (let i = 1; i < max - 1; i++) picked.add(list[Math.round((i * (list.length - 1)) / (max - 1))]!);
    list = [...picked].sort((a, b) => a - b);
  }
  return list;
}
