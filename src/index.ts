/**
 * nitamono — 似たもの, "similar things". The library behind the CLI and the server: what
 * `import … from 'nitamono'` offers.
 *
 * The seed lecture, by name:
 * - image → vector: `colorHistogram` (per-channel RGB histogram; 4 bins → 12-d) or deep CNN
 *   features (`FeatureExtractor` with kind 'deep');
 * - exact search, cost N·D: `FlatIndex`;
 * - approximate search with k-means groups (K ≈ √N), cost ≈ D·√N: `kmeans`, `IVFIndex`;
 * - index kinds by name (`registerIndexKind`, `indexKinds`), so `loadIndex` opens any of them;
 * - accuracy: `recallAt`.
 *
 * On top of them, a folder of images indexed on disk (`Collection`, see src/collection/index.ts
 * for the whole API), its evaluation with folder names as labels (`evaluateCollection`), and the
 * HTTP API with its web page (`createServer`). The `nitamono` command uses nothing else.
 */

// ---- errors
export { NitamonoError, type ErrorCode } from './errors.js';

// ---- the vector engine: indexes over float32 rows
export { MAX_K } from './validate.js';
export {
  needsTraining,
  type Metric, type SearchResult, type VectorIndex, type IndexCapabilities, type IndexDescription, type ListStats,
  type BaseSearchParams, type FlatSearchParams, type IVFSearchParams, type SearchParams, type SearchOptions,
} from './search/types.js';
export { registerIndexKind, indexKind, indexKinds, type IndexKind } from './search/registry.js';
export { FlatIndex, type FlatIndexOptions } from './search/flat.js';
export { IVFIndex, type IVFIndexOptions, type IVFTrainOptions } from './search/ivf.js';
export { F32Codec, type VectorCodec } from './search/codec.js';
export {
  kmeans, nearestCentroids, type KMeansOptions, type KMeansResult, type KMeansAssign, type AssignInput, type Assignment,
} from './search/kmeans.js';
export { loadIndex } from './search/load.js';

// ---- measuring search quality and speed
export { recallAt, distanceRecallAt, tieAwareRecall, precisionAtK, averagePrecision, type RankedHit } from './eval/recall.js';
export { runAnnBenchmark, formatAnnReport, type AnnBenchOptions, type AnnBenchReport, type AnnBenchRow } from './eval/annbench.js';
export { groupMedoids, medoid } from './eval/medoid.js';

// ---- vectors: checks, files (.fvecs / .ivecs / .npy), synthetic data, seeded randomness
export { checkVectors, l2Normalize } from './vectors/matrix.js';
export { readVectors, readIds, writeFvecs, writeIvecs, writeNpy, type IdFile, type VectorFile } from './vectors/io.js';
export { clusteredVectors, uniformVectors, type ClusteredOptions } from './vectors/synthetic.js';
export { rng } from './util/random.js';

// ---- distance kernels (WASM SIMD or the TypeScript reference) over a shared memory arena
export { Arena } from './kernels/arena.js';
export {
  METRIC_IP,
  METRIC_L2,
  createKernels,
  createReferenceKernels,
  createWasmKernels,
  kernelsAvailable,
  type KernelPreference,
  type Kernels,
  type MetricCode,
} from './kernels/index.js';

// ---- images → vectors
export { colorHistogram, colorDim, DEFAULT_COLOR_BINS } from './image/color.js';
export {
  decodeImage,
  imageMetadata,
  makeThumbnail,
  DEFAULT_MAX_PIXELS,
  SUPPORTED_FORMATS,
  type DecodeOptions,
  type DecodedImage,
  type ImageFormat,
  type ImageMetadata,
  type ResizeOptions,
  type ThumbnailOptions,
} from './image/decode.js';
export { DEEP_MODELS, DEFAULT_DEEP_MODEL, deepDim, isDeepModel, type DeepModel } from './image/deep.js';
export { FeatureExtractor, type ExtractedImage, type FeatureExtractorOptions } from './image/extract.js';

// ---- collections: a folder of images indexed on disk
export {
  AUTO_FLAT_MAX,
  COMPARE_KINDS,
  Collection,
  DEFAULT_COLLECTION_PATH,
  DEFAULT_NPROBE,
  FEATURE_KINDS,
  evaluateCollection,
  parseFeatures,
  parseIndexChoice,
  progressFromCallback,
  silentProgress,
  type CollectionQuery,
  type CollectionSearchOptions,
  type CollectionServices,
  type CollectionStats,
  type CompareKind,
  type EvalOptions,
  type EvalReport,
  type FeatureKind,
  type FeatureQuality,
  type ImageInfo,
  type IndexChoice,
  type IndexReport,
  type IvfRow,
  type KindStats,
  type OpenOptions,
  type Progress,
  type ProgressEvent,
  type ProgressStep,
  type QueryEvaluation,
  type SearchHit,
  type SearchMethod,
  type SearchResponse,
  type SkippedFile,
  type UpdateOptions,
} from './collection/index.js';

// ---- the HTTP API and web page over one collection
export { createServer, type ServerInfo, type ServerOptions } from './server/server.js';

// ---- the seams: catalogue backends and extraction jobs (docs/architecture.md)
export {
  SQLiteCatalogStore,
  spaceKey,
  type CatalogStore,
  type CatalogWrite,
  type CommitResult,
  type FeatureSpace,
  type ImageRow,
  type ImageStatus,
  type ImageSummary,
  type NewImage,
  type SQLiteCatalogOptions,
  type VectorChanges,
  type VectorSnapshot,
} from './catalog/index.js';
export { planSync, selectCandidates, type SyncPlan, type PlanInput, type Candidate, type HashedCandidate } from './ingest/plan.js';
export {
  InProcessJobRunner,
  extractionJob,
  handleExtractionJob,
  jobKey,
  type ExtractFn,
  type ExtractionJob,
  type JobOutcome,
  type JobResult,
  type JobRunner,
} from './ingest/jobs.js';
export { inProcessRunner, type JobRunnerFactory } from './collection/index.js';
