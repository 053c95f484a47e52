/**
 * The per-kind engine index files: derived caches of the vectors in the catalogue.
 *
 * Files, per feature kind K (in the collection folder):
 * - `K.index`        the primary index, of the kind the policy (`collection.json` `index`)
 *                    plans for its size (./auto-index.ts `planIndex`): flat, IVF, or a
 *                    compressed kind (SQ8, PQ, IVF-SQ8, IVF-PQ); those named with `,RFlat` are
 *                    re-ranked with the full vectors read from the catalogue (CatalogRefine), so
 *                    RAM holds their codes only,
 * - `K.ivf.index`    an IVF built on demand when a flat collection is asked for an IVF search
 *                    (method 'ivf', `nitamono eval`); never built otherwise,
 * - `<file>.json`    a sidecar: the catalogue generation the file reflects, its kind and factory
 *                    string, nlist, the number of vectors it was trained on, the memory budget
 *                    it was chosen under, and the search parameters `--target-recall` tuned.
 *
 * Staleness: sidecar generation < catalogue generation → the removals and additions made since
 * are applied (cheap, no retraining) and the file is saved again. A missing, unreadable or
 * mismatching file is rebuilt from the catalogue. The index file is written before its sidecar
 * (both atomically), and applying a delta is idempotent, so a crash between the two writes only
 * makes the next open re-apply changes that are already in. An index is rebuilt when the plan
 * for its current size names another kind or shape (the policy changed; `auto` crossed a size
 * or budget threshold), or when a trained one has grown or shrunk by more than 2× since
 * training. The budget `auto` plans with is the one the index was built under (recorded), so
 * the free memory of the moment never triggers a rebuild by itself; an explicit
 * `memory_budget` is always the one used. Tuning runs after a rebuild, and whenever the target
 * recall changes.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogStore, FeatureSpace } from '../catalog/types.js';
import { writeFileAtomic } from '../persist/atomic.js';
import { indexFactory } from '../search/factory.js';
import { loadIndex } from '../search/load.js';
import type { RefineVectors } from '../search/refine.js';
import { needsTraining, type VectorIndex } from '../search/types.js';
import { autoNlist, COLLECTION_REFINE_FACTOR, defaultMemoryBudget, type IndexPlan, kindBudget, planIndex, sameShape } from './auto-index.js';
import { CatalogRefine } from './catalog-vectors.js';
import { type CollectionConfig, type FeatureKind, indexPolicySpec } from './config.js';
import { type Progress, silentProgress } from './progress.js';
import { type Tuning, tuneIndex } from './tune.js';

export { autoNlist };

/** Any registered index kind; the collection asks it (`kind`, `describe()`, `queryCost()`), never tests its class. */
export type EngineIndex = VectorIndex;
export type SlotRole = 'primary' | 'ivf';

export interface Sidecar {
  format: 'nitamono-index-sidecar';
  version: 1;
  feature: FeatureKind;
  generation: number;
  /** The registered kind of the file ('flat', 'ivf', 'ivf-pq', …). */
  index: string;
  nlist: number | null;
  trained_n: number | null;
  size: number;
  dim: number;
  saved_at: string;
  /** The feature space's model id the vectors came from; absent in files of older versions (then not checked). */
  model?: string;
  /** Faiss factory string of what was built ('IVF317,PQ64,RFlat'); absent in files of older versions. */
  factory?: string;
  /** The collection's memory budget the index was planned under, and this kind's share of it (bytes; absent: none). */
  budget_bytes?: number | null;
  kind_budget_bytes?: number | null;
  /** Why this index (the plan's reason). */
  reason?: string;
  /** The search parameters `--target-recall` chose (null: not tuned). */
  tuning?: Tuning | null;
}

/** Metric of every collection index: squared L2 ("distance", smaller = closer), as in the seed. */
export const COLLECTION_METRIC = 'l2' as const;
const TRAIN_SEED = 42;

// Indexes being searched right now, so a rebuild never frees one under an in-flight search.
const inUse = new Map<EngineIndex, number>();
const retired = new Set<EngineIndex>();

/** Runs `fn` (a search on `idx`) while keeping `idx` alive. */
export async function useIndex<T>(idx: EngineIndex, fn: () => T | Promise<T>): Promise<T> {
  inUse.set(idx, (inUse.get(idx) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    const left = inUse.get(idx)! - 1;
    if (left > 0) inUse.set(idx, left);
    else {
      inUse.delete(idx);
      if (retired.delete(idx)) idx.dispose();
    }
  }
}

/**
 * Frees `idx` once no search uses it. Never synchronously: a caller that has just been handed
 * `idx` (its `await` is resumed in a later microtask) must get to take its lease first.
 */
/** add() with its per-vector work (list assignment, encoding) on the worker pool when the kind has any. */
function addOffThread(idx: EngineIndex, vectors: Float32Array, ids: Int32Array, threads: number): Promise<void> {
  if (idx.addAsync) return idx.addAsync(vectors, ids, { threads });
  idx.add(vectors, ids);
  return Promise.resolve();
}

function retireIndex(idx: EngineIndex): void {
  retired.add(idx);
  setImmediate(() => {
    if (!inUse.has(idx) && retired.delete(idx)) idx.dispose();
  });
}

export class IndexSlot {
  index: EngineIndex | undefined;
  /** Catalogue generation the in-memory index reflects. */
  generation = -1;
  /** Generation of the file on disk (sidecar), -1 if none. */
  savedGeneration = -1;
  trainedN: number | null = null;
  /** Canonical factory string of the index held (null: unknown, a file of an older version). */
  factory: string | null = null;
  /** The collection budget and this kind's share the index was planned under (undefined: none recorded). */
  budgetTotal: number | null | undefined;
  budget: number | null | undefined;
  /** Why the index is of its kind. */
  reason: string | null = null;
  /** Search parameters tuned for `target_recall` (null: not tuned). */
  tuning: Tuning | null = null;
  /** The sidecar changed (tuning) while the index file did not. */
  metaDirty = false;
  /**
   * What the held index was last found current for (checkedKey: generation, the policy's
   * settings, the kinds' dimensions): while they are the same, the plan's verdict is too, so
   * ensure's fast path skips it. Cleared whenever the slot's own state may change.
   */
  checked: string | undefined;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly kind: FeatureKind,
    readonly role: SlotRole,
  ) {
    this.file = join(dir, role === 'primary' ? `${kind}.index` : `${kind}.ivf.index`);
  }

  /** The index file (made once: every search asks for it, through `problems`). */
  readonly file: string;

  get sidecarFile(): string {
    return `${this.file}.json`;
  }

  /** Serialises operations on this slot. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  get dirty(): boolean {
    return this.index !== undefined && (this.generation !== this.savedGeneration || this.metaDirty);
  }

  dispose(): void {
    if (this.index) retireIndex(this.index);
    this.index = undefined;
    this.generation = -1;
    this.checked = undefined;
  }
}

export async function readSidecar(file: string): Promise<Sidecar | undefined> {
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as Sidecar;
    if (s && s.format === 'nitamono-index-sidecar' && typeof s.generation === 'number') return s;
  } catch {
    // missing or broken sidecar: the index is treated as stale
  }
  return undefined;
}

export async function fileBytes(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** The policy a slot follows: the collection's for the primary, IVF for the on-demand auxiliary. */
function policyOf(role: SlotRole, config: CollectionConfig): string {
  return role === 'ivf' ? 'ivf' : config.index;
}

/**
 * The budget a slot plans with: this kind's share of an explicit `memory_budget`; else the
 * share the index was built under (so the free memory of the moment never moves it); else
 * none (an index of an older version, or the auxiliary IVF).
 */
function slotBudget(slot: IndexSlot, config: CollectionConfig, dim: number, dims: readonly number[]): number {
  if (slot.role === 'ivf') return Number.POSITIVE_INFINITY;
  if (config.memory_budget !== null) return kindBudget(config.memory_budget, dim, dims);
  return slot.budget ?? Number.POSITIVE_INFINITY;
}

/** What the slot should hold for `n` vectors, under the budget it plans with. */
function wanted(slot: IndexSlot, config: CollectionConfig, n: number, dim: number, dims: readonly number[]): IndexPlan {
  return planIndex(policyOf(slot.role, config), n, dim, slotBudget(slot, config, dim, dims), config.nlist);
}

/**
 * Rebuild policy: no index yet, the wrong kind or shape for the plan (the policy changed, or
 * `auto` now plans another index for this size and budget), or a trained index whose size has
 * moved more than 2× from what it was trained on (nlist = ⌈√N⌉ would then be far off), or
 * whose nlist differs from an explicitly configured one.
 */
function needsRebuild(slot: IndexSlot, config: CollectionConfig, n: number, dims: readonly number[]): boolean {
  const idx = slot.index;
  if (!idx) return true;
  const plan = wanted(slot, config, n, idx.dim, dims);
  if (idx.kind !== plan.spec.kind) return true;
  if (plan.spec.m !== undefined && (slot.factory === null || !sameShape(slot.factory, plan.spec.description))) return true;
  const nlist = idx.describe({ lists: false }).nlist;
  if (idx.capabilities.trainable && nlist !== undefined) {
    const t = slot.trainedN ?? idx.size;
    if (n > 2 * Math.max(t, 1) || n < t / 2) return true;
    const explicit = (slot.role === 'primary' ? indexPolicySpec(config.index)?.nlist : undefined) ?? config.nlist;
    if (explicit !== null && explicit !== undefined && nlist !== Math.min(explicit, Math.max(1, t))) return true;
  }
  return false;
}

/** Whether the slot's tuning is not the one the configuration asks for. */
function needsTuning(slot: IndexSlot, config: CollectionConfig): boolean {
  if (slot.role !== 'primary' || !slot.index) return false;
  const target = config.target_recall;
  const tunable = slot.index.kind !== 'flat' && slot.index.size > 1;
  if (target === null || !tunable) return slot.tuning !== null;
  return slot.tuning === null || slot.tuning.target_recall !== target;
}

export interface IndexManagerOptions {
  dir: string;
  store: CatalogStore;
  /** The collection's configuration (read at each use: the policy may change). */
  config: () => CollectionConfig;
  space: (kind: FeatureKind) => FeatureSpace;
  dim: (kind: FeatureKind) => Promise<number | undefined>;
  /** The dimension when known without a read (saves an await per search). */
  knownDim?: (kind: FeatureKind) => number | undefined;
  /** The dimensions of every feature kind of the collection that are known (the memory budget is shared by them). */
  kindDims?: () => Promise<number[]>;
  threads: number;
  progress: Progress;
}

/**
 * Holds the loaded indexes of a collection and keeps them in step with the catalogue: loads
 * files, applies deltas, rebuilds, saves. Never writes a file except through `save`.
 */
export class IndexManager {
  private readonly primaries = new Map<FeatureKind, IndexSlot>();
  private readonly aux = new Map<FeatureKind, IndexSlot>();
  /** Index files that could not be written, with the reason (shown as search warnings). */
  private readonly saveProblems = new Map<string, string>();
  /** Things worth telling once (a corrupt file rebuilt), by kind. */
  private readonly notices = new Map<FeatureKind, string[]>();

  /** Why the index files of `kind` could not be saved, if they could not. */
  problems(kind: FeatureKind): string[] {
    const out: string[] = [];
    for (const s of [this.primaries.get(kind), this.aux.get(kind)]) {
      const p = s && this.saveProblems.get(s.file);
      if (p) out.push(p);
    }
    out.push(...(this.notices.get(kind) ?? []));
    this.notices.delete(kind);
    return out;
  }

  constructor(private readonly o: IndexManagerOptions) {}

  private slot(kind: FeatureKind, role: SlotRole): IndexSlot {
    const map = role === 'primary' ? this.primaries : this.aux;
    let s = map.get(kind);
    if (!s) {
      s = new IndexSlot(this.o.dir, kind, role);
      map.set(kind, s);
    }
    return s;
  }

  /** The primary index of `kind`, current with the catalogue; undefined while no dimension is known. */
  async primary(kind: FeatureKind, progress = this.o.progress): Promise<{ slot: IndexSlot; index: EngineIndex } | undefined> {
    const dim = this.o.knownDim?.(kind) ?? (await this.o.dim(kind));
    if (dim === undefined) return undefined;
    const slot = this.slot(kind, 'primary');
    return { slot, index: await this.ensure(slot, dim, progress) };
  }

  /** The inverted file of `kind`: the primary if it is one, else the on-demand auxiliary (saved when first built). */
  async ivf(kind: FeatureKind, progress = this.o.progress, current?: { slot: IndexSlot; index: EngineIndex }): Promise<EngineIndex | undefined> {
    const p = current ?? (await this.primary(kind, progress));
    if (!p) return undefined;
    if (p.index.kind !== 'flat') return p.index; // an approximate index already
    const slot = this.slot(kind, 'ivf');
    const fresh = !slot.index;
    // the primary was just brought to the catalogue's generation: no need to read it again
    const idx = await this.ensure(slot, p.index.dim, progress, p.slot.generation);
    // A search must not fail because its cache file cannot be written (read-only folder, full
    // disk): the index works from memory, and the reason is kept for the caller to show.
    if (fresh) await this.trySave(slot);
    return idx;
  }

  /** The search parameters tuned for the primary index of `kind`, if it was tuned. */
  tuning(kind: FeatureKind): Tuning | null {
    return this.primaries.get(kind)?.tuning ?? null;
  }

  /** Loaded slots (for stats): never loads or builds anything. */
  loaded(kind: FeatureKind): { primary?: IndexSlot; ivf?: IndexSlot } {
    const p = this.primaries.get(kind),
      a = this.aux.get(kind);
    return { ...(p?.index ? { primary: p } : {}), ...(a?.index ? { ivf: a } : {}) };
  }

  /** Brings every primary (and every loaded auxiliary) index up to date and saves what changed. */
  async sync(kinds: readonly FeatureKind[], progress = this.o.progress): Promise<void> {
    for (const k of kinds) {
      const p = await this.primary(k, progress);
      if (p) await this.saveSlot(p.slot);
      const a = this.aux.get(k);
      if (a?.index) {
        await this.ensure(a, a.index.dim, progress);
        await this.saveSlot(a);
      }
    }
  }

  /** Applies catalogue changes (from this or another process) to the indexes held in memory. */
  async refreshLoaded(): Promise<void> {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) if (s.index) await this.ensure(s, s.index.dim, this.o.progress);
  }

  /**
   * Saves every index changed in memory since its last save. A file that cannot be written is
   * recorded (see `problems`), not thrown: these files are caches of the catalogue, rebuilt
   * when missing, and closing a collection must not fail over one.
   */
  async save(): Promise<void> {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) await this.trySave(s);
  }

  private async trySave(slot: IndexSlot): Promise<void> {
    try {
      if (await this.saveSlot(slot)) this.saveProblems.delete(slot.file);
    } catch (err) {
      this.saveProblems.set(
        slot.file,
        `${slot.file} could not be saved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it is rebuilt in memory when needed`,
      );
    }
  }

  dispose(): void {
    for (const s of [...this.primaries.values(), ...this.aux.values()]) s.dispose();
  }

  /** Forgets the indexes of `kind` held in memory (its vectors were replaced: a learned kind re-learned). */
  drop(kind: FeatureKind): void {
    for (const map of [this.primaries, this.aux]) {
      map.get(kind)?.dispose();
      map.delete(kind);
    }
  }

  /** The known dimensions of the collection's kinds, without a read when all are known. */
  private knownDims(): number[] {
    const out: number[] = [];
    for (const k of this.o.config().features) {
      const d = this.o.knownDim?.(k);
      if (d !== undefined) out.push(d);
    }
    return out;
  }

  /**
   * Brings `slot` up to the catalogue's current generation: loads the file if needed, applies
   * the delta, rebuilds when missing or not what the plan asks for (or, trained, badly out of
   * balance), attaches the catalogue as the refine source of indexes re-ranked with it, and
   * tunes it when the target recall asks. Does not save.
   */
  private async ensure(slot: IndexSlot, dim: number, progress: Progress, generation?: number): Promise<EngineIndex> {
    const { store } = this.o;
    // Fast path (every search): the generation (no SQL while nothing was committed:
    // catalog/wal-header.ts; none at all when the caller has just read it), without queueing
    // behind the slot's other work. Whatever the slow path does happens while the generation,
    // the plan or the tuning disagrees, so a match here means the index is current; the plan's
    // verdict is remembered per checkedKey.
    const now = generation ?? (await store.generation());
    if (slot.index !== undefined && slot.generation === now) {
      const config = this.o.config(),
        dims = this.knownDims();
      const key = checkedKey(now, config, dims);
      if (slot.checked === key) return slot.index;
      if (!needsRebuild(slot, config, slot.index.size, dims) && !needsTuning(slot, config) && this.refineMatches(slot, config, dims)) {
        slot.checked = key;
        return slot.index;
      }
    }
    return slot.exclusive(async () => {
      slot.checked = undefined;
      const config = this.o.config();
      const space = this.o.space(slot.kind);
      const dims = (await this.o.kindDims?.()) ?? this.knownDims();
      let generation = await store.generation();
      if (slot.index && slot.generation === generation && !needsRebuild(slot, config, slot.index.size, dims) && !needsTuning(slot, config)) {
        this.attachRefine(slot, config, dims);
        return slot.index;
      }
      let n = await store.okCount();

      if (!slot.index) await this.load(slot, dim);

      if (slot.index && slot.generation !== generation) {
        const delta = await store.changesSince(space, dim, slot.generation);
        if (delta.removed.length > 0) slot.index.remove(delta.removed);
        const keep: number[] = [];
        for (let i = 0; i < delta.added.ids.length; i++) if (!slot.index.has(delta.added.ids[i]!)) keep.push(i);
        if (keep.length === delta.added.ids.length) {
          if (keep.length > 0) await addOffThread(slot.index, delta.added.vectors, delta.added.ids, this.o.threads);
        } else if (keep.length > 0) {
          const ids = new Int32Array(keep.length);
          const vecs = new Float32Array(keep.length * dim);
          keep.forEach((src, j) => {
            ids[j] = delta.added.ids[src]!;
            vecs.set(delta.added.vectors.subarray(src * dim, (src + 1) * dim), j * dim);
          });
          await addOffThread(slot.index, vecs, ids, this.o.threads);
        }
        slot.generation = delta.generation;
        generation = delta.generation;
        n = slot.index.size;
      }

      let data: { ids: Int32Array; vectors: Float32Array } | undefined;
      if (needsRebuild(slot, config, n, dims)) data = await this.rebuild(slot, dim, dims, progress);
      this.attachRefine(slot, config, dims);
      if (needsTuning(slot, config)) await this.tune(slot, dim, config, progress, data);
      return slot.index!;
    });
  }

  /** Whether the slot's refine source is the one its plan asks for (fast-path check). */
  private refineMatches(slot: IndexSlot, config: CollectionConfig, dims: readonly number[]): boolean {
    const idx = slot.index!;
    if (!idx.capabilities.compressed) return true;
    const want = wanted(slot, config, idx.size, idx.dim, dims).spec.refine;
    return want === (refineSourceOf(idx) !== undefined);
  }

  /**
   * Attaches the catalogue as the refine source of a compressed index its plan re-ranks
   * (`,RFlat`), or takes it off one whose plan no longer does; records the plan's factory.
   */
  private attachRefine(slot: IndexSlot, config: CollectionConfig, dims: readonly number[]): void {
    const idx = slot.index;
    if (!idx?.capabilities.compressed) return;
    const plan = wanted(slot, config, idx.size, idx.dim, dims);
    if (plan.spec.kind !== idx.kind) return;
    const setter = (idx as unknown as { setRefineVectors?: (s: RefineVectors | undefined) => void }).setRefineVectors;
    if (typeof setter !== 'function') return;
    const has = refineSourceOf(idx) !== undefined;
    if (plan.spec.refine && !has) setter.call(idx, new CatalogRefine(this.o.store, this.o.space(slot.kind), idx.dim, () => idx.size));
    else if (!plan.spec.refine && has) setter.call(idx, undefined);
    // the same index, now named with or without ',RFlat'
    const base = (slot.factory ?? legacyFactory(idx)).replace(/,RFlat$/i, '');
    const factory = plan.spec.refine ? `${base},RFlat` : base;
    if (slot.factory !== factory) {
      slot.factory = factory;
      slot.metaDirty = true;
    }
  }

  /** Tunes (or untunes) the slot's index for the configured target recall. */
  private async tune(
    slot: IndexSlot,
    dim: number,
    config: CollectionConfig,
    progress: Progress,
    data?: { ids: Int32Array; vectors: Float32Array },
  ): Promise<void> {
    const idx = slot.index!;
    const target = config.target_recall;
    slot.metaDirty = true;
    if (target === null || idx.kind === 'flat' || idx.size < 2) {
      slot.tuning = null;
      return;
    }
    const snap = data ?? (await this.o.store.snapshot(this.o.space(slot.kind), dim));
    const bar = progress.step(`tuning ${slot.factory ?? idx.kind} for recall ${target}`, 1, '');
    try {
      slot.tuning = await tuneIndex(idx, snap.ids, snap.vectors, { target, refine: refineSourceOf(idx) !== undefined, threads: this.o.threads });
    } finally {
      bar.increment();
      bar.stop();
    }
  }

  /** Takes the saved file when its sidecar matches; a bad file is left for the rebuild. */
  private async load(slot: IndexSlot, dim: number): Promise<void> {
    const side = await readSidecar(slot.sidecarFile);
    if (!side || side.dim !== dim || side.feature !== slot.kind) return;
    // another model's vectors (a learned kind learned again) are never loaded
    if (side.model !== undefined && side.model !== this.o.space(slot.kind).model) return;
    try {
      const idx = await loadIndex(slot.file);
      if (idx.dim === dim && idx.kind === side.index) {
        slot.index = idx;
        slot.generation = side.generation;
        slot.savedGeneration = side.generation;
        slot.trainedN = side.trained_n;
        slot.factory = typeof side.factory === 'string' ? side.factory : legacyFactory(idx);
        slot.budgetTotal = side.budget_bytes;
        slot.budget = side.kind_budget_bytes;
        slot.reason = side.reason ?? null;
        slot.tuning = side.tuning ?? null;
      } else {
        idx.dispose();
      }
    } catch (err) {
      // an unreadable or corrupt cache is rebuilt from the catalogue, and said so once
      const said = this.notices.get(slot.kind) ?? [];
      said.push(`${slot.file} was unreadable (${(err as Error).message}); rebuilt from the catalogue`);
      this.notices.set(slot.kind, said);
    }
  }

  /**
   * Builds the index the plan asks for from a snapshot of the catalogue (trained on all of
   * it), and resolves to the snapshot (tuning measures on it). With no budget configured, the
   * default (half the available memory) is resolved now and recorded with the index.
   */
  private async rebuild(
    slot: IndexSlot,
    dim: number,
    dims: readonly number[],
    progress: Progress = silentProgress,
  ): Promise<{ ids: Int32Array; vectors: Float32Array }> {
    const data = await this.o.store.snapshot(this.o.space(slot.kind), dim);
    const n = data.ids.length;
    const config = this.o.config();
    // the budget matters to `auto` only
    const total = slot.role === 'ivf' || config.index !== 'auto' ? null : (config.memory_budget ?? defaultMemoryBudget());
    const budget = total === null ? null : kindBudget(total, dim, dims.length > 0 ? dims : [dim]);
    const plan = planIndex(policyOf(slot.role, config), n, dim, budget ?? Number.POSITIVE_INFINITY, config.nlist);
    const spec = plan.spec;
    const refine = spec.refine ? new CatalogRefine(this.o.store, this.o.space(slot.kind), dim, () => idx.size) : undefined;
    const idx: EngineIndex = indexFactory(dim, spec, {
      metric: COLLECTION_METRIC,
      ...(refine ? { refine, refineFactor: COLLECTION_REFINE_FACTOR } : {}),
    });
    try {
      if (needsTraining(idx)) {
        const bar = progress.step(`training ${plan.factory} (k-means, ${n} vectors)`, 1, '');
        await idx.train!(data.vectors, { seed: TRAIN_SEED, threads: this.o.threads });
        bar.increment();
        bar.stop();
      }
      if (n > 0) {
        const bar = progress.step('adding', n, 'vectors');
        const chunk = 1 << 16;
        for (let i = 0; i < n; i += chunk) {
          const m = Math.min(chunk, n - i);
          await addOffThread(idx, data.vectors.subarray(i * dim, (i + m) * dim), data.ids.subarray(i, i + m), this.o.threads);
          bar.increment(m);
        }
        bar.stop();
      }
    } catch (err) {
      idx.dispose();
      throw err;
    }
    slot.dispose(); // the old index (freed once no search uses it)
    slot.index = idx;
    slot.generation = data.generation;
    slot.savedGeneration = -1; // a new index: the file on disk (if any) is not it
    slot.trainedN = idx.capabilities.trainable ? n : null;
    slot.factory = plan.factory;
    slot.budgetTotal = total;
    slot.budget = budget;
    slot.reason = plan.reason;
    slot.tuning = null;
    return data;
  }

  /** Saves the slot's index and sidecar if they changed since the last save. */
  private saveSlot(slot: IndexSlot): Promise<boolean> {
    return slot.exclusive(async () => {
      if (!slot.index || !slot.dirty) return false;
      const idx = slot.index;
      // a change of the sidecar alone (tuning) leaves the index file as it is
      if (slot.generation !== slot.savedGeneration) await idx.save(slot.file);
      const side: Sidecar = {
        format: 'nitamono-index-sidecar',
        version: 1,
        feature: slot.kind,
        model: this.o.space(slot.kind).model,
        generation: slot.generation,
        index: idx.kind,
        nlist: idx.describe({ lists: false }).nlist ?? null,
        trained_n: slot.trainedN,
        size: idx.size,
        dim: idx.dim,
        saved_at: new Date().toISOString(),
        factory: slot.factory ?? legacyFactory(idx),
        budget_bytes: slot.budgetTotal ?? null,
        kind_budget_bytes: slot.budget ?? null,
        ...(slot.reason !== null ? { reason: slot.reason } : {}),
        tuning: slot.tuning,
      };
      await writeFileAtomic(slot.sidecarFile, `${JSON.stringify(side, null, 2)}\n`);
      slot.savedGeneration = slot.generation;
      slot.metaDirty = false;
      return true;
    });
  }
}

/** Everything besides the slot's own state that the plan's verdict on a held index depends on. */
function checkedKey(generation: number, config: CollectionConfig, dims: readonly number[]): string {
  return `${generation}|${config.index}|${config.nlist}|${config.memory_budget}|${config.target_recall}|${dims.join(',')}`;
}

/** The factory string of an index whose sidecar predates them (flat and IVF files). */
function legacyFactory(idx: EngineIndex): string {
  const nlist = idx.describe({ lists: false }).nlist;
  return idx.kind === 'flat' ? 'Flat' : nlist ? `IVF${nlist},Flat` : idx.kind;
}

/** The refine source attached to a compressed index, if any (asked of the index, never its class). */
function refineSourceOf(idx: EngineIndex): RefineVectors | undefined {
  return (idx as unknown as { refineVectors?: RefineVectors }).refineVectors;
}
