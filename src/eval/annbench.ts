/**
 * The engine benchmark behind `nitamono ann-bench`: build an index on base vectors, then for
 * each nprobe (and re-ranking factor) time one-query-at-a-time search and one batched call, and
 * measure recall against exact ground truth. The numbers the seed talks about — time, distances
 * computed, accuracy, memory — for anyone's own vectors.
 */
import { performance } from 'node:perf_hooks';
import { invalid } from '../errors.js';
import { nativeKernelInfo } from '../kernels/native.js';
import { indexFactory, parseIndexFactory } from '../search/factory.js';
import { FlatIndex } from '../search/flat.js';
import type { OPQOptions } from '../search/opq.js';
import type { RefineVectors } from '../search/refine.js';
import { type Metric, needsTraining, type SearchParams, type SearchResult, type VectorIndex } from '../search/types.js';
import { checkVectors } from '../validate.js';
import { recallAt } from './recall.js';

export interface AnnBenchOptions {
  base: Float32Array;
  queries: Float32Array;
  dim: number;
  /** nq×gtK true neighbour ids; computed exactly with FlatIndex when absent. */
  groundTruth?: { labels: Int32Array; k: number };
  /** 'flat', 'ivf' or a Faiss factory string ('IVF256,PQ16', 'SQ8', …; see parseIndexFactory). */
  index: string;
  metric?: Metric;
  nlist?: number;
  nprobes?: number[];
  /** Full vectors for re-ranking (compressed kinds): needed by ',RFlat' and refineFactors. */
  refine?: RefineVectors;
  /** Re-ranking factors to sweep (each nprobe × each factor); default: none, or [1] with ',RFlat'. */
  refineFactors?: number[];
  k?: number;
  threads?: number;
  /** k-means iterations (default 25). */
  iterations?: number;
  /** OPQ{m},…: the rotation's training settings (default Faiss's). */
  opq?: OPQOptions;
  /** Queries issued one at a time for qps_single (default: all, at most 2000). */
  singleQueries?: number;
  /** Called with a line of progress. */
  log?: (line: string) => void;
}

export interface AnnBenchRow {
  nprobe: number | null;
  /** Candidates re-ranked per result (refineFactor·k of them), or null without re-ranking. */
  refine_factor: number | null;
  recall_at_1: number;
  recall_at_10: number;
  qps_single: number;
  qps_batch: number;
  distances_per_query: number;
}

export interface AnnBenchReport {
  /** The index description in canonical form ('flat', 'ivf', 'IVF256,PQ16', …). */
  index: string;
  /** The registered kind built ('flat', 'ivf', 'ivf-pq', …). */
  kind: string;
  n: number;
  dim: number;
  nq: number;
  nlist: number | null;
  k: number;
  threads: number;
  /** 'wasm-simd', 'reference', or 'native <instruction set>' (its batch scans; WASM SIMD the rest). */
  kernels: string;
  train_s: number;
  add_s: number;
  /** RAM of the index (the same as memory_bytes; kept for older readers). */
  index_bytes: number;
  /** RAM of the index: codes or vectors, ids, centroids, codebooks, tables. */
  memory_bytes: number;
  /** Full vectors kept outside the index for re-ranking (0 without). */
  refine_bytes: number;
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
  const spec = parseIndexFactory(o.index);
  const compressed = spec.kind !== 'flat' && spec.kind !== 'ivf';
  if (o.refineFactors !== undefined) {
    if (!compressed) throw invalid(`refine factors apply to compressed indexes (SQ8, PQ{m}, IVF{n},SQ8, IVF{n},PQ{m}), not '${spec.description}'`);
    if (!o.refine) throw invalid('refine factors need the full vectors to re-rank with (the refine option)');
    for (const f of o.refineFactors)
      if (!(typeof f === 'number' && Number.isFinite(f) && f >= 1)) throw invalid(`a refine factor must be a number ≥ 1, got ${f}`);
  }
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
  const useRefine = compressed && (spec.refine || o.refineFactors !== undefined) && o.refine !== undefined;
  const index = indexFactory(dim, spec, {
    metric,
    ...(o.nlist ? { nlist: o.nlist } : {}),
    ...(useRefine ? { refine: o.refine } : {}),
    ...(o.opq && spec.opq !== undefined ? { opq: o.opq } : {}),
  });
  if (needsTraining(index)) {
    log(`training ${spec.description}${spec.nlist === undefined && o.nlist === undefined && spec.kind.startsWith('ivf') ? ' (sqrt(N) lists)' : ''} …`);
    const t0 = performance.now();
    await (index as VectorIndex).train!(o.base, { threads, ...(o.iterations ? { iterations: o.iterations } : {}) });
    trainS = seconds(t0);
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
  const factors: Array<number | null> = useRefine ? (o.refineFactors ?? [1]) : [null];
  const sweep: Array<[number | null, number | null]> = [];
  for (const nprobe of [...new Set(probes)]) for (const f of factors) sweep.push([nprobe, f]);
  const rows: AnnBenchRow[] = [];
  for (const [nprobe, refineFactor] of sweep) {
    const opts: SearchParams = { ...(nprobe === null ? {} : { nprobe }), ...(refineFactor === null ? {} : { refineFactor }) };
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
      refine_factor: refineFactor,
      recall_at_1: rec.recallAt1,
      recall_at_10: rec.kRecallAtK,
      qps_single: nSingle / singleS,
      qps_batch: nq / batchS,
      distances_per_query: batch.distancesComputed / nq,
    };
    rows.push(row);
    log(
      `nprobe ${nprobe ?? '-'}${refineFactor === null ? '' : ` refine ${refineFactor}`}: R@1 ${row.recall_at_1.toFixed(4)}  10-R@10 ${row.recall_at_10.toFixed(4)}  ${row.qps_single.toFixed(0)} q/s single  ${row.qps_batch.toFixed(0)} q/s batch`,
    );
  }
  const report: AnnBenchReport = {
    index: spec.description,
    kind: index.kind,
    n,
    dim,
    nq,
    nlist: nlist ?? null,
    k: kEval,
    threads,
    kernels: kernelsRan(index.kernels),
    train_s: trainS,
    add_s: addS,
    index_bytes: index.memoryBytes,
    memory_bytes: index.memoryBytes,
    refine_bytes: index.refineBytes,
    raw_bytes: n * dim * 4,
    ground_truth_s: gtSeconds,
    rows,
  };
  index.dispose();
  return report;
}

/** A fixed-width table of a report, for terminals and BENCHMARKS.md. */
export function formatAnnReport(r: AnnBenchReport): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const head =
    `${r.index}${r.nlist ? ` nlist=${r.nlist}` : ''}  N=${r.n} D=${r.dim} queries=${r.nq} threads=${r.threads} kernels=${r.kernels}\n` +
    `train ${r.train_s.toFixed(2)} s, add ${r.add_s.toFixed(2)} s, index ${mib(r.memory_bytes)} MiB in RAM${r.refine_bytes ? ` + ${mib(r.refine_bytes)} MiB of refine vectors on disk` : ''} (raw vectors ${mib(r.raw_bytes)} MiB)\n`;
  const refine = r.rows.some((row) => row.refine_factor !== null);
  const lines = [
    `| nprobe |${refine ? ' refine |' : ''} R@1 | 10-R@10 | q/s single | q/s batch | ms/query single | distances/query |`,
    `|---|${refine ? '---|' : ''}---|---|---|---|---|---|`,
  ];
  for (const row of r.rows) {
    const nprobe = row.nprobe ?? (r.kind === 'flat' ? 'all (exact)' : 'all');
    lines.push(
      `| ${nprobe} |${refine ? ` ${row.refine_factor ?? '-'} |` : ''} ${row.recall_at_1.toFixed(4)} | ${row.recall_at_10.toFixed(4)} | ${row.qps_single.toFixed(1)} | ${row.qps_batch.toFixed(1)} | ${(1000 / row.qps_single).toFixed(3)} | ${Math.round(row.distances_per_query)} |`,
    );
  }
  return head + lines.join('\n');
}

/** An index's kernels, with the native kernel's instruction set when that is what ran. */
function kernelsRan(name: string): string {
  const info = nativeKernelInfo();
  return name === 'native' && info.available ? `native ${info.isa}` : name;
}
