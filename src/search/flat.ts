/**
 * FlatIndex: exact search, the seed's "search honestly" — every query is compared with all N
 * vectors (cost N·D). Like Faiss's IndexFlatL2 / IndexFlatIP.
 */

import { type ContainerFile, readContainer } from '../persist/container.js';
import type { ArenaSlot } from './arenas.js';
import { ArenaIndex, type RegionSection, withAllowedRows } from './base.js';
import { partCount, partName, rowSections, rowsMeta } from './index-file.js';
import { parseFlatParams } from './params.js';
import { type Part, RowParts } from './parts.js';
import { resolveThreads } from './pool.js';
import type { IndexKind } from './registry.js';
import type { RowStore } from './row-store.js';
import type { FlatLayout } from './scan.js';
import type { FlatSearchParams, IndexCapabilities, Metric, SearchResult } from './types.js';

/** Version 2: the rows may be in several parts (sections ids.1, vectors.1, …); one-part files are still written as version 1. */
export const FLAT_FORMAT_VERSION = 2;

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
  private readonly rows: RowParts;

  constructor(dim: number, options: FlatIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
    this.rows = new RowParts(this.arenas, this.dim, (slot, p) => this.release(p, slot));
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
    this.rows.keepRows(keep);
    this.reindexIds();
    return drop.size;
  }

  /** Every query is compared with every vector (of the allowed ones, when filtered). */
  queryCost(params?: FlatSearchParams): number {
    const { allowed } = parseFlatParams(params);
    return Math.min(this.rows.n, allowed ? allowed.length : Infinity) * this.dim;
  }

  protected rowIds(): Int32Array {
    return this.rows.ids();
  }

  protected decodeRow(r: number, out: Float32Array): void {
    out.set(this.rows.row(r));
  }

  /**
   * The row parts in `slot`'s arena, as the scan reads them; a filtered search (./subset.ts) only
   * the parts holding allowed rows, with those rows copied into the arena by `alloc` (the kernel
   * reads the row list there: one call per query, however scattered the rows).
   */
  private layouts(slot: ArenaSlot, allowed: Map<Part<RowStore>, Int32Array> | undefined, alloc: (bytes: number) => number): FlatLayout[] {
    const out: FlatLayout[] = [];
    for (const part of this.rows.partsIn(slot)) {
      const s = part.store;
      const L: FlatLayout = { metric: this.code, d: this.dim, n: s.n, vectors: s.vectors, norms: s.norms, ids: s.ids };
      const rows = allowed?.get(part);
      if (allowed && !rows) continue;
      out.push(rows ? withAllowedRows(L, slot, rows, alloc) : L);
    }
    return out;
  }

  /** Each part's allowed rows of a filtered search (a scan of those rows only: |S|·d, exact). */
  private allowedParts(allowed: Int32Array | undefined): Map<Part<RowStore>, Int32Array> | undefined {
    return allowed && this.rows.split(this.idToRow.allowedRows(allowed));
  }

  /**
   * Exact k nearest neighbours of each query. One or a few queries are scanned directly with
   * the SIMD kernel; larger batches use the blocked ‖q‖²+‖x‖²−2⟨q,x⟩ kernel.
   */
  search(queries: Float32Array, k: number, params?: FlatSearchParams): SearchResult {
    const allowed = this.allowedParts(parseFlatParams(params).allowed);
    return this.searchRowsHere(queries, k, this.rows.slotsInUse(), (slot, alloc) => this.layouts(slot, allowed, alloc));
  }

  /** The same search on worker threads (all cores by default); the event loop stays free. */
  searchAsync(queries: Float32Array, k: number, params?: FlatSearchParams): Promise<SearchResult> {
    const p = parseFlatParams(params);
    const allowed = this.allowedParts(p.allowed);
    return this.searchRowsOnWorkers(queries, k, resolveThreads(p.threads), this.rows.slotsInUse(), (slot, alloc) => this.layouts(slot, allowed, alloc));
  }

  /** Writes the index as it is now; changes made before the promise settles do not reach the file. */
  async save(path: string): Promise<void> {
    const parts = this.rows.parts;
    const sections: Record<string, RegionSection> = {};
    if (parts.length === 0) {
      sections['ids'] = { region: 0, view: new Int32Array(0) };
      sections['vectors'] = { region: 0, view: new Float32Array(0) };
    }
    parts.forEach(({ slot, store }, p) => {
      sections[partName('ids', p)] = { region: store.ids, view: store.idsView(), slot };
      sections[partName('vectors', p)] = { region: store.vectors, view: store.vectorsView(), slot };
    });
    const many = parts.length > 1;
    await this.writeRegions(
      path,
      {
        kind: 'flat',
        version: many ? 2 : 1,
        meta: { metric: this.metric, dim: this.dim, count: this.rows.n, nextId: this.nextId, ...(many ? { parts: parts.length } : {}) },
      },
      sections,
    );
  }

  static async load(path: string): Promise<FlatIndex> {
    return FlatIndex.fromContainer(path, await readContainer(path, { kind: 'flat', maxVersion: FLAT_FORMAT_VERSION }));
  }

  /** Builds the index from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: Pick<ContainerFile, 'meta' | 'sections'>): FlatIndex {
    const meta = rowsMeta(path, c.meta);
    const index = new FlatIndex(meta.dim, { metric: meta.metric });
    try {
      const { vectors, ids } = rowSections(path, c.sections, meta.dim, meta.count, partCount(path, c.meta));
      for (let p = 0; p < vectors.length; p++) if (ids[p]!.length > 0) index.add(vectors[p]!, ids[p]!);
    } catch (err) {
      index.dispose();
      throw err;
    }
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
