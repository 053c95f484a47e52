/**
 * Near-duplicates: groups of images that are the same picture (resized, recompressed, cropped a
 * little, converted to another format), found with the collection's own index.
 *
 * 1. Exact copies are known without any index: searchable rows with the same SHA-256.
 * 2. A batched k-NN self-join: every image's DUPLICATE_NEIGHBOURS nearest neighbours, the
 *    queries read from the catalogue chunk by chunk and searched in batches with `searchAsync`
 *    (worker threads), each neighbour within the threshold a link. The exact index serves while
 *    the whole join costs at most EXACT_SELF_JOIN_MAX_WORK multiply-adds; past that, the
 *    approximate one (the primary IVF or compressed index, else the on-demand IVF) with at least
 *    DUPLICATE_NPROBE lists scanned per query: a near-copy is so close to its original that it
 *    almost always sits in the same list, so a generous nprobe loses next to nothing.
 * 3. Groups: the exact copies joined first, then the links nearest first, each joining two
 *    groups only when every image of one is within the threshold of every image of the other
 *    (complete linkage, checked on the stored vectors). Connected components (single linkage)
 *    chain series of look-alikes into one large group: on the test set of the benchmark, deep
 *    features at their calibrated thresholds, they scored precision 0.406 / recall 0.844 against
 *    0.609 / 0.892 here. So every two images of a group are within the threshold, and
 *    `max_distance` is the group's diameter.
 * 4. The pixel check (`verify`, on by default), between 2 and 3: the features alone cannot tell a
 *    50-px icon and its 40 % copy (far apart) from one clock drawn at two hours (close), so the
 *    self-join runs at a looser candidate threshold and every link is compared on the pixels
 *    (src/image/pixel-match.ts: aligned thumbnails, worst block; PixelMatcher's worker threads),
 *    kept only within PIXEL_DUPLICATE_THRESHOLD. Inside each set of kept links, the other pairs
 *    within the threshold are compared too, so complete linkage (which then needs both tests
 *    for every pair) knows every pair it asks about.
 *
 * Distances are the index's: squared L2 (deep vectors are unit length, so 2 − 2·cos).
 */
import type { FeatureSpace, ImageRow } from '../catalog/types.js';
import { invalid, NitamonoError } from '../errors.js';
import { type PixelImage, PixelMatcher } from '../image/pixel-match-pool.js';
import { PrintCache } from '../image/print-cache.js';
import { catalogChunks } from './catalog-vectors.js';
import { type FeatureKind, featureSpace } from './config.js';
import type { CollectionContext } from './context.js';
import { useIndex } from './index-manager.js';
import type { Progress } from './progress.js';
import { round3, type SearchService } from './search.js';
import type { SearchMethod } from './types.js';

/** Nearest neighbours of each image examined for links (itself excluded). */
export const DUPLICATE_NEIGHBOURS = 8;
/** Lists scanned per query at least when the approximate index serves (clamped to nlist). */
export const DUPLICATE_NPROBE = 16;
/**
 * The exact index serves the self-join while N queries × the index's cost per query stays
 * below this many multiply-adds (≈ 10⁵ × 10⁵ colour, ≈ 9,000 × 9,000 deep 1792-d: tens of seconds
 * on two cores); beyond it the approximate index does, at a cost of about N·D·(nlist + nprobe·N/nlist).
 */
export const EXACT_SELF_JOIN_MAX_WORK = 2 ** 37;
/** Queries per searchAsync call (and per progress tick). */
const QUERY_BATCH = 1024;
/** Two groups with more pairs across them than this are not joined (the check would cost too much). */
const MAX_CROSS_PAIRS = 1 << 20;

/**
 * Calibrated default thresholds (squared L2), by feature space `kind:model`. Calibration:
 * `bench/duplicates-bench.mjs` builds a calibration set and a separate test set (originals: the
 * demo's clip-art and generated photo-sized scenes, each with a resized (40–80 %), a
 * JPEG-recompressed (quality 60–90), a 5 %-cropped and a PNG↔JPEG-converted copy, mixed with
 * unrelated images), runs the self-join at thresholds 10^(−6 + i/10) on the calibration set and
 * keeps the one of best pairwise F1 (the geometric middle of the best run of steps). Measured on
 * 2026-12-02 (BENCHMARKS.md, "Near-duplicates"; 880 calibration, 1,230 test images):
 *
 * - colour, 4 bins: best F1 0.628 at 0.005. Test set: precision 0.269, recall 0.805 — on the
 *   photo-like images 1.000 / 0.989, on the clip-art 0.178 / 0.714: a 12-number histogram cannot
 *   tell apart clip-art drawn in the same few colours (thousands of unrelated pairs lie below
 *   the distance of a crop).
 * - deep, mobilenetv2-mid: best F1 0.866 at 0.16. Test set: precision 0.609, recall 0.892 —
 *   photo-like 0.990 / 1.000, clip-art 0.495 / 0.839: the demo's series (the same clock at another
 *   hour, a smiley with another mouth) are closer (from 0.009) than a 50-px icon and its 40 %
 *   copy (up to 0.23). A smaller threshold buys precision with recall (0.063: 0.926 / 0.645).
 * - deep, mobilenetv2-mid-gap3 (the default for new collections): best F1 0.867 at 0.079. Test
 *   set: precision 0.699, recall 0.835 — photo-like 1.000 / 1.000, clip-art 0.582 / 0.753.
 *
 * So without the pixel check (`verify: false`), on photographs both meet the issue's target
 * (precision and recall ≥ 0.95), on small clip-art neither does; deep, the better of the two on
 * both, is the default kind. With the check: DUPLICATE_CANDIDATE_THRESHOLDS.
 * Spaces without an entry (other bin counts, other deep models, learned kinds) have no default:
 * the distance scale is the model's own, so a threshold must be given (or calibrated here).
 */
export const DUPLICATE_THRESHOLDS: Readonly<Record<string, number>> = {
  'color:rgb-hist-4': 0.005,
  'deep:mobilenetv2-mid': 0.16,
  'deep:mobilenetv2-mid-gap3': 0.079,
};

/**
 * Candidate thresholds when every link is verified on the pixels (the default): looser than
 * DUPLICATE_THRESHOLDS, so a 50-px icon and its 40 % copy are found, the pixel check dropping
 * the look-alikes that come with them. Calibration: the benchmark's calibration set grouped with
 * the check at candidate thresholds 1×, 1.6×, … 10× the unverified one, each with pixel
 * thresholds 1, 2, … 40, each pixel threshold scored by its worst pairwise F1 within ±2 grey
 * levels (F1 falls off a cliff just past its peak); kept: the candidate threshold of best score
 * (the smaller on a tie). Measured on 2026-12-02 (BENCHMARKS.md, "Near-duplicates, checked on
 * the pixels"; the same 880 calibration and 1,230 test images):
 *
 * - deep, mobilenetv2-mid-gap3: score 0.996 (peak F1 0.999) at 0.31 with pixel thresholds
 *   19 … 22. Test set: precision 0.988, recall 0.998 — clip-art 0.982 / 0.997, photo-like
 *   1.000 / 1.000: the target (≥ 0.95 both) is met on the whole set.
 * - colour, 4 bins: score 0.973 at 0.05 with pixel threshold 19. Test set: precision 0.986,
 *   recall 0.855 — clip-art 0.978 / 0.782: the histogram's 8 nearest neighbours of a clip-art
 *   image are often other drawings in the same colours, so its copies are never candidates.
 *
 * The older deep model has no entry (not calibrated with the check): its unverified threshold
 * serves as the candidate threshold.
 */
export const DUPLICATE_CANDIDATE_THRESHOLDS: Readonly<Record<string, number>> = {
  'color:rgb-hist-4': 0.05,
  'deep:mobilenetv2-mid-gap3': 0.31,
};

/**
 * The largest pixel distance (src/image/pixel-match.ts: grey levels, the worst block of the
 * aligned thumbnails) of two images that are the same picture: the middle of the best run of
 * pixel thresholds of the default deep features in the calibration of
 * DUPLICATE_CANDIDATE_THRESHOLDS (19 … 22 → 20.5; colour's alone: 19). It does not depend on
 * the features: they only choose which pairs are compared.
 */
export const PIXEL_DUPLICATE_THRESHOLD = 20.5;

/**
 * The calibrated default threshold of a feature space (the looser candidate threshold when links
 * are verified on the pixels), or undefined (other bins, models, learned kinds).
 */
export function defaultDuplicateThreshold(space: FeatureSpace, verify = true): number | undefined {
  const key = `${space.kind}:${space.model}`;
  return (verify ? DUPLICATE_CANDIDATE_THRESHOLDS[key] : undefined) ?? DUPLICATE_THRESHOLDS[key];
}

/**
 * Images in one set of verified links whose other pairs are compared on the pixels too, so that
 * complete linkage can join them: beyond it a set is left to the pairs the self-join linked.
 */
const MAX_VERIFIED_SET = 32;
/** Pixel distances kept across runs, by the two images' SHA-256 (content, so never stale). */
const PIXEL_CACHE_SIZE = 1 << 20;
const pixelCache = new Map<string, number>();

/** A threshold: a finite number ≥ 0 (a squared distance). */
export function checkDuplicateThreshold(v: unknown, name = 'the duplicate threshold'): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw invalid(`${name} must be a number ≥ 0 (a squared L2 distance, e.g. 0.05), got ${typeof v === 'string' ? `'${v}'` : String(v)}`);
  return v;
}

export interface DuplicateOptions {
  /** Feature kind (default: deep when stored, else colour). */
  features?: FeatureKind;
  /**
   * Largest squared L2 distance of a link (default: the calibrated one of the feature space, a
   * looser one when verifying: DUPLICATE_CANDIDATE_THRESHOLDS).
   */
  threshold?: number;
  /** Check every link on the pixels too (default true): see the module comment. */
  verify?: boolean;
  /** Largest pixel distance of a verified link (default PIXEL_DUPLICATE_THRESHOLD). */
  pixelThreshold?: number;
  progress?: Progress;
}

export interface DuplicateImage {
  id: number;
  /** Relative to the collection root, "/"-separated. */
  path: string;
  absolute_path: string;
  /** Another image of the group has the same content (SHA-256). */
  exact_copy: boolean;
}

export interface DuplicateGroup {
  /** In id order. */
  images: DuplicateImage[];
  /** The largest distance between two images of the group (at most the threshold; 0 for exact copies). */
  max_distance: number;
  /** When verified: the largest pixel distance between two images of the group (at most the pixel threshold). */
  max_pixel_distance?: number;
  /** Every image of the group has the same content: byte-identical copies. */
  exact: boolean;
}

export interface DuplicateReport {
  features: FeatureKind;
  /** The feature space's model version. */
  model: string;
  threshold: number;
  threshold_source: 'default' | 'given';
  /** Every link was also checked on the pixels (the default). */
  verified: boolean;
  /** When verified: the largest pixel distance of a link, and the pairs of images compared on the pixels and the time it took. */
  pixel_threshold?: number;
  pixel_pairs?: number;
  pixel_ms?: number;
  /**
   * When some pair was not known from an earlier run of the process: prints (the thumbnails the
   * check compares) made from the files in this run, the number kept in the collection's print
   * cache after it (src/image/print-cache.ts), and why the cache file could not be used or saved,
   * if it could not (the check then made the prints again).
   */
  pixel_prints?: { made: number; kept: number; warning?: string };
  /** 'exact': every image's true nearest neighbours; 'ivf': the approximate index's. */
  method: SearchMethod;
  nprobe?: number;
  /** Neighbours examined per image. */
  neighbours: number;
  /** Links the self-join found within the threshold (each pair once per direction it was found). */
  candidate_pairs: number;
  /** Images searched. */
  n: number;
  /** The catalogue generation the answer reflects. */
  generation: number;
  /** Exact-copy groups first, then by max_distance, then by first id. */
  groups: DuplicateGroup[];
  /** Images that belong to some group. */
  images_in_groups: number;
  took_ms: number;
}

/**
 * Groups built by complete linkage: two groups join only when every image of one is within the
 * limit of every image of the other, so a chain of look-alikes (a series of drawings, each a
 * little different from the last) does not become one group. Each group knows its diameter.
 */
class TightGroups {
  private readonly of = new Map<number, number>();
  private readonly members = new Map<number, number[]>();
  private readonly diameters = new Map<number, number>();

  private key(id: number): number {
    const k = this.of.get(id);
    if (k !== undefined) return k;
    this.of.set(id, id);
    this.members.set(id, [id]);
    this.diameters.set(id, 0);
    return id;
  }

  private merge(ka: number, kb: number, diameter: number): void {
    let [big, small] = [ka, kb];
    if (this.members.get(big)!.length < this.members.get(small)!.length) [big, small] = [small, big];
    const into = this.members.get(big)!;
    for (const id of this.members.get(small)!) {
      into.push(id);
      this.of.set(id, big);
    }
    this.members.delete(small);
    this.diameters.delete(small);
    this.diameters.set(big, diameter);
  }

  /** Joins the groups of a and b whatever their distance (byte-identical files). */
  join(a: number, b: number): void {
    const ka = this.key(a),
      kb = this.key(b);
    if (ka !== kb) this.merge(ka, kb, Math.max(this.diameters.get(ka)!, this.diameters.get(kb)!));
  }

  /**
   * Joins the groups of a and b when every pair across them is within `limit` (and they hold at
   * most MAX_CROSS_PAIRS pairs across); returns the pairs measured.
   */
  tryJoin(a: number, b: number, limit: number, distance: (x: number, y: number) => number): number {
    const ka = this.key(a),
      kb = this.key(b);
    if (ka === kb) return 0;
    const A = this.members.get(ka)!,
      B = this.members.get(kb)!;
    if (A.length * B.length > MAX_CROSS_PAIRS) return 0;
    let d = Math.max(this.diameters.get(ka)!, this.diameters.get(kb)!);
    let pairs = 0;
    for (const x of A)
      for (const y of B) {
        const xy = distance(x, y);
        pairs++;
        if (!(xy <= limit)) return pairs;
        if (xy > d) d = xy;
      }
    this.merge(ka, kb, d);
    return pairs;
  }

  /** Groups of at least two members (ascending ids), with their diameters. */
  groups(): { ids: number[]; diameter: number }[] {
    const out: { ids: number[]; diameter: number }[] = [];
    for (const [k, ids] of this.members) if (ids.length > 1) out.push({ ids: [...ids].sort((x, y) => x - y), diameter: this.diameters.get(k)! });
    return out;
  }
}

/**
 * The near-duplicate groups of the collection in one feature kind (see the module comment).
 * Throws INVALID_ARGUMENT for a bad threshold, or when the feature space has no calibrated
 * default and none is given; EMPTY_INDEX when the collection has no images.
 */
export async function findDuplicates(ctx: CollectionContext, searcher: SearchService, opts: DuplicateOptions = {}): Promise<DuplicateReport> {
  const t0 = performance.now();
  const kind = await searcher.currentKind(opts.features);
  const space = featureSpace(ctx.config, kind);
  const given = opts.threshold !== undefined;
  const verify = opts.verify ?? true;
  const threshold = given ? checkDuplicateThreshold(opts.threshold) : defaultDuplicateThreshold(space, verify);
  const pixelThreshold = opts.pixelThreshold === undefined ? PIXEL_DUPLICATE_THRESHOLD : checkDuplicateThreshold(opts.pixelThreshold, 'the pixel threshold');
  if (threshold === undefined)
    throw invalid(
      `no calibrated duplicate threshold for ${kind} features (${space.model}); give one with --threshold (a squared L2 distance: look at the distances "nitamono search" reports between copies)`,
    );
  const progress = opts.progress ?? ctx.progress;

  const rows = (await ctx.store.summaries([])).filter((r) => r.status === 'ok');
  if (rows.length === 0) throw new NitamonoError('EMPTY_INDEX', 'the collection has no images yet');
  const links = new TightGroups();
  const byId = new Map<number, ImageRow>();
  const firstOfSha = new Map<string, number>();
  for (const r of rows) {
    byId.set(r.id, r);
    if (r.sha256 === null) continue;
    const first = firstOfSha.get(r.sha256);
    if (first === undefined) firstOfSha.set(r.sha256, r.id);
    else links.join(first, r.id);
  }

  const primary = await ctx.indexes.primary(kind, progress);
  if (!primary || primary.index.size === 0) throw new NitamonoError('EMPTY_INDEX', `no ${kind} vectors in the collection`);
  const n = primary.index.size;
  const method: SearchMethod = primary.index.kind === 'flat' && primary.index.queryCost() * n <= EXACT_SELF_JOIN_MAX_WORK ? 'exact' : 'ivf';
  const target = await searcher.indexFor(kind, method, undefined, undefined);
  const params = { ...target.params };
  if (method === 'ivf' && params.nprobe !== undefined) {
    const nlist = target.index.describe({ lists: false }).nlist ?? params.nprobe;
    params.nprobe = Math.min(nlist, Math.max(params.nprobe, DUPLICATE_NPROBE));
  }

  // links within the threshold, joined nearest first once all are known
  const edges: { a: number; b: number; d: number }[] = [];
  await useIndex(target.index, async () => {
    const index = target.index;
    const ids = index.ids();
    const kk = Math.min(index.size, DUPLICATE_NEIGHBOURS + 1);
    const step = progress.step('duplicates', ids.length, 'images');
    try {
      for await (const chunk of catalogChunks(ctx.store, space, index.dim, ids)) {
        const d = index.dim;
        for (let i = 0; i < chunk.ids.length; i += QUERY_BATCH) {
          const j = Math.min(chunk.ids.length, i + QUERY_BATCH);
          const res = await index.searchAsync(chunk.vectors.subarray(i * d, j * d), kk, params);
          for (let q = 0; q < j - i; q++) {
            const self = chunk.ids[i + q]!;
            for (let r = 0; r < res.k; r++) {
              const other = res.labels[q * res.k + r]!;
              const dist = res.distances[q * res.k + r]!;
              if (other < 0 || !(dist <= threshold)) break; // rows are sorted by distance; NaN pads end them
              if (other !== self && byId.has(other)) edges.push({ a: self, b: other, d: dist });
            }
          }
          step.increment(j - i);
        }
      }
    } finally {
      step.stop();
    }
  });

  edges.sort((x, y) => x.d - y.d);
  const dim = target.index.dim;
  const vectors = await linkedVectors(ctx, space, dim, edges);
  const featureDistance = (x: number, y: number): number => {
    const vx = vectors.get(x),
      vy = vectors.get(y);
    if (!vx || !vy) return Number.POSITIVE_INFINITY;
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const t = vx[j]! - vy[j]!;
      s += t * t;
    }
    return s;
  };
  const tp = performance.now();
  const verified = verify ? await verifiedPairs(ctx, byId, edges, (x, y) => featureDistance(x, y) <= threshold, pixelThreshold, progress) : undefined;
  const pixels = verified?.distances;
  const pixelOf = (x: number, y: number) => pixels?.get(pairKey(x, y));
  // a pair not verified (never compared, or too different on the pixels) is not a link
  const distance = pixels
    ? (x: number, y: number) => {
        const px = pixelOf(x, y);
        return px !== undefined && px <= pixelThreshold ? featureDistance(x, y) : Number.POSITIVE_INFINITY;
      }
    : featureDistance;
  const pixelMs = performance.now() - tp;
  let work = 0;
  for (const e of edges) {
    work += links.tryJoin(e.a, e.b, threshold, distance) * dim;
    // keeps the event loop answering while many links are checked
    if (work > 1 << 24) {
      work = 0;
      await new Promise((r) => setImmediate(r));
    }
  }

  const groups: DuplicateGroup[] = [];
  for (const { ids: g, diameter } of links.groups()) {
    const shas = new Map<string, number>();
    for (const id of g) {
      const s = byId.get(id)?.sha256;
      if (s) shas.set(s, (shas.get(s) ?? 0) + 1);
    }
    const exact = shas.size === 1 && [...shas.values()][0] === g.length;
    let maxPixel = 0;
    if (pixels) for (const x of g) for (const y of g) if (x < y) maxPixel = Math.max(maxPixel, pixelOf(x, y) ?? 0);
    groups.push({
      ...(pixels ? { max_pixel_distance: exact ? 0 : round3(maxPixel) } : {}),
      images: g.map((id) => {
        const row = byId.get(id)!;
        return {
          id,
          path: row.relpath,
          absolute_path: ctx.paths.absolute(row.relpath),
          exact_copy: row.sha256 !== null && (shas.get(row.sha256) ?? 0) > 1,
        };
      }),
      max_distance: exact ? 0 : diameter,
      exact,
    });
  }
  groups.sort((a, b) => Number(b.exact) - Number(a.exact) || a.max_distance - b.max_distance || a.images[0]!.id - b.images[0]!.id);
  const report: DuplicateReport = {
    features: kind,
    model: space.model,
    threshold,
    threshold_source: given ? 'given' : 'default',
    verified: verify,
    ...(verified ? { pixel_threshold: pixelThreshold, pixel_pairs: verified.distances.size, pixel_ms: round3(pixelMs) } : {}),
    ...(verified?.prints ? { pixel_prints: verified.prints } : {}),
    method,
    neighbours: DUPLICATE_NEIGHBOURS,
    candidate_pairs: edges.length,
    n,
    generation: target.generation,
    groups,
    images_in_groups: groups.reduce((s, g) => s + g.images.length, 0),
    took_ms: round3(performance.now() - t0),
  };
  if (method === 'ivf' && params.nprobe !== undefined) report.nprobe = params.nprobe;
  return report;
}

/** The stored vectors of every linked image, by id (read in chunks). */
async function linkedVectors(ctx: CollectionContext, space: FeatureSpace, dim: number, edges: { a: number; b: number }[]): Promise<Map<number, Float32Array>> {
  const out = new Map<number, Float32Array>();
  const ids = Int32Array.from(new Set(edges.flatMap((e) => [e.a, e.b])));
  for await (const c of catalogChunks(ctx.store, space, dim, ids)) {
    for (let i = 0; i < c.ids.length; i++) out.set(c.ids[i]!, c.vectors.slice(i * dim, (i + 1) * dim));
  }
  return out;
}

const pairKey = (x: number, y: number) => (x < y ? `${x}:${y}` : `${y}:${x}`);

/**
 * The pixel distances (src/image/pixel-match.ts) of the linked pairs and, inside each set of
 * links within the pixel threshold (at most MAX_VERIFIED_SET images), of its other pairs that `close` accepts:
 * complete linkage then has every pair it asks about. By pairKey; byte-identical images are at 0;
 * a pair an image of which cannot be read is left out (not a link).
 */
async function verifiedPairs(
  ctx: CollectionContext,
  byId: ReadonlyMap<number, ImageRow>,
  edges: readonly { a: number; b: number }[],
  close: (x: number, y: number) => boolean,
  pixelThreshold: number,
  progress: Progress,
): Promise<{ distances: Map<string, number>; prints?: { made: number; kept: number; warning?: string } }> {
  const out = new Map<string, number>();
  // opened once a pair is not known already: a library's prints are a gigabyte to read
  let cache: PrintCache | undefined;
  let matcher: PixelMatcher | undefined;
  const measure = async (pairs: [number, number][]): Promise<void> => {
    const todo: [number, number, string | undefined][] = [];
    for (const [x, y] of pairs) {
      const k = pairKey(x, y);
      if (out.has(k)) continue;
      const sx = byId.get(x)!.sha256,
        sy = byId.get(y)!.sha256;
      const shaKey = sx && sy ? (sx < sy ? `${sx}:${sy}` : `${sy}:${sx}`) : undefined;
      const known = sx && sx === sy ? 0 : shaKey !== undefined ? pixelCache.get(shaKey) : undefined;
      if (known !== undefined) out.set(k, known);
      else todo.push([x, y, shaKey]);
    }
    if (todo.length === 0) return;
    cache ??= await PrintCache.open(ctx.path);
    matcher ??= new PixelMatcher(ctx.threads, cache);
    const step = progress.step('pixel check', todo.length, 'pairs');
    try {
      const d = await matcher.distances(
        todo.map(
          ([x, y]) => [x, y].map((id) => ({ path: ctx.paths.absolute(byId.get(id)!.relpath), sha256: byId.get(id)!.sha256 })) as [PixelImage, PixelImage],
        ),
        (n) => step.increment(n),
      );
      todo.forEach(([x, y, shaKey], i) => {
        const v = d[i]!;
        if (Number.isNaN(v)) return;
        out.set(pairKey(x, y), v);
        if (shaKey === undefined) return;
        pixelCache.set(shaKey, v);
        if (pixelCache.size > PIXEL_CACHE_SIZE) pixelCache.delete(pixelCache.keys().next().value!);
      });
    } finally {
      step.stop();
    }
  };
  try {
    await measure(edges.map((e) => [e.a, e.b]));
    // sets of links that pass (union-find), then their unmeasured pairs
    const parent = new Map<number, number>();
    const root = (x: number): number => {
      let r = x;
      while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
      parent.set(x, r);
      return r;
    };
    for (const e of edges) {
      const v = out.get(pairKey(e.a, e.b));
      if (v !== undefined && v <= pixelThreshold) parent.set(root(e.a), root(e.b));
    }
    const sets = new Map<number, number[]>();
    for (const x of parent.keys()) {
      const r = root(x);
      sets.set(r, [...(sets.get(r) ?? []), x]);
    }
    const more: [number, number][] = [];
    for (const m of sets.values())
      if (m.length > 2 && m.length <= MAX_VERIFIED_SET)
        for (let i = 0; i < m.length; i++)
          for (let j = i + 1; j < m.length; j++) if (!out.has(pairKey(m[i]!, m[j]!)) && close(m[i]!, m[j]!)) more.push([m[i]!, m[j]!]);
    await measure(more);
  } finally {
    await matcher?.close();
  }
  if (!cache) return { distances: out };
  const saved = await cache.save(new Set([...byId.values()].flatMap((r) => (r.sha256 ? [r.sha256] : []))));
  const warning = saved.error ?? cache.problem;
  return { distances: out, prints: { made: matcher!.printsMade, kept: cache.size, ...(warning ? { warning } : {}) } };
}
