/**
 * Searching a collection of cluster mode by image: the query's features are extracted here,
 * with the collection's settings (colour bins, deep model) read from the catalogue — or taken
 * from the catalogue for an image it holds — then the collection is searched, and the ids of the
 * answer are mapped to paths through the catalogue.
 *
 *   const cs = await ClusterSearch.open('postgres://…', { collection: 'photos' });
 *   const r = await cs.search({ path: 'query.jpg' }, { k: 10 });
 *   r.mode      // 'shards' | 'local'
 *   r.coverage  // { shards: 3, answered: 3, ratio: 1 }
 *   await cs.close();
 *
 * Who searches, decided at every search (one feature space at a time):
 * - `shards` given: those shard processes, through the coordinator;
 * - else the shards of the catalogue's registry, when any is registered for the space (heard
 *   from within REGISTERED_MS: a crashed shard's partition is then reported missing, coverage
 *   < 1, rather than the whole collection loaded here);
 * - else (no shard at all) this process: the whole space is loaded from the catalogue into one
 *   PartitionIndex of partition 0/1 — the shards' own code, flat or IVF on the shared centroids —
 *   kept up to date before each search, and searched here (`mode: 'local'`, coverage 1/1).
 *   `local: false` refuses that (UNAVAILABLE) instead, for a coordinator that must never load a
 *   collection meant for many machines.
 *
 * What `nitamono search --catalog` and `serve --catalog` run.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkImageFilter, type ImageFilter } from '../catalog/filter.js';
import { PostgresCatalogStore } from '../catalog/postgres.js';
import type { ClusterCatalogStore, FeatureSpace } from '../catalog/types.js';
import { type ExtractedKind, type FeatureKind, isExtractedKind } from '../collection/config.js';
import { extractionErrorCode } from '../collection/extractors.js';
import { invalid, NitamonoError } from '../errors.js';
import type { DeepModel } from '../image/deep.js';
import { FeatureExtractor } from '../image/extract.js';
import { checkK, MAX_K } from '../validate.js';
import {
  type ClusterSearchResult,
  Coordinator,
  DEFAULT_DEADLINE_MS,
  registryDirectory,
  type ShardDirectory,
  type ShardReport,
  staticDirectory,
} from './coordinator.js';
import { PartitionIndex } from './partition-index.js';
import { type ClusterSettings, clusterSpace, requireClusterSettings } from './settings.js';

/**
 * A registry entry heard from within this long means the space is served by shards (the registry
 * drops entries an hour old). Only with no entry this recent does a search run locally.
 */
export const REGISTERED_MS = 3_600_000;
/** How long the answer to "is any shard registered?" is reused (ms). */
const REGISTERED_REFRESH_MS = 1000;

/** Who answered a search: shard processes through the coordinator, or this process. */
export type ClusterSearchMode = 'shards' | 'local';

export interface ClusterSearchOpenOptions {
  /** The collection inside the database (default 'default'). */
  collection?: string;
  /** Fixed shard URLs instead of the catalogue's registry. */
  shards?: string[];
  /** How long to wait for the shards, ms (default 2000). */
  deadlineMs?: number;
  /** The shards' bearer token. */
  token?: string;
  /** Registry entries older than this are ignored (default 6000 ms). */
  staleMs?: number;
  /** Feature extraction threads (default 1: one query at a time). */
  threads?: number;
  /**
   * With no `shards` and no shard registered for the space, search the whole collection in this
   * process (default true); false: UNAVAILABLE instead.
   */
  local?: boolean;
  /** Worker threads of a local search (default: all cores). */
  searchThreads?: number;
}

export type ClusterQuery = { path: string } | { buffer: Uint8Array; filename?: string } | { id: number } | { vector: Float32Array };

export interface ClusterQueryOptions {
  /** Results (default 10, at most 1000). */
  k?: number;
  /** Feature kind (default: deep when the collection has it, else colour). */
  features?: FeatureKind;
  nprobe?: number;
  exact?: boolean;
  deadlineMs?: number;
  /** Answer at this catalogue generation or later (read-your-writes). */
  minGeneration?: number;
  /** Leave the query image itself out (queries by id or indexed path). */
  excludeSelf?: boolean;
  /** Not supported in cluster mode: a filter makes the search fail with UNSUPPORTED (never ignored). */
  filter?: ImageFilter;
}

export interface ClusterHit {
  id: number;
  /** Relative to the collection's folder, "/"-separated. */
  path: string;
  /** The image as the collection's processes see it (when the settings record the folder). */
  absolute_path: string | null;
  distance: number;
}

export interface ClusterSearchResponse {
  /** 'shards': the shards answered (see coverage, shards); 'local': this process searched the whole collection. */
  mode: ClusterSearchMode;
  took_ms: number;
  extract_ms: number;
  features: FeatureKind;
  method: 'exact' | 'ivf';
  nprobe?: number;
  nlist?: number;
  k: number;
  /** Vectors in the partitions that answered. */
  n: number;
  dim: number;
  distances_computed: number;
  coverage: ClusterSearchResult['coverage'];
  generation: ClusterSearchResult['generation'];
  /** Per partition (empty in local mode). */
  shards: ShardReport[];
  query: { source: 'indexed' | 'extracted' | 'vector'; id?: number; path?: string };
  results: ClusterHit[];
  warnings?: string[];
}

export class ClusterSearch {
  private readonly coordinators = new Map<FeatureKind, Coordinator>();
  private readonly extractors = new Map<FeatureKind, FeatureExtractor>();
  private readonly locals = new Map<FeatureKind, PartitionIndex>();
  private readonly registered = new Map<FeatureKind, { at: number; any: boolean }>();
  private closed = false;

  private constructor(
    readonly store: ClusterCatalogStore,
    readonly settings: ClusterSettings,
    private readonly o: ClusterSearchOpenOptions,
    private readonly ownsStore: boolean,
  ) {}

  /** Connects to the catalogue at `url` and reads the collection's settings (NOT_FOUND when it has none). */
  static async open(url: string, o: ClusterSearchOpenOptions = {}): Promise<ClusterSearch> {
    const store = await PostgresCatalogStore.open(url, { collection: o.collection ?? 'default', poolSize: 2 });
    try {
      return await ClusterSearch.over(store, o, true);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Over a store the caller opened (and closes). */
  static async over(store: ClusterCatalogStore, o: ClusterSearchOpenOptions = {}, ownsStore = false): Promise<ClusterSearch> {
    if (o.shards !== undefined && o.shards.length === 0) throw invalid('--shards needs at least one URL');
    return new ClusterSearch(store, await requireClusterSettings(store), o, ownsStore);
  }

  get defaultFeatures(): FeatureKind {
    return this.settings.features.includes('deep') ? 'deep' : 'color';
  }

  space(kind: FeatureKind): FeatureSpace {
    return clusterSpace(this.settings, kind);
  }

  /** The coordinator of one feature kind's shards. */
  coordinator(kind: FeatureKind): Coordinator {
    let c = this.coordinators.get(kind);
    if (!c) {
      const directory: ShardDirectory = this.o.shards
        ? staticDirectory(this.o.shards, { ...(this.o.token !== undefined ? { token: this.o.token } : {}) })
        : registryDirectory(this.store, this.space(kind), { ...(this.o.staleMs !== undefined ? { staleMs: this.o.staleMs } : {}) });
      c = new Coordinator({
        directory,
        ...(this.o.deadlineMs !== undefined ? { deadlineMs: this.o.deadlineMs } : {}),
        ...(this.o.token !== undefined ? { token: this.o.token } : {}),
      });
      this.coordinators.set(kind, c);
    }
    return c;
  }

  async search(query: ClusterQuery, opts: ClusterQueryOptions = {}): Promise<ClusterSearchResponse> {
    if (this.closed) throw invalid('this cluster search is closed');
    if (checkImageFilter(opts.filter))
      throw new NitamonoError('UNSUPPORTED', 'filtered search (folders, ids, ranges, names) is not supported in cluster mode: search a collection folder');
    const kind = opts.features ?? this.defaultFeatures;
    if (!isExtractedKind(kind))
      throw new NitamonoError('UNSUPPORTED', `cluster mode searches color or deep features; learned features ("${kind}") live in a collection folder`);
    if (!this.settings.features.includes(kind)) {
      throw invalid(`collection ${this.store.collection} has no ${kind} features (it has ${this.settings.features.join(', ')})`);
    }
    const k = checkK(opts.k ?? 10, { max: MAX_K });
    const q = await this.queryVector(query, kind);
    const drop = opts.excludeSelf && q.id !== undefined ? q.id : undefined;
    const mode = await this.mode(kind);
    const searchOpts = {
      ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}),
      ...(opts.exact ? { exact: true } : {}),
      ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
      ...(opts.minGeneration !== undefined ? { minGeneration: opts.minGeneration } : {}),
    };
    const kk = drop !== undefined ? Math.min(MAX_K + 1, k + 1) : k;
    const r =
      mode === 'local'
        ? await this.searchLocally(kind, q.vector, kk, searchOpts)
        : await this.coordinator(kind).search(q.vector, q.vector.length, kk, searchOpts);
    const ids = Array.from(r.labels).filter((id) => id >= 0 && id !== drop);
    const paths = await this.store.relpaths(ids);
    const results: ClusterHit[] = [];
    for (let j = 0; j < r.k && results.length < k; j++) {
      const id = r.labels[j]!;
      if (id < 0 || id === drop) continue;
      const path = paths.get(id);
      if (path === undefined) continue; // deleted since the shard searched
      results.push({ id, path, absolute_path: this.settings.root ? join(this.settings.root, ...path.split('/')) : null, distance: r.distances[j]! });
    }
    return {
      mode,
      took_ms: r.took_ms,
      extract_ms: q.extract_ms,
      features: kind,
      method: r.index === 'ivf' && !opts.exact ? 'ivf' : 'exact',
      ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
      ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
      k,
      n: r.size,
      dim: q.vector.length,
      distances_computed: r.distances_computed,
      coverage: r.coverage,
      generation: r.generation,
      shards: r.shards,
      query: { source: q.source, ...(q.id !== undefined ? { id: q.id } : {}), ...(q.path !== undefined ? { path: q.path } : {}) },
      results,
      ...(r.warnings.length ? { warnings: r.warnings } : {}),
    };
  }

  /**
   * Who searches `kind` now: the shards (given, or any registered for its space), else this
   * process. Checked against the registry at most every second.
   */
  async mode(kind: FeatureKind = this.defaultFeatures): Promise<ClusterSearchMode> {
    if (this.o.shards) return 'shards';
    const known = this.registered.get(kind);
    let any: boolean;
    if (known && Date.now() - known.at < REGISTERED_REFRESH_MS) any = known.any;
    else {
      try {
        any = (await this.store.liveShards(this.space(kind), REGISTERED_MS)).length > 0;
      } catch (err) {
        if (!known) throw err;
        any = known.any; // the registry unreadable for a moment: as last seen
      }
      this.registered.set(kind, { at: Date.now(), any });
    }
    if (any) {
      // shards came: the local copy is of no more use
      this.locals.get(kind)?.close();
      this.locals.delete(kind);
      return 'shards';
    }
    if (this.o.local === false) {
      throw new NitamonoError(
        'UNAVAILABLE',
        `no shard is registered for the ${kind} features of collection ${JSON.stringify(this.store.collection)} in ${this.store.target}, and searching the whole collection here is turned off (--no-local)`,
      );
    }
    return 'local';
  }

  /**
   * Loads the index a local search of `kind` would use, when there is no shard (so the first
   * search does not wait for it); resolves to the mode. For a server starting up.
   */
  async prepare(kind: FeatureKind = this.defaultFeatures): Promise<ClusterSearchMode> {
    const mode = await this.mode(kind);
    if (mode === 'local') await this.localIndex(kind).refresh();
    return mode;
  }

  private localIndex(kind: FeatureKind): PartitionIndex {
    let idx = this.locals.get(kind);
    if (!idx) {
      idx = new PartitionIndex({
        store: this.store,
        space: this.space(kind),
        partition: { index: 0, count: 1 },
        ...(this.o.searchThreads !== undefined ? { threads: this.o.searchThreads } : {}),
      });
      this.locals.set(kind, idx);
    }
    return idx;
  }

  /** The whole space searched here, brought to the catalogue's generation first; shaped as the coordinator's answer. */
  private async searchLocally(
    kind: FeatureKind,
    vector: Float32Array,
    k: number,
    opts: { nprobe?: number; exact?: boolean; deadlineMs?: number; minGeneration?: number },
  ): Promise<ClusterSearchResult> {
    const t0 = performance.now();
    const idx = this.localIndex(kind);
    if (opts.minGeneration !== undefined) await idx.waitForGeneration(opts.minGeneration, opts.deadlineMs ?? this.o.deadlineMs ?? DEFAULT_DEADLINE_MS);
    else await idx.refresh();
    const r = await idx.search(vector, vector.length, k, {
      ...(opts.nprobe !== undefined ? { nprobe: opts.nprobe } : {}),
      ...(opts.exact ? { exact: true } : {}),
    });
    return {
      nq: 1,
      k,
      labels: r.labels,
      distances: r.distances,
      coverage: { shards: 1, answered: 1, ratio: 1 },
      generation: { min: r.generation, max: r.generation },
      size: r.size,
      distances_computed: r.distancesComputed,
      took_ms: Math.round((performance.now() - t0) * 1000) / 1000,
      index: r.index,
      ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
      ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
      shards: [],
      warnings: r.warnings,
    };
  }

  private async queryVector(
    query: ClusterQuery,
    kind: ExtractedKind,
  ): Promise<{ vector: Float32Array; source: 'indexed' | 'extracted' | 'vector'; id?: number; path?: string; extract_ms: number }> {
    const space = this.space(kind);
    if (query && 'vector' in query) {
      if (!(query.vector instanceof Float32Array) || query.vector.length === 0) throw invalid('query.vector must be a non-empty Float32Array');
      return { vector: query.vector, source: 'vector', extract_ms: 0 };
    }
    if (query && 'id' in query) {
      const r = Number.isInteger(query.id) ? await this.store.okVector(query.id, space) : undefined;
      if (!r) throw new NitamonoError('NOT_FOUND', `no indexed image with id ${query.id}`);
      return { vector: r.vector, source: 'indexed', id: query.id, path: r.relpath, extract_ms: 0 };
    }
    if (query && 'path' in query) {
      const p = query.path;
      if (typeof p !== 'string' || p === '') throw invalid('path must be a non-empty string');
      const st = await stat(resolve(p)).catch(() => undefined);
      if (st?.isFile()) return this.extract(resolve(p), kind, p);
      // not a file here: an image of the collection, by its path relative to the collection's folder
      const row = await this.store.byRelpath(p.replace(/^\.\//, ''));
      const r = row?.status === 'ok' ? await this.store.okVector(row.id, space) : undefined;
      if (row && r) return { vector: r.vector, source: 'indexed', id: row.id, path: row.relpath, extract_ms: 0 };
      if (st) throw invalid(`${p} is not a file`);
      throw new NitamonoError('NOT_FOUND', `${p}: no such file, and not an image of collection ${this.store.collection}`);
    }
    if (query && 'buffer' in query) {
      if (!(query.buffer instanceof Uint8Array) || query.buffer.byteLength === 0) throw invalid('query.buffer: the query image is empty (0 bytes)');
      return this.extract(Buffer.from(query.buffer.buffer, query.buffer.byteOffset, query.buffer.byteLength), kind, query.filename ?? 'uploaded image');
    }
    throw invalid('query must be { path }, { buffer }, { id } or { vector }');
  }

  private async extract(input: string | Buffer, kind: ExtractedKind, label: string) {
    const t0 = performance.now();
    let ex = this.extractors.get(kind);
    if (!ex) {
      // one kind per extractor: a colour query never loads the deep model
      ex = new FeatureExtractor({
        kinds: [kind],
        colorBins: this.settings.color_bins,
        deepModel: this.settings.deep_model as DeepModel,
        threads: this.o.threads ?? 1,
      });
      this.extractors.set(kind, ex);
    }
    const r = await ex.extract(input);
    if (!r.ok) throw new NitamonoError(extractionErrorCode(r.code), `${label}: ${r.error}`);
    const v = r.features[kind];
    if (!v) throw new NitamonoError('DECODE_FAILED', `${label}: no ${kind} features`);
    return { vector: v, source: 'extracted' as const, extract_ms: Math.round((performance.now() - t0) * 1000) / 1000 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ex of this.extractors.values()) await Promise.resolve(ex.close()).catch(() => undefined);
    for (const idx of this.locals.values()) idx.close();
    this.locals.clear();
    if (this.ownsStore) await this.store.close();
  }
}
