/**
 * The nprobe sweep behind the "how it works" chart: a fixed sample of the collection's own
 * images is searched exactly (the ground truth) and with the inverted file at several nprobe
 * values; each point is the mean recall@k and the mean search time. Also the measured cost of
 * exact search next to the seed's N·D.
 */
import type { Collection, FeatureKind, KindSweep, SweepKindName } from '../collection/index.js';
import { mean, median, r4, sweepIndexKinds, sweepPoint } from '../collection/kind-sweep.js';
import { tieAwareRecall } from '../eval/recall.js';
import { sweepProbes } from './costs.js';

export interface SweepPoint {
  nprobe: number;
  recall_at_k: number;
  recall_at_1: number;
  mean_ms: number;
  p50_ms: number;
  distances_computed: number;
}

export interface SweepResult {
  features: FeatureKind;
  k: number;
  n: number;
  dim: number;
  nlist: number;
  queries: number;
  generation: number;
  exact: { mean_ms: number; p50_ms: number; distances_computed: number };
  points: SweepPoint[];
  /** The index kinds compared on the same queries, when asked for (`kinds`). */
  comparison?: Pick<KindSweep, 'train_vectors' | 'train_max' | 'time_budget_ms' | 'skipped' | 'took_ms'>;
  series?: KindSweep['series'];
  took_ms: number;
}

/** `count` ids spread evenly over the searchable images, in id order (deterministic). */
export async function sampleIds(collection: Collection, count: number): Promise<number[]> {
  const rows = await collection.searchableImages();
  if (rows.length <= count) return rows.map((r) => r.id);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(rows[Math.floor(((i + 0.5) * rows.length) / count)]!.id);
  return out;
}

/** Sweeps `kind` with `queries` sample queries; `generation` is the collection's when it was asked for. */
export async function runSweep(collection: Collection, kind: FeatureKind, k: number, queries: number, generation: number): Promise<SweepResult> {
  const t0 = performance.now();
  const ids = await sampleIds(collection, queries);
  const ivf = await collection.ivfIndex(kind);
  const nlist = ivf.describe({ lists: false }).nlist ?? 1;
  const probes = sweepProbes(nlist);
  // Warm-up (JIT, worker start-up, caches): not measured.
  for (const id of ids.slice(0, 3)) {
    await collection.search({ id }, { k, features: kind, method: 'exact' });
    for (const nprobe of probes) await collection.search({ id }, { k, features: kind, method: 'ivf', nprobe });
  }
  const truth = [];
  for (const id of ids) truth.push(await collection.search({ id }, { k, features: kind, method: 'exact' }));
  const n = truth[0]?.n ?? 0;
  const dim = truth[0]?.dim ?? 0;
  const points: SweepPoint[] = [];
  for (const nprobe of probes) {
    const times: number[] = [];
    const dc: number[] = [];
    const r1: number[] = [];
    const rk: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const res = await collection.search({ id: ids[i]! }, { k, features: kind, method: 'ivf', nprobe });
      const cmp = tieAwareRecall(truth[i]!.results, res.results, k);
      times.push(res.took_ms);
      dc.push(res.distances_computed);
      r1.push(cmp.r1);
      rk.push(cmp.rk);
    }
    points.push(sweepPoint(nprobe, rk, r1, times, dc));
  }
  return {
    features: kind,
    k,
    n,
    dim,
    nlist,
    queries: ids.length,
    generation,
    exact: {
      mean_ms: r4(mean(truth.map((t) => t.took_ms))),
      p50_ms: r4(median(truth.map((t) => t.took_ms))),
      distances_computed: Math.round(mean(truth.map((t) => t.distances_computed))),
    },
    points,
    took_ms: Math.round(performance.now() - t0),
  };
}

/**
 * `sweep` with the index kinds `kinds` compared on its queries and nprobe values (`series`): the
 * same sample of images, so the series share its exact ground truth.
 */
export async function withKinds(collection: Collection, sweep: SweepResult, kinds: readonly SweepKindName[]): Promise<SweepResult> {
  const t0 = performance.now();
  const ids = await sampleIds(collection, sweep.queries);
  const probes = sweep.points.map((p) => p.nprobe);
  const c = await sweepIndexKinds(collection, sweep.features, { k: sweep.k, queryIds: ids, nprobes: probes, kinds });
  const { train_vectors, train_max, time_budget_ms, skipped, took_ms } = c;
  return {
    ...sweep,
    series: c.series,
    comparison: { train_vectors, train_max, time_budget_ms, skipped, took_ms },
    took_ms: sweep.took_ms + Math.round(performance.now() - t0),
  };
}

/** Sweeps are slow (hundreds of searches): each is run once per collection state and its promise shared. */
export class SweepCache {
  private runs = new Map<string, Promise<SweepResult>>();

  constructor(private readonly max = 16) {}

  /** The sweep for these arguments at this generation: cached, or started by `run`. */
  get(kind: FeatureKind, k: number, queries: number, generation: number, run: () => Promise<SweepResult>, kinds: readonly string[] = []): Promise<SweepResult> {
    const key = `${kind}:${k}:${queries}:${generation}:${kinds.join(',')}`;
    let p = this.runs.get(key);
    if (!p) {
      p = run();
      this.runs.set(key, p);
      // A failed sweep is not remembered: the next request tries again.
      p.catch(() => this.runs.delete(key));
      if (this.runs.size > this.max) this.runs.delete(this.runs.keys().next().value!);
    }
    return p;
  }

  /** After a write: the generation changes anyway, this only frees the memory sooner. */
  clear(): void {
    this.runs.clear();
  }
}
