/**
 * Searching a collection: the query's vector (stored, or extracted from an image), the index
 * that serves the method asked for, the scan (on the calling thread when tiny, else on worker
 * threads), and the ids mapped back to paths.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { type CheckedFilter, checkImageFilter, type ImageFilter } from '../catalog/filter.js';
import { invalid, NitamonoError } from '../errors.js';
import { tieAwareRecall } from '../eval/recall.js';
import { projectRows } from '../learn/project.js';
import { followLearned } from '../learn/registry.js';
import type { SearchParams, SearchResult } from '../search/types.js';
import { checkK, MAX_K } from '../validate.js';
import { COLLECTION_REFINE_FACTOR } from './auto-index.js';
import { catalogChunks, exactSearch } from './catalog-vectors.js';
import { type ExtractedKind, type FeatureKind, featureSpace, isExtractedKind, searchableKinds } from './config.js';
import type { CollectionContext } from './context.js';
import { FilterIdCache } from './filter-cache.js';
import { toRelpath } from './folder.js';
import { type EngineIndex, useIndex } from './index-manager.js';
import {
  type CollectionQuery,
  type CollectionSearchOptions,
  DEFAULT_NPROBE,
  type QueryEvaluation,
  type SearchHit,
  type SearchMethod,
  type SearchResponse,
} from './types.js';

/** Multiply-adds below which a single query is searched on the calling thread (≈ 0.3 ms). */
export const SYNC_SEARCH_MAX_WORK = 1 << 20;

interface QueryVector {
  vector: Float32Array;
  source: 'indexed' | 'extracted';
  id?: number;
  relpath?: string;
  extract_ms: number;
}

export class SearchService {
  private readonly filters = new FilterIdCache();

  constructor(private readonly ctx: CollectionContext) {}

  /** Default feature kind for searches: deep when stored, else colour. */
  get defaultKind(): FeatureKind {
    return this.ctx.config.features.includes('deep') ? 'deep' : 'color';
  }

  /**
   * checkKind, after taking the learned kinds' changes made by another process (a `nitamono
   * learn` while this one serves): a learned or unknown kind costs a stat of collection.json.
   */
  async currentKind(kind: FeatureKind | undefined): Promise<FeatureKind> {
    if (kind !== undefined && !isExtractedKind(kind)) await followLearned(this.ctx);
    return this.checkKind(kind);
  }

  checkKind(kind: FeatureKind | undefined): FeatureKind {
    const k = kind ?? this.defaultKind;
    const have = searchableKinds(this.ctx.config);
    if (!have.includes(k)) {
      const fix = isExtractedKind(k)
        ? `re-index with --features ${k === 'deep' ? 'both' : k}`
        : `run "nitamono learn --name ${k}"${this.ctx.config.features.includes('deep') ? '' : ' after indexing with --features deep'}`;
      throw invalid(`this collection has no ${k} features (it has ${have.join(', ')}); ${fix}`);
    }
    return k;
  }

  async search(query: CollectionQuery, opts: CollectionSearchOptions = {}): Promise<SearchResponse> {
    const kind = await this.currentKind(opts.features);
    const k = checkResultCount(opts.k);
    checkSearchOptions(opts);
    const filter = checkImageFilter(rootRelative(opts.filter, this.ctx.config.root));
    // a query by id is looked up in the index first (below); any other is checked before the index is built
    const byId = query !== null && typeof query === 'object' && 'id' in query;
    const extracted = byId ? undefined : await this.queryVector(query, kind);
    const target = await this.indexFor(kind, opts.method, opts.nprobe, opts.refineFactor);
    const q = extracted ?? (byId ? this.heldVector(query.id, kind, target) : undefined) ?? (await this.queryVector(query, kind));
    return useIndex(target.index, async () => this.run(target, kind, q, k, opts.excludeSelf === true, filter && (await this.allowed(filter, target))));
  }

  /**
   * Runs the query both ways and measures how faithful the IVF answer is to the exact one:
   * recall@1 and k-recall@k (ties at equal distance count as found). Both indexes are held
   * for the whole evaluation, so a concurrent rebuild cannot free one under it.
   */
  async evaluateQuery(query: CollectionQuery, opts: CollectionSearchOptions = {}): Promise<QueryEvaluation> {
    const kind = await this.currentKind(opts.features);
    const k = checkResultCount(opts.k);
    checkSearchOptions(opts);
    const filter = checkImageFilter(rootRelative(opts.filter, this.ctx.config.root));
    const q = await this.queryVector(query, kind);
    const ex = await this.indexFor(kind, 'exact', undefined, undefined);
    // each index is leased as soon as it is handed over: building the IVF may take a while,
    // and a concurrent rebuild must not free the exact index meanwhile
    return useIndex(ex.index, async () => {
      const allowed = filter && (await this.allowed(filter, ex));
      const iv = await this.indexFor(kind, 'ivf', opts.nprobe, opts.refineFactor);
      return useIndex(iv.index, async () => {
        const exact = await this.run(ex, kind, q, k, opts.excludeSelf === true, allowed);
        const ivf = await this.run(iv, kind, q, k, opts.excludeSelf === true, allowed);
        const { r1, rk } = tieAwareRecall(exact.results, ivf.results, k);
        return {
          features: kind,
          k,
          nprobe: ivf.nprobe ?? iv.params.nprobe ?? 1,
          nlist: iv.index.describe({ lists: false }).nlist ?? 1,
          recall_at_1: r1,
          recall_at_k: rk,
          exact,
          ivf,
        };
      });
    });
  }

  /**
   * The index serving `method` for `kind`, current with the catalogue, and the parameters to
   * search it with. 'exact': a flat primary; an IVF primary with every list scanned; a
   * compressed primary's exact answer comes from its full vectors in the catalogue. 'ivf': the
   * approximate index — the primary when it is not flat (IVF, or compressed), else the
   * auxiliary IVF — with nprobe and refineFactor as asked, else as tuned, else the defaults.
   */
  async indexFor(kind: FeatureKind, method: SearchMethod | undefined, nprobe: number | undefined, refineFactor: number | undefined): Promise<Target> {
    const current = await this.ctx.indexes.primary(kind);
    const primary = current?.index;
    if (!current || !primary) throw new NitamonoError('EMPTY_INDEX', `no ${kind} vectors in the collection`);
    const m: SearchMethod = method ?? (primary.kind === 'flat' ? 'exact' : 'ivf');
    if (m !== 'exact' && m !== 'ivf') throw invalid(`method must be exact or ivf, not ${String(method)}`);
    const generation = current.slot.generation;
    const factory = current.slot.factory ?? undefined;
    if (m === 'exact') {
      const nlist = primary.describe({ lists: false }).nlist;
      if (primary.capabilities.compressed) return { index: primary, method: m, params: {}, generation, exactFromCatalog: true, factory: 'Flat', nlist };
      // Exact on an IVF index = every list scanned (same answers as flat, plus nlist centroid distances).
      return {
        index: primary,
        method: m,
        params: nlist !== undefined ? { nprobe: nlist } : {},
        generation,
        exactFromCatalog: false,
        nlist,
        ...(factory ? { factory } : {}),
      };
    }
    const ivf = (await this.ctx.indexes.ivf(kind, undefined, current))!;
    if (refineFactor !== undefined && !((ivf.refineBytes ?? 0) > 0))
      throw invalid(
        `refineFactor applies to indexes re-ranked from the catalogue (an index policy ending in ,RFlat); this collection's ${kind} index is ${factory ?? ivf.kind}`,
      );
    const own = ivf === primary;
    const tuned = own ? this.ctx.indexes.tuning(kind) : null;
    const nlist = ivf.describe({ lists: false }).nlist;
    const params: SearchParams = {};
    if (nlist !== undefined) params.nprobe = Math.min(nprobe ?? tuned?.nprobe ?? DEFAULT_NPROBE, Math.max(1, nlist));
    if (refineFactor !== undefined) params.refineFactor = refineFactor;
    else if ((ivf.refineBytes ?? 0) > 0) params.refineFactor = tuned?.refine_factor ?? COLLECTION_REFINE_FACTOR;
    return { index: ivf, method: m, params, generation, exactFromCatalog: false, nlist, ...(own && factory ? { factory } : {}) };
  }

  /** The ids a filter selects in the catalogue `target` reflects (./filter-cache.ts). */
  private allowed(filter: CheckedFilter, target: Target): Promise<Int32Array> {
    return this.filters.resolve(this.ctx.store, filter, target.generation);
  }

  /** `allowed`: a filtered search's ids (the catalogue's answer to the filter), searched inside the scan. */
  private async run(target: Target, kind: FeatureKind, q: QueryVector, k: number, excludeSelf: boolean, allowed?: Int32Array): Promise<SearchResponse> {
    const { index, method } = target;
    const params: SearchParams = allowed ? { ...target.params, allowed } : target.params;
    const n = index.size;
    const base: Omit<SearchResponse, 'took_ms' | 'distances_computed' | 'results'> = {
      extract_ms: q.extract_ms,
      method,
      features: kind,
      n,
      dim: index.dim,
      query: { source: q.source, ...(q.id !== undefined ? { id: q.id } : {}), ...(q.relpath !== undefined ? { path: q.relpath } : {}) },
    };
    if (target.nlist !== undefined) base.nlist = target.nlist;
    if (target.factory) base.index = target.factory;
    if (allowed) base.filtered = allowed.length;
    if (n === 0) return { ...base, took_ms: 0, distances_computed: 0, results: [] };
    const drop = excludeSelf && q.id !== undefined ? q.id : undefined;
    const kk = Math.min(n, k + (drop !== undefined ? 1 : 0));
    const t0 = performance.now();
    let res: SearchResult;
    if (target.exactFromCatalog) {
      // the codes are approximations: the exact answer scans the full vectors, read from the catalogue chunk by chunk
      const space = featureSpace(this.ctx.config, kind);
      res = await exactSearch(index.dim, q.vector, kk, catalogChunks(this.ctx.store, space, index.dim, allowed ?? index.ids()));
    } else {
      res = await searchIndex(index, q.vector, kk, params);
    }
    const took = performance.now() - t0;
    // One batched lookup maps the result ids to paths (a row another process deleted meanwhile is
    // left out), and the query's own id when its vector came from the index
    const found = res.labels.subarray(0, res.k);
    const queryPath = q.relpath === undefined && q.id !== undefined;
    const ids = queryPath ? [q.id!, ...found] : found;
    // the folder index, when a filtered search has brought it to the index's generation, holds them all: no catalogue read
    const paths = this.filters.pathsAt(ids, target.generation) ?? (await this.ctx.store.relpaths(ids, target.generation));
    if (queryPath && paths.has(q.id!)) base.query.path = paths.get(q.id!)!;
    const results: SearchHit[] = [];
    for (let j = 0; j < res.k && results.length < k; j++) {
      const id = res.labels[j]!;
      if (id < 0 || id === drop) continue;
      const relpath = paths.get(id);
      if (relpath === undefined) continue;
      results.push({ id, path: relpath, absolute_path: this.ctx.paths.absolute(relpath), distance: res.distances[j]! });
    }
    const out: SearchResponse = { ...base, took_ms: round3(took), distances_computed: res.distancesComputed, results };
    if (method === 'ivf' && res.nprobe !== undefined) out.nprobe = res.nprobe;
    else if (method === 'ivf' && params.nprobe !== undefined) out.nprobe = params.nprobe;
    if (method === 'ivf' && params.refineFactor !== undefined) out.refine_factor = params.refineFactor;
    const warnings = [...(res.warnings ?? []), ...this.ctx.indexes.problems(kind)];
    if (warnings.length) out.warnings = warnings;
    return out;
  }

  /**
   * A stored image's vector as the index holds it, when that is exactly the stored one (an
   * extracted kind in an uncompressed index): no catalogue read. Its path is looked up with the
   * results' (run).
   */
  private heldVector(id: number, kind: FeatureKind, target: Target): QueryVector | undefined {
    const index = target.index;
    if (!Number.isInteger(id) || !isExtractedKind(kind) || index.capabilities.compressed || !index.has(id)) return undefined;
    return { vector: index.reconstruct(id), source: 'indexed', id, extract_ms: 0 };
  }

  /** The vector to search with, and where it came from. */
  private async queryVector(query: CollectionQuery, kind: FeatureKind): Promise<QueryVector> {
    const { store, config } = this.ctx;
    const space = featureSpace(config, kind);
    if (query && 'id' in query) {
      if (!Number.isInteger(query.id)) throw invalid('id must be an integer');
      const r = await store.okVector(query.id, space);
      if (!r) throw new NitamonoError('NOT_FOUND', `no indexed image with id ${query.id}`);
      return { vector: r.vector, source: 'indexed', id: query.id, relpath: r.relpath, extract_ms: 0 };
    }
    if (query && 'path' in query) {
      const p = query.path;
      if (typeof p !== 'string' || p === '') throw invalid('path must be a non-empty string');
      const abs = resolve(p);
      const st = await stat(abs).catch(() => undefined);
      // An indexed path: by absolute location inside the root, or as a root-relative path.
      const candidates: string[] = [];
      if (inside(config.root, abs)) candidates.push(toRelpath(config.root, abs));
      if (!isAbsolute(p)) candidates.push(p.split(sep).join('/').replace(/^\.\//, ''));
      for (const rel of candidates) {
        const row = await store.byRelpath(rel);
        if (row?.status !== 'ok') continue;
        const rowAbs = this.ctx.paths.absolute(row.relpath);
        const rowSt = rowAbs === abs && st ? st : await stat(rowAbs).catch(() => undefined);
        // Use the stored vector unless the file on disk changed since it was indexed.
        if (!rowSt || (rowSt.size === row.size && rowSt.mtimeMs === row.mtime_ms)) {
          if (st && rowAbs !== abs) continue; // the relative path names a different existing file
          const v = await store.vector(row.id, space);
          if (v) return { vector: v, source: 'indexed', id: row.id, relpath: row.relpath, extract_ms: 0 };
        }
      }
      if (!st) throw new NitamonoError('NOT_FOUND', `${p}: no such file, and not an indexed path`);
      if (!st.isFile()) throw invalid(`${p} is not a file`);
      return this.extract(abs, kind, p);
    }
    if (query && 'buffer' in query) {
      if (!(query.buffer instanceof Uint8Array) || query.buffer.byteLength === 0) throw invalid('query.buffer: the query image is empty (0 bytes)');
      return this.extract(Buffer.from(query.buffer.buffer, query.buffer.byteOffset, query.buffer.byteLength), kind, query.filename ?? 'uploaded image');
    }
    throw invalid('query must be { id }, { path } or { buffer }');
  }

  private async extract(input: string | Buffer, kind: FeatureKind, label: string): Promise<QueryVector> {
    const t0 = performance.now();
    // a learned kind: the deep features its head reads, then the head
    const learned = isExtractedKind(kind) ? undefined : await this.ctx.learned.projectionOf(featureSpace(this.ctx.config, kind));
    const source = learned ? (learned.input.kind as ExtractedKind) : (kind as ExtractedKind);
    const r = await this.ctx.extractors.extractOne(input, [source], label);
    const raw = r.features[source];
    if (!raw) throw new NitamonoError('DECODE_FAILED', `${label}: no ${source} features`);
    const v = learned ? projectRows(learned.layers, raw, 1) : raw;
    const extract_ms = round3(performance.now() - t0);
    this.ctx.dims.learn({ [kind]: v.length });
    return { vector: v, source: 'extracted', extract_ms };
  }
}

/** Searches `index` for one query (or a few) the way a collection search does. */
export async function searchIndex(index: EngineIndex, queries: Float32Array, k: number, params: SearchParams): Promise<SearchResult> {
  // compressed indexes (their re-ranking reads the catalogue) and large scans: worker threads
  if (index.capabilities.compressed || index.queryCost(params) > SYNC_SEARCH_MAX_WORK) return index.searchAsync(queries, k, params);
  // Small scans run right here: cheaper than handing them to worker threads, and too short
  // (≲ 1 ms) to hold up the event loop.
  return index.search(queries, k, params);
}

/** What serves one search: the index, the method, its parameters. */
export interface Target {
  index: EngineIndex;
  method: SearchMethod;
  params: SearchParams;
  /** The catalogue generation the index reflects. */
  generation: number;
  /** Exact search of a compressed index: scan the full vectors in the catalogue. */
  exactFromCatalog: boolean;
  /** The index's list count (undefined: it has no lists), read once with the index. */
  nlist: number | undefined;
  /** The index as a factory string (when known). */
  factory?: string;
}

function checkSearchOptions(opts: CollectionSearchOptions): void {
  if (opts.nprobe !== undefined && (!Number.isInteger(opts.nprobe) || opts.nprobe < 1)) throw invalid('nprobe must be a positive integer');
  const rf = opts.refineFactor;
  if (rf !== undefined && (typeof rf !== 'number' || !Number.isFinite(rf) || rf < 1)) throw invalid(`refineFactor must be a number ≥ 1, got ${String(rf)}`);
}

/** The k of a collection search: 1..MAX_K, default 10. */
export function checkResultCount(k: number | undefined): number {
  return checkK(k ?? 10, { max: MAX_K });
}

/**
 * The filter with absolute folders made relative to the collection root (a folder given as
 * ~/Pictures/trips means trips); one outside the root is refused rather than matching nothing.
 */
export function rootRelative(filter: ImageFilter | undefined, root: string): ImageFilter | undefined {
  if (!filter || filter.in === undefined) return filter;
  const list = Array.isArray(filter.in) ? filter.in : [filter.in];
  const folders = list.map((f) => {
    if (typeof f !== 'string' || !isAbsolute(f)) return f;
    const rel = relative(root, f);
    if (rel.startsWith('..') || isAbsolute(rel)) throw invalid(`folder ${f} is not inside the indexed folder (give it relative to that folder)`);
    return rel.split(sep).join('/');
  });
  return { ...filter, in: folders };
}

/** A path inside `root`? (both absolute) */
function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
