/**
 * The per-kind engine index files: derived caches of the vectors in SQLite.
 *
 * Files, per feature kind K (in the collection folder):
 * - `K.index`        the primary index (flat or IVF, chosen by `collection.json` `index`),
 * - `K.ivf.index`    an IVF built on demand when a flat collection is asked for an IVF search
 *                    (method 'ivf', `nitamono eval`); never built otherwise,
 * - `<file>.json`    a sidecar: the catalog generation the file reflects, its kind, nlist and
 *                    the number of vectors the IVF was trained on.
 *
 * Staleness: sidecar generation < catalog generation → the removals and additions made since are
 * applied (cheap, no retraining) and the file is saved again. A missing, unreadable or
 * mismatching file is rebuilt from SQLite. The index file is written before its sidecar (both
 * atomically), and applying a delta is idempotent, so a crash between the two writes only makes
 * the next open re-apply changes that are already in. An IVF is retrained (a full rebuild) when
 * the collection has grown or shrunk by more than 2× since training, or (primary, `auto`) when it
 * crosses AUTO_FLAT_MAX so flat ↔ IVF switches.
 */
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FlatIndex } from '../search/flat.js';
import { IVFIndex } from '../search/ivf.js';
import { loadIndex } from '../search/load.js';
import { writeFileAtomic } from '../persist/atomic.js';
import type { Catalog } from './catalog.js';
import { AUTO_FLAT_MAX, type CollectionConfig, type FeatureKind } from './config.js';
import type { Progress } from './progress.js';
import { silentProgress } from './progress.js';

export type EngineIndex = FlatIndex | IVFIndex;
export type SlotRole = 'primary' | 'ivf';

export interface Sidecar {
  format: 'nitamono-index-sidecar';
  version: 1;
  feature: FeatureKind;
  generation: number;
  index: 'flat' | 'ivf';
  nlist: number | null;
  trained_n: number | null;
  size: number;
  dim: number;
  saved_at: string;
}

/** Metric of every collection index: squared L2 ("distance", smaller = closer), as in the seed. */
export const COLLECTION_METRIC = 'l2' as const;
const TRAIN_SEED = 42;

export function autoNlist(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(Math.max(1, n))));
}

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

/** Frees `idx` now, or when its last in-flight search finishes. */
export function retireIndex(idx: EngineIndex): void {
  if (inUse.has(idx)) retired.add(idx);
  else idx.dispose();
}

export class IndexSlot {
  index: EngineIndex | undefined;
  /** Catalog generation the in-memory index reflects. */
  generation = -1;
  /** Generation of the file on disk (sidecar), -1 if none. */
  savedGeneration = -1;
  trainedN: number | null = null;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly kind: FeatureKind,
    readonly role: SlotRole,
  ) {}

  get file(): string {
    return join(this.dir, this.role === 'primary' ? `${this.kind}.index` : `${this.kind}.ivf.index`);
  }

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
    return this.index !== undefined && this.generation !== this.savedGeneration;
  }

  dispose(): void {
    if (this.index) retireIndex(this.index);
    this.index = undefined;
    this.generation = -1;
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

/** What the slot should hold for `n` searchable vectors. */
export function wantedKind(slot: IndexSlot, config: CollectionConfig, n: number): { kind: 'flat' | 'ivf'; nlist: number | null } {
  if (slot.role === 'ivf') return { kind: 'ivf', nlist: config.nlist ?? autoNlist(n) };
  const choice = config.index;
  const kind = choice === 'auto' ? (n < AUTO_FLAT_MAX ? 'flat' : 'ivf') : choice;
  return { kind, nlist: kind === 'ivf' ? config.nlist ?? autoNlist(n) : null };
}

export interface EnsureOptions {
  config: CollectionConfig;
  catalog: Catalog;
  dim: number;
  threads?: number;
  progress?: Progress;
  /** Do not read or write files (eval of a read-only collection). */
  memoryOnly?: boolean;
}

/**
 * Brings `slot` up to the catalog's current generation: loads the file if needed, applies the
 * delta, rebuilds when missing, mismatching or (IVF) badly out of balance. Does not save.
 */
export async function ensureSlot(slot: IndexSlot, opts: EnsureOptions): Promise<EngineIndex> {
  // Fast path (every search): one cached, indexed SELECT, without queueing behind the slot's
  // other work. Whatever the slow path does to `slot` happens while the generation or the
  // rebuild policy disagrees, so a match here means the index is current.
  if (slot.index && slot.generation === opts.catalog.generation() && !needsRebuild(slot, opts.config, slot.index.size)) return slot.index;
  return slot.exclusive(async () => {
    const { catalog, dim, config } = opts;
    // Same check again: the work queued before this call may have caught up already.
    let generation = catalog.generation();
    if (slot.index && slot.generation === generation && !needsRebuild(slot, config, slot.index.size)) return slot.index;
    let n = catalog.countByStatus().ok;

    if (!slot.index && !opts.memoryOnly) {
      const side = await readSidecar(slot.sidecarFile);
      if (side && side.dim === dim && side.feature === slot.kind) {
        try {
          const idx = (await loadIndex(slot.file)) as EngineIndex;
          if (idx.dim === dim && idx.kind === side.index) {
            slot.index = idx;
            slot.generation = side.generation;
            slot.savedGeneration = side.generation;
            slot.trainedN = side.trained_n;
          } else {
            idx.dispose();
          }
        } catch {
          // unreadable or corrupt cache: rebuilt below
        }
      }
    }

    if (slot.index && slot.generation !== generation) {
      // Delta: one read transaction so ids and generation are consistent.
      const delta = catalog.db.transaction(() => {
        const g = catalog.generation();
        return { g, removed: catalog.removedSince(slot.generation), added: catalog.vectors(slot.kind, dim, slot.generation) };
      })();
      if (delta.removed.length > 0) slot.index.remove(delta.removed);
      const keep: number[] = [];
      for (let i = 0; i < delta.added.ids.length; i++) if (!slot.index.has(delta.added.ids[i]!)) keep.push(i);
      if (keep.length > 0) {
        if (keep.length === delta.added.ids.length) {
          slot.index.add(delta.added.vectors, delta.added.ids);
        } else {
          const ids = new Int32Array(keep.length);
          const vecs = new Float32Array(keep.length * dim);
          keep.forEach((src, j) => {
            ids[j] = delta.added.ids[src]!;
            vecs.set(delta.added.vectors.subarray(src * dim, (src + 1) * dim), j * dim);
          });
          slot.index.add(vecs, ids);
        }
      }
      slot.generation = delta.g;
      generation = delta.g;
      n = slot.index.size;
    }

    if (needsRebuild(slot, config, n)) await rebuildSlot(slot, opts);
    return slot.index!;
  });
}

/**
 * Rebuild policy: no index yet, the wrong kind for the policy and size, or an IVF whose size has
 * moved more than 2× from what it was trained on (nlist = ⌈√N⌉ would then be far off), or whose
 * nlist differs from an explicitly configured one.
 */
function needsRebuild(slot: IndexSlot, config: CollectionConfig, n: number): boolean {
  const idx = slot.index;
  if (!idx) return true;
  if (idx.kind !== wantedKind(slot, config, n).kind) return true;
  if (idx instanceof IVFIndex) {
    const t = slot.trainedN ?? idx.size;
    if (n > 2 * Math.max(t, 1) || n < t / 2) return true;
    if (config.nlist !== null && idx.nlist !== Math.min(config.nlist, Math.max(1, t))) return true;
  }
  return false;
}

async function rebuildSlot(slot: IndexSlot, opts: EnsureOptions): Promise<void> {
  const { catalog, dim, config } = opts;
  const progress = opts.progress ?? silentProgress;
  const data = catalog.db.transaction(() => ({ g: catalog.generation(), ...catalog.vectors(slot.kind, dim) }))();
  const n = data.ids.length;
  const want = wantedKind(slot, config, n);
  let idx: EngineIndex;
  if (want.kind === 'ivf' && n > 0) {
    const nlist = Math.max(1, Math.min(want.nlist ?? autoNlist(n), n));
    const ivf = new IVFIndex(dim, { metric: COLLECTION_METRIC, nlist });
    const bar = progress.step(`training IVF (k-means, nlist=${nlist}, ${n} vectors)`, 1, '');
    await ivf.train(data.vectors, { seed: TRAIN_SEED, threads: opts.threads });
    bar.increment();
    bar.stop();
    idx = ivf;
    slot.trainedN = n;
  } else {
    // No vectors yet: an IVF cannot be trained, so an empty flat stands in until there are some.
    idx = new FlatIndex(dim, { metric: COLLECTION_METRIC });
    slot.trainedN = null;
  }
  if (n > 0) {
    const bar = progress.step(`adding`, n, `vectors`);
    const chunk = 8192;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      idx.add(data.vectors.subarray(i * dim, (i + m) * dim), data.ids.subarray(i, i + m));
      bar.increment(m);
    }
    bar.stop();
  }
  slot.dispose(); // the old index (freed once no search uses it)
  slot.index = idx;
  slot.generation = data.g;
  slot.savedGeneration = -1; // a new index: the file on disk (if any) is not it
}

/** Saves the slot's index and sidecar if they changed since the last save. */
export async function saveSlot(slot: IndexSlot, force = false): Promise<boolean> {
  return slot.exclusive(async () => {
    if (!slot.index || (!force && !slot.dirty)) return false;
    const idx = slot.index;
    await idx.save(slot.file);
    const side: Sidecar = {
      format: 'nitamono-index-sidecar',
      version: 1,
      feature: slot.kind,
      generation: slot.generation,
      index: idx.kind,
      nlist: idx instanceof IVFIndex ? idx.nlist : null,
      trained_n: slot.trainedN,
      size: idx.size,
      dim: idx.dim,
      saved_at: new Date().toISOString(),
    };
    await writeFileAtomic(slot.sidecarFile, JSON.stringify(side, null, 2) + '\n');
    slot.savedGeneration = slot.generation;
    return true;
  });
}

export async function removeSlotFiles(slot: IndexSlot): Promise<void> {
  for (const f of [slot.file, slot.sidecarFile]) {
    try {
      await unlink(f);
    } catch {
      // already gone
    }
  }
}
