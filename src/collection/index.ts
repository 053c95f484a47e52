/**
 * Collections: a folder of images indexed on disk, and the library behind `nitamono index`,
 * `search`, `eval`, `info`, `demo` and the web server. See docs/architecture.md for how the
 * services fit together.
 *
 * ## On disk (default `./.nitamono`, or `--collection PATH`)
 *
 *   collection.json      root folder (absolute), feature kinds, colour bins, deep model, index
 *                        policy (auto | flat | ivf | a factory string such as IVF1024,PQ64,RFlat),
 *                        nlist, memory budget, target recall, schema version
 *   catalog.sqlite       the source of truth (src/catalog: WAL, synchronous=FULL, numbered
 *                        migrations). Table `images`: id (never reused), relpath (unique,
 *                        "/"-separated, relative to the root), size, mtime_ms, sha256, status
 *                        ok | skipped | excluded, width, height, format, error_code/message, gen.
 *                        Table `vectors` (image_id, space, float32 LE bytes), `spaces` (id,
 *                        kind, model: 'color' + 'rgb-hist-4', 'deep' + a model name). Table
 *                        `removed` (id, gen) and `meta.generation` for index staleness.
 *                        Indexing commits every 64 images in one transaction, so kill -9 loses at
 *                        most the batch in flight and a re-run resumes from there.
 *   color.index, deep.index          engine index file per kind (any registered kind's `save`,
 *                        atomic), a derived cache rebuilt or caught up from the catalogue when
 *                        missing or stale; `<file>.json` sidecar = the generation it reflects,
 *                        its factory string, budget and tuned search parameters
 *   color.ivf.index …    an IVF built on demand when a flat collection is asked for an IVF search
 *
 * Distances are squared Euclidean distances ‖q − x‖² (smaller = more similar) for both kinds;
 * deep vectors are unit length, so this ranks exactly like cosine similarity (‖q−x‖² = 2 − 2 cos).
 *
 * ## API
 *
 *   const c = await Collection.open(path?, { create?, root?, features?, colorBins?, deepModel?,
 *                                            index?, nlist?, memoryBudget?, targetRecall?,
 *                                            threads?, progress? }, services?)
 *     services: { store?, jobRunner? } — another catalogue backend or job runner.
 *   await c.update({ features?, index?, nlist?, memoryBudget?, targetRecall?, threads?, batchSize?,
 *                    retrySkipped?, progress?, signal? }) → IndexReport
 *   await c.search(query, { k?, features?, method?, nprobe?, refineFactor?, excludeSelf?, filter? }) → SearchResponse
 *   await c.searchNames(words, { limit?, offset?, filter? }) → NameSearchResponse
 *     query: { id } | { path } (indexed path, or any image file) | { buffer, filename? }
 *     k 1..1000 (default 10); method 'exact' | 'ivf' (default: exact for a flat index, else
 *     'ivf' = the approximate index: IVF, or a compressed kind); nprobe default: tuned, else 8,
 *     clamped to nlist; refineFactor (indexes re-ranked from the catalogue) default: tuned,
 *     else 4. Results: { id, path (root-relative), absolute_path, distance }.
 *   await c.findDuplicates({ features?, threshold?, progress? }) → { groups: [{ images, max_distance, exact }], … }
 *   await c.evaluateQuery(query, opts) → { recall_at_1, recall_at_k, exact, ivf, … }
 *   await c.getImage(id) / getImageByPath(relpath) → ImageInfo { id, path (root-relative), absolute_path, … }
 *   await c.listImages(offset?, limit?) → { total, images }
 *   await c.addImage(buffer, filename) / removeImage(id)
 *   await c.stats()      (reads only: never trains or saves an index)
 *   await c.flush() / close()
 *   c.catalog            the CatalogStore (read freely; write through the collection)
 *
 * Every call first applies changes other processes committed to the catalogue (a generation
 * check). Writes are serialised inside one Collection and, across processes, by the writer
 * lease (./writer.ts): `writerWait` / `onWriterWait` in the open options.
 */
export {
  AUTO_FLAT_ALWAYS,
  AUTO_PQ_M,
  AUTO_PQ_MIN,
  availableMemory,
  COLLECTION_REFINE_FACTOR,
  chooseAutoIndex,
  DEFAULT_BUDGET_SHARE,
  defaultMemoryBudget,
  estimateIndexBytes,
  type IndexPlan,
  kindBudget,
  parseMemorySize,
  planIndex,
} from './auto-index.js';
export { Collection, type CollectionServices } from './collection.js';
export {
  AUTO_FLAT_MAX,
  type CollectionConfig,
  checkLearnedName,
  DEFAULT_COLLECTION_PATH,
  type ExtractedKind,
  FEATURE_KINDS,
  type FeatureKind,
  featureSpace,
  type IndexChoice,
  type IndexPolicy,
  type LearnedEntry,
  parseFeatureKind,
  parseFeatures,
  parseIndexChoice,
  parseIndexPolicy,
  parseKindList,
  SCHEMA_VERSION,
  searchableKinds,
} from './config.js';
export {
  checkDuplicateThreshold,
  DUPLICATE_CANDIDATE_THRESHOLDS,
  DUPLICATE_NEIGHBOURS,
  DUPLICATE_NPROBE,
  DUPLICATE_THRESHOLDS,
  type DuplicateGroup,
  type DuplicateImage,
  type DuplicateOptions,
  type DuplicateReport,
  defaultDuplicateThreshold,
  EXACT_SELF_JOIN_MAX_WORK,
  PIXEL_DUPLICATE_THRESHOLD,
} from './duplicates.js';
export {
  COMPARE_KINDS,
  type CompareKind,
  type EvalOptions,
  type EvalReport,
  evaluateCollection,
  type FeatureQuality,
  folderLabel,
  type IvfRow,
  parseCompare,
  retrievalQuality,
} from './evaluate.js';
export { hashFile, IMAGE_EXTENSIONS, isImageName, type ScanIssue, type ScannedFile, type ScanResult, scanFolder } from './folder.js';
export {
  KIND_SWEEP_TIME_BUDGET_MS,
  KIND_SWEEP_TRAIN_MAX,
  type KindSeries,
  type KindSweep,
  type KindSweepOptions,
  type KindSweepPoint,
  SWEEP_KIND_NAMES,
  type SweepKindName,
  sweepIndexKinds,
} from './kind-sweep.js';
export { type Progress, type ProgressEvent, type ProgressStep, progressFromCallback, silentProgress } from './progress.js';
export { SYNC_SEARCH_MAX_WORK } from './search.js';
export { inProcessRunner, type JobRunnerFactory } from './sync.js';
export { TUNE_K, TUNE_QUERIES, type Tuning, type TuningPoint } from './tune.js';
export {
  type CollectionQuery,
  type CollectionSearchOptions,
  type CollectionStats,
  DEFAULT_BATCH,
  DEFAULT_NPROBE,
  type ImageInfo,
  type IndexReport,
  type IndexWarning,
  type KindStats,
  type NameSearchOptions,
  type NameSearchResponse,
  type OpenOptions,
  type QueryEvaluation,
  type SearchHit,
  type SearchMethod,
  type SearchResponse,
  type SkippedFile,
  UPLOADS_DIR,
  type UpdateOptions,
} from './types.js';
export { safeName } from './uploads.js';
