/**
 * FlatIndex: exact search, the seed's "search honestly" — every query is compared with all N
 * vectors (cost N·D). Like Faiss's IndexFlatL2 / IndexFlatIP.
 */
import { ArenaIndex } from './base.js';
import { BATCH_MIN_QUERIES, flatSearchRange, type FlatLayout } from './scan.js';
import { resolveThreads, sharedPool, type Task } from './pool.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { readContainer, writeContainer } from '../persist/container.js';
import { NitamonoError } from '../errors.js';

export const FLAT_FORMAT_VERSION = 1;

export interface FlatIndexOptions {
  /** 'l2' (squared Euclidean, default) or 'ip' (inner product; cosine on normalised vectors). */
  metric?: Metric;
}

export class FlatIndex extends ArenaIndex implements VectorIndex {
  readonly kind = 'flat' as const;

  constructor(dim: number, options: FlatIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
  }

  get memoryBytes(): number { return this.rows.n * (this.dim + 2) * 4; }

  /** Adds n vectors (n×dim row-major) with the caller's ids (default: insertion order). */
  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    const idArr = this.prepareAdd(vectors, ids);
    const first = this.rows.n;
    this.rows.append(vectors, idArr);
    for (let i = 0; i < idArr.length; i++) this.idToRow.set(idArr[i]!, first + i);
    this.noteIds(idArr);
  }

  remove(ids: ArrayLike<number>): number {
    this.assertUsable();
    const kept = this.keptRows(ids);
    if (!kept) return 0;
    this.rows.rebuild(kept.keep.length, (v, i) => this.copyRows(kept.keep, v, i));
    this.reindexIds();
    return kept.removed;
  }

  private layout(): FlatLayout {
    return { metric: this.code, d: this.dim, n: this.rows.n, vectors: this.rows.vectors, norms: this.rows.norms, ids: this.rows.ids };
  }

  /**
   * Exact k nearest neighbours of each query. One or a few queries are scanned directly with
   * the SIMD kernel; larger batches use the blocked ‖q‖²+‖x‖²−2⟨q,x⟩ kernel.
   */
  search(queries: Float32Array, k: number, _options: SearchOptions = {}): SearchResult {
    const { block, nq, ptrs } = this.queryBlock(queries, k, true);
    const computed = flatSearchRange(this.K, this.layout(), block, 0, nq, nq >= BATCH_MIN_QUERIES);
    return this.collect(block, nq, ptrs, computed);
  }

  /** The same search on worker threads (all cores by default); the event loop stays free. */
  searchAsync(queries: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchResult> {
    const threads = resolveThreads(options.threads);
    const { block, nq, ptrs } = this.queryBlock(queries, k);
    const layout = this.layout();
    const batched = nq >= BATCH_MIN_QUERIES;
    return this.guarded(async () => {
      const tasks: Task[] = ArenaIndex.ranges(nq, threads).map(([q0, q1]) => ({ op: 'flat', layout, block, q0, q1, batched }));
      const counts = await sharedPool().run(this.arena, tasks);
      return this.collect(block, nq, ptrs, counts.reduce((a, b) => a + b, 0));
    });
  }

  async save(path: string): Promise<void> {
    this.assertUsable();
    await writeContainer(path, {
      kind: 'flat',
      version: FLAT_FORMAT_VERSION,
      meta: { metric: this.metric, dim: this.dim, count: this.rows.n, nextId: this.nextId },
      sections: { ids: this.rows.idsView(), vectors: this.rows.vectorsView() },
    });
  }

  static async load(path: string): Promise<FlatIndex> {
    return FlatIndex.fromContainer(path, await readContainer(path, { kind: 'flat', maxVersion: FLAT_FORMAT_VERSION }));
  }

  /** Builds the index from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: { meta: unknown; sections: Record<string, Uint8Array> }): FlatIndex {
    const meta = c.meta as { metric: Metric; dim: number; count: number; nextId: number };
    const index = new FlatIndex(meta.dim, { metric: meta.metric });
    const { vectors, ids } = sections(path, c.sections, meta.dim, meta.count);
    if (meta.count > 0) index.add(vectors, ids);
    index.nextId = Math.max(index.nextId, meta.nextId ?? 0);
    return index;
  }
}

/** Typed views of the vectors and ids sections, with their sizes checked against the header. */
export function sections(path: string, s: Record<string, Uint8Array>, dim: number, count: number): { vectors: Float32Array; ids: Int32Array } {
  const v = s['vectors'], i = s['ids'];
  if (!v || !i || v.byteLength !== count * dim * 4 || i.byteLength !== count * 4) {
    throw new NitamonoError('BAD_FILE', `${path}: vector or id section does not match the header (${count} vectors of dimension ${dim})`);
  }
  return {
    vectors: new Float32Array(v.buffer, v.byteOffset, count * dim),
    ids: new Int32Array(i.buffer, i.byteOffset, count),
  };
}
