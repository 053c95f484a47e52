/**
 * Which index a collection builds for one feature kind, and how much memory it will take.
 *
 * `auto` (the default policy) follows autofaiss's `get_optimal_index_keys_v2`: the least lossy
 * index whose RAM fits the budget, going down the ladder exact → inverted file of float32 rows
 * → inverted file of 8-bit scalar codes → inverted file of product-quantizer codes re-ranked
 * with the full vectors read from the catalogue (RAM then holds m bytes and an id per image).
 * For n vectors of dimension d, budget B (bytes, this kind's share), nlist = ⌈√n⌉ (or the
 * configured one):
 *
 *   1. n < 1,000                                  → Flat (autofaiss's flat_threshold; tiny anyway)
 *   2. n < AUTO_FLAT_MAX (50,000) and Flat fits   → Flat (exact search is fast enough there)
 *   3. IVF-Flat fits                              → IVF{nlist},Flat
 *   4. IVF-SQ8 fits                               → IVF{nlist},SQ8 (recall near IVF-Flat's, ¼ of its RAM)
 *   5. n ≥ 10,000 (autofaiss's quantization_threshold: enough to train 256 codewords per
 *      sub-space) and some m fits                → IVF{nlist},PQ{m},RFlat with the largest m of
 *      256, 128, 64, 48, 32, 24, 16, 8, 4 that divides d, is below d, and fits
 *   6. nothing fits                               → the smallest of those (PQ with the smallest m,
 *      or IVF-SQ8 below 10,000 vectors), marked as over budget
 *
 * "Fits" compares estimateIndexBytes (what `memoryBytes` will report: codes or vectors, ids,
 * centroids, codebooks, IVF-PQ's precomputed table, list offsets) with B (an index of an older
 * version, which recorded no budget, is planned with none, so it keeps its kind until it is
 * rebuilt for another reason). There is no per-index ceiling: an index larger than one
 * WebAssembly memory spreads over several arenas (src/search/arenas.ts).
 * Autofaiss's HNSW steps are left out (nitamono has no HNSW index) and so is OPQ (built, as OPQ{m},…, but not chosen by auto).
 * Autofaiss's nlist is 4·√n to 16·√n rounded to a power of two; nitamono keeps the seed's ⌈√n⌉,
 * which minimises D·(K + N/K) and trains 4–16× faster on a small machine.
 *
 * The budget: `--memory-budget` (collection.json `memory_budget`), else half of the memory the
 * machine has available when the index is built (`os.freemem()`, which on Linux is
 * MemAvailable, or the cgroup limit if lower), as autofaiss gives its index half of the memory
 * it is told is available by default (16 GB of 32). Shared between a collection's feature kinds
 * in proportion to their dimensions (raw bytes).
 */
import { freemem } from 'node:os';
import { invalid } from '../errors.js';
import { PRECOMPUTED_TABLE_MAX_BYTES } from '../search/coded.js';
import { type IndexSpec, parseIndexFactory } from '../search/factory.js';
import { AUTO_FLAT_MAX, type IndexPolicy, indexPolicySpec } from './config.js';

/** Below this many vectors `auto` is always exact. */
export const AUTO_FLAT_ALWAYS = 1_000;
/** From this many vectors `auto` may choose product quantization. */
export const AUTO_PQ_MIN = 10_000;
/** PQ sub-quantizer counts `auto` tries, largest (most accurate) first. */
export const AUTO_PQ_M = [256, 128, 64, 48, 32, 24, 16, 8, 4] as const;
/** Share of the available memory that is the default budget. */
export const DEFAULT_BUDGET_SHARE = 0.5;
/** Vectors a product quantizer needs to train (one per codeword of a sub-quantizer). */
export const PQ_TRAIN_MIN = 256;
/** Default re-ranking factor of indexes a collection re-ranks from its catalogue (Faiss's IndexRefine has 1). */
export const COLLECTION_REFINE_FACTOR = 4;

/** The seed's K ≈ √N, which minimises D·(K + N/K). */
export function autoNlist(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(Math.max(1, n))));
}

/** What a slot should hold: the index to build, why, and what it will cost. */
export interface IndexPlan {
  /** Canonical factory string of the index built ('Flat', 'IVF317,Flat', 'IVF317,PQ64,RFlat', …). */
  factory: string;
  spec: IndexSpec & { nlist?: number };
  /** RAM the index will take with n vectors (estimateIndexBytes). */
  ramBytes: number;
  /** Full vectors re-ranking reads from the catalogue (not RAM): n·d·4, or 0 without re-ranking. */
  refineBytes: number;
  /** The RAM is within the budget. */
  fits: boolean;
  /** Why this index (one sentence). */
  reason: string;
}

/** RAM of an index of `spec` holding n vectors of dimension d (what its memoryBytes will say). */
export function estimateIndexBytes(spec: Pick<IndexSpec, 'kind' | 'nlist' | 'm' | 'opq' | 'nbits' | 'byResidual'>, n: number, d: number): number {
  const rotation = spec.opq !== undefined ? d * d * 4 : 0;
  return rotation + storageBytes(spec, n, d);
}

function storageBytes(spec: Pick<IndexSpec, 'kind' | 'nlist' | 'm' | 'nbits' | 'byResidual'>, n: number, d: number): number {
  const lists = spec.nlist ?? autoNlist(n);
  const coarse = (lists + 1) * 4 + lists * (d + 1) * 4;
  const m = spec.m ?? 0;
  // PQ{m}x4fs: 16 codewords a sub-quantizer, two sub-codes a byte
  const ksub = spec.nbits === 4 ? 16 : 256,
    code = spec.nbits === 4 ? m / 2 : m;
  switch (spec.kind) {
    case 'flat':
      return n * (d + 2) * 4;
    case 'ivf':
      return n * (4 * d + 4) + coarse;
    case 'sq8':
      return n * (d + 4) + 8 + 16 * d;
    case 'ivf-sq8':
      return n * (d + 4) + coarse + 16 * d;
    case 'fp16':
      return n * (2 * d + 4) + 8;
    case 'ivf-fp16':
      return n * (2 * d + 4) + coarse;
    case 'pq':
      return n * (code + 4) + 8 + ksub * 4 * d;
    case 'ivf-pq': {
      // codes of the vectors (…x4fs) need no per-list table
      const table = spec.byResidual === false ? 0 : lists * m * ksub * 4;
      return n * (code + 4) + coarse + ksub * 4 * d + (table <= PRECOMPUTED_TABLE_MAX_BYTES ? table : 0);
    }
  }
}

function specOf(
  kind: IndexSpec['kind'],
  nlist: number | undefined,
  m: number | undefined,
  refine: boolean,
  opq?: number,
  fastScan: Pick<IndexSpec, 'nbits' | 'byResidual'> = {},
): IndexSpec & { nlist?: number } {
  const { nbits, byResidual } = fastScan;
  const parts = [
    ...(opq !== undefined ? [`OPQ${opq}`] : []),
    ...(nlist !== undefined && kind.startsWith('ivf') ? [`IVF${nlist}`] : []),
    kind === 'flat' || kind === 'ivf'
      ? 'Flat'
      : kind.endsWith('sq8')
        ? 'SQ8'
        : kind.endsWith('fp16')
          ? 'SQfp16'
          : `PQ${m}${nbits ? `x4fs${byResidual ? 'r' : ''}` : ''}`,
    ...(refine ? ['RFlat'] : []),
  ];
  return {
    kind,
    ...(nlist !== undefined && kind.startsWith('ivf') ? { nlist } : {}),
    ...(m !== undefined ? { m } : {}),
    ...(opq !== undefined ? { opq } : {}),
    ...(nbits !== undefined ? { nbits } : {}),
    ...(byResidual !== undefined ? { byResidual } : {}),
    refine,
    description: parts.join(','),
  };
}

function plan(spec: IndexSpec & { nlist?: number }, n: number, d: number, budget: number, reason: string): IndexPlan {
  const ramBytes = estimateIndexBytes(spec, n, d);
  return {
    factory: spec.description,
    spec,
    ramBytes,
    refineBytes: spec.refine ? n * d * 4 : 0,
    fits: ramBytes <= budget,
    reason,
  };
}

const mb = (b: number) => (b === Number.POSITIVE_INFINITY ? 'no limit' : `${(b / 1024 ** 2).toFixed(b < 10 * 1024 ** 2 ? 1 : 0)} MiB`);

/**
 * The m of auto's IVF-PQ (step 5) for n vectors of dimension d in `nlist` lists within `cap`
 * bytes: the largest of AUTO_PQ_M that divides d, is below d and fits, else the smallest
 * (`fits` false); undefined when none divides d.
 */
export function autoPqM(n: number, d: number, nlist: number, cap: number): { m: number; bytes: number; fits: boolean } | undefined {
  const ms = AUTO_PQ_M.filter((m) => m < d && d % m === 0);
  for (const m of ms) {
    const bytes = estimateIndexBytes({ kind: 'ivf-pq', nlist, m }, n, d);
    if (bytes <= cap) return { m, bytes, fits: true };
  }
  const m = ms[ms.length - 1];
  return m === undefined ? undefined : { m, bytes: estimateIndexBytes({ kind: 'ivf-pq', nlist, m }, n, d), fits: false };
}

/**
 * The `auto` rule (see the file's comment): the index to build for n vectors of dimension d
 * within `budget` bytes of RAM. `nlist`: the configured number of lists (default ⌈√n⌉).
 */
export function chooseAutoIndex(n: number, d: number, budget: number, nlist?: number | null): IndexPlan {
  if (!Number.isInteger(n) || n < 0) throw invalid(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw invalid(`d must be a positive integer, got ${d}`);
  if (!(budget > 0)) throw invalid(`the memory budget must be positive, got ${budget}`);
  const cap = budget;
  const lists = Math.max(1, Math.min(nlist ?? autoNlist(n), Math.max(1, n)));
  const flat = specOf('flat', undefined, undefined, false);
  if (n < AUTO_FLAT_ALWAYS) return plan(flat, n, d, budget, `fewer than ${AUTO_FLAT_ALWAYS.toLocaleString('en')} vectors: exact search`);
  const flatBytes = estimateIndexBytes(flat, n, d);
  if (n < AUTO_FLAT_MAX && flatBytes <= cap)
    return plan(flat, n, d, budget, `fewer than ${AUTO_FLAT_MAX.toLocaleString('en')} vectors and ${mb(flatBytes)} fit ${mb(cap)}: exact search`);
  const ivf = specOf('ivf', lists, undefined, false);
  const ivfBytes = estimateIndexBytes(ivf, n, d);
  if (ivfBytes <= cap) return plan(ivf, n, d, budget, `float32 rows (${mb(ivfBytes)}) fit ${mb(cap)}: inverted file`);
  const sq8 = specOf('ivf-sq8', lists, undefined, false);
  const sq8Bytes = estimateIndexBytes(sq8, n, d);
  if (sq8Bytes <= cap) return plan(sq8, n, d, budget, `float32 rows (${mb(ivfBytes)}) exceed ${mb(cap)}, 8-bit codes (${mb(sq8Bytes)}) fit`);
  const pqM = autoPqM(n, d, lists, cap);
  if (n >= AUTO_PQ_MIN && pqM) {
    const pq = specOf('ivf-pq', lists, pqM.m, true);
    if (pqM.fits)
      return plan(pq, n, d, budget, `8-bit codes (${mb(sq8Bytes)}) exceed ${mb(cap)}; PQ${pqM.m} codes (${mb(pqM.bytes)}) fit, re-ranked from the catalogue`);
    return plan(pq, n, d, budget, `no index fits ${mb(cap)}: the smallest, PQ${pqM.m} codes re-ranked from the catalogue`);
  }
  return plan(sq8, n, d, budget, `no index fits ${mb(cap)}${n < AUTO_PQ_MIN ? ` and ${n} vectors are too few to train PQ codebooks` : ''}: 8-bit codes`);
}

/**
 * What a slot holds for `n` vectors of dimension d under `policy`: `auto` as chooseAutoIndex
 * says; flat, ivf and factory strings as written, with the configured nlist for 'ivf' (and
 * factory strings without IVF{n}... they always name it), except where they cannot be built yet:
 * no vectors (an empty flat stands in), a product quantizer with fewer than PQ_TRAIN_MIN vectors
 * (flat until there are enough), PQ{m} that does not divide d (auto decides for this kind).
 * nlist is clamped to n, as an IVF cannot have more lists than training vectors.
 */
export function planIndex(policy: IndexPolicy, n: number, d: number, budget: number, nlist: number | null): IndexPlan {
  const spec = indexPolicySpec(policy);
  const flat = () => specOf('flat', undefined, undefined, false);
  if (!spec) {
    if (n === 0) return plan(flat(), 0, d, budget, 'no vectors yet');
    return chooseAutoIndex(n, d, budget, nlist);
  }
  if (spec.kind === 'flat') return plan(flat(), n, d, budget, 'the policy is flat');
  if (n === 0) return plan(flat(), 0, d, budget, `no vectors yet: exact until ${spec.description} can be trained`);
  if (spec.m !== undefined && (d % spec.m !== 0 || spec.m > d)) {
    const auto = chooseAutoIndex(n, d, budget, nlist);
    return { ...auto, reason: `PQ${spec.m} does not divide D = ${d}: auto for this kind (${auto.reason})` };
  }
  if (spec.m !== undefined && n < PQ_TRAIN_MIN)
    return plan(flat(), n, d, budget, `${n} vectors are too few to train PQ codebooks (${PQ_TRAIN_MIN} needed): exact until then`);
  const inverted = spec.kind.startsWith('ivf');
  const lists = inverted ? Math.max(1, Math.min(spec.nlist ?? nlist ?? autoNlist(n), n)) : undefined;
  return plan(specOf(spec.kind, lists, spec.m, spec.refine, spec.opq, spec), n, d, budget, `the policy is ${policy}`);
}

/** Bytes of the memory the machine has available now (MemAvailable on Linux; the cgroup limit if lower). */
export function availableMemory(): number {
  const free = freemem();
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return typeof limit === 'number' && limit > 0 && limit < free ? limit : free;
}

/** The default memory budget: DEFAULT_BUDGET_SHARE of the available memory. */
export function defaultMemoryBudget(): number {
  return Math.max(1, Math.floor(availableMemory() * DEFAULT_BUDGET_SHARE));
}

/** One feature kind's share of a collection's budget: in proportion to its dimension. */
export function kindBudget(total: number, dim: number, dims: readonly number[]): number {
  const sum = dims.reduce((a, b) => a + b, 0);
  return sum > 0 ? Math.max(1, Math.floor((total * dim) / sum)) : total;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A memory size: bytes ("1048576"), or a number with a unit K, M, G or T, optionally followed
 * by B or iB ("512MB", "1.5G", "2GiB"); units are powers of 1024, as for `docker -m` and
 * autofaiss. INVALID_ARGUMENT otherwise.
 */
export function parseMemorySize(text: string, what = '--memory-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?\s*$/i.exec(String(text));
  if (!m) throw invalid(`${what} must be a number of bytes or a size such as 512MB or 2GB, got '${text}'`);
  const unit = (m[2] ?? m[3] ?? '').toLowerCase();
  const bytes = Math.floor(Number(m[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw invalid(`${what} must be at least 1 byte, got '${text}'`);
  return bytes;
}

/** The factory string's spec without its nlist, for comparing the kind and shape of two indexes. */
export function sameShape(a: string, b: string): boolean {
  const x = parseIndexFactory(a),
    y = parseIndexFactory(b);
  return x.kind === y.kind && x.m === y.m && x.opq === y.opq && x.nbits === y.nbits && x.byResidual === y.byResidual;
}
