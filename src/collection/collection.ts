/**
 * A collection: a folder of images indexed on disk. This class is a thin facade: each job lives
 * in its own service (sync.ts, search.ts, uploads.ts, stats.ts, index-manager.ts), all sharing
 * one CollectionContext. Writes (update, addImage, removeImage) are serialised inside one
 * Collection.
 */

import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { SQLiteCatalogStore } from '../catalog/sqlite.js';
import { type CatalogReader, type CatalogStore, readOnlyCatalog, type WriterIdentity } from '../catalog/types.js';
import { invalid, NitamonoError } from '../errors.js';
import { DEFAULT_DEEP_MODEL } from '../image/deep.js';
import { learnedCatalog } from '../learn/catalog-view.js';
import { type LearnOptions, type LearnReport, learnKind } from '../learn/learn.js';
import { LearnedModels } from '../learn/registry.js';
import type { VectorIndex } from '../search/types.js';
import {
  CATALOG_FILE,
  CONFIG_FILE,
  type CollectionConfig,
  checkCollectionOptions,
  DEFAULT_COLLECTION_PATH,
  type ExtractedKind,
  type FeatureKind,
  featureSpace,
  parseIndexPolicy,
  readConfig,
  SCHEMA_VERSION,
  searchableKinds,
  sortKinds,
  writeConfig,
} from './config.js';
import { type CollectionContext, Dimensions, RootPaths, saveConfig } from './context.js';
import { type DuplicateOptions, type DuplicateReport, findDuplicates } from './duplicates.js';
import { ExtractorCache } from './extractors.js';
import { IndexManager } from './index-manager.js';
import { searchByName } from './names.js';
import { type Progress, silentProgress } from './progress.js';
import { SearchService } from './search.js';
import { collectionStats } from './stats.js';
import { collectionTarget, inProcessRunner, type JobRunnerFactory, syncFolder } from './sync.js';
import type {
  CollectionQuery,
  CollectionSearchOptions,
  CollectionStats,
  ImageInfo,
  IndexReport,
  NameSearchOptions,
  NameSearchResponse,
  OpenOptions,
  QueryEvaluation,
  SearchResponse,
  UpdateOptions,
} from './types.js';
import { imageInfo, UploadService } from './uploads.js';
import { type AcquireOptions, withWriterLease, writerIdentity, YieldingLease } from './writer.js';

export interface CollectionServices {
  /** Where extraction jobs run (default: this process's worker threads). */
  jobRunner?: JobRunnerFactory;
  /** The catalogue backend (default: SQLite `catalog.sqlite` in the collection folder). */
  store?: (dir: string, config: CollectionConfig) => Promise<CatalogStore>;
}

export class Collection {
  readonly path: string;
  private readonly ctx: CollectionContext;
  private readonly searcher: SearchService;
  private readonly uploads: UploadService;
  private readonly jobRunner: JobRunnerFactory;
  private readonly writer: WriterIdentity;
  private readonly writerWait: Pick<AcquireOptions, 'wait' | 'onWait'>;
  private writeLock: Promise<unknown> = Promise.resolve();
  private readonly reader: CatalogReader;
  private closed = false;

  private constructor(ctx: CollectionContext, services: CollectionServices, opts: OpenOptions) {
    this.path = ctx.path;
    this.writer = writerIdentity(opts.command ?? ['nitamono', ...process.argv.slice(2)].join(' '));
    this.writerWait = { ...(opts.writerWait !== undefined ? { wait: opts.writerWait } : {}), ...(opts.onWriterWait ? { onWait: opts.onWriterWait } : {}) };
    this.ctx = ctx;
    this.reader = readOnlyCatalog(ctx.store);
    this.searcher = new SearchService(ctx);
    this.uploads = new UploadService(ctx);
    this.jobRunner = services.jobRunner ?? inProcessRunner;
  }

  /**
   * Opens the collection at `path` (default `./.nitamono`). With `create`, makes it (and its
   * folder) when missing; `root` is then required. Throws NitamonoError NOT_FOUND when there is
   * no collection and `create` is not set, INVALID_ARGUMENT when `root` differs from the stored
   * one or an option is invalid (nothing is written then).
   */
  static async open(path: string = DEFAULT_COLLECTION_PATH, opts: OpenOptions = {}, services: CollectionServices = {}): Promise<Collection> {
    const dir = resolve(path);
    const cfgFile = join(dir, CONFIG_FILE);
    const root = opts.root !== undefined ? resolve(opts.root) : undefined;
    checkCollectionOptions(opts);
    let config: CollectionConfig;
    if (existsSync(cfgFile)) {
      config = await readConfig(cfgFile);
      if (root !== undefined && resolve(config.root) !== root) {
        throw invalid(`the collection at ${dir} indexes ${config.root}, not ${root}; use --collection PATH to make a separate collection for this folder`);
      }
    } else {
      if (!opts.create) throw new NitamonoError('NOT_FOUND', `no collection at ${dir} (run "nitamono index <folder>" first, or pass --collection PATH)`);
      if (root === undefined) throw invalid('creating a collection needs the folder it indexes');
      if (existsSync(dir) && !statSync(dir).isDirectory()) throw invalid(`${dir} exists and is not a folder`);
      await mkdir(dir, { recursive: true });
      const now = new Date().toISOString();
      config = {
        schema_version: SCHEMA_VERSION,
        root,
        features: sortKinds(opts.features ?? ['color']),
        color_bins: opts.colorBins ?? 4,
        // Recorded explicitly so a later change of the default model cannot mix embeddings.
        deep_model: opts.deepModel ?? DEFAULT_DEEP_MODEL,
        index: opts.index !== undefined ? parseIndexPolicy(opts.index) : 'auto',
        nlist: opts.nlist ?? null,
        memory_budget: opts.memoryBudget ?? null,
        target_recall: opts.targetRecall ?? null,
        learned: {},
        created_at: now,
        updated_at: now,
      };
      await writeConfig(cfgFile, config);
    }
    const cfg = () => config;
    const learned = new LearnedModels(dir, cfg);
    // learned kinds are read as projections of the stored deep vectors (src/learn/catalog-view.ts)
    const store = learnedCatalog(await (services.store ?? defaultStore)(dir, config), learned.projectionOf);
    const threads = opts.threads ?? availableParallelism();
    const progress = opts.progress ?? silentProgress;
    const dims = new Dimensions(store, cfg);
    const ctx: CollectionContext = {
      path: dir,
      config,
      store,
      threads,
      progress,
      dims,
      extractors: new ExtractorCache(cfg, threads),
      learned,
      paths: new RootPaths(() => config.root),
      indexes: new IndexManager({
        dir,
        store,
        config: cfg,
        space: (k) => featureSpace(config, k),
        dim: (k) => dims.of(k),
        knownDim: (k) => dims.cached(k),
        kindDims: async () => (await Promise.all(config.features.map((k) => dims.of(k)))).filter((d): d is number => d !== undefined),
        threads,
        progress,
      }),
      saveConfig: () => saveConfig(dir, config),
    };
    return new Collection(ctx, services, opts);
  }

  /**
   * The catalogue of the collection at `path`, writable, for extraction-queue workers: their
   * writes are puts by path, idempotent and free of conflicts with a running `index` (which
   * planned them), so they do not take the writer lease. Anything else writes through a Collection.
   */
  static async openJobStore(path: string = DEFAULT_COLLECTION_PATH): Promise<CatalogStore> {
    const dir = resolve(path);
    const cfgFile = join(dir, CONFIG_FILE);
    if (!existsSync(cfgFile)) throw new NitamonoError('NOT_FOUND', `no collection at ${dir} (run "nitamono index <folder>" first, or pass --collection PATH)`);
    return defaultStore(dir, await readConfig(cfgFile));
  }

  /** The catalogue, to read (writes go through the collection's methods, which hold the writer lease). */
  get catalog(): CatalogReader {
    return this.reader;
  }

  get config(): CollectionConfig {
    return this.ctx.config;
  }

  /** The indexed folder (absolute). */
  get root(): string {
    return this.ctx.config.root;
  }

  /** The kinds extracted from every image. */
  get features(): ExtractedKind[] {
    return [...this.ctx.config.features];
  }

  /** Every kind a search can use: the extracted ones, then the learned ones. */
  get searchableFeatures(): FeatureKind[] {
    return searchableKinds(this.ctx.config);
  }

  /**
   * Trains a projection of the deep features on the collection's labels (folders or a CSV) and
   * makes its output a searchable kind (src/learn/learn.ts). Held-out figures only.
   */
  learn(opts: LearnOptions = {}): Promise<LearnReport> {
    return this.locked(() => learnKind(this.ctx, { progress: this.ctx.progress, ...opts }));
  }

  /** The saved model of a learned kind (its split, labels and figures). */
  learnedModel(kind: FeatureKind) {
    return this.ctx.learned.get(kind);
  }

  /** Default feature kind for searches: deep when stored, else colour. */
  get defaultFeatures(): FeatureKind {
    return this.searcher.defaultKind;
  }

  /** Absolute path of a stored root-relative path. */
  absolutePath(relpath: string): string {
    return this.ctx.paths.absolute(relpath);
  }

  /**
   * Brings the catalogue and the index files in line with the root folder: new and changed files
   * are extracted and committed in batches, identical copies reuse stored vectors, deleted files
   * are dropped, then every index is synced and saved. Never throws for a bad image file.
   */
  update(opts: UpdateOptions = {}): Promise<IndexReport> {
    return this.locked(() => {
      // a long run lets short writes of other processes (uploads) in between its batches
      const lease = new YieldingLease(this.ctx.store, this.writer, opts.signal ? { signal: opts.signal } : {});
      return syncFolder(collectionTarget(this.ctx, this.jobRunner), opts, () => lease.checkpoint());
    }, opts.signal);
  }

  /** Loads/updates every primary index from the catalogue and saves the ones that changed. */
  syncIndexes(progress: Progress = this.ctx.progress): Promise<void> {
    return this.ctx.indexes.sync(searchableKinds(this.ctx.config), progress);
  }

  /**
   * The k images most similar to the query: `{ id }` (an indexed image), `{ path }` (an indexed
   * path, relative to the root or absolute; any other image file is read and its features
   * extracted) or `{ buffer }` (image bytes, extracted).
   * Throws NitamonoError NOT_FOUND / DECODE_FAILED / UNSUPPORTED / TOO_LARGE / BAD_FILE for bad queries.
   */
  search(query: CollectionQuery, opts: CollectionSearchOptions = {}): Promise<SearchResponse> {
    return this.searcher.search(query, opts);
  }

  /**
   * Search by name: the searchable images whose file and folder names hold every word (split
   * at / _ - . camelCase and digits, prefixes; Japanese by characters), best first. Combine
   * names with similarity through `search(query, { filter: { name } })`.
   */
  searchNames(words: string, opts: NameSearchOptions = {}): Promise<NameSearchResponse> {
    return searchByName(this.ctx, words, opts);
  }

  /** The query searched exactly and with the IVF, and the IVF's recall against the exact answer. */
  evaluateQuery(query: CollectionQuery, opts: CollectionSearchOptions = {}): Promise<QueryEvaluation> {
    return this.searcher.evaluateQuery(query, opts);
  }

  /**
   * Groups of near-identical images (resized, recompressed, slightly cropped, converted copies)
   * and exact copies, found with a batched k-NN self-join of the index (./duplicates.ts).
   */
  findDuplicates(opts: DuplicateOptions = {}): Promise<DuplicateReport> {
    return findDuplicates(this.ctx, this.searcher, opts);
  }

  /** An image by id (any status), or undefined. */
  async getImage(id: number): Promise<ImageInfo | undefined> {
    const row = await this.ctx.store.get(id);
    return row ? imageInfo(this.ctx, row) : undefined;
  }

  /** An image by its path relative to the root, or undefined. */
  async getImageByPath(relpath: string): Promise<ImageInfo | undefined> {
    const row = await this.ctx.store.byRelpath(relpath);
    return row ? imageInfo(this.ctx, row) : undefined;
  }

  /** A page of the searchable images in id order, and how many there are in all. */
  async listImages(offset = 0, limit = 24): Promise<{ total: number; images: ImageInfo[] }> {
    if (!Number.isInteger(offset) || offset < 0) throw invalid('offset must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 0) throw invalid('limit must be a non-negative integer');
    const { total, rows } = await this.ctx.store.okPage(offset, limit);
    return { total, images: rows.map((r) => imageInfo(this.ctx, r)) };
  }

  /** Every searchable image as (id, root-relative path), in id order. */
  searchableImages(): Promise<{ id: number; relpath: string }[]> {
    return this.ctx.store.okRows();
  }

  /** The catalogue generation: it moves whenever the set of searchable images changes. */
  generation(): Promise<number> {
    return this.ctx.store.generation();
  }

  /** A searchable image's stored vector of `kind`. */
  storedVector(id: number, kind: FeatureKind): Promise<Float32Array | undefined> {
    return this.ctx.store.vector(id, featureSpace(this.ctx.config, kind));
  }

  /** Adds an uploaded image (see UploadService.add); nothing is written for a bad image. */
  async addImage(buffer: Uint8Array, filename: string): Promise<ImageInfo> {
    return this.locked(async () => {
      const id = await this.uploads.add(buffer, filename);
      await this.ctx.indexes.refreshLoaded();
      return (await this.getImage(id))!;
    });
  }

  /** Removes an image from search (an upload's file is deleted too); false if the id is unknown. */
  async removeImage(id: number): Promise<boolean> {
    return this.locked(async () => {
      const removed = await this.uploads.remove(id);
      if (removed) await this.ctx.indexes.refreshLoaded();
      return removed;
    });
  }

  /** Applies catalogue changes (from this or another process) to the indexes held in memory. */
  refreshLoaded(): Promise<void> {
    return this.ctx.indexes.refreshLoaded();
  }

  /** Counts, per-kind index facts, memory and disk use. Writes nothing. */
  stats(): Promise<CollectionStats> {
    return collectionStats(this.ctx);
  }

  /** All searchable vectors of one kind with their ids, in id order (evaluation). */
  async vectors(kind: FeatureKind): Promise<{ ids: Int32Array; vectors: Float32Array; dim: number }> {
    const dim = await this.ctx.dims.of(kind);
    if (dim === undefined) return { ids: new Int32Array(0), vectors: new Float32Array(0), dim: 0 };
    const s = await this.ctx.store.snapshot(featureSpace(this.ctx.config, kind), dim);
    return { ids: s.ids, vectors: s.vectors, dim };
  }

  /** The IVF index for `kind` (the primary if it is one, else one built on demand and saved). */
  async ivfIndex(kind: FeatureKind): Promise<VectorIndex> {
    const k = await this.searcher.currentKind(kind);
    const ivf = await this.ctx.indexes.ivf(k);
    if (!ivf) throw new NitamonoError('EMPTY_INDEX', `no ${k} vectors in the collection`);
    return ivf;
  }

  /** Saves indexes changed in memory (e.g. after addImage) to their files. */
  flush(): Promise<void> {
    return this.ctx.indexes.save();
  }

  /** Saves changed indexes, stops extractor workers, frees indexes and closes the catalogue. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true; // new writes are refused from here on; queued ones finish first
    await this.writeLock.catch(() => undefined);
    try {
      await this.flush();
    } finally {
      await this.ctx.extractors.close();
      this.ctx.indexes.dispose();
      await this.ctx.store.close();
    }
  }

  /**
   * Runs a write: after this Collection's earlier writes (in-process queue), holding the
   * collection's writer lease (other processes).
   */
  private locked<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(new NitamonoError('INVALID_ARGUMENT', 'the collection is closed'));
    const leased = () => withWriterLease(this.ctx.store, this.writer, { ...this.writerWait, ...(signal ? { signal } : {}) }, fn);
    const run = this.writeLock.then(leased, leased);
    this.writeLock = run.catch(() => undefined);
    return run;
  }
}

function defaultStore(dir: string, config: CollectionConfig): Promise<CatalogStore> {
  return SQLiteCatalogStore.open(join(dir, CATALOG_FILE), {
    legacyModels: { color: featureSpace(config, 'color').model, deep: featureSpace(config, 'deep').model },
  });
}
