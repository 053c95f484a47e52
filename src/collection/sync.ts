/**
 * `update()`: brings the catalogue and the index files in line with the root folder. Scan →
 * select → hash → plan (pure, ../ingest/plan.ts) → cheap writes → extraction jobs committed in
 * batches → indexes synced and saved. Never throws for a bad image file; an abort finishes the
 * batch in flight, so a killed or interrupted run resumes where it stopped.
 *
 * The same code syncs a collection folder (`collectionTarget`: collection.json, local index
 * files) and a collection of cluster mode (src/cluster/collection.ts: settings in the
 * catalogue, jobs on a queue, no local index): what differs is a `SyncTarget`.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CatalogStore, CatalogWrite, FeatureSpace, NewImage } from '../catalog/types.js';
import { invalid } from '../errors.js';
import { checkDeepModelAvailable, type DeepModel } from '../image/deep.js';
import { type ExtractionJob, extractionJob, InProcessJobRunner, type JobRunner } from '../ingest/jobs.js';
import { type HashedCandidate, planSync, selectCandidates } from '../ingest/plan.js';
import { checkCollectionOptions, type FeatureKind, featureSpace, isLearnedKind, parseIndexPolicy, searchableKinds, sortKinds } from './config.js';
import type { CollectionContext } from './context.js';
import { hashFile, mapLimit, scanFolder } from './folder.js';
import type { Progress } from './progress.js';
import type { IndexReport, IndexWarning, UpdateOptions } from './types.js';
import { DEFAULT_BATCH } from './types.js';

/** Makes the runner of extraction jobs: in-process worker threads unless a queue is plugged in. */
export type JobRunnerFactory = (ctx: CollectionContext, kinds: readonly FeatureKind[]) => JobRunner;

export const inProcessRunner: JobRunnerFactory = (ctx, kinds) => {
  const ex = ctx.extractors.get(kinds);
  ctx.dims.learn(ex.dims);
  // enough jobs in flight to keep every worker's queue full
  return new InProcessJobRunner(ctx.store, (path) => ex.extract(path), Math.max(2, ex.threads * 16));
};

/**
 * What `syncFolder` brings in line with a folder: a catalogue, and the steps that differ between
 * a collection folder and cluster mode (where its settings live, where jobs run, which search
 * indexes this process keeps).
 */
export interface SyncTarget {
  /** The folder of images (absolute). */
  readonly root: string;
  /** What the report names as the collection. */
  readonly name: string;
  readonly store: CatalogStore;
  readonly progress: Progress;
  /** Folders under the root that are not scanned (the collection's own folder). */
  readonly excludeDirs: readonly string[];
  /** Absolute path of a stored root-relative path. */
  absolute(relpath: string): string;
  /** Learned kinds `finish` could not index, and why (filled by finish). */
  readonly warnings?: readonly IndexWarning[];
  /** Applies the run's options to the settings (kinds only added); resolves to the kinds to sync. Called once the root is known to be a folder. */
  prepare(opts: UpdateOptions): Promise<FeatureKind[]>;
  /** The feature space a kind's vectors are stored in. */
  space(kind: FeatureKind): FeatureSpace;
  /** Where this run's extraction jobs run (asked only when there are jobs). */
  runner(kinds: readonly FeatureKind[]): JobRunner;
  /** After the catalogue writes: brings the search indexes this process keeps up to date; resolves to them as the report shows them. */
  finish(kinds: readonly FeatureKind[], progress: Progress): Promise<IndexReport['index']>;
}

/** A collection folder as a SyncTarget: collection.json, jobs from `runnerFor`, the local index files. */
export function collectionTarget(ctx: CollectionContext, runnerFor: JobRunnerFactory = inProcessRunner): SyncTarget {
  const warnings: IndexWarning[] = [];
  let asked: readonly FeatureKind[] = [];
  return {
    root: ctx.config.root,
    name: ctx.path,
    store: ctx.store,
    progress: ctx.progress,
    excludeDirs: [ctx.path],
    warnings,
    absolute: (relpath) => ctx.paths.absolute(relpath),
    async prepare(opts) {
      asked = checkAskedLearned(ctx, opts.learned ?? []);
      await applyConfigChanges(ctx, opts);
      return ctx.config.features;
    },
    space: (kind) => featureSpace(ctx.config, kind),
    runner: (kinds) => runnerFor(ctx, kinds),
    async finish(extracted, progress) {
      await ctx.indexes.sync(extracted, progress);
      // learned kinds follow the deep vectors just committed (derived on read: src/learn/catalog-view.ts)
      const kinds: FeatureKind[] = [...extracted];
      for (const k of searchableKinds(ctx.config)) {
        if (kinds.includes(k)) continue;
        try {
          await ctx.indexes.sync([k], progress);
          kinds.push(k);
        } catch (err) {
          // an unreadable model file fails the indexing of its kind only, said here and in its searches
          const e = err as Error & { code?: string };
          warnings.push({ kind: k, file: join(ctx.path, ctx.config.learned[k]!.file), code: e.code ?? 'ERROR', reason: e.message, asked: asked.includes(k) });
        }
      }
      const index: IndexReport['index'] = {};
      for (const k of kinds) {
        const idx = (await ctx.indexes.primary(k, progress))?.index;
        if (idx) {
          const d = idx.describe({ lists: false });
          const factory = ctx.indexes.loaded(k).primary?.factory;
          const tuning = ctx.indexes.tuning(k);
          index[k] = {
            kind: d.kind,
            size: d.size,
            ...(d.nlist !== undefined ? { nlist: d.nlist } : {}),
            ...(idx.capabilities.compressed && factory ? { factory } : {}),
            ...(tuning ? { tuning } : {}),
          };
        }
      }
      ctx.config.updated_at = new Date().toISOString();
      await ctx.saveConfig();
      return index;
    },
  };
}

/**
 * `checkpoint`: called between extraction batches; it may give the writer lease to another
 * process for a moment (true when it did), after which the batch's files are checked again.
 */
export async function syncFolder(target: SyncTarget, opts: UpdateOptions, checkpoint: () => Promise<boolean> = async () => false): Promise<IndexReport> {
  const t0 = performance.now();
  const progress = opts.progress ?? target.progress;
  const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_BATCH);
  const signal = opts.signal;
  const root = target.root;
  const store = target.store;

  let rootStat: Awaited<ReturnType<typeof stat>>;
  try {
    rootStat = await stat(root);
  } catch {
    throw invalid(`folder ${root} does not exist`);
  }
  if (!rootStat.isDirectory()) throw invalid(`${root} is not a folder`);

  const kinds = await target.prepare(opts);
  const spaces: FeatureSpace[] = kinds.map((k) => target.space(k));

  const report: IndexReport = {
    root,
    collection: target.name,
    indexed: 0,
    changed: 0,
    reused: 0,
    unchanged: 0,
    removed: 0,
    skipped_new: 0,
    skipped: [],
    ignored: 0,
    images: 0,
    features: [...kinds],
    index: {},
    warnings: [],
    interrupted: false,
    took_ms: 0,
  };

  // 1. Scan.
  const scanBar = progress.step('scanning', 0, 'files');
  const scan = await scanFolder(root, { excludeDirs: [...target.excludeDirs], onFile: (n) => scanBar.update(n) });
  scanBar.stop();
  report.ignored = scan.ignored;

  // 2. Compare with the catalogue; hash what may have changed.
  const catalog = await store.summaries(spaces);
  const { unchanged, candidates } = selectCandidates(scan.files, catalog, { retrySkipped: opts.retrySkipped });
  report.unchanged = unchanged;
  const hashBar = progress.step('hashing', candidates.length, 'files');
  const hashed: HashedCandidate[] = await mapLimit(candidates, 4, async (c) => {
    if (signal?.aborted) return { ...c, hashError: 'interrupted' };
    try {
      return { ...c, sha: await hashFile(c.abspath) };
    } catch (err) {
      return { ...c, hashError: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    } finally {
      hashBar.increment();
    }
  });
  hashBar.stop();

  // 3. Plan. An interrupted hash pass plans nothing it did not finish, and deletes nothing.
  const plan = planSync({
    seen: new Set(scan.files.map((f) => f.relpath)),
    unreadableDirs: scan.unreadableDirs,
    candidates: signal?.aborted ? hashed.filter((c) => c.sha !== undefined) : hashed,
    catalog,
    retrySkipped: opts.retrySkipped,
  });
  if (signal?.aborted) plan.deletions = [];

  // 4. Cheap writes first: metadata touches, copies of known content, unreadable files, deletions.
  const row = (c: HashedCandidate, fields: Omit<NewImage, 'relpath' | 'size' | 'mtime_ms' | 'sha256'>): NewImage => ({
    relpath: c.relpath,
    size: c.size,
    mtime_ms: c.mtimeMs,
    sha256: c.sha ?? null,
    ...fields,
  });
  const cheap: CatalogWrite[] = [];
  for (const c of plan.touches) cheap.push({ op: 'touch', id: c.old!.id, size: c.size, mtime_ms: c.mtimeMs });
  const sources = new Map(catalog.map((r) => [r.id, r]));
  for (const { file, from } of plan.reuses) {
    const src = sources.get(from)!;
    cheap.push({
      op: 'put',
      image: row(file, { status: 'ok', width: src.width, height: src.height, format: src.format }),
      copyVectorsFrom: { id: from, spaces },
    });
    report.indexed++;
    report.reused++;
    if (file.old) report.changed++;
  }
  for (const f of plan.failures) {
    cheap.push({ op: 'put', image: row(f.file, { status: 'skipped', error_code: f.code, error_message: f.reason }) });
    report.skipped_new++;
  }
  for (const r of plan.deletions) {
    cheap.push({ op: 'delete', id: r.id });
    report.removed++;
  }
  if (cheap.length > 0) await store.commit(cheap);
  report.unchanged += plan.touches.length;

  // 5. Extraction jobs, committed every `batchSize` images.
  if (plan.extract.length > 0 && !signal?.aborted) {
    const jobs: ExtractionJob[] = plan.extract.map((group) =>
      extractionJob(
        group[0]!.sha!,
        group[0]!.abspath,
        spaces,
        group.map((c) => ({ relpath: c.relpath, size: c.size, mtime_ms: c.mtimeMs })),
      ),
    );
    const changedPaths = new Set(
      plan.extract
        .flat()
        .filter((c) => c.old)
        .map((c) => c.relpath),
    );
    const bar = progress.step('features', jobs.length, 'images');
    let pending: CatalogWrite[] = [];
    let shared = false; // another writer may have written since the plan was made
    const flush = async () => {
      if (pending.length === 0) return;
      let batch = pending;
      pending = [];
      // an image removed meanwhile through the API (it held the lease) is not brought back
      if (shared) batch = await stillWanted(target, batch);
      if (batch.length > 0) await store.commit(batch);
    };
    try {
      for await (const r of target.runner(kinds).run(jobs, signal)) {
        const files = r.job.files;
        if (r.outcome.status === 'failed') report.skipped_new += files.length;
        else {
          report.indexed += files.length;
          // copies of the one image read, or all of them when the content was already stored
          report.reused += r.outcome.status === 'reused' ? files.length : files.length - 1;
          report.changed += files.filter((f) => changedPaths.has(f.relpath)).length;
        }
        pending.push(...r.writes);
        bar.increment();
        if (pending.length >= batchSize) {
          await flush();
          if (await checkpoint()) shared = true;
        }
      }
    } finally {
      await flush();
      bar.stop();
    }
  }
  report.interrupted = Boolean(signal?.aborted);

  // 6. Indexes: whatever search indexes the target keeps, brought up to date.
  report.index = await target.finish(kinds, progress);
  report.warnings = [...(target.warnings ?? [])];

  const counts = await store.countByStatus();
  report.images = counts.ok;
  report.skipped = [
    ...(await store.skipped()).map((r) => ({ path: r.relpath, code: r.error_code ?? 'SKIPPED', reason: r.error_message ?? 'skipped' })),
    ...scan.issues.map((i) => ({ path: i.path, code: i.code, reason: i.reason })),
  ];
  report.took_ms = Math.round(performance.now() - t0);
  return report;
}

/**
 * The writes still wanted after another writer had its turn: a put is dropped when its file is
 * gone, or when its image was removed from the collection (excluded) meanwhile — the plan,
 * made before, must not bring it back.
 */
async function stillWanted(target: SyncTarget, writes: CatalogWrite[]): Promise<CatalogWrite[]> {
  const keep = await Promise.all(
    writes.map(async (w) => {
      if (w.op !== 'put') return true;
      if ((await target.store.byRelpath(w.image.relpath))?.status === 'excluded') return false;
      try {
        await stat(target.absolute(w.image.relpath));
        return true;
      } catch {
        return false;
      }
    }),
  );
  return writes.filter((_, i) => keep[i]);
}

/** Kinds are only ever added; the index policy and nlist may change. */
/** The learned kinds a run names: each must be one of the collection's (checked before anything is written). */
function checkAskedLearned(ctx: CollectionContext, kinds: readonly FeatureKind[]): readonly FeatureKind[] {
  const have = Object.keys(ctx.config.learned).sort();
  for (const k of kinds)
    if (!isLearnedKind(ctx.config, k))
      throw invalid(
        `this collection has no learned features named "${k}" (it has ${have.length > 0 ? have.join(', ') : 'none'}); run "nitamono learn --name ${k}" first`,
      );
  return kinds;
}

async function applyConfigChanges(ctx: CollectionContext, opts: UpdateOptions): Promise<void> {
  const cfg = ctx.config;
  let changed = false;
  if (opts.features) {
    const union = sortKinds([...cfg.features, ...opts.features]);
    if (union.length !== cfg.features.length) {
      if (union.includes('deep') && !cfg.features.includes('deep')) await checkDeepModelAvailable(featureSpace(cfg, 'deep').model as DeepModel);
      cfg.features = union;
      changed = true;
    }
  }
  checkCollectionOptions(opts);
  const index = opts.index !== undefined ? parseIndexPolicy(opts.index) : undefined;
  if (index && index !== cfg.index) {
    cfg.index = index;
    changed = true;
  }
  if (opts.nlist !== undefined && opts.nlist !== cfg.nlist) {
    cfg.nlist = opts.nlist;
    changed = true;
  }
  if (opts.memoryBudget !== undefined && opts.memoryBudget !== cfg.memory_budget) {
    cfg.memory_budget = opts.memoryBudget;
    changed = true;
  }
  if (opts.targetRecall !== undefined && opts.targetRecall !== cfg.target_recall) {
    cfg.target_recall = opts.targetRecall;
    changed = true;
  }
  if (changed) await ctx.saveConfig();
}
