/**
 * What every index kept in a shared arena has in common, whatever its storage: the arena and
 * its kernels, the id → row map, input checks, query blocks, turning heaps into sorted results,
 * and running a scan on this thread or on the worker pool without freeing memory under it.
 */

import { invalid, NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import { type Kernels, METRIC_IP, METRIC_L2, type MetricCode } from '../kernels/types.js';
import { type ContainerInput, writeContainer } from '../persist/container.js';
import { sortPairs } from '../util/pair-sort.js';
import { splitRange } from '../util/ranges.js';
import { checkDim, checkIds, checkK, checkMetric, checkVectors, MAX_ID } from '../validate.js';
import { type CodecSpec, type Prepared, prepareHere, prepareOnWorkers, type RowPlan } from './add-rows.js';
import { ArenaSet, type ArenaSlot } from './arenas.js';
import type { VectorCodec } from './codec.js';
import { IdRows } from './id-rows.js';
import type { ListParts } from './parts.js';
import { resolveThreads, sharedPool, type Task } from './pool.js';
import {
  BATCH_MIN_QUERIES,
  type CoarseLayout,
  type FlatLayout,
  flatSearchRange,
  GATHER_ROWS,
  type IVFLayout,
  ivfSearchRange,
  LIST_SCANNERS,
  type Probes,
  type QueryBlock,
  reservoirFor,
} from './scan.js';
import { preferSubsetScan, tooFewFound } from './subset.js';
import type { AddOptions, BaseSearchParams, DescribeOptions, IndexCapabilities, IndexDescription, Metric, SearchResult, VectorIndex } from './types.js';

/** What adding to a list kind takes (see ArenaIndex.addRows). */
export interface RowJob {
  /** The lists rows go to; `current()` says which lists the index has when the rows are appended. */
  lists: ListParts;
  current: () => ListParts | undefined;
  /** How a call of n rows is prepared. */
  plan: (n: number) => RowPlan;
  codec: VectorCodec;
  /** The codec's parameters, for the workers. */
  spec: () => CodecSpec;
  /** The codes are the rows' own bytes (IVF-Flat): only lists are prepared, nothing is encoded or copied back. */
  raw?: boolean;
}

function rawCodes(job: RowJob, vectors: Float32Array, p: Prepared): Prepared {
  return job.raw ? { lists: p.lists, codes: new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength) } : p;
}

export function metricCode(metric: Metric): MetricCode {
  return checkMetric(metric) === 'ip' ? METRIC_IP : METRIC_L2;
}

/**
 * A section of an index file written straight from an arena region: `view` lies in `region`
 * (as alloc returned it; 0 for none) of `slot`'s arena (default: the main one).
 */
export interface RegionSection {
  region: number;
  view: ArrayBufferView;
  slot?: ArenaSlot;
}

/** The query block of one arena. */
export interface SlotBlock {
  slot: ArenaSlot;
  block: QueryBlock;
}

/** The query blocks of one call, the main arena's first, and the regions it owns (released when it ends). */
interface Queries {
  blocks: SlotBlock[];
  nq: number;
  ptrs: Array<[ArenaSlot, number]>;
}

/** What a search of list parts (inverted files, and the flat compressed kinds as one list) needs. */
export interface ListSearchPlan {
  /** The coarse step (in the main arena); null for the flat compressed kinds. */
  coarse: CoarseLayout | null;
  nprobe: number;
  /** HNSW candidates (0: exhaustive coarse step). */
  ef: number;
  /** Arena bytes of the coarse step's scratch (the graph search's; 0 for none). */
  graphScratchBytes: number;
  /** The list scanner's f32 scratch per query. */
  scratchFloats: number;
  /** Arenas holding parts. */
  slots: ArenaSlot[];
  /** The parts in an arena, as the scan reads them. */
  partsIn(slot: ArenaSlot): IVFLayout[];
  /** A filtered search's gather scratch per thread (./subset.ts); 0 when unfiltered. */
  gatherBytes?: number;
}

/** An arena's row parts as a flat scan reads them (see ArenaIndex.searchRowsHere); `alloc` takes a region freed when the call ends. */
export type RowLayouts = (slot: ArenaSlot, alloc: (bytes: number) => number) => FlatLayout[];

/**
 * Restricts a flat scan of `L` to its part's allowed rows, copied into the arena at `alloc`'s
 * region: the kernel reads the row list there, one call per query however scattered the rows
 * are (./subset.ts).
 */
export function withAllowedRows(L: FlatLayout, slot: ArenaSlot, rows: Int32Array, alloc: (bytes: number) => number): FlatLayout {
  L.allowedAt = alloc(rows.length * 4);
  L.allowedCount = rows.length;
  new Int32Array(slot.arena.memory.buffer, L.allowedAt, rows.length).set(rows);
  return L;
}

/** A filtered search's plans (see ArenaIndex.filterPlans). */
export interface FilterPlans {
  first: ListSearchPlan;
  fallback?: ListSearchPlan;
  /** |S|: the allowed rows the index holds. */
  rows: number;
}

/** Regions are pinned by arena and offset. */
const regionKey = (slot: ArenaSlot, ptr: number): number => slot.index * 2 ** 32 + ptr;

export abstract class ArenaIndex<P extends BaseSearchParams> implements VectorIndex<P> {
  abstract readonly kind: string;
  abstract readonly capabilities: IndexCapabilities;
  readonly dim: number;
  readonly metric: Metric;
  protected readonly code: MetricCode;
  /** Every arena of the index (./arenas.ts): its data parts, and in the main one what searches share. */
  protected readonly arenas: ArenaSet;
  /** The main arena and its kernels. */
  protected readonly arena: Arena;
  protected readonly K: Kernels;
  /** id → row; rebuilt whenever rows move. */
  protected idToRow = new IdRows();
  protected nextId = 0;
  private inflight = 0;
  /** Synchronous searches' query blocks, per arena, kept for the next small search. */
  private scratch = new Map<ArenaSlot, { block: QueryBlock; nq: number; k: number; ptrs: number[] }>();
  private deferred: Array<[ArenaSlot, number]> = [];
  private syncRegions = new Map<ArenaSlot, Map<string, { ptr: number; bytes: number }>>();
  /** collect()'s merge buffers, kept between searches (grown, never shrunk). */
  private collectScores = new Float32Array(0);
  private collectIds = new Int32Array(0);
  /** Regions saves in flight are writing out (regionKey), with how many saves read each. */
  private pinned = new Map<number, number>();
  /** Saves in flight (they stream views of the arenas). */
  private saving = 0;
  private disposed = false;

  constructor(dim: number, metric: Metric = 'l2') {
    this.dim = checkDim(dim);
    this.metric = metric;
    this.code = metricCode(metric);
    this.arenas = new ArenaSet();
    this.arena = this.arenas.main.arena;
    this.K = this.arenas.main.K;
  }

  /** Arenas the index spans (WebAssembly memories of at most 4 GiB each). */
  get arenaCount(): number {
    return this.arenas.count;
  }

  abstract get size(): number;
  abstract get memoryBytes(): number;
  /** Bytes of full vectors kept outside the index for re-ranking: none unless a kind re-ranks. */
  get refineBytes(): number {
    return 0;
  }
  /** Kinds that need training override this. */
  get isTrained(): boolean {
    return true;
  }

  /** Which kernels run this index ('wasm-simd' or 'reference'). */
  get kernels(): string {
    return this.K.name;
  }

  /** The id of every row (a view of the arena). */
  protected abstract rowIds(): Int32Array;
  /** Writes the vector of row r into `out` (dim floats). */
  protected abstract decodeRow(r: number, out: Float32Array): void;

  abstract add(vectors: Float32Array, ids?: ArrayLike<number>): void;
  /** add() without blocking the event loop on per-vector work; kinds whose add() is a copy add here. */
  async addAsync(vectors: Float32Array, ids?: ArrayLike<number>, _options?: AddOptions): Promise<void> {
    this.add(vectors, ids);
  }
  abstract remove(ids: ArrayLike<number>): number;
  abstract search(queries: Float32Array, k: number, params?: P): SearchResult;
  abstract searchAsync(queries: Float32Array, k: number, params?: P): Promise<SearchResult>;
  abstract queryCost(params?: P): number;
  abstract save(path: string): Promise<void>;

  has(id: number): boolean {
    return this.idToRow.has(id);
  }

  reconstruct(id: number): Float32Array {
    this.assertUsable();
    const r = this.idToRow.get(id);
    if (r === undefined) throw new NitamonoError('NOT_FOUND', `id ${id} is not in the index`);
    const out = new Float32Array(this.dim);
    this.decodeRow(r, out);
    return out;
  }

  /** All stored ids, in row order. */
  ids(): Int32Array {
    this.assertUsable();
    return this.rowIds().slice();
  }

  describe(_options?: DescribeOptions): IndexDescription {
    const d: IndexDescription = { kind: this.kind, dim: this.dim, metric: this.metric, size: this.size, memoryBytes: this.memoryBytes };
    if (this.arenas.count > 1) d.arenas = this.arenas.count;
    return d;
  }

  /**
   * Hands the arenas' memory to the next index (./arenas.ts), at once or, while a search, save
   * or training is in flight, when the last of them settles: nothing they read or write is
   * given away under them.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.recycleWhenIdle();
  }

  private recycleWhenIdle(): void {
    if (this.disposed && this.inflight === 0 && this.saving === 0) this.arenas.dispose();
  }

  /**
   * Writes an index file whose sections are streamed from arena regions in place, and which
   * holds the index as it is at this call whatever the caller does before the promise settles.
   * `sections` must be views taken at this call (synchronously, before any await).
   *
   * The regions are pinned rather than copied: a copy would double the memory of every save
   * (gigabytes for a large index) to guard against changes that are rare. Pinned, a save costs
   * nothing extra unless the index changes meanwhile, and then at most the replaced regions of
   * the sections it writes (one copy of the saved data per save in flight), held until it ends;
   * regions made and replaced while it runs are freed at once, unlike during an async search.
   * This is sound only because saved bytes are never rewritten in place: add/remove/load move
   * rows to fresh regions and free the old ones through release(), which holds back pinned
   * ones, and RowStore.append writes only into spare capacity past the n rows a view covers.
   * The checksum is computed while streaming, so over these same unchanging bytes.
   */
  protected async writeRegions(path: string, file: Omit<ContainerInput, 'sections'>, sections: Record<string, RegionSection>): Promise<void> {
    this.assertUsable();
    const main = this.arenas.main;
    const regions = Object.values(sections)
      .filter((s) => s.region !== 0)
      .map((s) => regionKey(s.slot ?? main, s.region));
    const views: Record<string, ArrayBufferView> = {};
    for (const [name, s] of Object.entries(sections)) views[name] = s.view;
    for (const p of regions) this.pinned.set(p, (this.pinned.get(p) ?? 0) + 1);
    this.saving++;
    try {
      await writeContainer(path, { ...file, sections: views });
    } finally {
      for (const p of regions) {
        const left = this.pinned.get(p)! - 1;
        if (left > 0) this.pinned.set(p, left);
        else this.pinned.delete(p);
      }
      this.saving--;
      this.releaseDeferred();
      this.recycleWhenIdle();
    }
  }

  protected assertUsable(): void {
    if (this.disposed) throw invalid('this index has been disposed');
  }

  /** Checks vectors and ids for add(); returns the ids to store. */
  protected prepareAdd(vectors: Float32Array, ids?: ArrayLike<number>): Int32Array {
    this.assertUsable();
    return this.idsFor(checkVectors(vectors, this.dim, 'vectors to add'), ids);
  }

  /** The ids n added rows get: `ids` checked against those stored, or the next automatic ones. */
  private idsFor(n: number, ids?: ArrayLike<number>): Int32Array {
    if (ids !== undefined) return checkIds(ids, n, (id) => this.idToRow.has(id));
    if (this.nextId + n - 1 > MAX_ID) throw invalid('automatic ids exhausted the int32 range');
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextId + i;
    return out;
  }

  /**
   * add() of the kinds whose rows become lists and codes (./add-rows.ts): prepared on this
   * thread unit by unit, then appended.
   */
  protected addRows(vectors: Float32Array, ids: ArrayLike<number> | undefined, job: RowJob): void {
    const idArr = this.prepareAdd(vectors, ids);
    if (idArr.length === 0) return;
    const n = idArr.length;
    this.appendRows(job.lists, rawCodes(job, vectors, prepareHere(this.K, this.arena, job.plan(n), vectors, n, job.raw ? null : job.codec)), idArr);
  }

  /**
   * addAsync(): the same units prepared on the worker pool (the same lists and codes); this
   * thread checks the input, copies rows in and results out, and appends. Ids are settled at
   * the append, so adds that overlap cannot take the same automatic id.
   */
  protected async addRowsAsync(vectors: Float32Array, ids: ArrayLike<number> | undefined, job: RowJob, threads: number | undefined): Promise<void> {
    const n = this.prepareAdd(vectors, ids).length;
    if (n === 0) return;
    const t = resolveThreads(threads);
    const codec = job.raw ? null : { spec: job.spec(), codeSize: job.codec.codeSize(this.dim) };
    // guarded: a dispose meanwhile must not give away the centroids and rotation the workers read
    const prepared = await this.guarded(() => prepareOnWorkers(this.arena, job.plan(n), vectors, n, codec, t));
    this.assertUsable();
    if (job.current() !== job.lists) throw invalid(`the ${this.kind} index was retrained while vectors were being added to it`);
    this.appendRows(job.lists, rawCodes(job, vectors, prepared), this.idsFor(n, ids));
  }

  private appendRows(lists: ListParts, p: Prepared, ids: Int32Array): void {
    lists.add(p.codes, ids, p.lists);
    this.reindexIds();
    this.noteIds(ids);
  }

  protected noteIds(ids: Int32Array): void {
    for (const id of ids) if (id >= this.nextId) this.nextId = id + 1;
  }

  protected reindexIds(): void {
    this.idToRow.reset(this.rowIds());
  }

  /** The rows holding any of `ids` (absent ids are ignored). */
  protected rowsOf(ids: ArrayLike<number>): Set<number> {
    const rows = new Set<number>();
    for (let i = 0; i < ids.length; i++) {
      const r = this.idToRow.get(ids[i]!);
      if (r !== undefined) rows.add(r);
    }
    return rows;
  }

  /**
   * Copies queries into the main arena and into each of `slots` (the other arenas a search
   * scans), with room for nq heaps of k in each. A synchronous call reuses one scratch block
   * per arena sized for its largest (nq, k) so far: one-query-at-a-time search then allocates
   * nothing. Async calls get their own blocks (several may be in flight).
   */
  protected queryBlock(queries: Float32Array, k: number, reuse = false, slots: readonly ArenaSlot[] = []): Queries {
    this.assertUsable();
    checkK(k);
    const nq = checkVectors(queries, this.dim, 'queries');
    const d = this.dim;
    const all = [this.arenas.main, ...slots.filter((s) => s !== this.arenas.main)];
    const out: Queries = { blocks: [], nq, ptrs: [] };
    for (const slot of all) {
      const a = slot.arena;
      const kept = reuse ? this.scratch.get(slot) : undefined;
      let block: QueryBlock;
      if (kept && kept.nq >= nq && kept.k >= k) {
        block = { ...kept.block, k };
        a.i32(block.sizes, nq).fill(0);
      } else {
        const m = Math.max(1, nq);
        const at = [m * d * 4, m * 4, m * k * 4, m * k * 4, m * 4].map((b) => a.alloc(b));
        block = { queries: at[0]!, queryNorms: at[1]!, heapsD: at[2]!, heapsI: at[3]!, sizes: at[4]!, k };
        if (reuse && nq <= 64) {
          // keep this block as the new scratch instead of releasing it
          if (kept) for (const p of kept.ptrs) this.release(p, slot);
          this.scratch.set(slot, { block, nq: m, k, ptrs: at });
        } else for (const p of at) out.ptrs.push([slot, p]);
      }
      a.f32(block.queries, nq * d).set(queries);
      out.blocks.push({ slot, block });
    }
    return out;
  }

  /**
   * A region of at least `bytes` in `slot`'s arena kept for synchronous searches under `name`
   * (grown, never shrunk): one-query-at-a-time search then allocates nothing.
   */
  protected syncRegion(slot: ArenaSlot, name: string, bytes: number): number {
    let bySlot = this.syncRegions.get(slot);
    if (!bySlot) {
      bySlot = new Map();
      this.syncRegions.set(slot, bySlot);
    }
    const have = bySlot.get(name);
    if (have && have.bytes >= bytes) return have.ptr;
    if (have) this.release(have.ptr, slot);
    const ptr = slot.arena.alloc(Math.max(4, bytes));
    bySlot.set(name, { ptr, bytes });
    return ptr;
  }

  /** Room for `bytes` in `slot`'s arena for the rest of the call that owns `q`. */
  protected callAlloc(q: Queries, slot: ArenaSlot, bytes: number): number {
    const p = slot.arena.alloc(Math.max(4, bytes));
    q.ptrs.push([slot, p]);
    return p;
  }

  /**
   * An exact search of raw rows (a flat index's; IVF-Flat's subset scan) on this thread:
   * `layouts` gives an arena's parts as a flat scan reads them, taking regions with `alloc`.
   * One or a few queries are scanned directly; larger batches use the blocked kernel.
   */
  protected searchRowsHere(queries: Float32Array, k: number, slots: readonly ArenaSlot[], layouts: RowLayouts): SearchResult {
    const q = this.queryBlock(queries, k, true, slots);
    const batched = q.nq >= BATCH_MIN_QUERIES;
    return this.scanHere(q, ({ slot, block }) => {
      let computed = 0;
      for (const L of layouts(slot, (bytes) => this.callAlloc(q, slot, bytes))) computed += flatSearchRange(slot.K, L, block, 0, q.nq, batched);
      return computed;
    });
  }

  /** The same on the worker pool. */
  protected searchRowsOnWorkers(queries: Float32Array, k: number, threads: number, slots: readonly ArenaSlot[], layouts: RowLayouts): Promise<SearchResult> {
    const q = this.queryBlock(queries, k, false, slots);
    const batched = q.nq >= BATCH_MIN_QUERIES;
    return this.scanOnWorkers(q, threads, ({ slot, block }, q0, q1, alloc) => ({ op: 'flat', layouts: layouts(slot, alloc), block, q0, q1, batched }));
  }

  /**
   * Runs `scan` (which returns the distances it computed) on this thread for each arena's
   * block, the main arena's first, and merges the heaps.
   */
  protected scanHere(q: Queries, scan: (sb: SlotBlock) => number): SearchResult {
    try {
      let computed = 0;
      for (const sb of q.blocks) computed += scan(sb);
      return this.collect(q.blocks, q.nq, computed);
    } finally {
      for (const [slot, p] of q.ptrs) slot.arena.release(p);
    }
  }

  /**
   * Runs one task per arena and range of queries on the worker pool and merges the heaps.
   * With `between`, the main arena's tasks run first and `between` prepares each other
   * arena's block from their results (the probes of an inverted file's coarse step) before
   * its tasks run. `task` may take scratch regions with `alloc`; they, and the query blocks,
   * are released when the search ends, whether it succeeded or not, and never while a worker
   * may still write into them. Regions the index replaces meanwhile are kept until then (see
   * release).
   */
  protected scanOnWorkers(
    q: Queries,
    threads: number,
    task: (sb: SlotBlock, q0: number, q1: number, alloc: (bytes: number) => number) => Task,
    between?: (sb: SlotBlock) => void,
  ): Promise<SearchResult> {
    return this.guarded(async () => {
      try {
        const run = async (blocks: SlotBlock[]): Promise<number> => {
          const jobs = blocks.flatMap((sb) =>
            splitRange(q.nq, threads).map(([q0, q1]) => ({
              arena: sb.slot.arena,
              task: task(sb, q0, q1, (bytes) => this.callAlloc(q, sb.slot, bytes)),
            })),
          );
          const counts = await sharedPool().runOn(jobs, threads);
          return counts.reduce((a, b) => a + b, 0);
        };
        let computed: number;
        if (between && q.blocks.length > 1) {
          computed = await run(q.blocks.slice(0, 1));
          for (const sb of q.blocks.slice(1)) between(sb);
          computed += await run(q.blocks.slice(1));
        } else computed = await run(q.blocks);
        return this.collect(q.blocks, q.nq, computed);
      } finally {
        for (const [slot, p] of q.ptrs) slot.arena.release(p);
      }
    });
  }

  /**
   * Merges each query's heaps (one per arena, holding ids) best-first by (score, id) — the
   * order every heap keeps, so k of the union are exactly the k one heap over all rows would
   * keep — and turns scores into distances.
   */
  protected collect(blocks: readonly SlotBlock[], nq: number, computed: number): SearchResult {
    const k = blocks[0]!.block.k;
    const labels = new Int32Array(nq * k).fill(-1);
    const distances = new Float32Array(nq * k).fill(NaN);
    const views = blocks.map(({ slot, block }) => {
      // one `buffer` read: on a shared memory each read makes a new object
      const buf = slot.arena.memory.buffer;
      return {
        hd: new Float32Array(buf, block.heapsD, nq * k),
        hi: new Int32Array(buf, block.heapsI, nq * k),
        sizes: new Int32Array(buf, block.sizes, nq),
      };
    });
    const l2 = this.code === METRIC_L2;
    const room = views.length * k;
    if (this.collectScores.length < room) {
      this.collectScores = new Float32Array(room);
      this.collectIds = new Int32Array(room);
    }
    const cs = this.collectScores,
      ci = this.collectIds;
    for (let i = 0; i < nq; i++) {
      const base = i * k;
      let total = 0;
      for (const v of views) {
        const m = v.sizes[i]!;
        cs.set(v.hd.subarray(base, base + m), total);
        ci.set(v.hi.subarray(base, base + m), total);
        total += m;
      }
      sortPairs(cs, ci, total);
      const take = Math.min(k, total);
      for (let j = 0; j < take; j++) {
        const s = cs[j]!;
        distances[base + j] = l2 ? Math.max(s, 0) : -s;
        labels[base + j] = ci[j]!;
      }
    }
    return { nq, k, labels, distances, distancesComputed: computed };
  }

  /** Probe arrays of every block of `q` (none without a coarse step): the call's own, or the kept ones of synchronous searches. */
  private probesOf(q: Queries, plan: ListSearchPlan, sync: boolean): Map<ArenaSlot, Probes> {
    const out = new Map<ArenaSlot, Probes>();
    if (!plan.coarse) return out;
    const cells = Math.max(1, q.nq * plan.nprobe) * 4;
    const keep = sync && q.nq <= 64;
    const room = (slot: ArenaSlot, name: string): number => (keep ? this.syncRegion(slot, name, cells) : this.callAlloc(q, slot, cells));
    for (const { slot } of q.blocks) out.set(slot, { nprobe: plan.nprobe, d: room(slot, 'probeD'), i: room(slot, 'probeI') });
    return out;
  }

  /** Copies the main arena's probes into `slot`'s. */
  private copyProbes(q: Queries, probes: Map<ArenaSlot, Probes>, slot: ArenaSlot): void {
    const main = this.arenas.main,
      from = probes.get(main),
      to = probes.get(slot);
    if (!from || !to || slot === main) return;
    const n = q.nq * from.nprobe;
    slot.arena.i32(to.i, n).set(main.arena.i32(from.i, n));
    slot.arena.f32(to.d, n).set(main.arena.f32(from.d, n));
  }

  /** A search of list parts on this thread: the coarse step in the main arena, then every arena's parts. */
  protected searchListsHere(queries: Float32Array, k: number, plan: ListSearchPlan): SearchResult {
    const q = this.queryBlock(queries, k, true, plan.slots);
    const main = this.arenas.main;
    const probes = this.probesOf(q, plan, true);
    const graph = plan.coarse?.hnsw ? this.syncRegion(main, 'graph', plan.graphScratchBytes) : 0;
    return this.scanHere(q, ({ slot, block }) => {
      this.copyProbes(q, probes, slot);
      const scratch = plan.scratchFloats ? this.syncRegion(slot, 'scanner', plan.scratchFloats * 4) : 0;
      const coarse = slot === main ? plan.coarse : null;
      const gather = plan.gatherBytes ? this.syncRegion(slot, 'gather', plan.gatherBytes) : 0;
      const parts = plan.partsIn(slot);
      const pool = reservoirFor(parts, k);
      const reservoir = pool ? this.syncRegion(slot, 'reservoir', pool) : 0;
      return ivfSearchRange(slot.K, coarse, parts, block, 0, q.nq, probes.get(slot) ?? null, plan.ef, scratch, graph, gather, reservoir);
    });
  }

  /** The same on the worker pool: the main arena's tasks (coarse step and its parts) first, then the other arenas'. */
  protected searchListsOnWorkers(queries: Float32Array, k: number, threads: number, plan: ListSearchPlan): Promise<SearchResult> {
    const q = this.queryBlock(queries, k, false, plan.slots);
    const main = this.arenas.main;
    const probes = this.probesOf(q, plan, false);
    return this.scanOnWorkers(
      q,
      threads,
      ({ slot, block }, q0, q1, alloc) => {
        const coarse = slot === main ? plan.coarse : null;
        const parts = plan.partsIn(slot);
        const pool = reservoirFor(parts, k);
        return {
          op: 'ivf',
          coarse,
          parts,
          block,
          q0,
          q1,
          probes: probes.get(slot) ?? null,
          ef: plan.ef,
          scratch: plan.scratchFloats ? alloc(plan.scratchFloats * 4) : 0,
          graphScratch: coarse?.hnsw ? alloc(plan.graphScratchBytes) : 0,
          gather: plan.gatherBytes ? alloc(plan.gatherBytes) : 0,
          reservoir: pool ? alloc(pool) : 0,
        };
      },
      plan.coarse ? ({ slot }) => this.copyProbes(q, probes, slot) : undefined,
    );
  }

  /**
   * The plans of a filtered search of list parts (./subset.ts): `first` — the probed scan with
   * rows outside S skipped, or the subset scan when that costs no more than `probedCost` — and
   * the subset scan as `fallback` after a probed one.
   */
  /** The list parts in `slot`'s arena as the scan reads them, with what the index adds (centroids, codec parameters). */
  protected listLayouts(
    lists: ListParts,
    slot: ArenaSlot,
    scanner: IVFLayout['scanner'],
    own: Pick<IVFLayout, 'centroids' | 'codecParams' | 'm' | 'byResidual' | 'precomputed'>,
  ): IVFLayout[] {
    return lists.partsIn(slot).map(({ store: l }) => ({
      metric: this.code,
      d: this.dim,
      n: l.n,
      codes: l.codes,
      codeSize: l.codeSize,
      scanner,
      ids: l.ids,
      nlist: l.nlist,
      listOffsets: l.offsets,
      ...own,
    }));
  }

  protected filterPlans(plan: ListSearchPlan, lists: ListParts, allowed: Int32Array, probedCost: number): FilterPlans {
    const rows = this.idToRow.allowedRows(allowed);
    const byPart = lists.split(rows);
    const gatherBytes = GATHER_ROWS * (lists.codeSize + 4);
    const restrict = (p: ListSearchPlan): ListSearchPlan => ({
      ...p,
      gatherBytes,
      partsIn: (slot) => {
        const out: IVFLayout[] = [];
        const layouts = p.partsIn(slot);
        lists.partsIn(slot).forEach((part, i) => {
          const a = byPart.get(part);
          if (a) out.push({ ...layouts[i]!, allowed: a });
        });
        return out;
      },
    });
    // S's rows wherever they are: every list without a graph, or, when scores do not depend on
    // the list (raw rows), the part's allowed rows at once, no coarse step
    const first = plan.slots[0] && plan.partsIn(plan.slots[0])[0];
    const listFree = first !== undefined && LIST_SCANNERS[first.scanner].listFree === true;
    const everyList =
      plan.coarse && !listFree
        ? { ...plan, coarse: { ...plan.coarse, hnsw: null }, nprobe: plan.coarse.nlist, ef: 0 }
        : { ...plan, coarse: null, nprobe: 1, ef: 0 };
    const subset = restrict({ ...everyList, graphScratchBytes: 0 });
    if (!plan.coarse || preferSubsetScan(rows.length, this.dim, probedCost)) return { first: subset, rows: rows.length };
    return { first: restrict(plan), fallback: subset, rows: rows.length };
  }

  /** A filtered search of list parts on this thread. */
  protected searchFilteredHere(queries: Float32Array, k: number, f: FilterPlans): SearchResult {
    const first = this.searchListsHere(queries, k, f.first);
    if (!f.fallback || !tooFewFound(first.labels, first.nq, k, f.rows)) return first;
    const r = this.searchListsHere(queries, k, f.fallback);
    return { ...r, distancesComputed: r.distancesComputed + first.distancesComputed };
  }

  /** The same on the worker pool. */
  protected async searchFilteredOnWorkers(queries: Float32Array, k: number, threads: number, f: FilterPlans): Promise<SearchResult> {
    const first = await this.searchListsOnWorkers(queries, k, threads, f.first);
    if (!f.fallback || !tooFewFound(first.labels, first.nq, k, f.rows)) return first;
    const r = await this.searchListsOnWorkers(queries, k, threads, f.fallback);
    return { ...r, distancesComputed: r.distancesComputed + first.distancesComputed };
  }

  /**
   * Runs async work on the arenas (a search on the workers, a re-ranking, training) while
   * holding off releases of regions it may read and the recycling of a dispose meanwhile.
   */
  protected async guarded<T>(fn: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await fn();
    } finally {
      this.inflight--;
      this.releaseDeferred();
      this.recycleWhenIdle();
    }
  }

  /**
   * Frees an index region of `slot`'s arena (default: the main one) now, or once nothing in
   * flight reads it: a search may read any region its layout names, a save only the regions
   * it pinned.
   */
  protected release(ptr: number, slot: ArenaSlot = this.arenas.main): void {
    if (this.inflight > 0 || this.pinned.has(regionKey(slot, ptr))) this.deferred.push([slot, ptr]);
    else slot.arena.release(ptr);
  }

  private releaseDeferred(): void {
    if (this.inflight > 0) return;
    const held: Array<[ArenaSlot, number]> = [];
    for (const [slot, p] of this.deferred) {
      if (this.pinned.has(regionKey(slot, p))) held.push([slot, p]);
      else slot.arena.release(p);
    }
    this.deferred = held;
  }
}
