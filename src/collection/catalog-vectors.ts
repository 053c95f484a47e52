/**
 * The catalogue as the home of a collection's full vectors, so its compressed indexes keep only
 * codes in RAM:
 * - `CatalogRefine`: the refine source of an index re-ranked with exact distances (`…,RFlat`):
 *   the candidates of a batch of queries are read in one `okVectors` call;
 * - `exactSearch`: exact k nearest neighbours over vectors read in chunks (from the catalogue,
 *   or from a snapshot already in memory), for `method: 'exact'` on a compressed index and for
 *   the ground truth of tuning, without ever holding every vector in an index at once.
 */
import type { CatalogReader, FeatureSpace } from '../catalog/types.js';
import { FlatIndex } from '../search/flat.js';
import type { RefineVectors } from '../search/refine.js';
import type { SearchResult } from '../search/types.js';

/**
 * Written for a candidate whose vector is gone from the catalogue (removed after the index was
 * brought up to date, before the re-ranking read it): far from everything, so it ranks last,
 * and finite, so a squared distance never becomes NaN.
 */
const FAR = 1e18;

/** Re-ranking vectors read from the catalogue by id: nothing held in RAM. */
export class CatalogRefine implements RefineVectors {
  readonly dim: number;

  constructor(
    private readonly store: Pick<CatalogReader, 'okVectors'>,
    private readonly space: FeatureSpace,
    dim: number,
    /** Vectors of the index (its size), for `bytes`. */
    private readonly count: () => number,
  ) {
    this.dim = dim;
  }

  /** The full vectors' bytes where they live (the catalogue), for the index's refineBytes. */
  get bytes(): number {
    return this.count() * this.dim * 4;
  }

  async read(ids: Int32Array, out: Float32Array): Promise<void> {
    const d = this.dim;
    const got = await this.store.okVectors(ids, this.space, d);
    const row = new Map<number, number>();
    for (let j = 0; j < got.ids.length; j++) row.set(got.ids[j]!, j);
    for (let i = 0; i < ids.length; i++) {
      const j = row.get(ids[i]!);
      if (j === undefined) out.fill(FAR, i * d, (i + 1) * d);
      else out.set(got.vectors.subarray(j * d, (j + 1) * d), i * d);
    }
  }
}

/** Rows of vectors with their ids (n×dim row-major). */
export interface VectorChunk {
  ids: Int32Array;
  vectors: Float32Array;
}

/** Bytes of vectors searched per chunk. */
const CHUNK_BYTES = 64 << 20;

/** Rows per chunk for dimension d. */
export function chunkRows(d: number): number {
  return Math.max(1024, Math.min(1 << 18, Math.floor(CHUNK_BYTES / (d * 4))));
}

/** The rows of a snapshot in memory, chunk by chunk (views, no copies). */
export async function* memoryChunks(ids: Int32Array, vectors: Float32Array, d: number): AsyncGenerator<VectorChunk> {
  const step = chunkRows(d);
  for (let i = 0; i < ids.length; i += step) {
    const j = Math.min(ids.length, i + step);
    yield { ids: ids.subarray(i, j), vectors: vectors.subarray(i * d, j * d) };
  }
}

/** The searchable vectors of `ids` (any order), read from the catalogue chunk by chunk. */
export async function* catalogChunks(store: Pick<CatalogReader, 'okVectors'>, space: FeatureSpace, d: number, ids: Int32Array): AsyncGenerator<VectorChunk> {
  const sorted = Int32Array.from(ids).sort();
  const step = chunkRows(d);
  for (let i = 0; i < sorted.length; i += step) yield await store.okVectors(sorted.subarray(i, i + step), space, d);
}

/**
 * Exact k nearest neighbours (squared L2) of nq queries among the vectors of `chunks`: each
 * chunk is searched with a FlatIndex (the engine's exact scan) and the answers merged by
 * (distance, id), the engine's own order, so the result is that of one FlatIndex over all of
 * them. Memory: one chunk at a time.
 */
export async function exactSearch(d: number, queries: Float32Array, k: number, chunks: AsyncIterable<VectorChunk>, threads?: number): Promise<SearchResult> {
  const nq = queries.length / d;
  const labels = new Int32Array(nq * k).fill(-1);
  const distances = new Float32Array(nq * k).fill(Number.NaN);
  let computed = 0;
  // squared L2, the metric of every collection index
  const flat = new FlatIndex(d, { metric: 'l2' });
  try {
    for await (const c of chunks) {
      const n = c.ids.length;
      if (n === 0) continue;
      flat.add(c.vectors, c.ids);
      const kk = Math.min(k, n);
      const params = threads !== undefined ? { threads } : {};
      const r = flat.queryCost() * nq <= 1 << 20 ? flat.search(queries, kk, params) : await flat.searchAsync(queries, kk, params);
      flat.remove(c.ids);
      computed += r.distancesComputed;
      for (let q = 0; q < nq; q++) mergeRow(labels, distances, q * k, k, r.labels, r.distances, q * r.k, r.k);
    }
  } finally {
    flat.dispose();
  }
  return { nq, k, labels, distances, distancesComputed: computed };
}

/** Merges the sorted row b (length kb) into the sorted row a (length k, -1 padded) by (distance, id). */
function mergeRow(al: Int32Array, ad: Float32Array, a0: number, k: number, bl: Int32Array, bd: Float32Array, b0: number, kb: number): void {
  const l = al.slice(a0, a0 + k),
    dist = ad.slice(a0, a0 + k);
  let i = 0,
    j = 0;
  for (let o = 0; o < k; o++) {
    const aOk = i < k && l[i]! >= 0;
    const bOk = j < kb && bl[b0 + j]! >= 0;
    let takeA: boolean;
    if (aOk && bOk) takeA = dist[i]! < bd[b0 + j]! || (dist[i] === bd[b0 + j] && l[i]! < bl[b0 + j]!);
    else if (aOk || bOk) takeA = aOk;
    else {
      al.fill(-1, a0 + o, a0 + k);
      ad.fill(Number.NaN, a0 + o, a0 + k);
      return;
    }
    if (takeA) {
      al[a0 + o] = l[i]!;
      ad[a0 + o] = dist[i++]!;
    } else {
      al[a0 + o] = bl[b0 + j]!;
      ad[a0 + o] = bd[b0 + j++]!;
    }
  }
}
