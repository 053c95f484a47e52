/**
 * `nitamono eval`: how good are the features, and how faithful is the inverted file?
 *
 * Retrieval quality (per feature kind), with labels = each image's parent folder name:
 * leave-one-out — every image (or a seeded random sample of `sample` images) is a query
 * against all the others, itself excluded — precision@1, precision@10 and mAP over the full
 * ranking (averagePrecision from src/eval/recall.ts, totalRelevant = images of the same folder
 * minus the query).
 *
 * IVF faithfulness (per stored kind): the same queries searched exactly (flat) and with an IVF
 * (the collection's, or one trained on demand with nlist = ⌈√N⌉), at nprobe = 1, 2, 4, … up to
 * nlist: R@1 (is the exact nearest neighbour first?) and 10-recall@10 (share of the exact top 10
 * found), self excluded from both, and equal-distance ties counted as found, so nprobe = nlist
 * gives exactly 1. ms_per_query = one batched search on the calling thread / queries.
 *
 * `compare` adds feature kinds computed on the fly, not stored, for benchmark tables:
 * - `pixels`: the image squeezed to 28×28, greyscale, /255 (784-d; on Fashion-MNIST this is
 *   exactly its raw pixels),
 * - `color4`, `color8`: per-channel RGB histograms with 4 and 8 bins (12-d, 24-d).
 */

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { invalid } from '../errors.js';
import { averagePrecision, tieAwareRecall } from '../eval/recall.js';
import { COLOR_SIZE, colorHistogram } from '../image/color.js';
import { decodeImage, resizeRgb } from '../image/decode.js';
import { evaluateHeldOut } from '../learn/evaluate.js';
import { FlatIndex } from '../search/flat.js';
import type { SearchResult, VectorIndex } from '../search/types.js';
import { sampleIndices } from '../util/random.js';
import type { Collection } from './collection.js';
import { type FeatureKind, isExtractedKind } from './config.js';
import { mapLimit } from './folder.js';
import { type Progress, silentProgress } from './progress.js';

export type CompareKind = 'pixels' | 'color4' | 'color8';
export const COMPARE_KINDS: readonly CompareKind[] = ['pixels', 'color4', 'color8'];
/** Without --sample, collections above this size are evaluated on DEFAULT_LARGE_SAMPLE random queries. */
export const FULL_EVAL_MAX = 5000;
export const DEFAULT_LARGE_SAMPLE = 2000;

export interface EvalOptions {
  /** Kinds to evaluate (default: all the collection has; a learned kind over its held-out images only). */
  features?: FeatureKind[];
  /** Number of query images (seeded random sample); default all, or 2000 above 5000 images. */
  sample?: number;
  /** Extra feature kinds computed on the fly. */
  compare?: CompareKind[];
  /** nprobe values (default 1, 2, 4, … , nlist). */
  nprobes?: number[];
  /** Skip the IVF faithfulness part. */
  skipIvf?: boolean;
  seed?: number;
  threads?: number;
  progress?: Progress;
}

export interface FeatureQuality {
  dim: number;
  /** held-out: a learned kind, measured over its held-out images only (src/learn/evaluate.ts). */
  source: 'stored' | 'computed' | 'held-out';
  precision_at_1: number;
  precision_at_10: number;
  map: number;
  /** Exact search, one batched call on the calling thread, per query. */
  exact_ms_per_query: number;
}

export interface IvfRow {
  features: FeatureKind;
  nlist: number;
  nprobe: number;
  recall_at_1: number;
  recall_at_10: number;
  ms_per_query: number;
  distances_per_query: number;
}

export interface EvalReport {
  collection: string;
  root: string;
  labels: 'folders';
  n: number;
  queries: number;
  classes: number;
  features: Record<string, FeatureQuality>;
  ivf: IvfRow[];
  took_ms: number;
  notes: string[];
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Parent folder name of a "/"-separated relative path ("." for files at the root). */
export function folderLabel(relpath: string): string {
  const parts = relpath.split('/');
  return parts.length >= 2 ? parts[parts.length - 2]! : '.';
}

export { sampleIndices };

export function defaultNprobes(nlist: number): number[] {
  const out: number[] = [];
  for (let p = 1; p < nlist; p *= 2) out.push(p);
  out.push(nlist);
  return out;
}

/** The rows `rows` of n×dim `vectors`, copied into one array. */
export function gather(vectors: Float32Array, dim: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(vectors.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  return out;
}

/** Rows of a search result with the query's own id removed, first `k` kept. */
export function withoutSelf(res: SearchResult, q: number, self: number, k: number): { ids: number[]; dist: number[] } {
  const ids: number[] = [];
  const dist: number[] = [];
  for (let j = 0; j < res.k && ids.length < k; j++) {
    const id = res.labels[q * res.k + j]!;
    if (id < 0 || id === self) continue;
    ids.push(id);
    dist.push(res.distances[q * res.k + j]!);
  }
  return { ids, dist };
}

/**
 * Leave-one-out precision@1, precision@10 and mAP of `vectors` (rows = images, ids = positions)
 * with integer `labels`, over the query rows `queries`.
 */
export async function retrievalQuality(
  vectors: Float32Array,
  dim: number,
  labels: Int32Array,
  queries: Int32Array,
  opts: { threads?: number; progress?: Progress; label?: string } = {},
): Promise<Omit<FeatureQuality, 'source' | 'dim'>> {
  const n = labels.length;
  const progress = opts.progress ?? silentProgress;
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const flat = new FlatIndex(dim, { metric: 'l2' });
  try {
    flat.add(
      vectors,
      Int32Array.from({ length: n }, (_, i) => i),
    );
    // Timing: one batched exact search of up to 256 queries on this thread.
    const tq = queries.subarray(0, Math.min(256, queries.length));
    const t0 = performance.now();
    flat.search(gather(vectors, dim, tq), Math.min(n, 11));
    const exactMs = tq.length ? (performance.now() - t0) / tq.length : 0;

    let p1 = 0;
    let p10 = 0;
    let ap = 0;
    const bar = progress.step(opts.label ?? 'ranking', queries.length, 'queries');
    const chunk = Math.max(1, Math.min(64, Math.floor(4_000_000 / Math.max(1, n))));
    const ranked = new Int32Array(n);
    for (let s = 0; s < queries.length; s += chunk) {
      const rows = queries.subarray(s, Math.min(queries.length, s + chunk));
      const res = await flat.searchAsync(gather(vectors, dim, rows), n, opts.threads ? { threads: opts.threads } : {});
      for (let q = 0; q < rows.length; q++) {
        const self = rows[q]!;
        const ql = labels[self]!;
        let m = 0;
        for (let j = 0; j < res.k; j++) {
          const id = res.labels[q * res.k + j]!;
          if (id < 0 || id === self) continue;
          ranked[m++] = labels[id]!;
        }
        const list = ranked.subarray(0, m);
        p1 += m > 0 && list[0] === ql ? 1 : 0;
        let rel10 = 0;
        for (let j = 0; j < Math.min(10, m); j++) if (list[j] === ql) rel10++;
        p10 += rel10 / 10;
        ap += averagePrecision(list, ql, (counts.get(ql) ?? 1) - 1);
      }
      bar.increment(rows.length);
    }
    bar.stop();
    const nq = Math.max(1, queries.length);
    return { precision_at_1: round4(p1 / nq), precision_at_10: round4(p10 / nq), map: round4(ap / nq), exact_ms_per_query: round4(exactMs) };
  } finally {
    flat.dispose();
  }
}

/**
 * R@1 and 10-recall@10 of `ivf` against exact search, self excluded, ties counted as found.
 * An index re-ranked from refine vectors read asynchronously (a collection's catalogue) is
 * searched with searchAsync on one thread; every other one on the calling thread.
 */
export async function ivfFaithfulness(
  flat: FlatIndex,
  ivf: VectorIndex,
  queryVectors: Float32Array,
  selfIds: Int32Array,
  nprobes: number[],
  kind: FeatureKind,
): Promise<IvfRow[]> {
  const k = 10;
  const nq = selfIds.length;
  if (nq === 0 || flat.size < 2) return [];
  const kk = Math.min(flat.size, k + 1);
  const gt = flat.search(queryVectors, kk);
  const gtRows = Array.from({ length: nq }, (_, q) => withoutSelf(gt, q, selfIds[q]!, k));
  const rows: IvfRow[] = [];
  const hits = (r: { ids: number[]; dist: number[] }) => r.ids.map((id, j) => ({ id, distance: r.dist[j]! }));
  const nlist = ivf.describe({ lists: false }).nlist ?? 1;
  for (const nprobe of nprobes) {
    const t0 = performance.now();
    const res = (ivf.refineBytes ?? 0) > 0 ? await ivf.searchAsync(queryVectors, kk, { nprobe, threads: 1 }) : ivf.search(queryVectors, kk, { nprobe });
    const ms = (performance.now() - t0) / nq;
    let r1 = 0;
    let r10 = 0;
    for (let q = 0; q < nq; q++) {
      const r = tieAwareRecall(hits(gtRows[q]!), hits(withoutSelf(res, q, selfIds[q]!, k)), k);
      r1 += r.r1;
      r10 += r.rk;
    }
    rows.push({
      features: kind,
      nlist,
      nprobe: res.nprobe ?? nprobe,
      recall_at_1: round4(r1 / nq),
      recall_at_10: round4(r10 / nq),
      ms_per_query: round4(ms),
      distances_per_query: Math.round(res.distancesComputed / nq),
    });
  }
  return rows;
}

/** Computes the `compare` kinds for every image path (decoded once, at most 256 px). */
export async function computeCompareFeatures(
  paths: string[],
  kinds: CompareKind[],
  progress: Progress = silentProgress,
): Promise<{ vectors: Partial<Record<CompareKind, Float32Array>>; dims: Record<CompareKind, number>; failed: number[] }> {
  const dims: Record<CompareKind, number> = { pixels: 28 * 28, color4: 12, color8: 24 };
  const out: Partial<Record<CompareKind, Float32Array>> = {};
  for (const k of kinds) out[k] = new Float32Array(paths.length * dims[k]);
  const failed: number[] = [];
  const bar = progress.step('decoding', paths.length, 'images');
  await mapLimit(paths, Math.max(2, availableParallelism() * 2), async (p, i) => {
    try {
      const img = await decodeImage(p, { resize: { width: COLOR_SIZE, height: COLOR_SIZE, fit: 'inside' } });
      if (out.color4) out.color4.set(colorHistogram(img.data, img.width, img.height, 4), i * 12);
      if (out.color8) out.color8.set(colorHistogram(img.data, img.width, img.height, 8), i * 24);
      if (out.pixels) {
        const small = await resizeRgb(img.data, img.width, img.height, { width: 28, height: 28, fit: 'fill', withoutEnlargement: false });
        const v = out.pixels.subarray(i * 784, (i + 1) * 784);
        for (let j = 0; j < 784; j++) {
          v[j] = (0.299 * small.data[3 * j]! + 0.587 * small.data[3 * j + 1]! + 0.114 * small.data[3 * j + 2]!) / 255;
        }
      }
    } catch {
      failed.push(i);
    }
    bar.increment();
  });
  bar.stop();
  return { vectors: out, dims, failed };
}

export async function evaluateCollection(c: Collection, opts: EvalOptions = {}): Promise<EvalReport> {
  const t0 = performance.now();
  const progress = opts.progress ?? silentProgress;
  const kinds = opts.features ?? c.searchableFeatures;
  for (const k of kinds) if (!c.searchableFeatures.includes(k)) throw invalid(`the collection has no ${k} features`);
  const notes: string[] = [];
  const rows = await c.searchableImages(); // id order
  const n = rows.length;
  const report: EvalReport = {
    collection: c.path,
    root: c.root,
    labels: 'folders',
    n,
    queries: 0,
    classes: 0,
    features: {},
    ivf: [],
    took_ms: 0,
    notes,
  };
  if (n < 2) {
    notes.push('fewer than 2 images: nothing to evaluate');
    report.took_ms = Math.round(performance.now() - t0);
    return report;
  }
  // Labels by folder.
  const labelOf = new Map<string, number>();
  const labels = new Int32Array(n);
  const pos = new Map<number, number>();
  rows.forEach((r, i) => {
    const name = folderLabel(r.relpath);
    let l = labelOf.get(name);
    if (l === undefined) {
      l = labelOf.size;
      labelOf.set(name, l);
    }
    labels[i] = l;
    pos.set(r.id, i);
  });
  report.classes = labelOf.size;
  if (labelOf.size < 2) notes.push('all images are in one folder: every result is "relevant", precision is trivially 1');

  let m = opts.sample ?? n;
  if (opts.sample === undefined && n > FULL_EVAL_MAX) {
    m = DEFAULT_LARGE_SAMPLE;
    notes.push(`${n} images: evaluated on ${m} random queries (pass --sample N to change)`);
  }
  if (!Number.isInteger(m) || m < 1) throw invalid('--sample must be a positive integer');
  const queries = sampleIndices(n, m, opts.seed ?? 1);
  report.queries = queries.length;

  for (const kind of kinds) {
    if (!isExtractedKind(kind)) {
      const h = await evaluateHeldOut(c, kind, opts.threads);
      report.features[kind] = h.quality;
      notes.push(h.note);
      continue;
    }
    const data = await c.vectors(kind);
    // Align to `rows` (both in id order; a row without this kind would misalign).
    if (data.ids.length !== n) {
      notes.push(`${kind}: ${n - data.ids.length} images lack this feature; skipped`);
      continue;
    }
    const q = await retrievalQuality(data.vectors, data.dim, labels, queries, { threads: opts.threads, progress, label: kind });
    report.features[kind] = { dim: data.dim, source: 'stored', ...q };

    if (!opts.skipIvf) {
      const ivf = await c.ivfIndex(kind);
      const flat = new FlatIndex(data.dim, { metric: 'l2' });
      try {
        flat.add(data.vectors, data.ids);
        const qv = gather(data.vectors, data.dim, queries);
        const selfIds = Int32Array.from(queries, (i) => data.ids[i]!);
        const nlist = ivf.describe({ lists: false }).nlist ?? 1;
        const nprobes = (opts.nprobes ?? defaultNprobes(nlist)).filter((p) => p >= 1).map((p) => Math.min(p, nlist));
        const bar = progress.step(`ivf ${kind}`, 1, 'sweeps');
        report.ivf.push(...(await ivfFaithfulness(flat, ivf, qv, selfIds, [...new Set(nprobes)], kind)));
        bar.increment();
        bar.stop();
      } finally {
        flat.dispose();
      }
    }
  }

  const compare = opts.compare ?? [];
  if (compare.length > 0) {
    const paths = rows.map((r) => c.absolutePath(r.relpath));
    const computed = await computeCompareFeatures(paths, compare, progress);
    if (computed.failed.length > 0) notes.push(`${computed.failed.length} images could not be decoded for --compare; their vectors are zeros`);
    for (const kind of compare) {
      const v = computed.vectors[kind]!;
      const q = await retrievalQuality(v, computed.dims[kind], labels, queries, { threads: opts.threads, progress, label: kind });
      report.features[kind] = { dim: computed.dims[kind], source: 'computed', ...q };
    }
  }
  report.took_ms = Math.round(performance.now() - t0);
  return report;
}

export function parseCompare(value: string | boolean | undefined): CompareKind[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return [...COMPARE_KINDS];
  const out: CompareKind[] = [];
  for (const p of value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)) {
    const k = (p === 'raw' ? 'pixels' : p) as CompareKind;
    if (!COMPARE_KINDS.includes(k)) throw invalid(`--compare kinds are ${COMPARE_KINDS.join(', ')}, not "${p}"`);
    if (!out.includes(k)) out.push(k);
  }
  return out.length ? out : [...COMPARE_KINDS];
}
