/**
 * nitamono — 似たもの, "similar things". The library behind the CLI and the server: what
 * `import … from 'nitamono'` offers.
 *
 * The seed lecture, by name:
 * - image → vector: `colorHistogram` (per-channel RGB histogram; 4 bins → 12-d) or deep CNN
 *   features (`FeatureExtractor` with kind 'deep');
 * - exact search, cost N·D: `FlatIndex`;
 * - approximate search with k-means groups (K ≈ √N), cost ≈ D·√N: `kmeans`, `IVFIndex`;
 * - memory: compressed codes (`SQ8Index`, `PQIndex`, `IVFSQ8Index`, `IVFPQIndex`; half precision:
 *   `FP16Index`, `IVFFP16Index`), re-ranked
 *   with full vectors kept on disk (`VectorFileRefine`); Faiss factory strings (`indexFactory`);
 * - index kinds by name (`registerIndexKind`, `indexKinds`), so `loadIndex` opens any of them;
 * - accuracy: `recallAt`.
 *
 * On top of them, a folder of images indexed on disk (`Collection`, see src/collection/index.ts
 * for the whole API), its evaluation with folder names as labels (`evaluateCollection`), and the
 * HTTP API with its web page (`createServer`). The `nitamono` command uses nothing else.
 */

// ---- the seams: catalogue backends and extraction jobs (docs/architecture.md)
export {
  type CatalogStore,
  type CatalogWrite,
  type CheckedFilter,
  type ClusterCatalogStore,
  type CommitResult,
  checkImageFilter,
  type FeatureSpace,
  type ImageFilter,
  type ImageRow,
  type ImageStatus,
  type ImageSummary,
  type NameQuery,
  type NewImage,
  type Partition,
  type PostgresCatalogOptions,
  PostgresCatalogStore,
  parseNameQuery,
  type ShardAnnouncement,
  type ShardRecord,
  type SQLiteCatalogOptions,
  SQLiteCatalogStore,
  spaceKey,
  type TrainedArtifact,
  type VectorChanges,
  type VectorSnapshot,
} from './catalog/index.js';
// ---- cluster mode: a PostgreSQL catalogue, extraction on a queue, sharded search (docs/architecture.md)
export {
  ClusterCollection,
  type ClusterCollectionOptions,
  type ClusterHit,
  type ClusterIndexOptions,
  type ClusterIndexReport,
  type ClusterQuery,
  type ClusterQueryOptions,
  ClusterSearch,
  type ClusterSearchMode,
  type ClusterSearchOpenOptions,
  type ClusterSearchOptions,
  type ClusterSearchResponse,
  type ClusterSearchResult,
  type ClusterSettings,
  type ClusterSettingsInput,
  type ClusterStats,
  Coordinator,
  type CoordinatorOptions,
  clusterQueueName,
  clusterSpace,
  clusterStats,
  ensureClusterSettings,
  loadSharedQuantizer,
  mergeTopK,
  PartitionIndex,
  parseShardSpec,
  readClusterSettings,
  registryDirectory,
  type ShardDirectory,
  type ShardEndpoint,
  type ShardReport,
  ShardServer,
  type ShardServerOptions,
  type SharedQuantizer,
  shardOf,
  staticDirectory,
  trainSharedQuantizer,
} from './cluster/index.js';
// ---- collections: a folder of images indexed on disk
// the recall–memory–time comparison of index kinds on a collection's vectors
export {
  AUTO_FLAT_MAX,
  COMPARE_KINDS,
  Collection,
  type CollectionQuery,
  type CollectionSearchOptions,
  type CollectionServices,
  type CollectionStats,
  type CompareKind,
  chooseAutoIndex,
  DEFAULT_COLLECTION_PATH,
  DEFAULT_NPROBE,
  DUPLICATE_CANDIDATE_THRESHOLDS,
  DUPLICATE_THRESHOLDS,
  type DuplicateGroup,
  type DuplicateOptions,
  type DuplicateReport,
  defaultDuplicateThreshold,
  defaultMemoryBudget,
  type EvalOptions,
  type EvalReport,
  type ExtractedKind,
  estimateIndexBytes,
  evaluateCollection,
  FEATURE_KINDS,
  type FeatureKind,
  type FeatureQuality,
  type ImageInfo,
  type IndexChoice,
  type IndexPlan,
  type IndexPolicy,
  type IndexReport,
  type IndexWarning,
  type IvfRow,
  inProcessRunner,
  type JobRunnerFactory,
  KIND_SWEEP_TIME_BUDGET_MS,
  KIND_SWEEP_TRAIN_MAX,
  type KindSeries,
  type KindStats,
  type KindSweep,
  type KindSweepOptions,
  type KindSweepPoint,
  type NameSearchOptions,
  type NameSearchResponse,
  type OpenOptions,
  PIXEL_DUPLICATE_THRESHOLD,
  type Progress,
  type ProgressEvent,
  type ProgressStep,
  parseFeatureKind,
  parseFeatures,
  parseIndexChoice,
  parseIndexPolicy,
  parseMemorySize,
  planIndex,
  progressFromCallback,
  type QueryEvaluation,
  type SearchHit,
  type SearchMethod,
  type SearchResponse,
  type SkippedFile,
  SWEEP_KIND_NAMES,
  type SweepKindName,
  silentProgress,
  sweepIndexKinds,
  type Tuning,
  type UpdateOptions,
} from './collection/index.js';
// ---- errors
export { type ErrorCode, NitamonoError } from './errors.js';
export { type AnnBenchOptions, type AnnBenchReport, type AnnBenchRow, formatAnnReport, runAnnBenchmark } from './eval/annbench.js';
export { groupMedoids, medoid } from './eval/medoid.js';
export {
  COPY_KINDS,
  type CopyKind,
  makeCopy,
  type PairScore,
  type SetFile,
  type SourceImage,
  sceneJpeg,
  scoreDuplicateGroups,
  writeDuplicateSet,
} from './eval/near-duplicates.js';
// ---- measuring search quality and speed
export { averagePrecision, distanceRecallAt, precisionAtK, type RankedHit, recallAt, tieAwareRecall } from './eval/recall.js';
// ---- images → vectors
export { colorDim, colorHistogram, DEFAULT_COLOR_BINS } from './image/color.js';
export {
  DEFAULT_MAX_PIXELS,
  type DecodedImage,
  type DecodeOptions,
  decodeImage,
  type ImageFormat,
  type ImageMetadata,
  imageMetadata,
  makeThumbnail,
  type ResizeOptions,
  SUPPORTED_FORMATS,
  type ThumbnailOptions,
} from './image/decode.js';
export { DEEP_MODELS, DEFAULT_DEEP_MODEL, type DeepModel, deepDim, isDeepModel } from './image/deep.js';
export { type ExtractedImage, FeatureExtractor, type FeatureExtractorOptions } from './image/extract.js';
export { decodePrint, encodePrint, NO_MATCH, type PixelPrint, type PrintView, pixelDistance, pixelPrint } from './image/pixel-match.js';
export { type PixelImage, PixelMatcher } from './image/pixel-match-pool.js';
export { PRINT_CACHE_FILE, PrintCache } from './image/print-cache.js';
export {
  type ExtractFn,
  type ExtractionJob,
  extractionJob,
  handleExtractionJob,
  InProcessJobRunner,
  type JobOutcome,
  type JobResult,
  type JobRunner,
  jobKey,
} from './ingest/jobs.js';
export { type Candidate, type HashedCandidate, type PlanInput, planSync, type SyncPlan, selectCandidates } from './ingest/plan.js';
export {
  BullJobRunner,
  type BullJobRunnerOptions,
  type EnqueueSummary,
  ExtractionQueue,
  type ExtractionQueueOptions,
  type ExtractionWorker,
  type ExtractionWorkerOptions,
  type ExtractionWorkerStats,
  type ExtractorFor,
  type QueueConnection,
  type QueuedJobResult,
  type QueueProgressEvent,
  queueJobId,
  queueJobRunner,
  runExtractionWorker,
  type WaitOptions,
  type WorkerEvent,
} from './ingest/queue.js';
// ---- distance kernels (native batch scan, WASM SIMD or the TypeScript reference) over a shared memory arena
export { Arena } from './kernels/arena.js';
export { hugePagesSummary } from './kernels/huge-pages.js';
export {
  createKernels,
  createNativeKernels,
  createReferenceKernels,
  createWasmKernels,
  type KernelPreference,
  type Kernels,
  kernelsAvailable,
  kernelsSummary,
  METRIC_IP,
  METRIC_L2,
  type MetricCode,
  nativeKernelInfo,
  useNativeIsa,
} from './kernels/index.js';
// ---- learned metrics on the user's labels (Collection.learn)
export { DEFAULT_LEARNED_NAME, type LearnOptions, type LearnReport } from './learn/learn.js';
export { type HeldOutQuality, type LearnedModel, type LearnedModelMeta, loadLearnedModel } from './learn/model-file.js';
export { type HeadLayer, projectRows } from './learn/project.js';
export { type ArenaLimits, arenaLimits, DEFAULT_ARENA_BYTES, releaseSpareArenas } from './search/arenas.js';
export { type CodecTrainOptions, type CodecTrainResult, F32Codec, type VectorCodec } from './search/codec.js';
export {
  type CodedIndex,
  type CodedIndexOptions,
  type CodedKindName,
  type CodedTrainOptions,
  FP16Index,
  type IVFCodedOptions,
  IVFFP16Index,
  IVFPQIndex,
  type IVFPQOptions,
  IVFSQ8Index,
  PQIndex,
  type PQOptions,
  SQ8Index,
} from './search/coded.js';
export { type FactoryIndex, type FactoryOptions, type IndexSpec, indexFactory, parseIndexFactory } from './search/factory.js';
export { FlatIndex, type FlatIndexOptions } from './search/flat.js';
export { FP16Codec } from './search/fp16.js';
export { IVFIndex, type IVFIndexOptions, type IVFTrainOptions } from './search/ivf.js';
export { type AssignInput, type Assignment, type KMeansAssign, type KMeansOptions, type KMeansResult, kmeans, nearestCentroids } from './search/kmeans.js';
export { loadIndex } from './search/load.js';
export { PQCodec } from './search/pq.js';
export { CoarseQuantizer, type CoarseSpec, HNSWQuantizer, type HNSWQuantizerOptions } from './search/quantizer.js';
export { ArrayRefine, callbackRefine, type RefineLocation, type RefineVectors, VectorFileRefine, type VectorFileRefineOptions } from './search/refine.js';
export { refineMappingSupported } from './search/refine-map.js';
export { type IndexKind, indexKind, indexKinds, registerIndexKind } from './search/registry.js';
export { SQ8Codec } from './search/sq8.js';
export {
  type BaseSearchParams,
  type CodedSearchParams,
  type DescribeOptions,
  type FlatSearchParams,
  type IndexCapabilities,
  type IndexDescription,
  type IVFSearchParams,
  type ListStats,
  type Metric,
  needsTraining,
  type SearchOptions,
  type SearchParams,
  type SearchResult,
  type VectorIndex,
} from './search/types.js';
// ---- the HTTP API and web page over one collection
export { type ClusterServerOptions, createClusterServer } from './server/cluster.js';
export { createServer, type ServerInfo, type ServerOptions } from './server/server.js';
export { FP16_MAX, fromHalf, toHalf } from './util/half.js';
export { rng } from './util/random.js';
// ---- the vector engine: indexes over float32 rows
export { MAX_K } from './validate.js';
export { type IdFile, readIds, readVectors, type VectorFile, writeFvecs, writeIvecs, writeNpy } from './vectors/io.js';
// ---- vectors: checks, files (.fvecs / .ivecs / .npy), synthetic data, seeded randomness
export { checkVectors, l2Normalize } from './vectors/matrix.js';
export { type ClusteredOptions, clusteredVectors, uniformVectors } from './vectors/synthetic.js';
