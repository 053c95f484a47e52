/**
 * nitamono — 似たもの, "similar things". The library behind the CLI and the server.
 *
 * The seed lecture, by name:
 * - image → vector: `colorHistogram` (per-channel RGB histogram; 4 bins → 12-d) or deep CNN
 *   features (`FeatureExtractor` with kind 'deep');
 * - exact search, cost N·D: `FlatIndex`;
 * - approximate search with k-means groups (K ≈ √N), cost ≈ D·√N: `kmeans`, `IVFIndex`;
 * - index kinds by name (`registerIndexKind`, `indexKinds`), so `loadIndex` opens any of them;
 * - accuracy: `recallAt`.
 */
export { NitamonoError, type ErrorCode } from './errors.js';
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
export { recallAt, distanceRecallAt, tieAwareRecall, precisionAtK, averagePrecision, type RankedHit } from './eval/recall.js';
export { runAnnBenchmark, formatAnnReport, type AnnBenchOptions, type AnnBenchReport } from './eval/annbench.js';
export { checkVectors, l2Normalize } from './vectors/matrix.js';
export { readVectors, readIds, writeFvecs, writeIvecs, writeNpy } from './vectors/io.js';
export { clusteredVectors } from './vectors/synthetic.js';
export { kernelsAvailable } from './kernels/index.js';
