/**
 * FlatIndex: exact search, the seed's "search honestly" — every query is compared with all N
 * vectors (cost N·D). Like Faiss's IndexFlatL2 / IndexFlatIP.
 */

import { type ContainerFile, readContainer } from '../persist/container.js';
import { ArenaIndex } from './base.js';
import { rowSections, rowsMeta } from './index-file.js';
import { parseFlatParams } from './params.js';
import { resolveThreads } from './pool.js';
import type { IndexKind } from './registry.js';
import { RowStore } from './row-store.js';
import { BATCH_MIN_QUERIES, type FlatLayout, flatSearchRange } from './scan.js';
import type { FlatSearchParams, IndexCapabilities, Metric, SearchResult } from './types.js';

export const FLAT_FORMAT_VERSION = 1;

const FLAT_CAPABILITIES: IndexCapabilities = Object.freeze({
  trainable: false,
  removable: true,
  compressed: false,
  needsRefineVectors: false,
});

export interface FlatIndexOptions {
  /** 'l2' (squared Euclidean, default) or 'ip' (inner product; cosine on normalised vectors). */
  metric?: Metric;
}

export class FlatIndex extends ArenaIndex<FlatSearchParams> {
  readonly kind = 'flat' as const;
  readonly capabilities = FLAT_CAPABILITIES;
  private readonly rows: RowStore;

  constructor(dim: number, options: FlatIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
    this.rows = new RowStore(this.arena, this.K, this.dim, (p) => this.release(p));
  }

  get size(): number {
    return this.rows.n;
  }

  get memoryBytes(): number {
    return this.rows.n * (this.dim + 2) * 4;
  }

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
    const drop = this.rowsOf(ids);
    if (drop.size === 0) return 0;
    const keep = new Int32Array(this.rows.n - drop.size);
    let j = 0;
    for (let r = 0; r < this.rows.n; r++) if (!drop.has(r)) keep[j++] = r;
    this.rows.keep(keep);
    this.reindexIds();
    return drop.size;
  }

  /** Every query is compared with every vector. */
  queryCost(params?: FlatSearchParams): number {
    parseFlatParams(params);
    return this.rows.n * this.dim;
  }

  protected rowIds(): Int32Array {
    return this.rows.idsView();
  }

  protected decodeRow(r: number, out: Float32Array): void {
    out.set(this.arena.f32(this.rows.vectors + r * this.dim * 4, this.dim));
  }

  private layout(): FlatLayout {
    return { metric: this.code, d: this.dim, n: this.rows.n, vectors: this.rows.vectors, norms: this.rows.norms, ids: this.rows.ids };
  }

  /**
   * Exact k nearest neighbours of each query. One or a few queries are scanned directly with
   * the SIMD kernel; larger batches use the blocked ‖q‖²+‖x‖²−2⟨q,x⟩ kernel.
   */
  search(queries: Float32Array, k: number, params?: FlatSearchParams): SearchResult {
    parseFlatParams(params);
    const q = this.queryBlock(queries, k, true);
    return this.scanHere(q, (block, nq) => flatSearchRange(this.K, this.layout(), block, 0, nq, nq >= BATCH_MIN_QUERIES));
  }

  /** The same search on worker threads (all cores by default); the event loop stays free. */
  searchAsync(queries: Float32Array, k: number, params?: FlatSearchParams): Promise<SearchResult> {
    const threads = resolveThreads(parseFlatParams(params).threads);
    const q = this.queryBlock(queries, k);
    const layout = this.layout(),
      block = q.block;
    const batched = q.nq >= BATCH_MIN_QUERIES;
    return this.scanOnWorkers(q, threads, (q0, q1) => ({ op: 'flat', layout, block, q0, q1, batched }));
  }

  /** Writes the index as it is now; changes made before the promise settles do not reach the file. */
  async save(path: string): Promise<void> {
    const rows = this.rows;
    await this.writeRegions(
      path,
      { kind: 'flat', version: FLAT_FORMAT_VERSION, meta: { metric: this.metric, dim: this.dim, count: rows.n, nextId: this.nextId } },
      { ids: { region: rows.ids, view: rows.idsView() }, vectors: { region: rows.vectors, view: rows.vectorsView() } },
    );
  }

  static async load(path: string): Promise<FlatIndex> {
    return FlatIndex.fromContainer(path, await readContainer(path, { kind: 'flat', maxVersion: FLAT_FORMAT_VERSION }));
  }

  /** Builds the index from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: Pick<ContainerFile, 'meta' | 'sections'>): FlatIndex {
    const meta = rowsMeta(path, c.meta);
    const index = new FlatIndex(meta.dim, { metric: meta.metric });
    const { vectors, ids } = rowSections(path, c.sections, meta.dim, meta.count);
    if (meta.count > 0) index.add(vectors, ids);
    index.nextId = Math.max(index.nextId, meta.nextId);
    return index;
  }
}

export const flatKind: IndexKind<FlatSearchParams, FlatIndex> = Object.freeze({
  name: 'flat',
  capabilities: FLAT_CAPABILITIES,
  formatVersion: FLAT_FORMAT_VERSION,
  parseParams: parseFlatParams,
  fromContainer: (path: string, c: ContainerFile) => FlatIndex.fromContainer(path, c),
});
