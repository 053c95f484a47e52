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
import { ArenaIndex, type RegionSection } from './base.js';
import { F32Codec, type VectorCodec } from './codec.js';
import { rowSections, rowsMeta } from './index-file.js';
import { InvertedLists, listStats } from './inverted-lists.js';
import type { KMeansOptions, KMeansResult } from './kmeans.js';
import { parseIVFParams } from './params.js';
import { resolveThreads } from './pool.js';
import { CoarseQuantizer } from './quantizer.js';
import type { IndexKind } from './registry.js';
import { type IVFLayout, ivfSearchRange } from './scan.js';
import type { DescribeOptions, IndexCapabilities, IndexDescription, IVFSearchParams, ListStats, Metric, SearchResult } from './types.js';

export type { ListStats } from './types.js';

export const IVF_FORMAT_VERSION = 1;

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
}

export type IVFTrainOptions = Omit<KMeansOptions, 'metric'>;

export class IVFIndex extends ArenaIndex<IVFSearchParams> {
  readonly kind = 'ivf' as const;
  readonly capabilities = IVF_CAPABILITIES;
  private readonly requestedNlist: number | undefined;
  private readonly codec: VectorCodec;
  private readonly quantizer: CoarseQuantizer;
  /** Made at training, when nlist is known. */
  private lists: InvertedLists | undefined;
  /** Probe heap of synchronous searches. */
  private probeScratch = { cap: 0, d: 0, i: 0 };
  /** Summary of the last training, for reports. */
  training?: Pick<KMeansResult, 'objective' | 'trainedOn' | 'splits' | 'warnings'>;

  constructor(dim: number, options: IVFIndexOptions = {}) {
    super(dim, options.metric ?? 'l2');
    if (options.nlist !== undefined) checkPositiveInt('nlist', options.nlist);
    this.requestedNlist = options.nlist;
    this.codec = new F32Codec(this.dim);
    this.quantizer = new CoarseQuantizer(this.arena, this.K, this.dim, this.code, (p) => this.release(p));
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
    const result = await this.quantizer.train(vectors, nlist, { ...options, metric: this.metric });
    this.emptyLists();
    this.training = { objective: result.objective, trainedOn: result.trainedOn, splits: result.splits, warnings: result.warnings };
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
    this.lists = new InvertedLists(this.arena, this.nlist, this.codec.codeSize(this.dim), (p) => this.release(p));
  }

  private requireTrained(what: string): InvertedLists {
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

  /** (nlist centroids + the nprobe lists' expected N·nprobe/nlist vectors) · D. */
  queryCost(params?: IVFSearchParams): number {
    const { nprobe = 1 } = parseIVFParams(params);
    const nlist = this.nlist;
    if (nlist === 0) return this.size * this.dim;
    return (nlist + (this.size * Math.min(nprobe, nlist)) / nlist) * this.dim;
  }

  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    const lists = this.requireTrained('add vectors');
    const idArr = this.prepareAdd(vectors, ids);
    const m = idArr.length;
    if (m === 0) return;
    const codes = new Uint8Array(m * this.codec.codeSize(this.dim));
    this.codec.encode(vectors, m, codes);
    lists.add(codes, idArr, this.quantizer.assign(vectors, m));
    this.reindexIds();
    this.noteIds(idArr);
  }

  remove(ids: ArrayLike<number>): number {
    this.assertUsable();
    if (!this.lists) return 0;
    const removed = this.lists.remove(this.rowsOf(ids));
    if (removed > 0) this.reindexIds();
    return removed;
  }

  protected rowIds(): Int32Array {
    return this.lists?.idsView() ?? new Int32Array(0);
  }

  protected decodeRow(r: number, out: Float32Array): void {
    this.codec.decode(this.lists!.code(r), 1, out);
  }

  private layout(lists: InvertedLists): IVFLayout {
    const q = this.quantizer;
    return {
      metric: this.code,
      d: this.dim,
      n: lists.n,
      codes: lists.codes,
      codeSize: lists.codeSize,
      scanner: this.codec.scanner,
      ids: lists.ids,
      nlist: q.nlist,
      centroids: q.centroids,
      centroidNorms: q.norms,
      listOffsets: lists.offsets,
      codecParams: 0,
      m: 0,
      byResidual: false,
      precomputed: 0,
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

  search(queries: Float32Array, k: number, params?: IVFSearchParams): SearchResult {
    const lists = this.requireTrained('search');
    const { nprobe, warnings } = this.probes(parseIVFParams(params));
    const q = this.queryBlock(queries, k, true);
    if (this.probeScratch.cap < nprobe) {
      // sized for every list at once so it is allocated once per index
      for (const p of [this.probeScratch.d, this.probeScratch.i]) if (p) this.release(p);
      const nlist = this.nlist;
      this.probeScratch = { cap: nlist, d: this.arena.alloc(nlist * 4), i: this.arena.alloc(nlist * 4) };
    }
    const layout = this.layout(lists),
      { d: probeD, i: probeI } = this.probeScratch;
    const r = this.scanHere(q, (block, nq) => ivfSearchRange(this.K, layout, block, 0, nq, nprobe, probeD, probeI));
    return { ...r, nprobe, ...(warnings.length ? { warnings } : {}) };
  }

  searchAsync(queries: Float32Array, k: number, params?: IVFSearchParams): Promise<SearchResult> {
    const lists = this.requireTrained('search');
    const p = parseIVFParams(params);
    const threads = resolveThreads(p.threads);
    const { nprobe, warnings } = this.probes(p);
    const q = this.queryBlock(queries, k);
    const layout = this.layout(lists),
      block = q.block;
    return this.scanOnWorkers(q, threads, (q0, q1, alloc) => ({
      op: 'ivf',
      layout,
      block,
      q0,
      q1,
      nprobe,
      probeD: alloc(nprobe * 4),
      probeI: alloc(nprobe * 4),
    })).then((r) => ({ ...r, nprobe, ...(warnings.length ? { warnings } : {}) }));
  }

  /** Writes the index as it is now; changes made before the promise settles do not reach the file. */
  async save(path: string): Promise<void> {
    const lists = this.lists;
    const sections: Record<string, RegionSection> = {
      ids: { region: lists?.ids ?? 0, view: this.rowIds() },
      // kind 'ivf' stores raw float32 rows (its codec's codes), grouped by list
      vectors: { region: lists?.codes ?? 0, view: this.arena.f32(lists?.codes ?? 0, this.size * this.dim) },
    };
    if (lists) {
      sections['centroids'] = { region: this.quantizer.centroids, view: this.quantizer.centroidsView() };
      sections['listOffsets'] = { region: lists.offsets, view: lists.offsetsView() };
    }
    await this.writeRegions(
      path,
      {
        kind: 'ivf',
        version: IVF_FORMAT_VERSION,
        meta: { metric: this.metric, dim: this.dim, count: this.size, nlist: this.nlist, requestedNlist: this.requestedNlist ?? null, nextId: this.nextId },
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
    const index = new IVFIndex(meta.dim, { metric: meta.metric, ...(typeof requested === 'number' && requested > 0 ? { nlist: requested } : {}) });
    if (nlist > 0) {
      const cs = c.sections['centroids'],
        os = c.sections['listOffsets'];
      if (!cs || cs.byteLength !== nlist * meta.dim * 4 || !os || os.byteLength !== (nlist + 1) * 4) {
        throw badFile(path, `centroid or list sections do not match the header (nlist ${nlist})`);
      }
      index.setCentroids(new Float32Array(cs.buffer, cs.byteOffset, nlist * meta.dim), nlist);
      const off = new Int32Array(os.buffer, os.byteOffset, nlist + 1);
      for (let l = 0; l < nlist; l++) {
        if (off[l]! > off[l + 1]! || off[0] !== 0 || off[nlist] !== meta.count) throw badFile(path, 'list offsets are inconsistent');
      }
      const { vectors, ids } = rowSections(path, c.sections, meta.dim, meta.count);
      // ids and values are checked as add() checks them; rows are grouped by list already
      index.prepareAdd(vectors, ids);
      const codes = new Uint8Array(meta.count * index.codec.codeSize(meta.dim));
      index.codec.encode(vectors, meta.count, codes);
      index.lists!.load(codes, ids, off);
      index.reindexIds();
      index.noteIds(ids);
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
