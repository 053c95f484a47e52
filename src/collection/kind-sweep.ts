/**
 * The recall–memory–time comparison of index kinds on a collection's own vectors (the "how it
 * works" chart of issue #9): the collection's inverted file next to the compressed kinds the
 * library builds — IVF{nlist},SQ8, IVF{nlist},PQ{m} and IVF{nlist},PQ{m},RFlat re-ranked from
 * the catalogue — with the same nlist, searched at the same nprobe values with the same queries
 * against the same exact ground truth.
 *
 * The compressed kinds the collection does not hold are built for the comparison and disposed
 * after it: trained (the library's k-means, whose assignment steps run on worker threads) on an
 * even sample of at most `trainMax` vectors, then filled with every vector, read from the
 * catalogue chunk by chunk and added a slice at a time with a turn of the event loop between
 * slices. m is the one `auto` would take on its way down to PQ (auto-index.ts autoPqM): the
 * largest that fits below IVF-SQ8's RAM and the memory budget. A kind whose estimated RAM
 * exceeds half the available memory is skipped, and so is what the time budget leaves no room
 * for; the result says which and why.
 *
 * Recall counts a returned image when it is in the exact top k or no farther than the exact
 * k-th (ties), with true distances recomputed from the catalogue's vectors: the codes' own
 * estimates would flatter an index that is not re-ranked (as tune.ts does).
 */
import { tieAwareRecall } from '../eval/recall.js';
import { type IndexSpec, indexFactory } from '../search/factory.js';
import type { RefineVectors } from '../search/refine.js';
import type { SearchParams, SearchResult, VectorIndex } from '../search/types.js';
import {
  AUTO_PQ_M,
  autoNlist,
  autoPqM,
  availableMemory,
  COLLECTION_REFINE_FACTOR,
  DEFAULT_BUDGET_SHARE,
  defaultMemoryBudget,
  estimateIndexBytes,
  PQ_TRAIN_MIN,
} from './auto-index.js';
import { CatalogRefine, catalogChunks, exactSearch } from './catalog-vectors.js';
import type { Collection } from './collection.js';
import { type FeatureKind, featureSpace } from './config.js';
import { COLLECTION_METRIC, useIndex } from './index-manager.js';
import { searchIndex } from './search.js';

/** The kinds compared: IVF-Flat, IVF-SQ8, IVF-PQ and IVF-PQ re-ranked from the catalogue. */
export const SWEEP_KIND_NAMES = ['flat', 'sq8', 'pq', 'pq-rflat'] as const;
export type SweepKindName = (typeof SWEEP_KIND_NAMES)[number];
/** Default cap on the vectors the temporary indexes are trained on. */
export const KIND_SWEEP_TRAIN_MAX = 50_000;
/** Default time budget of a comparison (building and searching), ms. */
export const KIND_SWEEP_TIME_BUDGET_MS = 120_000;
/** Multiply-adds of one slice added on the event loop between two turns (≈ 10 ms). */
const ADD_SLICE_WORK = 1 << 24;
const TRAIN_SEED = 42;

export interface KindSweepPoint {
  nprobe: number;
  recall_at_k: number;
  recall_at_1: number;
  mean_ms: number;
  p50_ms: number;
  /** Mean per query. */
  distances_computed: number;
}

export interface KindSeries {
  name: SweepKindName;
  /** For a chart legend: 'IVF-Flat', 'IVF-SQ8', 'IVF-PQ16', 'IVF-PQ16 + re-rank'. */
  label: string;
  /** Faiss factory string ('IVF39,PQ16,RFlat'). */
  factory: string;
  /** The collection's own index (not built for the comparison). */
  own: boolean;
  /** RAM of the index (codes or vectors, ids, centroids, codebooks, tables). */
  memory_bytes: number;
  /** Full vectors re-ranking reads from the catalogue (disk), 0 without re-ranking. */
  refine_bytes: number;
  refine_factor: number | null;
  /** Training and adding, for an index built for the comparison (0 for the collection's own). */
  build_ms: number;
  /** Vectors the index was trained on (null for the collection's own). */
  trained_on: number | null;
  /** nprobe ascending. */
  points: KindSweepPoint[];
  /** False when the time budget ended the series before its last nprobe. */
  complete: boolean;
}

export interface KindSweep {
  n: number;
  dim: number;
  nlist: number;
  k: number;
  /** Queries actually run (images of the collection, as given). */
  queries: number;
  /** Vectors the temporary indexes were trained on: an even sample of the collection. */
  train_vectors: number;
  train_max: number;
  time_budget_ms: number;
  series: KindSeries[];
  /** Kinds asked for and not measured, with the reason. */
  skipped: { name: SweepKindName; factory: string; reason: string }[];
  took_ms: number;
}

export interface KindSweepOptions {
  /** Neighbours per query (recall@k). */
  k: number;
  /** Images of the collection used as queries. */
  queryIds: readonly number[];
  /** nprobe values, ascending. */
  nprobes: readonly number[];
  /** Default: all of SWEEP_KIND_NAMES. */
  kinds?: readonly SweepKindName[];
  trainMax?: number;
  timeBudgetMs?: number;
  threads?: number;
}

export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
export const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** One sweep point from per-query recalls, times and distance counts. */
export function sweepPoint(nprobe: number, rk: number[], r1: number[], times: number[], dc: number[]) {
  return {
    nprobe,
    recall_at_k: r4(mean(rk)),
    recall_at_1: r4(mean(r1)),
    mean_ms: r4(mean(times)),
    p50_ms: r4(median(times)),
    distances_computed: Math.round(mean(dc)),
  };
}
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Squared L2 distance of row qi of a to row r of b (dimension d). */
function l2(a: Float32Array, qi: number, b: Float32Array, r: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = a[qi * d + j]! - b[r * d + j]!;
    s += t * t;
  }
  return s;
}

/** Which of the compared kinds an index is, if it is one. */
function nameOf(idx: VectorIndex): SweepKindName | undefined {
  if (idx.kind === 'ivf') return 'flat';
  if (idx.kind === 'ivf-sq8') return 'sq8';
  if (idx.kind === 'ivf-pq') return (idx.refineBytes ?? 0) > 0 ? 'pq-rflat' : 'pq';
  return undefined;
}

function specFor(name: SweepKindName, nlist: number, m: number): IndexSpec {
  const storage = name === 'flat' ? 'Flat' : name === 'sq8' ? 'SQ8' : `PQ${m}`;
  const kind = name === 'flat' ? 'ivf' : name === 'sq8' ? 'ivf-sq8' : 'ivf-pq';
  return { kind, nlist, ...(kind === 'ivf-pq' ? { m } : {}), refine: false, description: `IVF${nlist},${storage}` };
}

function labelOf(name: SweepKindName, m: number): string {
  return name === 'flat' ? 'IVF-Flat' : name === 'sq8' ? 'IVF-SQ8' : name === 'pq' ? `IVF-PQ${m}` : `IVF-PQ${m} + re-rank`;
}

/**
 * Measures the kinds `opts.kinds` on the vectors of `kind` (see the file's comment). Searches
 * one query at a time, as a collection search does (searchIndex), so the times compare with
 * the collection's own.
 */
export async function sweepIndexKinds(collection: Collection, kind: FeatureKind, opts: KindSweepOptions): Promise<KindSweep> {
  const t0 = performance.now();
  const budgetMs = opts.timeBudgetMs ?? KIND_SWEEP_TIME_BUDGET_MS;
  const trainMax = opts.trainMax ?? KIND_SWEEP_TRAIN_MAX;
  const overTime = () => performance.now() - t0 > budgetMs;
  const wanted = opts.kinds ?? SWEEP_KIND_NAMES;
  const store = collection.catalog;
  const space = featureSpace(collection.config, kind);
  const own = await collection.ivfIndex(kind);
  return useIndex(own, async () => {
    const d = own.dim;
    const allIds = Int32Array.from(await collection.searchableImages(), (r) => r.id);
    const n = allIds.length;
    const nlist = own.describe({ lists: false }).nlist || autoNlist(n);
    const k = Math.max(1, Math.min(opts.k, n));

    // queries, exact ground truth, and the true distance of every id an answer names
    const q = await store.okVectors(Int32Array.from(opts.queryIds), space, d);
    const nq = q.ids.length;
    const truth = await exactSearch(d, q.vectors, k, catalogChunks(store, space, d, allIds), opts.threads);
    const dist = Array.from({ length: nq }, () => new Map<number, number>());
    /** Learns the true distances of query i to the ids of answers[i] it does not know yet. */
    const learn = async (answers: Int32Array[]) => {
      const want = new Set<number>();
      answers.forEach((ids, i) => {
        for (const id of ids) if (id >= 0 && !dist[i]!.has(id)) want.add(id);
      });
      const rowOf = new Map<number, { v: Float32Array; r: number }>();
      // chunk by chunk: only distances are kept, never the vectors
      for await (const c of catalogChunks(store, space, d, Int32Array.from(want))) {
        for (let r = 0; r < c.ids.length; r++) rowOf.set(c.ids[r]!, { v: c.vectors, r });
        answers.forEach((ids, i) => {
          for (const id of ids) {
            const at = rowOf.get(id);
            if (at && !dist[i]!.has(id)) dist[i]!.set(id, l2(q.vectors, i, at.v, at.r, d));
          }
        });
        rowOf.clear();
      }
    };
    // an id gone from the catalogue meanwhile has no vector: never a hit
    const hits = (i: number, ids: Int32Array) =>
      Array.from(ids)
        .filter((id) => id >= 0)
        .map((id) => ({ id, distance: dist[i]!.get(id) ?? Number.POSITIVE_INFINITY }));
    const truthRows = Array.from({ length: nq }, (_, i) => truth.labels.subarray(i * truth.k, (i + 1) * truth.k));
    await learn(truthRows);
    const exact = truthRows.map((ids, i) => hits(i, ids).sort((a, b) => a.distance - b.distance));

    const measure = async (index: VectorIndex, base: SearchParams): Promise<{ points: KindSweepPoint[]; complete: boolean }> => {
      const points: KindSweepPoint[] = [];
      for (const nprobe of opts.nprobes) {
        if (overTime()) return { points, complete: false };
        const params = { ...base, nprobe };
        const times: number[] = [];
        const dc: number[] = [];
        const results: SearchResult[] = [];
        for (let i = 0; i < nq; i++) {
          const s = performance.now();
          const res = await searchIndex(index, q.vectors.subarray(i * d, (i + 1) * d), k, params);
          times.push(performance.now() - s);
          dc.push(res.distancesComputed);
          results.push(res);
        }
        await learn(results.map((r) => r.labels));
        const r1: number[] = [];
        const rk: number[] = [];
        for (let i = 0; i < nq; i++) {
          const cmp = tieAwareRecall(exact[i]!, hits(i, results[i]!.labels), k);
          r1.push(cmp.r1);
          rk.push(cmp.rk);
        }
        points.push(sweepPoint(nprobe, rk, r1, times, dc));
        await turn();
      }
      return { points, complete: true };
    };

    // the m auto would take once IVF-SQ8 no longer fits: below its RAM and within the budget
    const ownName = nameOf(own);
    const sq8Bytes = estimateIndexBytes({ kind: 'ivf-sq8', nlist }, n, d);
    const budget = collection.config.memory_budget ?? defaultMemoryBudget();
    const m = ownName?.startsWith('pq') ? (own as unknown as { codeSize: number }).codeSize : (autoPqM(n, d, nlist, Math.min(budget, sq8Bytes - 1))?.m ?? 0);
    const roomBytes = availableMemory() * DEFAULT_BUDGET_SHARE;

    const series: KindSeries[] = [];
    const skipped: KindSweep['skipped'] = [];
    const built = new Map<string, { index: VectorIndex; build_ms: number; trained_on: number }>();
    const failures = new Map<string, string>();
    let sample: Float32Array | undefined;
    const trainRows = Math.min(n, trainMax);
    try {
      for (const name of wanted) {
        const spec = specFor(name, nlist, m);
        const factory = name === 'pq-rflat' ? `${spec.description},RFlat` : spec.description;
        const skip = (reason: string) => skipped.push({ name, factory, reason });
        const rf = name === 'pq-rflat' ? COLLECTION_REFINE_FACTOR : null;
        const base: SearchParams = rf !== null ? { refineFactor: rf } : {};
        if (name === ownName) {
          const r = await measure(own, base);
          series.push({
            name,
            label: labelOf(name, m),
            factory,
            own: true,
            memory_bytes: own.memoryBytes,
            refine_bytes: own.refineBytes ?? 0,
            refine_factor: rf,
            build_ms: 0,
            trained_on: null,
            ...r,
          });
          continue;
        }
        if (name.startsWith('pq') && m === 0) {
          skip(`no PQ sub-quantizer count m of ${AUTO_PQ_M.join(', ')} divides D = ${d}`);
          continue;
        }
        if (name.startsWith('pq') && trainRows < PQ_TRAIN_MIN) {
          skip(`${trainRows} vectors are too few to train PQ codebooks (${PQ_TRAIN_MIN} needed)`);
          continue;
        }
        if (trainRows < nlist) {
          skip(`${trainRows} training vectors are fewer than the ${nlist} lists`);
          continue;
        }
        const estimate = estimateIndexBytes(spec, n, d);
        if (estimate > roomBytes) {
          skip(`its RAM (${estimate} bytes, estimated) exceeds half of the memory available (${Math.round(roomBytes)} bytes)`);
          continue;
        }
        let b = built.get(spec.description);
        if (!b) {
          const failed = failures.get(spec.description);
          if (failed) {
            skip(failed);
            continue;
          }
          if (overTime()) {
            skip(`the time budget of ${budgetMs / 1000} s was spent`);
            continue;
          }
          sample ??= await trainingSample(store, space, d, allIds, trainRows);
          const s = performance.now();
          const index: VectorIndex = indexFactory(d, spec, { metric: COLLECTION_METRIC });
          try {
            await index.train!(sample, { seed: TRAIN_SEED, ...(opts.threads ? { threads: opts.threads } : {}) });
            const slice = Math.max(64, Math.floor(ADD_SLICE_WORK / ((nlist + 256) * d)));
            for await (const c of catalogChunks(store, space, d, allIds)) {
              for (let i = 0; i < c.ids.length; i += slice) {
                const j = Math.min(c.ids.length, i + slice);
                index.add(c.vectors.subarray(i * d, j * d), c.ids.subarray(i, j));
                await turn();
              }
            }
          } catch (err) {
            // one kind that cannot be built leaves the others to measure
            index.dispose();
            failures.set(spec.description, `building it failed: ${(err as Error).message}`);
            skip(failures.get(spec.description)!);
            continue;
          }
          b = { index, build_ms: Math.round(performance.now() - s), trained_on: trainRows };
          built.set(spec.description, b);
        }
        // one IVF-PQ index serves both PQ series: re-ranked from the catalogue or not
        const setRefine = (b.index as unknown as { setRefineVectors?: (r: RefineVectors | undefined) => void }).setRefineVectors;
        if (name.startsWith('pq')) setRefine?.call(b.index, rf !== null ? new CatalogRefine(store, space, d, () => b.index.size) : undefined);
        const r = await measure(b.index, base);
        series.push({
          name,
          label: labelOf(name, m),
          factory,
          own: false,
          memory_bytes: b.index.memoryBytes,
          refine_bytes: b.index.refineBytes ?? 0,
          refine_factor: rf,
          build_ms: b.build_ms,
          trained_on: b.trained_on,
          ...r,
        });
      }
    } finally {
      for (const b of built.values()) b.index.dispose();
    }
    return {
      n,
      dim: d,
      nlist,
      k,
      queries: nq,
      train_vectors: sample ? trainRows : 0,
      train_max: trainMax,
      time_budget_ms: budgetMs,
      series,
      skipped,
      took_ms: Math.round(performance.now() - t0),
    };
  });
}

/** `rows` vectors spread evenly over `ids` (all of them when rows = ids.length). */
async function trainingSample(
  store: Collection['catalog'],
  space: ReturnType<typeof featureSpace>,
  d: number,
  ids: Int32Array,
  rows: number,
): Promise<Float32Array> {
  const pick = rows >= ids.length ? ids : Int32Array.from({ length: rows }, (_, i) => ids[Math.floor(((i + 0.5) * ids.length) / rows)]!);
  const out = new Float32Array(pick.length * d);
  let at = 0;
  for await (const c of catalogChunks(store, space, d, pick)) {
    out.set(c.vectors, at * d);
    at += c.ids.length;
  }
  return at === pick.length ? out : out.subarray(0, at * d);
}
