/**
 * The shared coarse quantizer of cluster mode: IVF centroids trained ONCE, with `kmeans`, on a
 * sample of the whole collection, and stored in the catalogue (`putTrained`, bit-exact) so that
 * every shard files its vectors in the same lists. A query then probes the same nprobe lists on
 * every shard, and the merged answer is exactly the answer of one IVFIndex over all the vectors
 * with these centroids — which a shard training on its own partition could never give.
 *
 * The sample is a partition of the ids (the same hash as the shards'), so it is read from the
 * catalogue by the database rather than by reading every vector: about 256 points per list, as
 * k-means takes at most that many (Faiss's default).
 */
import type { ClusterCatalogStore, FeatureSpace } from '../catalog/types.js';
import { blobToVector, vectorToBlob } from '../catalog/vector-bytes.js';
import { autoNlist, COLLECTION_METRIC } from '../collection/index-manager.js';
import { NitamonoError } from '../errors.js';
import { kmeans } from '../search/kmeans.js';
import { checkPositiveInt } from '../validate.js';

/** The artefact's name in the catalogue. */
export const SHARED_CENTROIDS = 'ivf-centroids';
/** The seed of collection IVF training (as index-manager.ts). */
export const SHARED_TRAIN_SEED = 42;
const POINTS_PER_LIST = 256;

export interface SharedQuantizer {
  version: number;
  nlist: number;
  dim: number;
  /** nlist×dim */
  centroids: Float32Array;
  /** Vectors k-means ran on, and the collection's size and generation when it was trained. */
  trainedOn: number;
  collectionSize: number;
  generation: number;
  created_at: number;
}

export interface TrainSharedOptions {
  /** Lists (default ⌈√N⌉ of the collection's size, as a one-machine collection). */
  nlist?: number;
  /** k-means seed (default 42, as a one-machine collection). */
  seed?: number;
  iterations?: number;
  /** Worker threads for k-means (default: all cores). */
  threads?: number;
}

type QuantizerStore = Pick<ClusterCatalogStore, 'vectorDim' | 'okCount' | 'generation' | 'partitionSnapshot' | 'putTrained' | 'getTrained'>;

/**
 * Trains nlist centroids on a sample of `space`'s vectors and stores them as a new version.
 * EMPTY_INDEX when the space has no vectors; INVALID_ARGUMENT when nlist exceeds the sample.
 */
export async function trainSharedQuantizer(store: QuantizerStore, space: FeatureSpace, opts: TrainSharedOptions = {}): Promise<SharedQuantizer> {
  if (opts.nlist !== undefined) checkPositiveInt('nlist', opts.nlist);
  const dim = await store.vectorDim(space);
  if (dim === undefined) throw new NitamonoError('EMPTY_INDEX', `no ${space.kind} vectors (${space.model}) in the collection to train on`);
  const n = await store.okCount();
  const nlist = opts.nlist ?? autoNlist(n);
  // every `parts`-th id by hash: about POINTS_PER_LIST points per list, the most k-means uses
  const parts = Math.max(1, Math.floor(n / (POINTS_PER_LIST * nlist)));
  const sample = await store.partitionSnapshot(space, dim, { index: 0, count: parts });
  const m = sample.ids.length;
  if (m < nlist) throw new NitamonoError('INVALID_ARGUMENT', `cannot train ${nlist} lists on ${m} vectors: use a smaller nlist`);
  const seed = opts.seed ?? SHARED_TRAIN_SEED;
  const result = await kmeans(sample.vectors, dim, nlist, {
    seed,
    metric: COLLECTION_METRIC,
    ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
  });
  const meta = { nlist, dim, metric: COLLECTION_METRIC, trained_on: result.trainedOn, collection_size: n, generation: sample.generation, seed };
  const stored = await store.putTrained(space, SHARED_CENTROIDS, vectorToBlob(result.centroids), meta);
  return {
    version: stored.version,
    nlist,
    dim,
    centroids: result.centroids,
    trainedOn: result.trainedOn,
    collectionSize: n,
    generation: sample.generation,
    created_at: stored.created_at,
  };
}

/** The latest (or given) shared centroids of `space`, checked; undefined when none were trained. */
export async function loadSharedQuantizer(
  store: Pick<ClusterCatalogStore, 'getTrained'>,
  space: FeatureSpace,
  version?: number,
): Promise<SharedQuantizer | undefined> {
  const a = await store.getTrained(space, SHARED_CENTROIDS, version);
  if (!a) return undefined;
  const m = a.meta as Record<string, unknown>;
  const nlist = m['nlist'];
  const dim = m['dim'];
  if (typeof nlist !== 'number' || typeof dim !== 'number' || !Number.isInteger(nlist) || !Number.isInteger(dim) || nlist < 1 || dim < 1) {
    throw new NitamonoError('BAD_FILE', `shared centroids version ${a.version} of ${space.kind}:${space.model} have no valid nlist and dim`);
  }
  if (a.data.byteLength !== nlist * dim * 4) {
    throw new NitamonoError(
      'BAD_FILE',
      `shared centroids version ${a.version} of ${space.kind}:${space.model}: ${a.data.byteLength} bytes for ${nlist}×${dim} floats`,
    );
  }
  const num = (k: string) => (typeof m[k] === 'number' ? (m[k] as number) : 0);
  return {
    version: a.version,
    nlist,
    dim,
    centroids: blobToVector(a.data),
    trainedOn: num('trained_on'),
    collectionSize: num('collection_size'),
    generation: num('generation'),
    created_at: a.created_at,
  };
}
