/**
 * The engine benchmark behind `nitamono ann-bench`: build an index on base vectors, then for
 * each nprobe time one-query-at-a-time search and one batched call, and measure recall against
 * exact ground truth. The numbers the seed talks about — time, distances computed, accuracy,
 * memory — for anyone's own vectors.
 */
import { performance } from 'node:perf_hooks';
import { invalid } from '../errors.js';
import { FlatIndex } from '../search/flat.js';
import { IVFIndex } from '../search/ivf.js';
import type { Metric, SearchResult } from '../search/types.js';
import { checkOneOf, checkVectors } from '../validate.js';
import { recallAt } from './recall.js';

const ANN_INDEXES = ['flat', 'ivf'] as const;

export interface AnnBenchOptions {
  base: Float32Array;
  queries: Float32Array;
  dim: number;
  /** nq×gtK true neighbour ids; computed exactly with FlatIndex when absent. */
  groundTruth?: { labels: Int32Array; k: number };
  index: 'flat' | 'ivf';
  metric?: Metric;
  nlist?: number;
  nprobes?: number[];
  k?: number;
  threads?: number;
  /** k-means iterations (default 25). */
  iterations?: number;
  /** Queries issued one at a time for qps_single (default: all, at most 2000). */
  singleQueries?: number;
  /** Called with a line of progress. */
  log?: (line: string) => void;
}

export interface AnnBenchRow {
  nprobe: number | null;
  recall_at_1: number;
  recall_at_10: number;
  qps_single: number;
  qps_batch: number;
  distances_per_query: number;
}

export interface AnnBenchReport {
  index: 'flat' | 'ivf';
  n: number;
  dim: number;
  nq: number;
  nlist: number | null;
  k: number;
  threads: number;
  kernels: string;
  train_s: number;
  add_s: number;
  index_bytes: number;
  raw_bytes: number;
  ground_truth_s: number | null;
  rows: AnnBenchRow[];
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export async function runAnnBenchmark(o: AnnBenchOptions): Promise<AnnBenchReport> {
  const { dim } = o;
  const metric = o.metric ?? 'l2';
  const k = o.k ?? 10;
  const kEval = Math.max(k, 10);
  const kind = checkOneOf('index', o.index, ANN_INDEXES);
  const n = checkVectors(o.base, dim, 'base vectors'),
    nq = checkVectors(o.queries, dim, 'queries');
  const threads = o.threads ?? 1;
  const log = o.log ?? (() => {});

  let gt = o.groundTruth;
  let gtSeconds: number | null = null;
  if (!gt) {
    log(`computing exact ground truth for ${nq} queries …`);
    const t0 = performance.now();
    const exact = new FlatIndex(dim, { metric });
    exact.add(o.base);
    const r = await exact.searchAsync(o.queries, kEval, { threads });
    exact.dispose();
    gt = { labels: r.labels, k: kEval };
    gtSeconds = seconds(t0);
  }
  if (gt.k < kEval) throw invalid(`ground truth has ${gt.k} neighbours per query; at least ${kEval} are needed`);

  let trainS = 0;
  let index: FlatIndex | IVFIndex;
  if (kind === 'ivf') {
    const ivf = new IVFIndex(dim, { metric, ...(o.nlist ? { nlist: o.nlist } : {}) });
    log(`training k-means (${o.nlist ?? 'sqrt(N)'} lists) …`);
    const t0 = performance.now();
    await ivf.train(o.base, { threads, ...(o.iterations ? { iterations: o.iterations } : {}) });
    trainS = seconds(t0);
    index = ivf;
  } else {
    index = new FlatIndex(dim, { metric });
  }
  log('adding vectors …');
  const t1 = performance.now();
  index.add(o.base);
  const addS = seconds(t1);

  const nlist = index.describe({ lists: false }).nlist;
  const probes: Array<number | null> =
    nlist !== undefined
      ? (o.nprobes ?? [1, 2, 4, 8, 16, 32, 64]).filter((p) => p <= nlist).concat((o.nprobes ?? []).some((p) => p > nlist) ? [nlist] : [])
      : [null];
  const nSingle = Math.min(nq, o.singleQueries ?? 2000);
  const rows: AnnBenchRow[] = [];
  for (const nprobe of [...new Set(probes)]) {
    const opts = nprobe === null ? {} : { nprobe };
    // one query at a time, on this thread: the latency a single user sees
    const t0 = performance.now();
    let single: SearchResult | undefined;
    for (let i = 0; i < nSingle; i++) single = index.search(o.queries.subarray(i * dim, (i + 1) * dim), kEval, opts);
    const singleS = seconds(t0);
    void single;
    // all queries in one call, spread over the worker threads
    const t2 = performance.now();
    const batch = await index.searchAsync(o.queries, kEval, { ...opts, threads });
    const batchS = seconds(t2);
    const rec = recallAt(batch, gt, 10);
    const row: AnnBenchRow = {
      nprobe,
      recall_at_1: rec.recallAt1,
      recall_at_10: rec.kRecallAtK,
      qps_single: nSingle / singleS,
      qps_batch: nq / batchS,
      distances_per_query: batch.distancesComputed / nq,
    };
    rows.push(row);
    log(
      `nprobe ${nprobe ?? '-'}: R@1 ${row.recall_at_1.toFixed(4)}  10-R@10 ${row.recall_at_10.toFixed(4)}  ${row.qps_single.toFixed(0)} q/s single  ${row.qps_batch.toFixed(0)} q/s batch`,
    );
  }
  const report: AnnBenchReport = {
    index: kind,
    n,
    dim,
    nq,
    nlist: nlist ?? null,
    k: kEval,
    threads,
    kernels: index.kernels,
    train_s: trainS,
    add_s: addS,
    index_bytes: index.memoryBytes,
    raw_bytes: n * dim * 4,
    ground_truth_s: gtSeconds,
    rows,
  };
  index.dispose();
  return report;
}

/** A fixed-width table of a report, for terminals and BENCHMARKS.md. */
export function formatAnnReport(r: AnnBenchReport): string {
  const head =
    `${r.index}${r.nlist ? ` nlist=${r.nlist}` : ''}  N=${r.n} D=${r.dim} queries=${r.nq} threads=${r.threads} kernels=${r.kernels}\n` +
    `train ${r.train_s.toFixed(2)} s, add ${r.add_s.toFixed(2)} s, index ${(r.index_bytes / 2 ** 20).toFixed(1)} MiB (raw vectors ${(r.raw_bytes / 2 ** 20).toFixed(1)} MiB)\n`;
  const lines = ['| nprobe | R@1 | 10-R@10 | q/s single | q/s batch | ms/query single | distances/query |', '|---|---|---|---|---|---|---|'];
  for (const row of r.rows) {
    lines.push(
      `| ${row.nprobe ?? 'all (exact)'} | ${row.recall_at_1.toFixed(4)} | ${row.recall_at_10.toFixed(4)} | ${row.qps_single.toFixed(1)} | ${row.qps_batch.toFixed(1)} | ${(1000 / row.qps_single).toFixed(3)} | ${Math.round(row.distances_per_query)} |`,
    );
  }
  return head + lines.join('\n');
}
