/**
 * nitamono — 似たもの, "similar things". The library behind the CLI and the server.
 *
 * The seed lecture, by name:
 * - image → vector: `colorHistogram` (per-channel RGB histogram; 4 bins → 12-d) or deep CNN
 *   features (`FeatureExtractor` with kind 'deep');
 * - exact search, cost N·D: `FlatIndex`;
 * - approximate search with k-means groups (K ≈ √N), cost ≈ D·√N: `kmeans`, `IVFIndex`;
 * - accuracy: `recallAt`.
 */
export { NitamonoError, type ErrorCode } from './errors.js';
export type { Metric, SearchOptions, SearchResult, VectorIndex } from './search/types.js';
export { FlatIndex, type FlatIndexOptions } from './search/flat.js';
export { IVFIndex, type IVFIndexOptions, type IVFTrainOptions, type ListStats } from './search/ivf.js';
export { kmeans, type KMeansOptions, type KMeansResult } from './search/kmeans.js';
export { loadIndex } from './search/load.js';
export { recallAt, distanceRecallAt, precisionAtK, averagePrecision } from './eval/recall.js';
export { runAnnBenchmark, formatAnnReport, type AnnBenchOptions, type AnnBenchReport } from './eval/annbench.js';
export { checkVectors, l2Normalize } from './vectors/matrix.js';
export { readVectors, readIds, writeFvecs, writeIvecs, writeNpy } from './vectors/io.js';
export { clusteredVectors } from './vectors/synthetic.js';
export { kernelsAvailable } from './kernels/index.js';
