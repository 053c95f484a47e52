/**
 * IVFIndex: the seed's "cheat a little" search, an inverted file like Faiss's IndexIVFFlat.
 * k-means splits the vectors into nlist groups (default ⌈√N⌉, which minimises D·(K + N/K));
 * a query is compared with the nlist centroids, then only with the vectors of the nprobe
 * nearest groups.
 *
 * Three parts, as in Faiss: the coarse quantizer (./quantizer.ts) picks lists, the inverted
 * lists (./inverted-lists.ts) hold each list's codes and ids, and the codec (./codec.ts) says
 * what a code is — here the raw float32 vector — and which kernel scans it.
 */

import { invalid, NitamonoError } from '../errors.js';
import { type ContainerFile, readContainer } from '../persist/container.js';
import { badFile } from '../persist/read.js';
import { checkPositiveInt, checkVectors } from '../validate.js';
import type { ArenaSlot } from './arenas.js';
import { ArenaIndex, type ListSearchPlan, type RegionSection, type RowJob, type RowLayouts, withAllowedRows } from './base.js';
import { coarseSections, makeQuantizer, readCoarse } from './coarse-file.js';
import { F32Codec, type VectorCodec } from './codec.js';
import { partCount, partName, rowSections, rowsMeta } from './index-file.js';
import { listStats } from './inverted-lists.js';
import type { KMeansOptions, KMeansResult } from './kmeans.js';
import { parseIVFParams } from './params.js';
import { ListParts } from './parts.js';
import { resolveThreads } from './pool.js';
import type { CoarseQuantizer, HNSWQuantizerOptions } from './quantizer.js';
import type { IndexKind } from './registry.js';
import type { FlatLayout, IVFLayout } from './scan.js';
import { preferSubsetScan } from './subset.js';
import type { AddOptions, DescribeOptions, IndexCapabilities, IndexDescription, IVFSearchParams, ListStats, Metric, SearchResult } from './types.js';

export type { ListStats } from './types.js';

/**
 * Version 2: rows in several parts (sections ids.1, vectors.1, listOffsets.1, …) and an HNSW
 * coarse quantizer (meta.coarse, sections hnswLevels, hnswNeighbors). An index in one part
 * with an exhaustive coarse step is still written as version 1.
 */
export const IVF_FORMAT_VERSION = 2;

const IVF_CAPABILITIES: IndexCapabilities = Object.freeze({
  trainable: true,
  removable: true,
  compressed: false,
  needsRefineVectors: false,
});

export interface IVFIndexOptions {
  metric?: Metric;
  /** Number of inverted lists K; default ⌈√N⌉ of the training set. */
  nlist?: number;
  /** Search the centroids through an HNSW graph (Faiss's IVF{n}_HNSW{M}) instead of scanning them all. */
  hnsw?: HNSWQuantizerOptions;
}

export type IVFTrainOptions = Omit<KMeansOptions, 'metric'>;

export class IVFIndex extends ArenaIndex<IVFSearchParams> {
  readonly kind = 'ivf' as const;
  readonly capabilities = IVF_CAPABILITIES;
  private readonly requestedNlist: number | undefined;
  private readonly codec: VectorCodec;
  private readonly quantizer: CoarseQuantizer;
  /** Made at training, when nlist is known. */
  private lists: ListParts | undefined;
  /** Summary of the last training, for reports. */
  training?: Pick<KMeansResult, 'objective' | 'trainedOn' | 'splits' | 'warnings'>;

  constructor(dim: number, options: IVFIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
    if (options.nlist !== undefined) checkPositiveInt('nlist', options.nlist);
    this.requestedNlist = options.nlist;
    this.codec = new F32Codec(this.dim);
    this.quantizer = makeQuantizer(this.arenas.main, this.dim, this.code, (p) => this.release(p), options.hnsw);
  }

  override get isTrained(): boolean {
    return this.quantizer.isTrained;
  }
  /** Lists (k-means clusters); 0 before training. */
  get nlist(): number {
    return this.quantizer.nlist;
  }
  get size(): number {
    return this.lists?.n ?? 0;
  }

  get memoryBytes(): number {
    return (this.lists?.memoryBytes ?? 0) + this.quantizer.memoryBytes;
  }

  /** The trained centroids (a copy), nlist×dim. */
  getCentroids(): Float32Array {
    this.assertUsable(); // a disposed index's arenas belong to another index now
    return this.quantizer.centroidsView().slice();
  }

  /**
   * Learns the nlist centroids with k-means on `vectors` (which are not added). Retraining a
   * non-empty index is refused: its lists would no longer match.
   */
  async train(vectors: Float32Array, options: IVFTrainOptions = {}): Promise<void> {
    this.assertUsable();
    if (this.size > 0) throw invalid('cannot retrain an IVF index that holds vectors; build a new index');
    const n = checkVectors(vectors, this.dim, 'training vectors');
    const nlist = this.requestedNlist ?? Math.max(1, Math.ceil(Math.sqrt(n)));
    // guarded: a dispose meanwhile must not give the arena away before the lists are made
    await this.guarded(async () => {
      const result = await this.quantizer.train(vectors, nlist, { ...options, metric: this.metric });
      this.emptyLists();
      this.training = { objective: result.objective, trainedOn: result.trainedOn, splits: result.splits, warnings: result.warnings };
    });
  }

  /** Uses given centroids instead of training (e.g. shared with another index). */
  setCentroids(centroids: Float32Array, nlist: number): void {
    this.assertUsable();
    if (this.size > 0) throw invalid('cannot replace the centroids of an IVF index that holds vectors');
    this.quantizer.set(centroids, nlist);
    this.emptyLists();
  }

  private emptyLists(): void {
    this.lists?.dispose();
    this.lists = new ListParts(this.arenas, this.nlist, this.codec.codeSize(this.dim), (slot, p) => this.release(p, slot));
  }

  private requireTrained(what: string): ListParts {
    if (!this.lists) throw new NitamonoError('NOT_TRAINED', `cannot ${what}: the IVF index is not trained (call train() first)`);
    return this.lists;
  }

  /** Sizes of the nlist inverted lists. */
  listSizes(): Int32Array {
    return this.lists?.sizes() ?? new Int32Array(0);
  }

  listStats(): ListStats {
    return listStats(this.listSizes());
  }

  override describe(options: DescribeOptions = {}): IndexDescription {
    return { ...super.describe(), nlist: this.nlist, ...(options.lists === false ? {} : { lists: this.listStats() }) };
  }

  /** The coarse quantizer (its kind, and for HNSW its graph parameters). */
  get coarseQuantizer(): CoarseQuantizer {
    return this.quantizer;
  }

  /** (nlist centroids + the nprobe lists' expected N·nprobe/nlist vectors) · D. */
  queryCost(params?: IVFSearchParams): number {
    const { nprobe = 1, efSearch, allowed } = parseIVFParams(params);
    const nlist = this.nlist;
    if (nlist === 0) return this.size * this.dim;
    const probed = (this.quantizer.coarseCost(nprobe, efSearch) + (this.size * Math.min(nprobe, nlist)) / nlist) * this.dim;
    // a filtered search scans at most the cheaper of the two (./subset.ts)
    return allowed ? Math.min(probed, (nlist + allowed.length) * this.dim) : probed;
  }

  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    this.addRows(vectors, ids, this.rowJob(this.requireTrained('add vectors')));
  }

  /** add() with the list assignment on the worker pool. */
  override async addAsync(vectors: Float32Array, ids?: ArrayLike<number>, options: AddOptions = {}): Promise<void> {
    await this.addRowsAsync(vectors, ids, this.rowJob(this.requireTrained('add vectors')), options.threads);
  }

  private rowJob(lists: ListParts): RowJob {
    return { lists, current: () => this.lists, plan: (n) => this.quantizer.assignPlan(n), codec: this.codec, spec: () => ({ name: 'f32' }), raw: true };
  }

  remove(ids: ArrayLike<number>): number {
    this.assertUsable();
    if (!this.lists) return 0;
    const removed = this.lists.remove(this.rowsOf(ids));
    if (removed > 0) this.reindexIds();
    return removed;
  }

  protected rowIds(): Int32Array {
    return this.lists?.ids() ?? new Int32Array(0);
  }

  protected decodeRow(r: number, out: Float32Array): void {
    this.codec.decode(this.lists!.code(r).code, 1, out);
  }

  private plan(lists: ListParts, nprobe: number, ef: number | undefined): ListSearchPlan {
    const q = this.quantizer;
    return {
      coarse: q.coarseLayout(),
      nprobe,
      ef: q.resolveEf(ef, nprobe),
      graphScratchBytes: q.searchScratchBytes,
      scratchFloats: 0,
      slots: lists.slotsInUse(),
      partsIn: (slot: ArenaSlot): IVFLayout[] =>
        this.listLayouts(lists, slot, this.codec.scanner, { centroids: 0, codecParams: 0, m: 0, byResidual: false, precomputed: 0 }),
    };
  }

  /** Resolves nprobe: default 1, clamped to nlist with a warning. */
  private probes(params: IVFSearchParams): { nprobe: number; warnings: string[] } {
    const warnings: string[] = [];
    let nprobe = params.nprobe ?? 1;
    if (nprobe > this.nlist) {
      warnings.push(`nprobe ${nprobe} is more than nlist ${this.nlist}; using ${this.nlist} (exact search)`);
      nprobe = this.nlist;
    }
    return { nprobe, warnings };
  }

  /**
   * The exact subset scan of a filtered search (./subset.ts) when it costs no more than the
   * probed one: S's raw rows scanned as a flat index scans them, one kernel call per query
   * and part, no coarse step and no lists (scores do not depend on the list); undefined for
   * the probed scan.
   */
  private subsetRows(lists: ListParts, allowed: Int32Array, p: IVFSearchParams): RowLayouts | undefined {
    // rows in any order within a part (the scan breaks ties on ids): parts split them only when there are several
    const rows = this.idToRow.allowedRows(allowed, lists.parts.length > 1);
    if (!preferSubsetScan(rows.length, this.dim, this.queryCost({ ...p, allowed: undefined }))) return undefined;
    const byPart = lists.split(rows);
    return (slot, alloc) => {
      const out: FlatLayout[] = [];
      for (const part of lists.partsIn(slot)) {
        const r = byPart.get(part),
          s = part.store;
        // the codec's codes are the float32 rows (norms: only the unfiltered batched scan reads them)
        if (r) out.push(withAllowedRows({ metric: this.code, d: this.dim, n: s.n, vectors: s.codes, norms: 0, ids: s.ids }, slot, r, alloc));
      }
      return out;
    };
  }

  search(queries: Float32Array, k: number, params?: IVFSearchParams): SearchResult {
    const lists = this.requireTrained('search');
    const p = parseIVFParams(params);
    const { nprobe, warnings } = this.probes(p);
    const subset = p.allowed && this.subsetRows(lists, p.allowed, p);
    // a subset scan has no lists to plan
    const plan = () => this.plan(lists, nprobe, p.efSearch);
    const r = subset
      ? this.searchRowsHere(queries, k, lists.slotsInUse(), subset)
      : p.allowed
        ? this.searchFilteredHere(queries, k, this.filterPlans(plan(), lists, p.allowed, this.queryCost({ ...p, allowed: undefined })))
        : this.searchListsHere(queries, k, plan());
    return { ...r, nprobe, ...(warnings.length ? { warnings } : {}) };
  }

  searchAsync(queries: Float32Array, k: number, params?: IVFSearchParams): Promise<SearchResult> {
    const lists = this.requireTrained('search');
    const p = parseIVFParams(params);
    const threads = resolveThreads(p.threads);
    const { nprobe, warnings } = this.probes(p);
    const subset = p.allowed && this.subsetRows(lists, p.allowed, p);
    const plan = () => this.plan(lists, nprobe, p.efSearch);
    const run = subset
      ? this.searchRowsOnWorkers(queries, k, threads, lists.slotsInUse(), subset)
      : p.allowed
        ? this.searchFilteredOnWorkers(queries, k, threads, this.filterPlans(plan(), lists, p.allowed, this.queryCost({ ...p, allowed: undefined })))
        : this.searchListsOnWorkers(queries, k, threads, plan());
    return run.then((r) => ({
      ...r,
      nprobe,
      ...(warnings.length ? { warnings } : {}),
    }));
  }

  /** Writes the index as it is now; changes made before the promise settles do not reach the file. */
  async save(path: string): Promise<void> {
    const lists = this.lists;
    const parts = lists?.parts ?? [];
    const sections: Record<string, RegionSection> = {};
    if (parts.length === 0) {
      sections['ids'] = { region: 0, view: new Int32Array(0) };
      // kind 'ivf' stores raw float32 rows (its codec's codes), grouped by list
      sections['vectors'] = { region: 0, view: new Float32Array(0) };
    }
    parts.forEach(({ slot, store }, p) => {
      sections[partName('ids', p)] = { region: store.ids, view: store.idsView(), slot };
      sections[partName('vectors', p)] = { region: store.codes, view: slot.arena.f32(store.codes, store.n * this.dim), slot };
    });
    if (lists) {
      sections['centroids'] = { region: this.quantizer.centroids, view: this.quantizer.centroidsView() };
      if (parts.length === 0) sections['listOffsets'] = { region: 0, view: new Int32Array(this.nlist + 1) };
      parts.forEach(({ slot, store }, p) => {
        sections[partName('listOffsets', p)] = { region: store.offsets, view: store.offsetsView(), slot };
      });
      Object.assign(sections, coarseSections(this.quantizer));
    }
    const many = parts.length > 1;
    const spec = this.quantizer.spec;
    await this.writeRegions(
      path,
      {
        kind: 'ivf',
        version: many || spec.kind !== 'flat' ? 2 : 1,
        meta: {
          metric: this.metric,
          dim: this.dim,
          count: this.size,
          nlist: this.nlist,
          requestedNlist: this.requestedNlist ?? null,
          nextId: this.nextId,
          ...(many ? { parts: parts.length } : {}),
          ...(spec.kind !== 'flat' ? { coarse: spec } : {}),
        },
      },
      sections,
    );
  }

  static async load(path: string): Promise<IVFIndex> {
    return IVFIndex.fromContainer(path, await readContainer(path, { kind: 'ivf', maxVersion: IVF_FORMAT_VERSION }));
  }

  /** Builds the index from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: Pick<ContainerFile, 'meta' | 'sections'>): IVFIndex {
    const meta = rowsMeta(path, c.meta);
    const nlist = c.meta['nlist'],
      requested = c.meta['requestedNlist'];
    if (typeof nlist !== 'number' || !Number.isSafeInteger(nlist) || nlist < 0) throw badFile(path, `invalid nlist ${JSON.stringify(nlist)} in the header`);
    const coarse = readCoarse(path, c.meta);
    let index: IVFIndex;
    try {
      index = new IVFIndex(meta.dim, {
        metric: meta.metric,
        ...(typeof requested === 'number' && requested > 0 ? { nlist: requested } : {}),
        ...(coarse.options ? { hnsw: coarse.options } : {}),
      });
    } catch (err) {
      throw badFile(path, `invalid parameters in the header: ${(err as Error).message}`);
    }
    try {
      if (nlist > 0) {
        const cs = c.sections['centroids'];
        if (!cs || cs.byteLength !== nlist * meta.dim * 4) throw badFile(path, `centroid or list sections do not match the header (nlist ${nlist})`);
        const parts = partCount(path, c.meta);
        const offsets: Int32Array[] = [];
        for (let p = 0; p < parts; p++) {
          const os = c.sections[partName('listOffsets', p)];
          if (!os || os.byteLength !== (nlist + 1) * 4) throw badFile(path, `centroid or list sections do not match the header (nlist ${nlist})`);
          offsets.push(new Int32Array(os.buffer, os.byteOffset, nlist + 1));
        }
        coarse.set(path, index.quantizer, new Float32Array(cs.buffer, cs.byteOffset, nlist * meta.dim), nlist, c.sections);
        index.emptyLists();
        const { vectors, ids } = rowSections(path, c.sections, meta.dim, meta.count, parts);
        for (let p = 0; p < parts; p++) {
          const off = offsets[p]!,
            n = ids[p]!.length;
          for (let l = 0; l < nlist; l++) {
            if (off[l]! > off[l + 1]! || off[0] !== 0 || off[nlist] !== n) throw badFile(path, 'list offsets are inconsistent');
          }
          // ids and values are checked as add() checks them; rows are grouped by list already
          index.prepareAdd(vectors[p]!, ids[p]!);
          const codes = new Uint8Array(n * index.codec.codeSize(meta.dim));
          index.codec.encode(vectors[p]!, n, codes);
          index.lists!.load(codes, ids[p]!, off);
          index.reindexIds();
          index.noteIds(ids[p]!);
        }
      }
    } catch (err) {
      index.dispose();
      throw err;
    }
    index.nextId = Math.max(index.nextId, meta.nextId);
    return index;
  }
}

export const ivfKind: IndexKind<IVFSearchParams, IVFIndex> = Object.freeze({
  name: 'ivf',
  capabilities: IVF_CAPABILITIES,
  formatVersion: IVF_FORMAT_VERSION,
  parseParams: parseIVFParams,
  fromContainer: (path: string, c: ContainerFile) => IVFIndex.fromContainer(path, c),
});
