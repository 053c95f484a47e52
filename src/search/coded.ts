/**
 * The compressed index kinds: codes of a lossy codec instead of float32 rows, optionally
 * re-ranked against full vectors kept outside the index (./refine.ts).
 *
 *   kind      Faiss factory      storage per vector     scan
 *   sq8       SQ8                d bytes                every code, decoded on the fly
 *   pq        PQ{m}              m bytes                every code, m table lookups
 *   ivf-sq8   IVF{n},SQ8         d bytes (+ list)       the nprobe nearest lists
 *   ivf-pq    IVF{n},PQ{m}       m bytes (+ list)       the nprobe nearest lists
 *   pq        PQ{m}x4fs          m/2 bytes              every code, 4-bit fast scan (byte tables)
 *   ivf-pq    IVF{n},PQ{m}x4fs   m/2 bytes (+ list)     the nprobe nearest lists, fast scan
 *   fp16      SQfp16             2·d bytes              every row, widened on the fly
 *   ivf-fp16  IVF{n},SQfp16      2·d bytes (+ list)     the nprobe nearest lists
 *
 * (plus a 4-byte id per vector). The inverted-file kinds encode residuals, vector − centroid
 * of its list, as Faiss's IndexIVFPQ and IndexIVFScalarQuantizer do by default: a list's
 * residuals spread much less than the vectors, so the same 8 bits per dimension (SQ8) or 256
 * codewords per sub-space (PQ) cover a smaller range, finer — for the cost of the centroid terms
 * per probed list (SQ8: d subtractions; PQ, L2: Faiss's precomputed table, see ./scan.ts).
 * Flat kinds keep one list of codes and no coarse quantizer; both share the scan loop of
 * ./scan.ts, on this thread or on the worker pool.
 *
 * The PQ kinds may put an OPQ rotation in front (Faiss's OPQ{m},…, an IndexPreTransform):
 * training learns it first and trains the coarse quantizer and the codebooks on rotated
 * vectors; added vectors and queries are rotated before assignment, encoding and scanning;
 * re-ranking compares the original queries with the original vectors (a rotation keeps
 * distances), so the refine vectors stay as they are.
 */

import { invalid, NitamonoError } from '../errors.js';
import { METRIC_IP } from '../kernels/types.js';
import type { ContainerFile } from '../persist/container.js';
import { badFile } from '../persist/read.js';
import { samplePermutation } from '../util/random.js';
import { checkIds, checkPositiveInt, checkVectors } from '../validate.js';
import { batchedFor, type CodecSpec, subtractCentroids } from './add-rows.js';
import type { ArenaSlot } from './arenas.js';
import { ArenaIndex, type ListSearchPlan, type RegionSection, type RowJob } from './base.js';
import { coarseSections, makeQuantizer, readCoarse } from './coarse-file.js';
import { type CodecTrainOptions, UntrainedCodec } from './codec.js';
import { FP16Codec } from './fp16.js';
import { partCount, partName, rowsMeta } from './index-file.js';
import { listStats } from './inverted-lists.js';
import { OPQMatrix, type OPQOptions } from './opq.js';
import { parseCodedParams } from './params.js';
import { ListParts } from './parts.js';
import { resolveThreads } from './pool.js';
import { PQ_NBITS, PQ4_NBITS, PQCodec } from './pq.js';
import type { CoarseQuantizer, HNSWQuantizerOptions } from './quantizer.js';
import { candidateIds, type RefineLocation, type RefineVectors, rescore, VectorFileRefine } from './refine.js';
import type { IndexKind } from './registry.js';
import { rotateOnWorkers, rotateRows } from './rotate.js';
import { type IVFLayout, LIST_SCANNERS, type QueryBlock } from './scan.js';
import { SQ8Codec } from './sq8.js';
import type { AddOptions, CodedSearchParams, DescribeOptions, IndexCapabilities, IndexDescription, ListStats, Metric, SearchResult } from './types.js';

/**
 * Version 2: codes in several parts (sections ids.1, codes.1, listOffsets.1, …) and an HNSW
 * coarse quantizer (meta.coarse, sections hnswLevels, hnswNeighbors). Version 3: an OPQ
 * rotation (meta.opq, section opqRotation), which an older reader must not ignore. Version 4:
 * IVF-PQ codes of the vectors rather than their residuals (meta.byResidual false), which an
 * older reader would scan as residuals. Other indexes are still written as version 1.
 */
export const CODED_FORMAT_VERSION = 4;

export type CodedKindName = 'sq8' | 'pq' | 'ivf-sq8' | 'ivf-pq' | 'fp16' | 'ivf-fp16';

const capabilities = (pq: boolean): IndexCapabilities => Object.freeze({ trainable: true, removable: true, compressed: true, needsRefineVectors: pq });
const SQ8_CAPABILITIES = capabilities(false);
const FP16_CAPABILITIES = capabilities(false);
const PQ_CAPABILITIES = capabilities(true);

/** Largest precomputed IVF-PQ table taken by default (Faiss: precomputed_table_max_bytes, 2 GiB; our arena is 4 GiB in all). */
export const PRECOMPUTED_TABLE_MAX_BYTES = 256 << 20;
/**
 * A fast-scan lookup's share of an 8-bit PQ lookup in queryCost: one byte shuffle scores a
 * sub-quantizer of 16 codes, but widening and adding the bytes cost about as much again.
 */
const PQ4_LOOKUP_COST = 0.25;
/** Query rotations up to this size run on the calling thread in searchAsync: tens of microseconds, less than a worker round trip. */
const ROTATE_HERE_MULTIPLY_ADDS = 1 << 16;
/** Most candidate bytes re-scored per step. */
const RERANK_CHUNK_BYTES = 32 << 20;
/**
 * Chunks of a source that scores in place (a mapped file) are smaller: searchAsync scores them on
 * the event loop's thread, about a millisecond each, and lets the loop through between them.
 */
const IN_PLACE_CHUNK_BYTES = 2 << 20;

export interface CodedIndexOptions {
  /** 'l2' (default) or 'ip'. */
  metric?: Metric;
  /** Default re-ranking factor when refine vectors are attached (default 1, as Faiss's IndexRefine k_factor). */
  refineFactor?: number;
  /** Full vectors for re-ranking, kept outside the index (see setRefineVectors). */
  refine?: RefineVectors;
}

export interface IVFCodedOptions extends CodedIndexOptions {
  /** Inverted lists; default ⌈√N⌉ of the training set. */
  nlist?: number;
  /** Search the centroids through an HNSW graph (Faiss's IVF{n}_HNSW{M}) instead of scanning them all. */
  hnsw?: HNSWQuantizerOptions;
}

export interface PQOptions {
  /** Sub-quantizers: bytes per code; must divide the dimension. */
  m: number;
  /** Bits per sub-code: 8 (default), or 4 for fast scan (Faiss's PQ{m}x4fs; m even, m/2 bytes a code). */
  nbits?: number;
  /** An OPQ rotation in front of the PQ (Faiss's OPQ{m},…): true for Faiss's training defaults, or its settings (./opq.ts). */
  opq?: boolean | OPQOptions;
}

export interface IVFPQOptions extends IVFCodedOptions, PQOptions {
  /**
   * Encode each vector's residual from its list's centroid (default, Faiss's IndexIVFPQ and
   * …x4fsr), or the vector itself (false; Faiss's IVF{n},PQ{m}x4fs): coarser codes, but the
   * query's table serves every list, so a probed list costs no table of its own.
   */
  byResidual?: boolean;
  /**
   * L2 only: precompute ‖C‖² + 2⟨c, C⟩ per list and codeword (nlist·m·ksub floats of RAM) so a
   * probed list costs m·ksub additions instead of a table of ksub·d multiply-adds. 'auto'
   * (default) takes it when it needs at most PRECOMPUTED_TABLE_MAX_BYTES.
   */
  precomputedTable?: boolean | 'auto';
}

/** k-means options of the coarse quantizer and of the codebooks. */
export type CodedTrainOptions = CodecTrainOptions;

type Codec = SQ8Codec | PQCodec | FP16Codec;

/**
 * What the compressed kinds share. Not exported as a class to build from: use SQ8Index,
 * PQIndex, IVFSQ8Index, IVFPQIndex, FP16Index or IVFFP16Index.
 */
export abstract class CodedIndex extends ArenaIndex<CodedSearchParams> {
  abstract override readonly kind: CodedKindName;
  protected readonly codec: Codec;
  /** The coarse quantizer of the inverted-file kinds. */
  private readonly quantizer: CoarseQuantizer | undefined;
  private readonly requestedNlist: number | undefined;
  private readonly precomputedPolicy: boolean | 'auto';
  /** Inverted-file kinds: codes of residuals (vector − its list's centroid), else of the vectors. */
  private readonly residual: boolean;
  /** Made at training: nlist lists (one for the flat kinds), in parts over the arenas. */
  private lists: ListParts | undefined;
  /** Main arena: the codec's scan parameters. */
  private params = 0;
  /** Main arena: IVF-PQ's precomputed table (0 when not used). */
  private precomputed = 0;
  /** What the scanners read, copied into each other arena that holds parts (see shareTo). */
  private copies = new Map<ArenaSlot, { centroids: number; params: number; precomputed: number }>();
  private refineSource: RefineVectors | undefined;
  /** The rows a synchronous re-ranking read by offset (kept: the next search needs as many). */
  private rerankBuffer = new Float32Array(0);
  private ownsRefine = false;
  /** Why recorded refine vectors could not be reopened. */
  private refineProblem: string | undefined;
  /** Re-ranking factor when refine vectors are attached and a search names none. */
  readonly refineFactor: number;
  /** The PQ kinds' OPQ rotation (undefined without one). */
  private readonly opq: OPQMatrix | undefined;
  /** Main arena: the rotation's d×d matrix, which queries and added vectors go through (0 before training). */
  private rotation = 0;
  /** Summary of the last training, for reports. */
  training?: { objective?: number[]; opqObjective?: number[]; trainedOn: number; warnings: string[] };

  protected constructor(
    dim: number,
    options: CodedIndexOptions & {
      nlist?: number;
      precomputedTable?: boolean | 'auto';
      hnsw?: HNSWQuantizerOptions;
      opq?: boolean | OPQOptions;
      byResidual?: boolean;
    },
    codec: Codec,
    inverted: boolean,
  ) {
    super(dim, options.metric ?? 'l2');
    this.codec = codec;
    const opq = options.opq;
    if (opq !== undefined && opq !== false) {
      if (!(codec instanceof PQCodec)) throw invalid('an OPQ rotation goes in front of a PQ codec only');
      if (opq !== true && (opq === null || typeof opq !== 'object')) throw invalid(`opq must be true, false or OPQ settings, got ${String(opq)}`);
      this.opq = new OPQMatrix(dim, codec.m, opq === true ? {} : opq);
    }
    if (options.nlist !== undefined) checkPositiveInt('nlist', options.nlist);
    this.requestedNlist = options.nlist;
    const rf = options.refineFactor ?? 1;
    if (typeof rf !== 'number' || !Number.isFinite(rf) || rf < 1) throw invalid(`refineFactor must be a number ≥ 1, got ${String(rf)}`);
    this.refineFactor = rf;
    const pt = options.precomputedTable ?? 'auto';
    if (pt !== 'auto' && typeof pt !== 'boolean') throw invalid(`precomputedTable must be true, false or 'auto', got ${String(pt)}`);
    this.precomputedPolicy = pt;
    const br = options.byResidual ?? true;
    if (typeof br !== 'boolean') throw invalid(`byResidual must be true or false, got ${String(br)}`);
    this.residual = inverted && br;
    this.quantizer = inverted ? makeQuantizer(this.arenas.main, this.dim, this.code, (p) => this.release(p), options.hnsw) : undefined;
    this.arenas.onNewSlot = (slot) => this.shareTo(slot);
    if (options.refine) this.setRefineVectors(options.refine);
    // a codec with nothing to learn and no coarse quantizer takes vectors at once (Faiss's SQfp16 too)
    if (this.isTrained) this.trained();
  }

  override get isTrained(): boolean {
    return this.codec.isTrained && (this.quantizer?.isTrained ?? true) && (this.opq?.isTrained ?? true);
  }

  /** The OPQ rotation's sub-quantizers and training settings (undefined without one). */
  get opqSettings(): (Required<OPQOptions> & { m: number }) | undefined {
    return this.opq ? { m: this.opq.m, ...this.opq.options } : undefined;
  }

  /** Inverted lists (0 before training); 0 for the flat kinds, which have none. */
  get nlist(): number {
    return this.quantizer?.nlist ?? 0;
  }

  get size(): number {
    return this.lists?.n ?? 0;
  }

  /** Bytes of the code of one vector. */
  get codeSize(): number {
    return this.codec.codeSize(this.dim);
  }

  /**
   * RAM: codes and ids, list offsets, centroids (and their graph), codec parameters and the
   * precomputed table, plus the copies of the last three in each further arena; and an OPQ
   * rotation's d×d floats.
   */
  get memoryBytes(): number {
    const table = this.precomputed ? this.precomputedBytes : 0;
    const copy = (this.quantizer ? this.nlist * this.dim * 4 : 0) + this.codec.memoryBytes + table;
    const rotation = this.opq?.memoryBytes ?? 0;
    return (this.lists?.memoryBytes ?? 0) + (this.quantizer?.memoryBytes ?? 0) + this.codec.memoryBytes + table + rotation + this.copies.size * copy;
  }

  /** The coarse quantizer of the inverted-file kinds (its kind, and for HNSW its graph parameters). */
  get coarseQuantizer(): CoarseQuantizer | undefined {
    return this.quantizer;
  }

  /** Bytes of the attached refine vectors, kept outside the index (0 when none). */
  override get refineBytes(): number {
    return this.refineSource?.bytes ?? 0;
  }

  /** The refine vectors attached, if any. */
  get refineVectors(): RefineVectors | undefined {
    return this.refineSource;
  }

  /** The PQ kinds' codebooks (a copy), m×ksub×dsub; undefined for other kinds and before training. */
  getCodebooks(): Float32Array | undefined {
    return this.codec instanceof PQCodec ? this.codec.getCodebooks() : undefined;
  }

  /** Whether an inverted-file kind encodes residuals (vector − its list's centroid) rather than the vectors. */
  get byResidual(): boolean {
    return this.residual;
  }

  /** Whether IVF-PQ uses the precomputed table (L2). */
  get usesPrecomputedTable(): boolean {
    return this.precomputed !== 0;
  }

  private get pqM(): number {
    return this.codec instanceof PQCodec ? this.codec.m : 0;
  }

  /** Bytes of IVF-PQ's precomputed table, nlist×m×ksub floats (0 for other codecs). */
  private get precomputedBytes(): number {
    return this.codec instanceof PQCodec ? this.nlist * this.codec.m * this.codec.ksub * 4 : 0;
  }

  /**
   * Attaches (or, with undefined, detaches) the full vectors that re-ranking reads: row id of a
   * vector file (VectorFileRefine), or a callback. The index does not copy them.
   */
  setRefineVectors(source: RefineVectors | undefined): void {
    this.assertUsable();
    if (source !== undefined) {
      if (source === null || typeof source !== 'object' || typeof source.read !== 'function') throw invalid('refine vectors must have a read() function');
      if (source.dim !== this.dim) throw invalid(`refine vectors have dimension ${source.dim}, the index ${this.dim}`);
    }
    if (this.ownsRefine) this.refineSource?.close?.();
    this.refineSource = source;
    this.ownsRefine = false;
    this.refineProblem = undefined;
  }

  /** The trained centroids (a copy), nlist×dim; empty for the flat kinds and before training. */
  getCentroids(): Float32Array {
    this.assertUsable(); // a disposed index's arenas belong to another index now
    return this.quantizer?.isTrained ? this.quantizer.centroidsView().slice() : new Float32Array(0);
  }

  /** Sizes of the inverted lists (one list for the flat kinds). */
  listSizes(): Int32Array {
    return this.lists?.sizes() ?? new Int32Array(0);
  }

  listStats(): ListStats {
    return listStats(this.listSizes());
  }

  override describe(options: DescribeOptions = {}): IndexDescription {
    const out: IndexDescription = { ...super.describe(), refineBytes: this.refineBytes };
    if (this.codec instanceof PQCodec) {
      const { m, nbits } = this.codec;
      const of = this.quantizer ? (this.residual ? ', of residuals' : ', of the vectors (not residuals)') : '';
      out.codec =
        nbits === PQ4_NBITS
          ? `PQ${m}x4fs${this.residual ? 'r' : ''}: ${m} sub-quantizers, 4-bit, fast scan (${m / 2} bytes a vector${of})`
          : `PQ${m}: ${m} sub-quantizers, 8-bit (${m} bytes a vector${of})`;
    }
    if (this.quantizer) {
      out.nlist = this.nlist;
      if (options.lists !== false) out.lists = this.listStats();
    }
    return out;
  }

  /**
   * Learns what the kind needs from `vectors` (not added): an OPQ rotation first when the
   * index has one (everything after is learnt on rotated vectors), the coarse centroids
   * (inverted-file kinds), then the codec — SQ8 ranges or PQ codebooks — on the vectors, or
   * for the inverted-file kinds on their residuals. Retraining an index that holds vectors is
   * refused.
   */
  async train(vectors: Float32Array, options: CodedTrainOptions = {}): Promise<void> {
    this.assertUsable();
    if (this.size > 0) throw invalid(`cannot retrain a ${this.kind} index that holds vectors; build a new index`);
    const n = checkVectors(vectors, this.dim, 'training vectors');
    if (n === 0) throw invalid('training needs at least one vector');
    const d = this.dim;
    // guarded: a dispose meanwhile must not give the arenas away before training writes them
    await this.guarded(async () => {
      let objective: number[] | undefined;
      let opqObjective: number[] | undefined;
      const warnings: string[] = [];
      if (this.opq) {
        // the rotation is learnt and applied off this thread: at large d it takes minutes
        opqObjective = (await this.opq.trainOnWorker(vectors, n, options.threads !== undefined ? { threads: options.threads } : {})).objective;
        vectors = await this.opq.applyOnWorkers(vectors, n, options.threads);
      }
      let sample = vectors,
        m = n;
      if (this.quantizer) {
        const nlist = this.requestedNlist ?? Math.max(1, Math.ceil(Math.sqrt(n)));
        const coarse = await this.quantizer.train(vectors, nlist, { ...options, metric: this.metric });
        objective = coarse.objective;
        warnings.push(...coarse.warnings);
        // the codec learns residuals (fp16 learns nothing); PQ's k-means samples at most 256 points per codeword anyway
        if (this.residual && !(this.codec instanceof UntrainedCodec)) {
          let rows: Int32Array | null = null;
          const cap = this.codec instanceof PQCodec ? (options.maxPointsPerCentroid ?? 256) * this.codec.ksub : n;
          if (n > cap) {
            rows = samplePermutation(n, cap, (options.seed ?? 1234) + 17)
              .slice()
              .sort();
            m = cap;
          }
          sample = new Float32Array(m * d);
          if (rows) for (let i = 0; i < m; i++) sample.set(vectors.subarray(rows[i]! * d, (rows[i]! + 1) * d), i * d);
          else sample.set(vectors);
          // on the pool: assigning the sample is m·nlist·d multiply-adds
          subtractCentroids(sample, m, await this.quantizer.assignAsync(sample, m, resolveThreads(options.threads)), this.quantizer.centroidsView(), d);
        }
      }
      const r = this.codec instanceof UntrainedCodec ? { trainedOn: n, warnings: [] } : await this.codec.train(sample, m, options);
      warnings.push(...r.warnings);
      this.trained();
      this.training = { ...(objective ? { objective } : {}), ...(opqObjective ? { opqObjective } : {}), trainedOn: r.trainedOn, warnings };
    });
  }

  /**
   * Copies what the scanners read — centroids (for residuals), codec parameters, the
   * precomputed table — into `slot`'s arena, where its parts are scanned (nothing before
   * training; trained() copies again).
   */
  private shareTo(slot: ArenaSlot): void {
    const old = this.copies.get(slot);
    if (old) for (const p of [old.centroids, old.params, old.precomputed]) if (p) this.release(p, slot);
    this.copies.delete(slot);
    if (slot === this.arenas.main || !this.params) return;
    const main = this.arena,
      a = slot.arena;
    const copy = (ptr: number, bytes: number): number => {
      if (!ptr) return 0;
      const to = a.alloc(Math.max(4, bytes));
      new Uint8Array(a.memory.buffer, to, bytes).set(new Uint8Array(main.memory.buffer, ptr, bytes));
      return to;
    };
    const q = this.quantizer;
    this.copies.set(slot, {
      centroids: q ? copy(q.centroids, q.nlist * this.dim * 4) : 0,
      params: copy(this.params, this.codec.scanParams().byteLength),
      precomputed: copy(this.precomputed, this.precomputedBytes),
    });
  }

  /** Places what the scanner reads (codec parameters, IVF-PQ's table, OPQ's rotation) and makes empty lists. */
  private trained(): void {
    const a = this.arena;
    for (const p of [this.params, this.precomputed, this.rotation]) if (p) this.release(p);
    this.params = this.precomputed = this.rotation = 0;
    if (this.opq) {
      // into the arena the kernels read; the OPQMatrix keeps that copy, not one of its own
      this.rotation = a.alloc(this.dim * this.dim * 4);
      this.opq.storeIn(a.f32(this.rotation, this.dim * this.dim));
    }
    const sp = this.codec.scanParams();
    this.params = a.alloc(Math.max(4, sp.byteLength));
    a.f32(this.params, sp.length).set(sp);
    if (this.codec instanceof PQCodec && this.quantizer && this.residual && this.metric === 'l2') {
      const { m, dsub, ksub } = this.codec;
      const nlist = this.nlist,
        entries = m * ksub;
      const bytes = nlist * entries * 4;
      const want = this.precomputedPolicy === 'auto' ? bytes <= PRECOMPUTED_TABLE_MAX_BYTES : this.precomputedPolicy;
      if (want) {
        // T[l][j][c] = ‖C_jc‖² + 2⟨c_l,j, C_jc⟩ = norms − 2·(−⟨c_l,j, C_jc⟩)
        const table = a.alloc(bytes),
          norms = a.alloc(entries * 4),
          ip = a.alloc(entries * 4);
        try {
          this.K.norms(this.params, entries, dsub, norms);
          for (let l = 0; l < nlist; l++) {
            this.K.pqTables(METRIC_IP, this.quantizer.centroids + l * this.dim * 4, this.params, m, dsub, ksub, ip);
            this.K.madd(entries, norms, -2, ip, table + l * entries * 4);
          }
        } finally {
          a.release(norms);
          a.release(ip);
        }
        this.precomputed = table;
      }
    }
    this.lists?.dispose();
    this.lists = new ListParts(this.arenas, Math.max(1, this.nlist), this.codec.codeSize(this.dim), (slot, p) => this.release(p, slot));
    for (const slot of this.arenas.slots) if (slot !== this.arenas.main) this.shareTo(slot);
  }

  private requireTrained(what: string): ListParts {
    if (!this.lists || !this.isTrained) throw new NitamonoError('NOT_TRAINED', `cannot ${what}: the ${this.kind} index is not trained (call train() first)`);
    return this.lists;
  }

  /**
   * (coarse centroids + the codes scanned) per query, in multiply-adds (PQ: table plus m lookups
   * per code; fast scan: PQ4_LOOKUP_COST of a lookup each).
   */
  queryCost(params?: CodedSearchParams): number {
    const { nprobe = 1, efSearch, allowed } = parseCodedParams(params);
    const d = this.dim,
      nlist = this.nlist,
      pq = this.codec instanceof PQCodec ? this.codec : undefined;
    const scanned = this.quantizer && nlist > 0 ? (this.size * Math.min(nprobe, nlist)) / nlist : this.size;
    const perCode = pq ? pq.m * (pq.nbits === PQ4_NBITS ? PQ4_LOOKUP_COST : 1) : d;
    const tables = pq ? pq.ksub * d * (this.residual && this.metric === 'l2' && !this.precomputed ? Math.min(nprobe, Math.max(1, nlist)) : 1) : 0;
    const probed = (this.quantizer ? this.quantizer.coarseCost(nprobe, efSearch) * d : 0) + tables + scanned * perCode + (this.opq ? d * d : 0);
    // a filtered search scans at most the cheaper of the two (./subset.ts)
    return allowed ? Math.min(probed, nlist * d + tables + Math.min(allowed.length, this.size) * perCode) : probed;
  }

  add(vectors: Float32Array, ids?: ArrayLike<number>): void {
    this.addRows(vectors, ids, this.rowJob(this.requireTrained('add vectors')));
  }

  /** add() with rotation, list assignment and encoding on the worker pool. */
  override async addAsync(vectors: Float32Array, ids?: ArrayLike<number>, options: AddOptions = {}): Promise<void> {
    await this.addRowsAsync(vectors, ids, this.rowJob(this.requireTrained('add vectors')), options.threads);
  }

  /** Rotated by OPQ, assigned (inverted-file kinds), encoded — of residuals for the inverted-file kinds. */
  private rowJob(lists: ListParts): RowJob {
    const q = this.quantizer;
    return {
      lists,
      current: () => this.lists,
      plan: (n) =>
        q ? q.assignPlan(n, this.rotation, this.residual) : { d: this.dim, rotation: this.rotation, coarse: null, batched: batchedFor(n), byResidual: false },
      codec: this.codec,
      spec: (): CodecSpec =>
        this.codec instanceof PQCodec
          ? { name: 'pq', m: this.codec.m, nbits: this.codec.nbits, codebooks: this.codec.getCodebooks()! }
          : this.codec instanceof FP16Codec
            ? { name: 'fp16' }
            : { name: 'sq8', ...this.codec.ranges()! },
    };
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

  /** decode(code) (+ its list's centroid, for residual codes). */
  protected decodeRow(r: number, out: Float32Array): void {
    const { code, list } = this.lists!.code(r);
    this.codec.decode(code, 1, out);
    if (!this.quantizer || !this.residual) {
      this.opq?.reverseInPlace(out, 1);
      return;
    }
    const c = this.quantizer.centroidsView().subarray(list * this.dim, (list + 1) * this.dim);
    for (let j = 0; j < this.dim; j++) out[j] = out[j]! + c[j]!;
    this.opq?.reverseInPlace(out, 1);
  }

  /** R·x of n rows through the main arena's kernels when the index has an OPQ rotation; else the rows themselves. */
  private rotated(x: Float32Array, n: number): Float32Array {
    return this.opq ? rotateRows(this.K, this.arena, this.rotation, this.dim, x, n) : x;
  }

  private plan(lists: ListParts, nprobe: number, ef: number | undefined): ListSearchPlan {
    const q = this.quantizer;
    const main = this.arenas.main;
    const partsIn = (slot: ArenaSlot): IVFLayout[] => {
      const own = slot === main ? { centroids: q ? q.centroids : 0, params: this.params, precomputed: this.precomputed } : this.copies.get(slot)!;
      return this.listLayouts(lists, slot, this.codec.scanner, {
        centroids: own.centroids,
        codecParams: own.params,
        m: this.pqM,
        byResidual: this.residual,
        precomputed: own.precomputed,
      });
    };
    return {
      coarse: q ? q.coarseLayout() : null,
      nprobe,
      ef: q ? q.resolveEf(ef, nprobe) : 0,
      graphScratchBytes: q ? q.searchScratchBytes : 0,
      scratchFloats: LIST_SCANNERS[this.codec.scanner].scratchFloats({ d: this.dim, m: this.pqM } as IVFLayout),
      slots: lists.slotsInUse(),
      partsIn,
    };
  }

  /** nprobe (IVF kinds: default 1, clamped to nlist with a warning; flat kinds: 1, the one list). */
  private probes(params: CodedSearchParams): { nprobe: number; warnings: string[] } {
    const warnings: string[] = [];
    if (!this.quantizer) return { nprobe: 1, warnings };
    let nprobe = params.nprobe ?? 1;
    if (nprobe > this.nlist) {
      warnings.push(`nprobe ${nprobe} is more than nlist ${this.nlist}; using ${this.nlist} (every list)`);
      nprobe = this.nlist;
    }
    return { nprobe, warnings };
  }

  /** The re-ranking factor of a search (undefined: none); refuses one without refine vectors. */
  private refineOf(params: CodedSearchParams): number | undefined {
    const f = params.refineFactor ?? (this.refineSource ? this.refineFactor : undefined);
    if (f !== undefined && !this.refineSource) {
      throw invalid(
        `refineFactor needs the full vectors to re-rank with: ${this.refineProblem ?? `attach them with setRefineVectors() (a vectors file, or a callback); this ${this.kind} index has none`}`,
      );
    }
    return f;
  }

  private finish(r: SearchResult, nprobe: number, warnings: string[]): SearchResult {
    return { ...r, ...(this.quantizer ? { nprobe } : {}), ...(warnings.length ? { warnings } : {}) };
  }

  search(queries: Float32Array, k: number, params?: CodedSearchParams): SearchResult {
    const lists = this.requireTrained('search');
    const p = parseCodedParams(params);
    const { nprobe, warnings } = this.probes(p);
    const refine = this.refineOf(p);
    if (refine !== undefined && !this.refineSource!.readSync) {
      throw invalid('these refine vectors are read asynchronously only: use searchAsync() to re-rank with them');
    }
    const kc = refine === undefined ? k : Math.ceil(refine * k);
    const plan = this.plan(lists, nprobe, p.efSearch);
    const rq = this.rotatedQueries(queries);
    const r = p.allowed
      ? this.searchFilteredHere(rq, kc, this.filterPlans(plan, lists, p.allowed, this.queryCost({ ...p, allowed: undefined })))
      : this.searchListsHere(rq, kc, plan);
    return this.finish(refine === undefined ? r : this.rerankSync(queries, r, k), nprobe, warnings);
  }

  searchAsync(queries: Float32Array, k: number, params?: CodedSearchParams): Promise<SearchResult> {
    const lists = this.requireTrained('search');
    const p = parseCodedParams(params);
    const threads = resolveThreads(p.threads);
    const { nprobe, warnings } = this.probes(p);
    const refine = this.refineOf(p);
    const kc = refine === undefined ? k : Math.ceil(refine * k);
    const plan = this.plan(lists, nprobe, p.efSearch);
    const run = this.rotatedQueriesOnWorkers(queries, threads).then((rq) =>
      p.allowed
        ? this.searchFilteredOnWorkers(rq, kc, threads, this.filterPlans(plan, lists, p.allowed, this.queryCost({ ...p, allowed: undefined })))
        : this.searchListsOnWorkers(rq, kc, threads, plan),
    );
    return run.then(async (r) => this.finish(refine === undefined ? r : await this.rerankAsync(queries, r, k), nprobe, warnings));
  }

  /** The queries the scan compares with the codes: rotated by OPQ (checked first), else as given. */
  private rotatedQueries(queries: Float32Array): Float32Array {
    if (!this.opq) return queries;
    return this.rotated(queries, checkVectors(queries, this.dim, 'queries'));
  }

  /**
   * The same for searchAsync: the rotation, d² multiply-adds a query, runs on the pool workers
   * (the same kernel calls, so the same rows as rotatedQueries), unless it is so small that a
   * round trip to a worker would cost more.
   */
  private async rotatedQueriesOnWorkers(queries: Float32Array, threads: number): Promise<Float32Array> {
    if (!this.opq) return queries;
    const nq = checkVectors(queries, this.dim, 'queries');
    if (nq * this.dim * this.dim <= ROTATE_HERE_MULTIPLY_ADDS) return this.rotated(queries, nq);
    return this.guarded(() => rotateOnWorkers(this.arena, this.rotation, this.dim, queries, nq, threads));
  }

  /**
   * Re-scores the candidates of `cand` with the full vectors: in place where the source can
   * (a mapped file), else read synchronously chunk by chunk into a buffer kept for the next search.
   */
  private rerankSync(queries: Float32Array, cand: SearchResult, k: number): SearchResult {
    const src = this.refineSource!;
    const job = this.rerankJob(queries, cand, k, src.topK !== undefined);
    try {
      for (const c of job.chunks()) {
        if (src.topK) {
          job.scoreInPlace(c, src.topK);
          continue;
        }
        const ids = candidateIds(cand.labels, cand.k, c.q0, c.q1);
        const n = ids.length * this.dim;
        if (this.rerankBuffer.length < n) this.rerankBuffer = new Float32Array(n);
        const vectors = this.rerankBuffer.subarray(0, n);
        src.readSync!(ids, vectors);
        job.score(c, ids, vectors);
      }
      return job.result();
    } finally {
      job.release();
    }
  }

  /**
   * The same without blocking on the disk: a chunk whose rows are all in the page cache is scored
   * in place on this thread (CPU work of the size the scoring of read rows took here before, with
   * the event loop let through between chunks); any other is read on libuv's thread pool first.
   */
  private rerankAsync(queries: Float32Array, cand: SearchResult, k: number): Promise<SearchResult> {
    const src = this.refineSource!;
    // guarded: its arena room must not be given away by a dispose while it awaits reads
    return this.guarded(async () => {
      const job = this.rerankJob(queries, cand, k, false);
      try {
        for (const c of job.chunks()) {
          if (src.topK && src.resident?.(cand.labels.subarray(c.q0 * cand.k, c.q1 * cand.k))) {
            job.scoreInPlace(c, src.topK);
            await new Promise<void>((res) => setImmediate(res));
            continue;
          }
          const ids = candidateIds(cand.labels, cand.k, c.q0, c.q1);
          const vectors = new Float32Array(ids.length * this.dim);
          await src.read(ids, vectors);
          job.score(c, ids, vectors);
        }
        return job.result();
      } finally {
        job.release();
      }
    });
  }

  /**
   * Arena room and steps of a re-ranking: queries go in chunks whose candidates' vectors take
   * at most RERANK_CHUNK_BYTES (IN_PLACE_CHUNK_BYTES); each chunk's distinct candidate ids are read once, in id order.
   * `inPlace`: every chunk is scored in place, so no room for copies of rows is needed.
   */
  private rerankJob(queries: Float32Array, cand: SearchResult, k: number, inPlace: boolean) {
    const d = this.dim,
      nq = cand.nq,
      kc = cand.k,
      a = this.arena;
    const m = Math.max(1, nq);
    const ptrs = [m * k * 4, m * k * 4, m * 4, inPlace ? 0 : kc * d * 4, inPlace ? 0 : kc * 4, inPlace ? 0 : d * 4].map((b) => a.alloc(Math.max(4, b)));
    const block: QueryBlock = { queries: 0, queryNorms: 0, heapsD: ptrs[0]!, heapsI: ptrs[1]!, sizes: ptrs[2]!, k };
    const scratch = { X: ptrs[3]!, ids: ptrs[4]!, q: ptrs[5]! };
    const chunkBytes = this.refineSource?.topK ? IN_PLACE_CHUNK_BYTES : RERANK_CHUNK_BYTES;
    const step = Math.max(1, Math.floor(chunkBytes / Math.max(1, kc * d * 4)));
    let computed = cand.distancesComputed;
    type Chunk = { q0: number; q1: number };
    return {
      *chunks(): Generator<Chunk> {
        for (let q0 = 0; q0 < nq; q0 += step) yield { q0, q1: Math.min(nq, q0 + step) };
      },
      score: (c: Chunk, ids: Int32Array, vectors: Float32Array): void => {
        computed += rescore(this.K, a, this.code, d, queries, cand.labels, kc, c.q0, c.q1, ids, vectors, block, scratch);
      },
      scoreInPlace: (c: Chunk, topK: NonNullable<RefineVectors['topK']>): void => {
        const sizes = a.i32(block.sizes, c.q1);
        for (let i = c.q0; i < c.q1; i++) {
          const labels = cand.labels.subarray(i * kc, (i + 1) * kc);
          sizes[i] = topK(this.code, queries.subarray(i * d, (i + 1) * d), labels, k, this.K.memory, block.heapsD + i * k * 4, block.heapsI + i * k * 4, 0);
          for (let j = 0; j < kc; j++) if (labels[j]! >= 0) computed++;
        }
      },
      result: (): SearchResult => this.collect([{ slot: this.arenas.main, block }], nq, computed),
      release: (): void => {
        for (const p of ptrs) a.release(p);
      },
    };
  }

  // ---- files

  /** The header fields and sections of this kind (codec parameters by name). */
  async save(path: string): Promise<void> {
    const lists = this.lists;
    const parts = lists?.parts ?? [];
    const sections: Record<string, RegionSection> = {};
    if (parts.length === 0) {
      sections['ids'] = { region: 0, view: new Int32Array(0) };
      sections['codes'] = { region: 0, view: new Uint8Array(0) };
    }
    parts.forEach(({ slot, store }, p) => {
      sections[partName('ids', p)] = { region: store.ids, view: store.idsView(), slot };
      sections[partName('codes', p)] = { region: store.codes, view: store.codesView(), slot };
    });
    const trained = this.isTrained;
    if (trained) {
      if (this.codec instanceof SQ8Codec) {
        const r = this.codec.ranges()!;
        sections['sq8Min'] = { region: 0, view: r.min };
        sections['sq8Diff'] = { region: 0, view: r.diff };
      } else if (this.codec instanceof PQCodec) {
        sections['pqCodebooks'] = { region: 0, view: this.codec.getCodebooks()! };
      }
      if (this.opq) sections['opqRotation'] = { region: this.rotation, view: this.arena.f32(this.rotation, this.dim * this.dim) };
      if (this.quantizer) {
        sections['centroids'] = { region: this.quantizer.centroids, view: this.quantizer.centroidsView() };
        if (parts.length === 0) sections['listOffsets'] = { region: 0, view: new Int32Array(this.nlist + 1) };
        parts.forEach(({ slot, store }, p) => {
          sections[partName('listOffsets', p)] = { region: store.offsets, view: store.offsetsView(), slot };
        });
        Object.assign(sections, coarseSections(this.quantizer));
      }
    }
    const many = parts.length > 1;
    const spec = this.quantizer?.spec;
    const v2 = many || (spec !== undefined && spec.kind !== 'flat');
    const codec = this.codec instanceof PQCodec ? { name: 'pq', m: this.codec.m, nbits: this.codec.nbits } : { name: this.codec.name };
    const vectorCodes = this.quantizer !== undefined && !this.residual;
    await this.writeRegions(
      path,
      {
        kind: this.kind,
        version: vectorCodes ? 4 : this.opq ? 3 : v2 ? 2 : 1,
        meta: {
          metric: this.metric,
          dim: this.dim,
          count: this.size,
          nextId: this.nextId,
          codec,
          trained,
          byResidual: this.residual,
          ...(this.quantizer ? { nlist: this.nlist, requestedNlist: this.requestedNlist ?? null } : {}),
          ...(this.codec instanceof PQCodec ? { precomputedTable: this.precomputedPolicy } : {}),
          refineFactor: this.refineFactor,
          refine: this.refineSource?.location ?? null,
          ...(many ? { parts: parts.length } : {}),
          ...(spec && spec.kind !== 'flat' ? { coarse: spec } : {}),
          ...(this.opq ? { opq: this.opqSettings } : {}),
        },
      },
      sections,
    );
  }

  /** Builds an index of `kind` from a parsed container (see loadIndex). */
  static fromContainer(path: string, c: Pick<ContainerFile, 'meta' | 'sections'>, kind: CodedKindName): CodedIndex {
    const meta = rowsMeta(path, c.meta);
    const m = c.meta;
    const codec = m['codec'] as { name?: unknown; m?: unknown; nbits?: unknown } | undefined;
    const pq = kind === 'pq' || kind === 'ivf-pq';
    const codecName = pq ? 'pq' : kind.endsWith('fp16') ? 'fp16' : 'sq8';
    if (!codec || typeof codec !== 'object' || codec.name !== codecName)
      throw badFile(path, `the header names codec ${JSON.stringify(codec)} for a ${kind} index`);
    const refineFactor = typeof m['refineFactor'] === 'number' && (m['refineFactor'] as number) >= 1 ? (m['refineFactor'] as number) : 1;
    const requested = m['requestedNlist'];
    const base = { metric: meta.metric, refineFactor, ...(typeof requested === 'number' && requested > 0 ? { nlist: requested } : {}) };
    const pt = m['precomputedTable'];
    let index: CodedIndex;
    let coarse: ReturnType<typeof readCoarse> | undefined;
    try {
      const opq = m['opq'];
      if (opq !== undefined && (!pq || opq === null || typeof opq !== 'object' || (opq as { m?: unknown }).m !== codec.m))
        throw badFile(path, `the header's OPQ settings ${JSON.stringify(opq)} do not fit a ${kind} index of codec ${JSON.stringify(codec)}`);
      const { m: _m, ...opqOptions } = (opq ?? {}) as OPQOptions & { m?: number };
      const pqOpts = { m: codec.m as number, nbits: codec.nbits as number, ...(opq !== undefined ? { opq: opqOptions } : {}) };
      if (kind.startsWith('ivf-')) {
        coarse = readCoarse(path, m);
        if (coarse.options) Object.assign(base, { hnsw: coarse.options });
      }
      if (kind === 'sq8') index = new SQ8Index(meta.dim, base);
      else if (kind === 'ivf-sq8') index = new IVFSQ8Index(meta.dim, base);
      else if (kind === 'fp16') index = new FP16Index(meta.dim, base);
      else if (kind === 'ivf-fp16') index = new IVFFP16Index(meta.dim, base);
      else if (kind === 'pq') index = new PQIndex(meta.dim, { ...base, ...pqOpts });
      else
        index = new IVFPQIndex(meta.dim, {
          ...base,
          ...pqOpts,
          ...(pt === true || pt === false || pt === 'auto' ? { precomputedTable: pt } : {}),
          ...(m['byResidual'] === false ? { byResidual: false } : {}),
        });
    } catch (err) {
      if (err instanceof NitamonoError && err.code === 'BAD_FILE') throw err;
      throw badFile(path, `invalid parameters in the header: ${(err as Error).message}`);
    }
    const s = c.sections;
    const f32 = (name: string, length: number): Float32Array => {
      const v = s[name];
      if (!v || v.byteLength !== length * 4) throw badFile(path, `section '${name}' is missing or does not match the header`);
      return new Float32Array(v.buffer, v.byteOffset, length);
    };
    try {
      if (m['trained'] === true) {
        const d = meta.dim;
        if (index.codec instanceof SQ8Codec) index.codec.setRanges(f32('sq8Min', d), f32('sq8Diff', d));
        else if (index.codec instanceof PQCodec) index.codec.setCodebooks(f32('pqCodebooks', index.codec.m * index.codec.ksub * index.codec.dsub));
        index.opq?.setMatrix(f32('opqRotation', d * d));
        const parts = partCount(path, m);
        const nl = index.quantizer ? m['nlist'] : 1;
        if (typeof nl !== 'number' || !Number.isSafeInteger(nl) || nl < 1) throw badFile(path, `invalid nlist ${JSON.stringify(nl)} in the header`);
        if (index.quantizer) coarse!.set(path, index.quantizer, f32('centroids', nl * d), nl, s);
        index.trained();
        const cs = index.codeSize;
        let total = 0;
        for (let p = 0; p < parts; p++) {
          const codes = s[partName('codes', p)],
            idv = s[partName('ids', p)];
          const n = idv ? idv.byteLength / 4 : -1;
          if (!codes || !idv || !Number.isInteger(n) || codes.byteLength !== n * cs) {
            throw badFile(path, `code or id section does not match the header (${meta.count} codes of ${cs} bytes)`);
          }
          let offsets: Int32Array = Int32Array.of(0, n);
          if (index.quantizer) {
            const os = s[partName('listOffsets', p)];
            if (!os || os.byteLength !== (nl + 1) * 4) throw badFile(path, `section '${partName('listOffsets', p)}' does not match the header (nlist ${nl})`);
            offsets = new Int32Array(os.buffer, os.byteOffset, nl + 1);
          }
          total += n;
          if (total > meta.count) break;
          const ids = checkIds(new Int32Array(idv.buffer, idv.byteOffset, n), n, (id) => index.idToRow.has(id));
          if (n > 0) {
            if (offsets[0] !== 0 || offsets[offsets.length - 1] !== n) throw badFile(path, 'list offsets are inconsistent');
            for (let l = 0; l + 1 < offsets.length; l++) if (offsets[l]! > offsets[l + 1]!) throw badFile(path, 'list offsets are inconsistent');
            index.lists!.load(codes, ids, offsets);
            index.reindexIds();
            index.noteIds(ids);
          }
        }
        if (total !== meta.count) throw badFile(path, `code or id section does not match the header (${meta.count} codes of ${cs} bytes)`);
      } else if (meta.count > 0) {
        throw badFile(path, `holds ${meta.count} codes but no trained codec`);
      }
    } catch (err) {
      index.dispose();
      if (err instanceof NitamonoError && err.code === 'BAD_FILE') throw err;
      throw badFile(path, (err as Error).message);
    }
    index.nextId = Math.max(index.nextId, meta.nextId);
    const loc = m['refine'] as RefineLocation | null | undefined;
    if (loc && typeof loc === 'object' && typeof loc.file === 'string') {
      try {
        index.setRefineVectors(VectorFileRefine.reopen(loc));
        index.ownsRefine = true;
      } catch (err) {
        index.refineProblem = `the refine vectors this index was saved with cannot be opened: ${(err as Error).message}`;
      }
    }
    return index;
  }

  override dispose(): void {
    if (this.ownsRefine) this.refineSource?.close?.();
    this.refineSource = undefined;
    super.dispose();
  }
}

/** Flat SQ8 (Faiss "SQ8"): d bytes a vector, every code scanned, decoded on the fly in SIMD. */
export class SQ8Index extends CodedIndex {
  readonly kind = 'sq8' as const;
  readonly capabilities = SQ8_CAPABILITIES;
  constructor(dim: number, options: CodedIndexOptions = {}) {
    super(dim, options, new SQ8Codec(dim), false);
  }
}

/** Flat PQ (Faiss "PQ{m}"): m bytes a vector, every code scanned with a per-query table. */
export class PQIndex extends CodedIndex {
  readonly kind = 'pq' as const;
  readonly capabilities = PQ_CAPABILITIES;
  constructor(dim: number, options: CodedIndexOptions & PQOptions) {
    super(dim, options, new PQCodec(dim, options?.m, options?.nbits ?? PQ_NBITS), false);
  }
  get m(): number {
    return (this.codec as PQCodec).m;
  }
}

/** IVF with SQ8 residuals (Faiss "IVF{n},SQ8"). */
export class IVFSQ8Index extends CodedIndex {
  readonly kind = 'ivf-sq8' as const;
  readonly capabilities = SQ8_CAPABILITIES;
  constructor(dim: number, options: IVFCodedOptions = {}) {
    super(dim, options, new SQ8Codec(dim), true);
  }
}

/** IVF with PQ residuals (Faiss "IVF{n},PQ{m}"), with the precomputed table for L2. */
export class IVFPQIndex extends CodedIndex {
  readonly kind = 'ivf-pq' as const;
  readonly capabilities = PQ_CAPABILITIES;
  constructor(dim: number, options: IVFPQOptions) {
    super(dim, options, new PQCodec(dim, options?.m, options?.nbits ?? PQ_NBITS), true);
  }
  get m(): number {
    return (this.codec as PQCodec).m;
  }
}

/** Half-precision rows (Faiss "SQfp16"): 2·d bytes a vector, nothing to train, every row scanned. */
export class FP16Index extends CodedIndex {
  readonly kind = 'fp16' as const;
  readonly capabilities = FP16_CAPABILITIES;
  constructor(dim: number, options: CodedIndexOptions = {}) {
    super(dim, options, new FP16Codec(dim), false);
  }
}

/** IVF with half-precision residuals (Faiss "IVF{n},SQfp16"). */
export class IVFFP16Index extends CodedIndex {
  readonly kind = 'ivf-fp16' as const;
  readonly capabilities = FP16_CAPABILITIES;
  constructor(dim: number, options: IVFCodedOptions = {}) {
    super(dim, options, new FP16Codec(dim), true);
  }
}

function codedKind(name: CodedKindName, caps: IndexCapabilities): IndexKind<CodedSearchParams, CodedIndex> {
  return Object.freeze({
    name,
    capabilities: caps,
    formatVersion: CODED_FORMAT_VERSION,
    parseParams: parseCodedParams,
    fromContainer: (path: string, c: ContainerFile) => CodedIndex.fromContainer(path, c, name),
  });
}

export const sq8Kind = codedKind('sq8', SQ8_CAPABILITIES);
export const pqKind = codedKind('pq', PQ_CAPABILITIES);
export const ivfSq8Kind = codedKind('ivf-sq8', SQ8_CAPABILITIES);
export const ivfPqKind = codedKind('ivf-pq', PQ_CAPABILITIES);
export const fp16Kind = codedKind('fp16', FP16_CAPABILITIES);
export const ivfFp16Kind = codedKind('ivf-fp16', FP16_CAPABILITIES);
