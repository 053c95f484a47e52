/**
 * `--target-recall`: the cheapest search parameters of an approximate index that reach a
 * target 10-recall@10, measured on queries drawn from the collection itself against exact
 * search.
 *
 * Queries: TUNE_QUERIES images of the collection (a seeded sample), each searched with itself
 * left out of both answers (leave-one-out, as `nitamono eval`): the query's own list is always
 * among the nearest, so this is slightly kinder than queries from outside the collection.
 * Ground truth: exact search over the same vectors (catalog-vectors.ts `exactSearch`, chunk by
 * chunk). Recall: a returned image counts when it is in the exact top 10 or no farther than the
 * exact 10th (ties), with its *true* distance — the codes' estimated distances would flatter an
 * index that is not re-ranked.
 *
 * Search: nprobe over 1, 2, 4, … nlist (binary search for the smallest power of two that
 * reaches the target, then the smallest integer below it that still does — recall grows with
 * nprobe); for indexes re-ranked from the catalogue, that for each refineFactor of 1, 2, 4, 8,
 * 16, 32. Of the settings that reach the target the one of least cost is kept, cost = the
 * index's own queryCost (multiply-adds) + refineFactor·k·d·REFINE_READ_COST (a candidate's
 * vector read from the catalogue, counted as REFINE_READ_COST distance computations — a rough
 * figure, not a measurement). When none reaches it, the setting of highest recall.
 */
import { tieAwareRecall } from '../eval/recall.js';
import type { SearchResult, VectorIndex } from '../search/types.js';
import { sampleIndices } from '../util/random.js';
import { exactSearch, memoryChunks } from './catalog-vectors.js';
import { defaultNprobes, gather, withoutSelf } from './evaluate.js';

/** Queries drawn from the collection. */
export const TUNE_QUERIES = 200;
/** Neighbours the recall is measured on (10-recall@10). */
export const TUNE_K = 10;
/** Re-ranking factors tried, smallest first. */
export const TUNE_REFINE_FACTORS = [1, 2, 4, 8, 16, 32] as const;
/** What reading one candidate's vector from the catalogue costs, in distance computations (a guess). */
export const REFINE_READ_COST = 16;
const SEED = 7;

/** One setting tried. */
export interface TuningPoint {
  nprobe: number | null;
  refine_factor: number | null;
  /** 10-recall@10 (ties counted, true distances). */
  recall: number;
  /** queryCost + re-ranking cost, in multiply-adds per query. */
  cost: number;
}

/** What tuning chose and measured (kept in the index's sidecar). */
export interface Tuning {
  target_recall: number;
  k: number;
  /** Queries measured on. */
  queries: number;
  /** Seed of the query sample (sampleIndices over the collection's vectors in id order). */
  seed: number;
  /** Lists to scan (null for indexes without lists). */
  nprobe: number | null;
  /** Re-ranking factor (null for indexes that are not re-ranked). */
  refine_factor: number | null;
  /** Recall measured at the choice. */
  recall: number;
  reached: boolean;
  /** Vectors in the index when it was tuned. */
  n: number;
  tried: TuningPoint[];
  took_ms: number;
}

export interface TuneOptions {
  target: number;
  /** The index is re-ranked (it has refine vectors): tune refineFactor too. */
  refine: boolean;
  queries?: number;
  k?: number;
  seed?: number;
  threads?: number;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Tunes `index`, which holds the vectors `ids`/`vectors` (a catalogue snapshot, id order), for
 * opts.target. Searches with searchAsync; leaves the index as it was.
 */
export async function tuneIndex(index: VectorIndex, ids: Int32Array, vectors: Float32Array, opts: TuneOptions): Promise<Tuning> {
  const t0 = performance.now();
  const d = index.dim;
  const n = ids.length;
  const seed = opts.seed ?? SEED;
  const k = Math.max(1, Math.min(opts.k ?? TUNE_K, n - 1));
  const rows = sampleIndices(n, Math.min(opts.queries ?? TUNE_QUERIES, n), seed);
  const nq = rows.length;
  const qv = gather(vectors, d, rows);
  const selfIds = Int32Array.from(rows, (r) => ids[r]!);
  const kk = Math.min(n, k + 1);
  const truth = await exactSearch(d, qv, kk, memoryChunks(ids, vectors, d), opts.threads);
  const exactRows = Array.from({ length: nq }, (_, q) => hits(withoutSelf(truth, q, selfIds[q]!, k)));
  const rowOf = new Map<number, number>();
  for (let i = 0; i < n; i++) rowOf.set(ids[i]!, i);
  /** True squared L2 distance of query q to the vector of id. */
  const trueDistance = (q: number, id: number): number => {
    const r = rowOf.get(id);
    if (r === undefined) return Number.POSITIVE_INFINITY;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = qv[q * d + j]! - vectors[r * d + j]!;
      s += t * t;
    }
    return s;
  };
  const recallOf = (res: SearchResult): number => {
    let sum = 0;
    for (let q = 0; q < nq; q++) {
      const got = withoutSelf(res, q, selfIds[q]!, k).ids.map((id) => ({ id, distance: trueDistance(q, id) }));
      sum += tieAwareRecall(exactRows[q]!, got, k).rk;
    }
    return r4(sum / Math.max(1, nq));
  };

  const nlist = index.describe({ lists: false }).nlist;
  const ladder: (number | null)[] = nlist !== undefined && nlist > 0 ? defaultNprobes(nlist) : [null];
  const factors: (number | null)[] = opts.refine ? [...TUNE_REFINE_FACTORS] : [null];
  const tried = new Map<string, TuningPoint>();
  const measure = async (nprobe: number | null, rf: number | null): Promise<TuningPoint> => {
    const key = `${nprobe}/${rf}`;
    const seen = tried.get(key);
    if (seen) return seen;
    const params = { ...(nprobe !== null ? { nprobe } : {}), ...(rf !== null ? { refineFactor: rf } : {}), ...(opts.threads ? { threads: opts.threads } : {}) };
    const res = await index.searchAsync(qv, kk, params);
    const cost = index.queryCost(nprobe !== null ? { nprobe } : {}) + (rf !== null ? rf * k * d * REFINE_READ_COST : 0);
    const p: TuningPoint = { nprobe, refine_factor: rf, recall: recallOf(res), cost };
    tried.set(key, p);
    return p;
  };

  const reaching: TuningPoint[] = [];
  for (const rf of factors) {
    // the smallest nprobe of the ladder that reaches the target (recall grows with nprobe)
    if ((await measure(ladder[ladder.length - 1]!, rf)).recall < opts.target) continue;
    let lo = 0,
      hi = ladder.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await measure(ladder[mid]!, rf)).recall >= opts.target) hi = mid;
      else lo = mid + 1;
    }
    let best = ladder[lo]!;
    // then the smallest integer between the previous rung and it
    if (best !== null && lo > 0) {
      let a = (ladder[lo - 1] as number) + 1,
        b = best;
      while (a < b) {
        const mid = (a + b) >> 1;
        if ((await measure(mid, rf)).recall >= opts.target) b = mid;
        else a = mid + 1;
      }
      best = b;
    }
    reaching.push(await measure(best, rf));
    if (best === null || best === 1) break; // a larger factor only costs more
  }

  let choice: TuningPoint;
  if (reaching.length > 0) {
    choice = reaching.reduce((a, b) => (b.cost < a.cost || (b.cost === a.cost && (b.nprobe ?? 0) < (a.nprobe ?? 0)) ? b : a));
  } else {
    choice = [...tried.values()].reduce((a, b) => (b.recall > a.recall || (b.recall === a.recall && b.cost < a.cost) ? b : a));
  }
  return {
    target_recall: opts.target,
    k,
    queries: nq,
    seed,
    nprobe: choice.nprobe,
    refine_factor: choice.refine_factor,
    recall: choice.recall,
    reached: choice.recall >= opts.target,
    n,
    tried: [...tried.values()].sort((a, b) => (a.refine_factor ?? 0) - (b.refine_factor ?? 0) || (a.nprobe ?? 0) - (b.nprobe ?? 0)),
    took_ms: Math.round(performance.now() - t0),
  };
}

function hits(r: { ids: number[]; dist: number[] }): { id: number; distance: number }[] {
  return r.ids.map((id, j) => ({ id, distance: r.dist[j]! }));
}
