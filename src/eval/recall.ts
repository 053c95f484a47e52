/**
 * Search-quality measures.
 *
 * Against exact ground truth (nearest-neighbour ids, e.g. a .ivecs file or a FlatIndex search):
 * - recallAt: "R@1" (is the true nearest neighbour ranked first?) and k-recall@k (how much of the
 *   true top-k the returned top-k contains), plus Faiss's 1-recall@k;
 * - distanceRecallAt: the ann-benchmarks variant, which counts a returned neighbour when its
 *   distance is within (1+ε) of the true k-th distance, so ties in distance are not penalised.
 *
 * For labelled data (class labels rather than neighbour ids): precisionAtK and averagePrecision.
 */
import { NitamonoError } from '../errors.js';
import { checkInt, checkPositiveInt } from '../validate.js';

export interface RankedLabels {
  /** nq×k ids, best first; -1 marks padding. */
  labels: Int32Array;
  /** Results per query (the row length of labels). */
  k: number;
  distances?: Float32Array;
}

export interface RecallResult {
  /** Fraction of queries whose true nearest neighbour (first ground-truth id) is ranked first. */
  recallAt1: number;
  /** Mean over queries of |returned top-k ∩ true top-k| / k. */
  kRecallAtK: number;
  /** Fraction of queries whose true nearest neighbour appears anywhere in the returned top-k (Faiss's "1-recall@k"). */
  oneRecallAtK: number;
}

function fail(message: string): NitamonoError {
  return new NitamonoError('INVALID_ARGUMENT', message);
}

const checkK = (fn: string, name: string, k: number): number => checkPositiveInt(`${fn}: ${name}`, k);

/**
 * Recall of `result` against exact `groundTruth`, both nq rows of ids (row lengths result.k and
 * groundTruth.k; ground truth must have exactly nq rows and at least k columns). Ids of -1
 * (padding) never match. Duplicated ids in a result row count once.
 *
 * Note: when several points are at exactly the true k-th distance, id-based recall depends on
 * which of them the ground truth happened to list; distanceRecallAt does not.
 */
export function recallAt(
  result: { labels: Int32Array; k: number; nq: number; distances?: Float32Array },
  groundTruth: { labels: Int32Array; k: number; distances?: Float32Array },
  k: number,
): RecallResult {
  const fn = 'recallAt';
  checkK(fn, 'k', k);
  checkK(fn, 'result.k', result.k);
  checkK(fn, 'groundTruth.k', groundTruth.k);
  const nq = result.nq;
  checkK(fn, 'result.nq', nq);
  if (result.labels.length !== nq * result.k) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `${fn}: result.labels has ${result.labels.length} entries, expected nq×k = ${nq}×${result.k} = ${nq * result.k}`,
    );
  }
  if (groundTruth.labels.length % groundTruth.k !== 0) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `${fn}: groundTruth.labels has ${groundTruth.labels.length} entries, not a multiple of groundTruth.k = ${groundTruth.k}`,
    );
  }
  const gtRows = groundTruth.labels.length / groundTruth.k;
  if (gtRows !== nq) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `${fn}: ground truth has ${gtRows} rows but there are ${nq} queries (slice the ground truth to the queries searched)`,
    );
  }
  if (k > result.k) throw fail(`${fn}: k = ${k} exceeds the ${result.k} results per query`);
  if (k > groundTruth.k) throw fail(`${fn}: k = ${k} exceeds the ground truth's ${groundTruth.k} neighbours per query`);

  const res = result.labels;
  const gt = groundTruth.labels;
  const rk = result.k;
  const gk = groundTruth.k;
  let at1 = 0;
  let one = 0;
  let hits = 0;
  const useSet = k > 32;
  const set = new Set<number>();
  for (let q = 0; q < nq; q++) {
    const r0 = q * rk;
    const g0 = q * gk;
    const nn = gt[g0]!;
    if (nn !== -1 && res[r0] === nn) at1++;
    if (nn !== -1) {
      for (let j = 0; j < k; j++) {
        if (res[r0 + j] === nn) {
          one++;
          break;
        }
      }
    }
    if (useSet) {
      set.clear();
      for (let j = 0; j < k; j++) if (gt[g0 + j] !== -1) set.add(gt[g0 + j]!);
      for (let j = 0; j < k; j++) {
        const id = res[r0 + j]!;
        if (set.delete(id)) hits++; // delete: a duplicated id counts once
      }
    } else {
      for (let j = 0; j < k; j++) {
        const id = res[r0 + j]!;
        if (id === -1) continue;
        let dup = false;
        for (let i = 0; i < j; i++) {
          if (res[r0 + i] === id) {
            dup = true;
            break;
          }
        }
        if (dup) continue;
        for (let i = 0; i < k; i++) {
          if (gt[g0 + i] === id) {
            hits++;
            break;
          }
        }
      }
    }
  }
  return { recallAt1: at1 / nq, kRecallAtK: hits / (nq * k), oneRecallAtK: one / nq };
}

/**
 * Distance-based k-recall@k as in ann-benchmarks: per query, the fraction of the first k
 * returned distances that are ≤ (1+ε)·(the true k-th distance), averaged over queries.
 *
 * Meant for squared L2 distances (ascending, as nitamono reports them); since they are squared,
 * a tolerance of ε on them is about ε/2 on plain Euclidean distances. (ann-benchmarks' "knn"
 * metric instead adds 1e-3 to plain distances; its "epsilon" metric multiplies by 1+ε.) NaN
 * padding in the result never counts. Not meaningful for inner-product scores.
 *
 * `resultDistances` is nq×kRes and `gtDistances` nq×kGt, row-major; k ≤ kRes and k ≤ kGt.
 */
export function distanceRecallAt(
  resultDistances: Float32Array,
  gtDistances: Float32Array,
  nq: number,
  kRes: number,
  kGt: number,
  k: number,
  epsilon = 1e-3,
): number {
  const fn = 'distanceRecallAt';
  checkK(fn, 'nq', nq);
  checkK(fn, 'kRes', kRes);
  checkK(fn, 'kGt', kGt);
  checkK(fn, 'k', k);
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw fail(`${fn}: epsilon must be a finite number ≥ 0, got ${String(epsilon)}`);
  if (resultDistances.length !== nq * kRes) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `${fn}: resultDistances has ${resultDistances.length} entries, expected nq×kRes = ${nq}×${kRes} = ${nq * kRes}`,
    );
  }
  if (gtDistances.length !== nq * kGt) {
    throw new NitamonoError('DIMENSION_MISMATCH', `${fn}: gtDistances has ${gtDistances.length} entries, expected nq×kGt = ${nq}×${kGt} = ${nq * kGt}`);
  }
  if (k > kRes) throw fail(`${fn}: k = ${k} exceeds the ${kRes} results per query`);
  if (k > kGt) throw fail(`${fn}: k = ${k} exceeds the ground truth's ${kGt} distances per query`);
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const kth = gtDistances[q * kGt + k - 1]!;
    if (!Number.isFinite(kth)) {
      throw fail(`${fn}: ground-truth distance ${k} of query ${q} is ${String(kth)} (the ground truth must have at least k finite distances)`);
    }
    const threshold = kth * (1 + epsilon);
    const r0 = q * kRes;
    for (let j = 0; j < k; j++) if (resultDistances[r0 + j]! <= threshold) hits++;
  }
  return hits / (nq * k);
}

/** One ranked answer: an id and its distance (squared L2, ascending). */
export interface RankedHit {
  id: number;
  distance: number;
}

/**
 * Recall of one approximate answer against the exact one, counting ties: a returned hit counts
 * when it is in the exact top-k *or* is no farther than the exact k-th distance (relative
 * tolerance 1e-5, at least 1e-5 absolute), so a different image at the same distance is not
 * a miss. `r1` is 1 when the approximate first hit is the exact first or as close; `rk` is the
 * fraction of the first k hits that count. An empty exact answer gives 1 for both (nothing was
 * missed). Meant for ascending distances (L2); the HTTP API and `nitamono eval` report these.
 */
export function tieAwareRecall(exact: readonly RankedHit[], approx: readonly RankedHit[], k: number): { r1: number; rk: number } {
  const kk = Math.min(k, exact.length);
  if (kk === 0) return { r1: 1, rk: 1 };
  const tol = (d: number) => 1e-5 * Math.max(1, Math.abs(d));
  const top = exact[0]!;
  const a0 = approx[0];
  const r1 = a0 && (a0.id === top.id || a0.distance <= top.distance + tol(top.distance)) ? 1 : 0;
  const set = new Set(exact.slice(0, kk).map((h) => h.id));
  const kth = exact[kk - 1]!.distance;
  let hits = 0;
  for (const h of approx.slice(0, kk)) if (set.has(h.id) || h.distance <= kth + tol(kth)) hits++;
  return { r1, rk: hits / kk };
}

/**
 * Precision@k for one query of a labelled data set: the fraction of the first k results whose
 * class label equals `queryLabel`. Missing results (a list shorter than k) count as not relevant.
 */
export function precisionAtK(rankedLabels: ArrayLike<number>, queryLabel: number, k: number): number {
  checkK('precisionAtK', 'k', k);
  const m = Math.min(k, rankedLabels.length);
  let rel = 0;
  for (let i = 0; i < m; i++) if (rankedLabels[i] === queryLabel) rel++;
  return rel / k;
}

/**
 * Average precision of one ranked list: (1/totalRelevant)·Σ precision@i over the ranks i that
 * hold a relevant result (label equal to `queryLabel`). `totalRelevant` is the number of relevant
 * items in the whole collection (excluding the query itself if it was left out of the results),
 * so relevant items that were not retrieved lower the score. Returns 0 when totalRelevant is 0.
 * The mean over queries is mAP.
 */
export function averagePrecision(rankedLabels: ArrayLike<number>, queryLabel: number, totalRelevant: number): number {
  checkInt('averagePrecision: totalRelevant', totalRelevant, { min: 0 });
  let rel = 0;
  let sum = 0;
  for (let i = 0; i < rankedLabels.length; i++) {
    if (rankedLabels[i] === queryLabel) {
      rel++;
      sum += rel / (i + 1);
    }
  }
  if (rel > totalRelevant) {
    throw fail(`averagePrecision: the list holds ${rel} relevant results but totalRelevant is ${totalRelevant}`);
  }
  return totalRelevant === 0 ? 0 : sum / totalRelevant;
}
