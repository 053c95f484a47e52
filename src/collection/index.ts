/**
 * Collections: a folder of images indexed on disk, and the library behind `nitamono index`,
 * `search`, `eval`, `info`, `demo` and the web server.
 *
 * ## On disk (default `./.nitamono`, or `--collection PATH`)
 *
 *   collection.json      root folder (absolute), feature kinds, colour bins, deep model, index
 *                        policy (auto | flat | ivf) and nlist, schema version
 *   catalog.sqlite       the source of truth (WAL, synchronous=FULL). Table `images`: id (never
 *                        reused), relpath (unique, "/"-separated, relative to the root), size,
 *                        mtime_ms, sha256, status ok | skipped | excluded, width, height, format,
 *                        error_code/error_message of skipped files, `color` and `deep` float32 BLOBs,
 *                        gen. Table `removed` (id, gen) and `meta.generation` for index staleness.
 *                        Indexing commits every 64 images in one transaction, so kill -9 loses at
 *                        most the batch in flight and a re-run resumes from there.
 *   color.index, deep.index          engine index file per kind (FlatIndex or IVFIndex `save`,
 *                        atomic), a derived cache rebuilt or caught up from SQLite when missing or
 *                        stale; `<file>.json` sidecar = the generation it reflects (./indexes.ts)
 *   color.ivf.index …    an IVF built on demand when a flat collection is asked for an IVF search
 *
 * Distances are squared Euclidean distances ‖q − x‖² (smaller = more similar) for both kinds;
 * deep vectors are unit length, so this ranks exactly like cosine similarity (‖q−x‖² = 2 − 2 cos).
 *
 * ## API (for the web server)
 *
 *   const c = await Collection.open(path?, { create?, root?, features?, threads?, progress? })
 *     path defaults to '.nitamono'; without `create` a missing collection throws NitamonoError
 *     NOT_FOUND. Keep one Collection open for the server's lifetime; close() on shutdown.
 *
 *   await c.search(query, { k?, features?, method?, nprobe?, excludeSelf? }) → SearchResponse
 *     query: { id } | { path } | { buffer, filename? }
 *       { id }      an indexed image (its stored vector);
 *       { path }    an indexed path (root-relative or absolute: stored vector, unless the file
 *                   changed since) or any image file (features extracted);
 *       { buffer }  image bytes, e.g. an upload (features extracted, nothing stored).
 *     k 1..1000 (default 10); features 'color' | 'deep' (default deep if stored, else color);
 *     method 'exact' | 'ivf' (default: the collection's index kind — exact below 50,000 images);
 *     nprobe (IVF, default 8, clamped to nlist). On a flat collection method 'ivf' trains an IVF
 *     with nlist = ⌈√N⌉ on first use (then cached in `<kind>.ivf.index`).
 *     → { took_ms, extract_ms, method, features, distances_computed, n, dim, nprobe?, nlist?,
 *         query: { source: 'indexed' | 'extracted', id?, path? },
 *         results: [ { id, path /* root-relative *\/, absolute_path, distance } ], warnings? }
 *     The scan runs on worker threads (searchAsync) unless it is tiny (≤ 2^20 multiply-adds).
 *     Every call first applies changes other processes committed to SQLite (a generation check:
 *     one cached statement). SQLite statements are prepared once per Catalog and the k result
 *     ids are mapped to paths in one batched query, so outside the scan a search by id costs
 *     a few tens of microseconds.
 *     Errors: NitamonoError INVALID_ARGUMENT (bad k / nprobe / kind), NOT_FOUND (unknown id or
 *     path), DECODE_FAILED / TOO_LARGE / IO (unreadable query image), EMPTY_INDEX.
 *
 *   await c.evaluateQuery(query, { k?, features?, nprobe?, excludeSelf? }) → QueryEvaluation
 *     { features, k, nprobe, nlist, recall_at_1, recall_at_k, exact: SearchResponse, ivf: SearchResponse }
 *     recall of the IVF answer against the exact one for this query (equal-distance ties count).
 *
 *   c.getImage(id) → ImageInfo | undefined         (any status)
 *   c.getImageByPath(relpath) → ImageInfo | undefined
 *   c.listImages(offset?, limit?) → { total, images: ImageInfo[] }
 *     searchable images in id order (a page for the web grid); total counted once per generation
 *     ImageInfo = { id, relpath, path /* absolute *\/, width, height, format, size, sha256, status }
 *
 *   await c.addImage(buffer, filename) → ImageInfo
 *     Extracts first (throws DECODE_FAILED / TOO_LARGE / BAD_FILE and writes nothing if the image
 *     is bad), then writes `<root>/uploads/<sanitised filename>` (never overwrites: -1, -2 …),
 *     stores the row and adds it to the loaded indexes. A later `nitamono index` sees it as unchanged.
 *
 *   await c.removeImage(id) → boolean
 *     Files under uploads/ are deleted with their row; other files stay on disk and are marked
 *     'excluded' (a re-index does not bring them back until the file changes). false if unknown.
 *
 *   await c.stats() → CollectionStats
 *     { path, root, images, skipped, excluded, generation, index_policy,
 *       features: [ { kind, dim, index: { kind, size, nlist, list_sizes: {min,max,mean,empty} | null,
 *                     memory_bytes, file_bytes, generation } | null } ],
 *       memory_bytes, disk_bytes, created_at, updated_at }
 *
 *   await c.update({ features?, index?, nlist?, threads?, batchSize?, retrySkipped?, progress?, signal? })
 *     → IndexReport (what `nitamono index` runs; see collection.ts)
 *
 *   await c.flush()    saves indexes changed in memory (addImage/removeImage) to their files
 *   await c.close()    flush, stop extractor workers, free indexes, close SQLite
 *
 *   Also: c.root, c.path, c.features, c.defaultFeatures, c.absolutePath(relpath), c.vectors(kind),
 *   c.ivfIndex(kind), c.catalog (the Catalog, for read-only queries).
 *
 * Writes (update, addImage, removeImage) are serialised inside one Collection. Two processes may
 * share a collection for reading while one writes (SQLite WAL); run one `nitamono index` at a time.
 */
export {
  Collection,
  DEFAULT_BATCH,
  DEFAULT_NPROBE,
  UPLOADS_DIR,
  SYNC_SEARCH_MAX_WORK,
  compareAnswers,
  safeName,
  type CollectionQuery,
  type CollectionStats,
  type ImageInfo,
  type IndexReport,
  type KindStats,
  type OpenOptions,
  type QueryEvaluation,
  type SearchHit,
  type SearchMethod,
  type SearchOptions,
  type SearchResponse,
  type SkippedFile,
  type UpdateOptions,
} from './collection.js';
export {
  AUTO_FLAT_MAX,
  DEFAULT_COLLECTION_PATH,
  FEATURE_KINDS,
  SCHEMA_VERSION,
  parseFeatures,
  parseIndexChoice,
  type CollectionConfig,
  type FeatureKind,
  type IndexChoice,
} from './config.js';
export { Catalog, type ImageRow, type ImageStatus } from './catalog.js';
export { IMAGE_EXTENSIONS, isImageName, scanFolder, hashFile, type ScanIssue, type ScanResult, type ScannedFile } from './scan.js';
export { progressFromCallback, silentProgress, type Progress, type ProgressEvent, type ProgressStep } from './progress.js';
export {
  COMPARE_KINDS,
  evaluateCollection,
  folderLabel,
  retrievalQuality,
  type CompareKind,
  type EvalOptions,
  type EvalReport,
  type FeatureQuality,
  type IvfRow,
} from './evaluate.js';
