/**
 * A collection: a folder of images indexed on disk. See ./index.ts for the public API and the
 * on-disk layout.
 */
import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, extname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { NitamonoError, invalid, type ErrorCode } from '../errors.js';
import { FeatureExtractor, type ExtractedImage } from '../image/extract.js';
import { DEFAULT_DEEP_MODEL } from '../image/deep.js';
import { IVFIndex } from '../search/ivf.js';
import type { SearchResult } from '../search/types.js';
import { Catalog, type ImageRow, type NewImage } from './catalog.js';
import {
  CATALOG_FILE,
  CONFIG_FILE,
  DEFAULT_COLLECTION_PATH,
  SCHEMA_VERSION,
  readConfig,
  sortKinds,
  writeConfig,
  type CollectionConfig,
  type FeatureKind,
  type IndexChoice,
} from './config.js';
import { IndexSlot, ensureSlot, fileBytes, readSidecar, saveSlot, useIndex, type EngineIndex } from './indexes.js';
import { silentProgress, type Progress } from './progress.js';
import { hashBuffer, hashFile, isImageName, mapLimit, scanFolder, toRelpath, type ScanIssue } from './scan.js';

/** Default nprobe for IVF searches when none is given (clamped to nlist). */
export const DEFAULT_NPROBE = 8;
/** Images committed to SQLite per transaction while indexing. */
export const DEFAULT_BATCH = 64;
/** Folder under the root where addImage() writes uploads. */
export const UPLOADS_DIR = 'uploads';

export type SearchMethod = 'exact' | 'ivf';
export type CollectionQuery = { id: number } | { path: string } | { buffer: Uint8Array; filename?: string };

export interface SearchOptions {
  /** Results wanted (default 10, at most 1000). */
  k?: number;
  /** Feature kind (default: deep if the collection has it, else color). */
  features?: FeatureKind;
  /** 'exact' scans every vector; 'ivf' scans the nprobe nearest lists. Default: the collection's index kind. */
  method?: SearchMethod;
  /** IVF lists to scan (default DEFAULT_NPROBE, clamped to nlist). */
  nprobe?: number;
  /** Leave the query image itself out of the results (queries by id or indexed path). */
  excludeSelf?: boolean;
}

export interface SearchHit {
  id: number;
  /** Path relative to the collection root, "/"-separated. */
  path: string;
  absolute_path: string;
  /** Squared Euclidean distance ‖q − x‖² (smaller = more similar). */
  distance: number;
}

export interface SearchResponse {
  took_ms: number;
  /** Feature extraction time for a query that was not indexed (0 otherwise). */
  extract_ms: number;
  method: SearchMethod;
  features: FeatureKind;
  distances_computed: number;
  /** Searchable vectors. */
  n: number;
  dim: number;
  nprobe?: number;
  nlist?: number;
  query: { source: 'indexed' | 'extracted'; id?: number; path?: string };
  results: SearchHit[];
  warnings?: string[];
}

export interface ImageInfo {
  id: number;
  relpath: string;
  path: string;
  width: number | null;
  height: number | null;
  format: string | null;
  size: number;
  sha256: string | null;
  status: 'ok' | 'skipped' | 'excluded';
}

export interface SkippedFile {
  /** Path relative to the collection root. */
  path: string;
  code: string;
  reason: string;
}

export interface IndexReport {
  root: string;
  collection: string;
  /** Images made searchable in this run (new files, changed files, identical copies). */
  indexed: number;
  /** Of `indexed`: files that replaced an older version of the same path. */
  changed: number;
  /** Of `indexed`: files whose content hash matched an indexed image, vectors copied, not re-extracted. */
  reused: number;
  unchanged: number;
  removed: number;
  /** Files newly skipped in this run. */
  skipped_new: number;
  /** Every file of the folder that is not searchable, with the reason (this run's and earlier runs' still present). */
  skipped: SkippedFile[];
  /** Files without an image extension, not looked at. */
  ignored: number;
  /** Searchable images after the run. */
  images: number;
  features: FeatureKind[];
  index: Record<string, { kind: 'flat' | 'ivf'; size: number; nlist?: number }>;
  interrupted: boolean;
  took_ms: number;
}

export interface UpdateOptions {
  /** Feature kinds to make sure exist (added to the collection's; existing ones are kept). */
  features?: FeatureKind[];
  index?: IndexChoice;
  nlist?: number | null;
  /** Worker threads for feature extraction and IVF training (default: all cores). */
  threads?: number;
  /** Images per SQLite transaction (default 64). */
  batchSize?: number;
  /** Re-try files that were skipped before even if they did not change. */
  retrySkipped?: boolean;
  progress?: Progress;
  /** Aborting finishes the current batch, saves, and returns with `interrupted: true`. */
  signal?: AbortSignal;
}

export interface OpenOptions {
  /** Create the collection if it does not exist (needs `root`). */
  create?: boolean;
  /** The image folder: required to create; when opening, must match the stored root if given. */
  root?: string;
  features?: FeatureKind[];
  colorBins?: number;
  deepModel?: string | null;
  index?: IndexChoice;
  nlist?: number | null;
  threads?: number;
  progress?: Progress;
}

export interface KindStats {
  kind: FeatureKind;
  dim: number;
  index: {
    kind: 'flat' | 'ivf';
    size: number;
    nlist: number | null;
    list_sizes: { min: number; max: number; mean: number; empty: number } | null;
    memory_bytes: number;
    file_bytes: number;
    generation: number;
  } | null;
}

export interface CollectionStats {
  path: string;
  root: string;
  images: number;
  skipped: number;
  excluded: number;
  generation: number;
  index_policy: IndexChoice;
  features: KindStats[];
  memory_bytes: number;
  disk_bytes: number;
  created_at: string;
  updated_at: string;
}

export interface QueryEvaluation {
  features: FeatureKind;
  k: number;
  nprobe: number;
  nlist: number;
  /** 1 if the IVF's first result is the exact nearest neighbour (or ties with it), else 0. */
  recall_at_1: number;
  /** |IVF top-k ∩ exact top-k| / k, counting equal-distance ties as found. */
  recall_at_k: number;
  exact: SearchResponse;
  ivf: SearchResponse;
}

function errorCodeOf(code: string | undefined): ErrorCode {
  const known: ErrorCode[] = ['BAD_FILE', 'UNSUPPORTED', 'TOO_LARGE', 'DECODE_FAILED', 'IO', 'NOT_FOUND', 'INVALID_ARGUMENT'];
  return known.includes(code as ErrorCode) ? (code as ErrorCode) : 'DECODE_FAILED';
}

function extractedDims(ex: FeatureExtractor): Partial<Record<FeatureKind, number>> {
  const d = (ex as unknown as { dims: unknown }).dims;
  if (d && typeof d === 'object') return d as Partial<Record<FeatureKind, number>>;
  return {};
}

/** A path inside `root`? (both absolute) */
function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

export class Collection {
  readonly path: string;
  config: CollectionConfig;
  readonly catalog: Catalog;
  /** Vector dimension per kind, learnt from the extractor or from stored vectors. */
  private dims: Partial<Record<FeatureKind, number>> = {};
  private primary = new Map<FeatureKind, IndexSlot>();
  private ivfAux = new Map<FeatureKind, IndexSlot>();
  private extractors = new Map<string, FeatureExtractor>();
  private writeLock: Promise<unknown> = Promise.resolve();
  private threads: number;
  private progress: Progress;
  private closed = false;
  /** `root` + "/" when plain concatenation gives what join() would (absolutePath), else null. */
  private rootPrefix: { root: string; prefix: string | null } | undefined;

  private constructor(path: string, config: CollectionConfig, catalog: Catalog, opts: OpenOptions) {
    this.path = path;
    this.config = config;
    this.catalog = catalog;
    this.threads = opts.threads ?? availableParallelism();
    this.progress = opts.progress ?? silentProgress;
    for (const k of config.features) this.learnDim(k);
  }

  /**
   * Opens the collection at `path` (default `./.nitamono`). With `create`, makes it (and its
   * folder) when missing; `root` is then required. Throws NitamonoError NOT_FOUND when there is
   * no collection and `create` is not set, INVALID_ARGUMENT when `root` differs from the stored one.
   */
  static async open(path: string = DEFAULT_COLLECTION_PATH, opts: OpenOptions = {}): Promise<Collection> {
    const dir = resolve(path);
    const cfgFile = join(dir, CONFIG_FILE);
    let config: CollectionConfig;
    const root = opts.root !== undefined ? resolve(opts.root) : undefined;
    if (existsSync(cfgFile)) {
      config = await readConfig(cfgFile);
      if (root !== undefined && resolve(config.root) !== root) {
        throw invalid(
          `the collection at ${dir} indexes ${config.root}, not ${root}; use --collection PATH to make a separate collection for this folder`,
        );
      }
    } else {
      if (!opts.create) {
        throw new NitamonoError('NOT_FOUND', `no collection at ${dir} (run "nitamono index <folder>" first, or pass --collection PATH)`);
      }
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
        index: opts.index ?? 'auto',
        nlist: opts.nlist ?? null,
        created_at: now,
        updated_at: now,
      };
      await writeConfig(cfgFile, config);
    }
    let catalog: Catalog;
    try {
      catalog = new Catalog(join(dir, CATALOG_FILE));
    } catch (err) {
      throw new NitamonoError('IO', `cannot open ${join(dir, CATALOG_FILE)}: ${(err as Error).message}`, { cause: err });
    }
    return new Collection(dir, config, catalog, opts);
  }

  /** The indexed folder (absolute). */
  get root(): string {
    return this.config.root;
  }

  get features(): FeatureKind[] {
    return [...this.config.features];
  }

  /** Default feature kind for searches: deep when stored, else colour. */
  get defaultFeatures(): FeatureKind {
    return this.config.features.includes('deep') ? 'deep' : 'color';
  }

  /** Absolute path of a stored relative path. */
  absolutePath(relpath: string): string {
    // Stored relpaths are normalised ("/"-separated, no "." or ".." segments), so on POSIX a
    // concatenation is what join() would return, without its cost (k of these per search).
    const root = this.root;
    if (this.rootPrefix?.root !== root) {
      this.rootPrefix = { root, prefix: sep === '/' && isAbsolute(root) && normalize(root) === root ? (root.endsWith('/') ? root : `${root}/`) : null };
    }
    const prefix = this.rootPrefix.prefix;
    if (prefix !== null && relpath !== '' && !ODD_RELPATH.test(relpath)) return prefix + relpath;
    return join(root, ...relpath.split('/'));
  }

  // ---------------------------------------------------------------- indexing a folder

  /**
   * Brings the catalog and the index files in line with the root folder: new and changed files
   * are extracted and committed in batches, identical copies reuse stored vectors, deleted files
   * are dropped, then every index is synced and saved. Never throws for a bad image file.
   */
  async update(opts: UpdateOptions = {}): Promise<IndexReport> {
    return this.locked(() => this.updateUnlocked(opts));
  }

  private async updateUnlocked(opts: UpdateOptions): Promise<IndexReport> {
    const t0 = performance.now();
    const progress = opts.progress ?? this.progress;
    const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
    const signal = opts.signal;
    const root = this.root;

    let rootStat;
    try {
      rootStat = await stat(root);
    } catch {
      throw invalid(`folder ${root} does not exist`);
    }
    if (!rootStat.isDirectory()) throw invalid(`${root} is not a folder`);

    // Configuration changes: kinds are only ever added.
    let cfgChanged = false;
    if (opts.features) {
      const union = sortKinds([...this.config.features, ...opts.features]);
      if (union.length !== this.config.features.length) {
        this.config.features = union;
        cfgChanged = true;
      }
    }
    if (opts.index && opts.index !== this.config.index) {
      this.config.index = opts.index;
      cfgChanged = true;
    }
    if (opts.nlist !== undefined && opts.nlist !== this.config.nlist) {
      this.config.nlist = opts.nlist;
      cfgChanged = true;
    }
    if (cfgChanged) await this.saveConfig();
    const kinds = this.config.features;

    const report: IndexReport = {
      root,
      collection: this.path,
      indexed: 0,
      changed: 0,
      reused: 0,
      unchanged: 0,
      removed: 0,
      skipped_new: 0,
      skipped: [],
      ignored: 0,
      images: 0,
      features: [...kinds],
      index: {},
      interrupted: false,
      took_ms: 0,
    };

    // 1. Scan.
    const scanBar = progress.step('scanning', 0, 'files');
    const scan = await scanFolder(root, { excludeDirs: [this.path], onFile: (n) => scanBar.update(n) });
    scanBar.stop();
    report.ignored = scan.ignored;

    // 2. Compare with the catalog.
    const existing = new Map(this.catalog.summaries().map((r) => [r.relpath, r]));
    const hasAll = (r: { has_color: number; has_deep: number }) => kinds.every((k) => (k === 'color' ? r.has_color : r.has_deep));
    type Candidate = { relpath: string; abspath: string; size: number; mtimeMs: number; old?: (typeof existing extends Map<string, infer V> ? V : never); sha?: string };
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    for (const f of scan.files) {
      seen.add(f.relpath);
      const old = existing.get(f.relpath);
      const same = old && old.size === f.size && old.mtime_ms === f.mtimeMs;
      if (same && old.status === 'ok' && hasAll(old)) report.unchanged++;
      else if (same && old.status === 'excluded') report.unchanged++;
      else if (same && old.status === 'skipped' && !opts.retrySkipped) report.unchanged++;
      else candidates.push({ ...f, old });
    }

    // 3. Hash the candidates; decide touch / reuse / extract.
    const hashBar = progress.step('hashing', candidates.length, 'files');
    const hashErrors = new Map<Candidate, string>();
    await mapLimit(candidates, 4, async (c) => {
      if (signal?.aborted) return;
      try {
        c.sha = await hashFile(c.abspath);
      } catch (err) {
        hashErrors.set(c, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
      hashBar.increment();
    });
    hashBar.stop();

    const touches: Candidate[] = [];
    const reuses: { c: Candidate; from: NonNullable<ReturnType<Catalog['okBySha']>> }[] = [];
    const groups = new Map<string, Candidate[]>(); // sha → files needing extraction (first = representative)
    const failures: { c: Candidate; code: string; reason: string }[] = [];
    for (const c of candidates) {
      if (signal?.aborted) break;
      if (c.sha === undefined) {
        failures.push({ c, code: 'IO', reason: `cannot read file: ${hashErrors.get(c) ?? 'unknown error'}` });
        continue;
      }
      const old = c.old;
      if (old && old.sha256 === c.sha && ((old.status === 'ok' && hasAll(old)) || (old.status === 'skipped' && !opts.retrySkipped) || old.status === 'excluded')) {
        touches.push(c);
        continue;
      }
      const from = this.catalog.okBySha(c.sha, kinds);
      if (from && from.id !== old?.id) {
        reuses.push({ c, from });
        continue;
      }
      const g = groups.get(c.sha);
      if (g) g.push(c);
      else groups.set(c.sha, [c]);
    }

    const deletions = signal?.aborted
      ? []
      : [...existing.values()].filter(
          (r) => !seen.has(r.relpath) && !scan.unreadableDirs.some((d) => d === '.' || r.relpath === d || r.relpath.startsWith(d + '/')),
        );

    const rowFor = (c: Candidate, fields: Omit<NewImage, 'relpath' | 'size' | 'mtime_ms' | 'sha256'>): NewImage => ({
      relpath: c.relpath,
      size: c.size,
      mtime_ms: c.mtimeMs,
      sha256: c.sha ?? null,
      ...fields,
    });
    const replaceAndInsert = (gen: number, touched: () => void, c: Candidate, row: NewImage) => {
      if (c.old) {
        const removed = this.catalog.delete(c.old.id, gen);
        if (removed?.status === 'ok') touched();
      }
      this.catalog.insert(row, gen);
      if (row.status === 'ok') touched();
    };

    // 4. Cheap writes first: metadata touches, copies of known content, hash failures, deletions.
    this.catalog.write((gen, touched) => {
      for (const c of touches) this.catalog.touch(c.old!.id, c.size, c.mtimeMs);
      for (const { c, from } of reuses) {
        replaceAndInsert(gen, touched, c, rowFor(c, { status: 'ok', width: from.width, height: from.height, format: from.format, vectors: from.vectors }));
        report.indexed++;
        report.reused++;
        if (c.old) report.changed++;
      }
      for (const f of failures) {
        replaceAndInsert(gen, touched, f.c, rowFor(f.c, { status: 'skipped', error_code: f.code, error_message: f.reason }));
        report.skipped_new++;
      }
      for (const r of deletions) {
        const removed = this.catalog.delete(r.id, gen);
        if (removed?.status === 'ok') touched();
        report.removed++;
      }
    });
    report.unchanged += touches.length;

    // 5. Extract the rest, committing every `batchSize` images.
    const reps = [...groups.values()].map((g) => g[0]!);
    if (reps.length > 0 && !signal?.aborted) {
      const extractor = this.extractor(kinds);
      this.learnDims(extractor);
      const byPath = new Map(reps.map((c) => [c.abspath, c]));
      const bar = progress.step('features', reps.length, 'images');
      let pending: { c: Candidate; row: NewImage }[] = [];
      const flush = () => {
        if (pending.length === 0) return;
        const batch = pending;
        pending = [];
        this.catalog.write((gen, touched) => {
          for (const p of batch) replaceAndInsert(gen, touched, p.c, p.row);
        });
      };
      const abortPromise = new Promise<'aborted'>((res) => {
        if (signal) signal.addEventListener('abort', () => res('aborted'), { once: true });
      });
      const it = extractor.extractMany(reps.map((c) => c.abspath))[Symbol.asyncIterator]();
      let pendingNext: Promise<IteratorResult<ExtractedImage>> | undefined;
      try {
        for (;;) {
          if (signal?.aborted) break;
          pendingNext = it.next();
          const next = await Promise.race([pendingNext, abortPromise]);
          if (next === 'aborted') break;
          pendingNext = undefined;
          if (next.done) break;
          const ex: ExtractedImage = next.value;
          const rep = byPath.get(ex.path);
          if (!rep) continue;
          const group = groups.get(rep.sha!) ?? [rep];
          for (const c of group) {
            let row: NewImage;
            if (ex.ok) {
              const vectors: Partial<Record<FeatureKind, Float32Array>> = {};
              for (const k of kinds) {
                const v = ex.features[k];
                if (v) vectors[k] = v;
              }
              row = rowFor(c, { status: 'ok', width: ex.width, height: ex.height, format: ex.format, vectors });
              report.indexed++;
              if (c !== rep) report.reused++;
              if (c.old) report.changed++;
            } else {
              // The decoder's messages start with the path; the row already has it.
              const msg = ex.error.startsWith(`${ex.path}: `) ? ex.error.slice(ex.path.length + 2) : ex.error;
              row = rowFor(c, { status: 'skipped', error_code: ex.code, error_message: msg });
              report.skipped_new++;
            }
            pending.push({ c, row });
          }
          bar.increment();
          if (pending.length >= batchSize) flush();
        }
      } finally {
        // An abandoned next() settles later (or rejects when the extractor closes): nobody waits for it.
        pendingNext?.catch(() => undefined);
        flush();
        bar.stop();
      }
    }
    report.interrupted = Boolean(signal?.aborted);

    // 6. Indexes: sync with SQLite and save.
    await this.syncIndexes(progress);
    for (const k of kinds) {
      const slot = this.primary.get(k);
      const idx = slot?.index;
      if (idx) report.index[k] = { kind: idx.kind, size: idx.size, ...(idx instanceof IVFIndex ? { nlist: idx.nlist } : {}) };
    }
    this.config.updated_at = new Date().toISOString();
    await this.saveConfig();

    const counts = this.catalog.countByStatus();
    report.images = counts.ok;
    report.skipped = [
      ...this.catalog.skipped().map((r) => ({ path: r.relpath, code: r.error_code ?? 'SKIPPED', reason: r.error_message ?? 'skipped' })),
      ...scan.issues.map((i: ScanIssue) => ({ path: i.path, code: i.code, reason: i.reason })),
    ];
    report.took_ms = Math.round(performance.now() - t0);
    return report;
  }

  /** Loads/updates every primary index from SQLite and saves the ones that changed. */
  async syncIndexes(progress: Progress = this.progress): Promise<void> {
    for (const k of this.config.features) {
      const slot = await this.ensurePrimary(k, progress);
      if (slot) await saveSlot(slot);
      const aux = this.ivfAux.get(k);
      if (aux?.index) {
        await ensureSlot(aux, this.ensureOpts(k, progress));
        await saveSlot(aux);
      }
    }
  }

  // ---------------------------------------------------------------- search

  /**
   * The k images most similar to the query: `{ id }` (an indexed image), `{ path }` (an indexed
   * path, relative to the root or absolute; any other image file is read and its features
   * extracted) or `{ buffer }` (image bytes, extracted). Runs the scan on worker threads.
   * Throws NitamonoError NOT_FOUND / DECODE_FAILED / UNSUPPORTED / TOO_LARGE / BAD_FILE for bad queries.
   */
  async search(query: CollectionQuery, opts: SearchOptions = {}): Promise<SearchResponse> {
    const kind = this.checkKind(opts.features);
    const k = opts.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw invalid('k must be an integer from 1 to 1000');
    if (opts.nprobe !== undefined && (!Number.isInteger(opts.nprobe) || opts.nprobe < 1)) throw invalid('nprobe must be a positive integer');
    const q = await this.queryVector(query, kind);
    const { index, method, nprobe } = await this.indexFor(kind, opts.method, opts.nprobe);
    return this.runSearch(index, kind, q, k, method, nprobe, opts.excludeSelf === true);
  }

  private async runSearch(
    index: EngineIndex,
    kind: FeatureKind,
    q: { vector: Float32Array; source: 'indexed' | 'extracted'; id?: number; relpath?: string; extract_ms: number },
    k: number,
    method: SearchMethod,
    nprobe: number | undefined,
    excludeSelf: boolean,
  ): Promise<SearchResponse> {
    const n = index.size;
    const base: Omit<SearchResponse, 'took_ms' | 'distances_computed' | 'results'> = {
      extract_ms: q.extract_ms,
      method,
      features: kind,
      n,
      dim: index.dim,
      query: { source: q.source, ...(q.id !== undefined ? { id: q.id } : {}), ...(q.relpath !== undefined ? { path: q.relpath } : {}) },
    };
    if (index instanceof IVFIndex) base.nlist = index.nlist;
    if (n === 0) return { ...base, took_ms: 0, distances_computed: 0, results: [] };
    const drop = excludeSelf && q.id !== undefined ? q.id : undefined;
    const kk = Math.min(n, k + (drop !== undefined ? 1 : 0));
    const t0 = performance.now();
    const sopts = nprobe !== undefined ? { nprobe } : {};
    // Small scans run right here: cheaper than handing them to worker threads, and too short
    // (≲ 1 ms) to hold up the event loop. Larger ones go to the worker pool.
    const res: SearchResult = await useIndex(index, () =>
      work(index, method, nprobe) <= SYNC_SEARCH_MAX_WORK ? index.search(q.vector, kk, sopts) : index.searchAsync(q.vector, kk, sopts),
    );
    const took = performance.now() - t0;
    // One batched lookup maps the result ids to paths (a row another process deleted meanwhile is left out).
    const paths = this.catalog.relpaths(res.labels.subarray(0, res.k));
    const results: SearchHit[] = [];
    for (let j = 0; j < res.k && results.length < k; j++) {
      const id = res.labels[j]!;
      if (id < 0 || id === drop) continue;
      const relpath = paths.get(id);
      if (relpath === undefined) continue;
      results.push({ id, path: relpath, absolute_path: this.absolutePath(relpath), distance: res.distances[j]! });
    }
    const out: SearchResponse = { ...base, took_ms: round3(took), distances_computed: res.distancesComputed, results };
    if (method === 'ivf' && res.nprobe !== undefined) out.nprobe = res.nprobe;
    else if (method === 'ivf' && nprobe !== undefined) out.nprobe = nprobe;
    if (res.warnings?.length) out.warnings = res.warnings;
    return out;
  }

  /**
   * Runs the query both ways and measures how faithful the IVF answer is to the exact one:
   * recall@1 and k-recall@k (ties at equal distance count as found).
   */
  async evaluateQuery(query: CollectionQuery, opts: SearchOptions = {}): Promise<QueryEvaluation> {
    const kind = this.checkKind(opts.features);
    const k = opts.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw invalid('k must be an integer from 1 to 1000');
    const q = await this.queryVector(query, kind);
    const ex = await this.indexFor(kind, 'exact', undefined);
    const iv = await this.indexFor(kind, 'ivf', opts.nprobe);
    const exact = await this.runSearch(ex.index, kind, q, k, 'exact', ex.nprobe, opts.excludeSelf === true);
    const ivf = await this.runSearch(iv.index, kind, q, k, 'ivf', iv.nprobe, opts.excludeSelf === true);
    const { r1, rk } = compareAnswers(exact.results, ivf.results, k);
    return {
      features: kind,
      k,
      nprobe: ivf.nprobe ?? iv.nprobe ?? 1,
      nlist: iv.index instanceof IVFIndex ? iv.index.nlist : 1,
      recall_at_1: r1,
      recall_at_k: rk,
      exact,
      ivf,
    };
  }

  /** The vector to search with for a query, and where it came from. */
  private async queryVector(
    query: CollectionQuery,
    kind: FeatureKind,
  ): Promise<{ vector: Float32Array; source: 'indexed' | 'extracted'; id?: number; relpath?: string; extract_ms: number }> {
    if (query && 'id' in query) {
      if (!Number.isInteger(query.id)) throw invalid('id must be an integer');
      const r = this.catalog.okVector(query.id, kind);
      if (!r) throw new NitamonoError('NOT_FOUND', `no indexed image with id ${query.id}`);
      return { vector: r.vector, source: 'indexed', id: query.id, relpath: r.relpath, extract_ms: 0 };
    }
    if (query && 'path' in query) {
      const p = query.path;
      if (typeof p !== 'string' || p === '') throw invalid('path must be a non-empty string');
      const abs = resolve(p);
      let st: Awaited<ReturnType<typeof stat>> | undefined;
      try {
        st = await stat(abs);
      } catch {
        st = undefined;
      }
      // An indexed path: by absolute location inside the root, or as a root-relative path.
      const candidates: string[] = [];
      if (inside(this.root, abs)) candidates.push(toRelpath(this.root, abs));
      if (!isAbsolute(p)) candidates.push(p.split(sep).join('/').replace(/^\.\//, ''));
      for (const rel of candidates) {
        const row = this.catalog.byRelpath(rel);
        if (!row || row.status !== 'ok') continue;
        const rowAbs = this.absolutePath(row.relpath);
        let rowSt;
        try {
          rowSt = rowAbs === abs && st ? st : await stat(rowAbs);
        } catch {
          rowSt = undefined;
        }
        // Use the stored vector unless the file on disk changed since it was indexed.
        if (!rowSt || (rowSt.size === row.size && rowSt.mtimeMs === row.mtime_ms)) {
          if (st && rowAbs !== abs) continue; // the relative path names a different existing file
          const v = this.catalog.vector(row.id, kind);
          if (v) return { vector: v, source: 'indexed', id: row.id, relpath: row.relpath, extract_ms: 0 };
        }
      }
      if (!st) throw new NitamonoError('NOT_FOUND', `${p}: no such file, and not an indexed path`);
      if (!st.isFile()) throw invalid(`${p} is not a file`);
      return this.extractQuery(abs, kind, p);
    }
    if (query && 'buffer' in query) {
      if (!(query.buffer instanceof Uint8Array) || query.buffer.byteLength === 0) throw new NitamonoError('BAD_FILE', 'the query image is empty');
      return this.extractQuery(Buffer.from(query.buffer.buffer, query.buffer.byteOffset, query.buffer.byteLength), kind, query.filename ?? 'uploaded image');
    }
    throw invalid('query must be { id }, { path } or { buffer }');
  }

  private async extractQuery(input: string | Buffer, kind: FeatureKind, label: string) {
    const ex = this.extractor([kind]);
    const t0 = performance.now();
    const r = await ex.extract(input);
    const extract_ms = round3(performance.now() - t0);
    if (!r.ok) throw new NitamonoError(errorCodeOf(r.code), `${label}: ${r.error}`);
    const v = r.features[kind];
    if (!v) throw new NitamonoError('DECODE_FAILED', `${label}: no ${kind} features`);
    this.dims[kind] ??= v.length;
    return { vector: v, source: 'extracted' as const, extract_ms };
  }

  /** The index serving `method` for `kind`, synced with SQLite, and the nprobe to use. */
  private async indexFor(kind: FeatureKind, method: SearchMethod | undefined, nprobe: number | undefined) {
    const primary = await this.ensurePrimary(kind);
    if (!primary?.index) throw new NitamonoError('EMPTY_INDEX', `no ${kind} vectors in the collection`);
    const pidx = primary.index;
    const m: SearchMethod = method ?? (pidx.kind === 'ivf' ? 'ivf' : 'exact');
    if (m !== 'exact' && m !== 'ivf') throw invalid(`method must be exact or ivf, not ${String(method)}`);
    if (m === 'exact') {
      // Exact on an IVF index = every list scanned (same answers as flat, plus nlist centroid distances).
      return { index: pidx, method: m, nprobe: pidx instanceof IVFIndex ? pidx.nlist : undefined };
    }
    let idx: EngineIndex = pidx;
    if (!(pidx instanceof IVFIndex)) {
      let aux = this.ivfAux.get(kind);
      if (!aux) {
        aux = new IndexSlot(this.path, kind, 'ivf');
        this.ivfAux.set(kind, aux);
      }
      const fresh = !aux.index;
      idx = await ensureSlot(aux, this.ensureOpts(kind));
      if (fresh) await saveSlot(aux).catch(() => false);
    }
    const nlist = idx instanceof IVFIndex ? idx.nlist : 1;
    return { index: idx, method: m, nprobe: Math.min(nprobe ?? DEFAULT_NPROBE, nlist) };
  }

  private async ensurePrimary(kind: FeatureKind, progress: Progress = this.progress): Promise<IndexSlot | undefined> {
    let slot = this.primary.get(kind);
    if (!slot) {
      slot = new IndexSlot(this.path, kind, 'primary');
      this.primary.set(kind, slot);
    }
    const dim = this.dims[kind] ?? this.learnDim(kind);
    if (dim === undefined) return undefined; // no vector stored and no extractor yet: nothing to index
    await ensureSlot(slot, this.ensureOpts(kind, progress));
    return slot;
  }

  private ensureOpts(kind: FeatureKind, progress: Progress = this.progress) {
    const dim = this.dims[kind] ?? this.learnDim(kind);
    if (dim === undefined) throw new NitamonoError('EMPTY_INDEX', `no ${kind} vectors in the collection`);
    return { config: this.config, catalog: this.catalog, dim, threads: this.threads, progress };
  }

  /** Learns a kind's dimension from one stored vector. */
  private learnDim(kind: FeatureKind): number | undefined {
    if (this.dims[kind] !== undefined) return this.dims[kind];
    const b = this.catalog.vectorBytes(kind);
    if (b) this.dims[kind] = b / 4;
    else if (kind === 'color') this.dims[kind] = 3 * this.config.color_bins;
    return this.dims[kind];
  }

  private learnDims(ex: FeatureExtractor): void {
    const d = extractedDims(ex);
    for (const k of FEATURE_KIND_LIST) if (typeof d[k] === 'number' && d[k]! > 0) this.dims[k] = d[k];
  }

  private checkKind(kind: FeatureKind | undefined): FeatureKind {
    const k = kind ?? this.defaultFeatures;
    if (!this.config.features.includes(k)) {
      throw invalid(`this collection has no ${k} features (it has ${this.config.features.join(', ')}); re-index with --features ${k === 'deep' ? 'both' : k}`);
    }
    return k;
  }

  private extractor(kinds: FeatureKind[]): FeatureExtractor {
    const key = sortKinds(kinds).join('+');
    let ex = this.extractors.get(key);
    if (!ex) {
      ex = new FeatureExtractor({
        kinds: sortKinds(kinds),
        colorBins: this.config.color_bins,
        ...(this.config.deep_model ? { deepModel: this.config.deep_model } : {}),
        threads: this.threads,
      } as ConstructorParameters<typeof FeatureExtractor>[0]);
      this.extractors.set(key, ex);
    }
    return ex;
  }

  // ---------------------------------------------------------------- images

  /** An image by id (any status), or undefined. */
  getImage(id: number): ImageInfo | undefined {
    const row = this.catalog.get(id);
    return row ? this.info(row) : undefined;
  }

  /** An image by its path relative to the root, or undefined. */
  getImageByPath(relpath: string): ImageInfo | undefined {
    const row = this.catalog.byRelpath(relpath);
    return row ? this.info(row) : undefined;
  }

  /**
   * A page of the searchable images in id order (`limit` from `offset`) and how many there are in
   * all, read in one transaction. The total is counted once per catalogue generation.
   */
  listImages(offset = 0, limit = 24): { total: number; images: ImageInfo[] } {
    if (!Number.isInteger(offset) || offset < 0) throw invalid('offset must be a non-negative integer');
    if (!Number.isInteger(limit) || limit < 0) throw invalid('limit must be a non-negative integer');
    const { total, rows } = this.catalog.okPage(offset, limit);
    return { total, images: rows.map((r) => this.info(r)) };
  }

  private info(row: ImageRow): ImageInfo {
    return {
      id: row.id,
      relpath: row.relpath,
      path: this.absolutePath(row.relpath),
      width: row.width,
      height: row.height,
      format: row.format,
      size: row.size,
      sha256: row.sha256,
      status: row.status,
    };
  }

  /**
   * Adds an uploaded image: checks it decodes, writes it to `<root>/uploads/<safe name>` (never
   * overwriting: "-1", "-2" … are appended), stores its vectors and adds it to the loaded
   * indexes. Throws NitamonoError (DECODE_FAILED, UNSUPPORTED, TOO_LARGE, BAD_FILE) for an image
   * it cannot read; nothing is written then.
   */
  async addImage(buffer: Uint8Array, filename: string): Promise<ImageInfo> {
    return this.locked(async () => {
      if (!(buffer instanceof Uint8Array) || buffer.byteLength === 0) throw new NitamonoError('BAD_FILE', 'the uploaded file is empty');
      const kinds = this.config.features;
      const ex = this.extractor(kinds);
      this.learnDims(ex);
      const buf = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const r = await ex.extract(buf);
      if (!r.ok) throw new NitamonoError(errorCodeOf(r.code), `${safeName(filename, 'upload')}: ${r.error}`);
      const dir = join(this.root, UPLOADS_DIR);
      const ioError = (err: unknown) =>
        new NitamonoError('IO', `cannot write the upload under ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      await mkdir(dir, { recursive: true }).catch((err) => {
        throw ioError(err);
      });
      let name = safeName(filename, r.format);
      const ext = extname(name);
      const stem = name.slice(0, name.length - ext.length);
      let abs = join(dir, name);
      for (let i = 1; ; i++) {
        try {
          await writeFile(abs, buf, { flag: 'wx' });
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i > 10000) throw ioError(err);
          name = `${stem}-${i}${ext}`;
          abs = join(dir, name);
        }
      }
      const st = await stat(abs);
      const relpath = `${UPLOADS_DIR}/${name}`;
      const vectors: Partial<Record<FeatureKind, Float32Array>> = {};
      for (const k of kinds) if (r.features[k]) vectors[k] = r.features[k];
      const id = this.catalog.write((gen, touched) => {
        const old = this.catalog.byRelpath(relpath);
        if (old && this.catalog.delete(old.id, gen)?.status === 'ok') touched();
        const newId = this.catalog.insert(
          { relpath, size: st.size, mtime_ms: st.mtimeMs, sha256: hashBuffer(buf), status: 'ok', width: r.width, height: r.height, format: r.format, vectors },
          gen,
        );
        touched();
        return newId;
      });
      await this.refreshLoaded();
      return this.getImage(id)!;
    });
  }

  /**
   * Removes an image from search. Files under `uploads/` (added through addImage) are deleted
   * with their row; any other file is left on disk and its row marked 'excluded' so a later
   * `nitamono index` does not bring it back (until the file changes). Returns false if the id is unknown.
   */
  async removeImage(id: number): Promise<boolean> {
    return this.locked(async () => {
      const row = this.catalog.get(id);
      if (!row) return false;
      if (row.relpath.startsWith(`${UPLOADS_DIR}/`)) {
        this.catalog.write((gen, touched) => {
          if (this.catalog.delete(id, gen)?.status === 'ok') touched();
        });
        try {
          await unlink(this.absolutePath(row.relpath));
        } catch {
          // already gone
        }
      } else {
        this.catalog.write((gen, touched) => {
          if (this.catalog.exclude(id, gen)) touched();
        });
      }
      await this.refreshLoaded();
      return true;
    });
  }

  /** Applies SQLite changes (from this or another process) to the indexes held in memory. */
  async refreshLoaded(): Promise<void> {
    for (const map of [this.primary, this.ivfAux]) {
      for (const [kind, slot] of map) if (slot.index) await ensureSlot(slot, this.ensureOpts(kind));
    }
  }

  // ---------------------------------------------------------------- stats and lifecycle

  /** Counts, per-kind index facts (loading the indexes), memory and disk use. */
  async stats(): Promise<CollectionStats> {
    const counts = this.catalog.countByStatus();
    const features: KindStats[] = [];
    let memory = 0;
    for (const kind of this.config.features) {
      const dim = this.dims[kind] ?? this.learnDim(kind) ?? 0;
      const slot = counts.ok > 0 ? await this.ensurePrimary(kind) : undefined;
      const idx = slot?.index;
      let indexStats: KindStats['index'] = null;
      if (idx && slot) {
        let list_sizes: { min: number; max: number; mean: number; empty: number } | null = null;
        if (idx instanceof IVFIndex) {
          const ls = idx.listSizes();
          let min = Infinity;
          let max = 0;
          let sum = 0;
          let empty = 0;
          for (const s of ls) {
            min = Math.min(min, s);
            max = Math.max(max, s);
            sum += s;
            if (s === 0) empty++;
          }
          list_sizes = { min: ls.length ? min : 0, max, mean: ls.length ? round3(sum / ls.length) : 0, empty };
        }
        memory += idx.memoryBytes;
        const side = await readSidecar(slot.sidecarFile);
        indexStats = {
          kind: idx.kind,
          size: idx.size,
          nlist: idx instanceof IVFIndex ? idx.nlist : null,
          list_sizes,
          memory_bytes: idx.memoryBytes,
          file_bytes: await fileBytes(slot.file),
          generation: side?.generation ?? slot.generation,
        };
      }
      features.push({ kind, dim, index: indexStats });
    }
    return {
      path: this.path,
      root: this.root,
      images: counts.ok,
      skipped: counts.skipped,
      excluded: counts.excluded,
      generation: this.catalog.generation(),
      index_policy: this.config.index,
      features,
      memory_bytes: memory,
      disk_bytes: await dirBytes(this.path),
      created_at: this.config.created_at,
      updated_at: this.config.updated_at,
    };
  }

  /** Saves indexes that changed in memory (e.g. after addImage) to their files. */
  async flush(): Promise<void> {
    for (const map of [this.primary, this.ivfAux]) for (const slot of map.values()) await saveSlot(slot);
  }

  /** Saves changed indexes, stops extractor workers, frees indexes and closes SQLite. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.writeLock.catch(() => undefined);
    this.closed = true;
    try {
      await this.flush();
    } finally {
      for (const ex of this.extractors.values()) await Promise.resolve(ex.close()).catch(() => undefined);
      this.extractors.clear();
      for (const map of [this.primary, this.ivfAux]) for (const slot of map.values()) slot.dispose();
      this.catalog.close();
    }
  }

  /** All searchable vectors of one kind with their ids (evaluation). */
  vectors(kind: FeatureKind): { ids: Int32Array; vectors: Float32Array; dim: number } {
    const dim = this.dims[kind] ?? this.learnDim(kind);
    if (dim === undefined) return { ids: new Int32Array(0), vectors: new Float32Array(0), dim: 0 };
    return { ...this.catalog.db.transaction(() => this.catalog.vectors(kind, dim))(), dim };
  }

  /** The IVF index for `kind` (the primary if it is one, else the on-demand one). */
  async ivfIndex(kind: FeatureKind): Promise<IVFIndex> {
    const { index } = await this.indexFor(this.checkKind(kind), 'ivf', 1);
    return index as IVFIndex;
  }

  private async saveConfig(): Promise<void> {
    await writeConfig(join(this.path, CONFIG_FILE), this.config);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new NitamonoError('INVALID_ARGUMENT', 'the collection is closed'));
    const run = this.writeLock.then(fn, fn);
    this.writeLock = run.catch(() => undefined);
    return run;
  }
}

const FEATURE_KIND_LIST: FeatureKind[] = ['color', 'deep'];

/** A relpath join() would normalise: leading, trailing or doubled "/", or a "." / ".." segment. */
const ODD_RELPATH = /^\/|\/$|\/\/|(^|\/)\.\.?(\/|$)/;

/** Multiply-adds below which a single query is searched on the calling thread (≈ 0.3 ms). */
export const SYNC_SEARCH_MAX_WORK = 1 << 20;

/** Expected multiply-adds of one query: N·D exact, ≈ (nlist + N·nprobe/nlist)·D for IVF. */
function work(index: EngineIndex, method: SearchMethod, nprobe: number | undefined): number {
  if (index instanceof IVFIndex && method === 'ivf' && index.nlist > 0) {
    const p = Math.min(nprobe ?? 1, index.nlist);
    return (index.nlist + (index.size * p) / index.nlist) * index.dim;
  }
  return index.size * index.dim;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Tie-aware comparison of an approximate answer with the exact one. */
export function compareAnswers(exact: { id: number; distance: number }[], approx: { id: number; distance: number }[], k: number): { r1: number; rk: number } {
  const kk = Math.min(k, exact.length);
  if (kk === 0) return { r1: 1, rk: 1 };
  const tol = (d: number) => 1e-5 * Math.max(1, Math.abs(d));
  const top = exact[0]!;
  const a0 = approx[0];
  const r1 = a0 && (a0.id === top.id || a0.distance <= top.distance + tol(top.distance)) ? 1 : 0;
  const set = new Set(exact.slice(0, kk).map((h) => h.id));
  const kth = exact[kk - 1]!.distance;
  let hits = 0;
  for (const h of approx.slice(0, kk)) if (set.has(h.id) || h.distance <= kth + tol(kth)) hits++;
  return { r1, rk: hits / kk };
}

/** A file name safe to write: no folders, no leading dots, no control or reserved characters. */
export function safeName(filename: string, format: string): string {
  let name = basename(String(filename ?? '').replace(/\\/g, '/'))
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  if (name.length > 120) {
    const ext = extname(name);
    name = name.slice(0, 120 - ext.length) + ext;
  }
  if (!name) name = 'image';
  if (!isImageName(name)) {
    const ext = (format || 'png').toLowerCase().replace(/[^a-z0-9]/g, '') || 'png';
    name = `${name}.${ext === 'jpeg' ? 'jpg' : ext}`;
  }
  return name;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) total += await dirBytes(p);
      else if (ent.isFile()) total += await fileBytes(p);
    }
  } catch {
    // unreadable: counted as 0
  }
  return total;
}
