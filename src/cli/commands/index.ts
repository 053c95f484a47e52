/**
 * `nitamono index <dir>` (this file is the index command, not a barrel): adds new and changed
 * images of a folder to a collection and drops deleted ones. Exit 3 when files were skipped, 130
 * (143 on SIGTERM) when interrupted after saving what was committed.
 *
 * With `--catalog postgres://…` (cluster mode) the collection is one of the shared catalogue
 * and the extraction jobs go on a Redis queue (`--queue redis://…`) for `nitamono worker`
 * processes: the same sync over ClusterCollection (src/cluster/collection.ts), the same report.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ClusterCollection, type ClusterIndexReport } from '../../cluster/collection.js';
import { parseMemorySize } from '../../collection/auto-index.js';
import { checkTargetRecall, parseIndexFeatures } from '../../collection/config.js';
import { AUTO_FLAT_MAX, Collection, DEFAULT_COLLECTION_PATH, type IndexReport, parseIndexChoice, parseIndexPolicy } from '../../collection/index.js';
import { describeHolder } from '../../collection/writer.js';
import { invalid } from '../../errors.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { clusterCollection, collectionPath, DEFAULT_REDIS, intAtLeast, redisUrl } from '../options.js';
import { progressFor } from '../progress-bar.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_SKIPPED, EXIT_TERMINATED, printing } from '../run.js';

interface IndexCliOptions {
  collection?: string;
  features?: string;
  index?: string;
  nlist?: number;
  memoryBudget?: number;
  targetRecall?: number;
  threads?: number;
  json?: boolean;
  retrySkipped?: boolean;
  batch?: number;
  /** false with --no-wait */
  wait?: boolean;
  catalog?: string;
  queue?: string;
  queueName?: string;
  detach?: boolean;
}

function indexJson(r: IndexReport | ClusterIndexReport) {
  return {
    root: r.root,
    collection: r.collection,
    indexed: r.indexed,
    changed: r.changed,
    reused: r.reused,
    unchanged: r.unchanged,
    removed: r.removed,
    skipped_new: r.skipped_new,
    skipped: r.skipped.map((s) => ({ path: displayPath(join(r.root, s.path)), code: s.code, reason: s.reason })),
    ignored: r.ignored,
    images: r.images,
    features: r.features,
    index: r.index,
    warnings: r.warnings.map((w) => ({ ...w, file: displayPath(w.file) })),
    interrupted: r.interrupted,
    took_ms: r.took_ms,
    ...('queue' in r ? { catalog: r.catalog, queue: r.queue, enqueued: r.enqueued, queued: r.queued } : {}),
  };
}

function printIndexReport(r: IndexReport | ClusterIndexReport): void {
  const out: string[] = [];
  const cluster = 'queue' in r ? r : undefined;
  const idx = Object.entries(r.index)
    .map(([k, v]) => `${k}: ${v.factory ?? v.kind}${v.nlist && !v.factory ? ` nlist=${v.nlist}` : ''}`)
    .join(', ');
  const into = cluster ? `collection ${JSON.stringify(r.collection)} of ${cluster.catalog}` : displayPath(r.collection);
  out.push(
    `${r.interrupted ? 'Interrupted while indexing' : 'Indexed'} ${displayPath(r.root)} into ${into} (${r.features.join(' + ')} features${idx ? `; ${idx}` : ''}${cluster ? `; extraction on queue ${cluster.queue}` : ''})`,
  );
  if (r.images === 0 && r.skipped.length === 0 && r.indexed === 0 && r.removed === 0 && !cluster?.queued) {
    out.push(`  no images found in ${displayPath(r.root)}: the collection is empty (looked for jpg, jpeg, png, webp, gif, tif, tiff, avif, svg …)`);
  }
  out.push(
    `  new or changed: ${fmtInt(r.indexed)}${r.reused ? ` (${fmtInt(r.reused)} identical to an indexed file, vectors reused)` : ''}${r.changed ? `, of which ${fmtInt(r.changed)} changed` : ''}`,
  );
  out.push(`  unchanged:      ${fmtInt(r.unchanged)}`);
  out.push(`  removed:        ${fmtInt(r.removed)}`);
  out.push(`  skipped:        ${fmtInt(r.skipped.length)}${r.skipped_new ? ` (${fmtInt(r.skipped_new)} new)` : ''}`);
  if (r.ignored) out.push(`  not images:     ${fmtInt(r.ignored)} (other extensions, ignored)`);
  if (cluster?.queued) out.push(`  queued:         ${fmtInt(cluster.queued)} for the workers, not waited for (they commit them)`);
  out.push(`  searchable:     ${fmtInt(r.images)} images   took ${fmtMs(r.took_ms)}`);
  for (const [k, v] of Object.entries(r.index)) {
    const t = v.tuning;
    if (!t) continue;
    const set = [t.nprobe !== null ? `nprobe ${t.nprobe}` : '', t.refine_factor !== null ? `refine factor ${t.refine_factor}` : ''].filter(Boolean).join(', ');
    out.push(
      t.reached
        ? `  tuned ${k}:${' '.repeat(Math.max(1, 8 - k.length))}${set} reach 10-recall@10 ${t.recall} (target ${t.target_recall}, ${t.queries} queries from the collection)`
        : `  tuned ${k}:${' '.repeat(Math.max(1, 8 - k.length))}target ${t.target_recall} not reached: best ${t.recall} at ${set} (${t.queries} queries); try another --index`,
    );
  }
  for (const w of r.warnings) {
    out.push(
      `Warning: the learned features "${w.kind}" were not indexed: ${displayPath(w.file)} cannot be used (${w.reason}). Their searches fail until it can; run "nitamono learn --name ${w.kind}" to learn them again. Nothing stored was changed.`,
    );
  }
  if (r.skipped.length > 0) {
    out.push('Skipped files:');
    for (const s of r.skipped) out.push(`  ${displayPath(join(r.root, s.path))}\t${s.code}\t${s.reason}`);
  }
  if (r.interrupted && cluster)
    out.push('Everything committed so far is kept and the queued jobs still run in the workers; run the same command again to wait for them.');
  else if (r.interrupted) out.push('Everything committed so far is kept; run the same command again to continue.');
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * Ctrl-C and SIGTERM while indexing: the first lets the current batch commit and the indexes
 * save (or, in cluster mode, stops waiting for the workers); a second one quits at once.
 */
function interruptible(what: string): { signal: AbortSignal; exitCode: () => number; dispose: () => void } {
  const ac = new AbortController();
  let signals = 0;
  let exitOnSignal = EXIT_INTERRUPTED;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    exitOnSignal = sig === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    if (signals === 1) {
      process.stderr.write(`\nnitamono: interrupted — ${what} (Ctrl-C again to quit at once)\n`);
      ac.abort();
    } else {
      process.exit(exitOnSignal);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    exitCode: () => exitOnSignal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function onWriterWait(h: Parameters<typeof describeHolder>[0]): void {
  process.stderr.write(`nitamono: waiting for the other process writing this collection: ${describeHolder(h)} (Ctrl-C to stop; --no-wait to fail instead)\n`);
}

function finishIndex(o: IndexCliOptions, report: IndexReport | ClusterIndexReport, exitOnSignal: number): void {
  if (o.json) writeJson(indexJson(report));
  else printIndexReport(report);
  // partial success: files skipped, or a learned kind asked for by name left unindexed
  const partial = report.skipped.length > 0 || report.warnings.some((w) => w.asked);
  process.exitCode = report.interrupted ? exitOnSignal : partial ? EXIT_SKIPPED : EXIT_OK;
}

/** `index --catalog`: cluster mode — the shared catalogue, extraction jobs on the queue for `nitamono worker`. */
async function clusterIndexCommand(root: string, o: IndexCliOptions): Promise<void> {
  if (o.threads !== undefined) throw invalid('--threads has no use with --catalog: the workers extract (nitamono worker --threads)');
  if (o.batch !== undefined) throw invalid('--batch has no use with --catalog: the workers commit their jobs themselves');
  if (o.memoryBudget !== undefined || o.targetRecall !== undefined)
    throw invalid('--memory-budget and --target-recall are for a collection folder: cluster mode builds flat or IVF shards (--index flat|ivf|auto)');
  const { extracted: features, learned } = parseIndexFeatures(o.features);
  if (learned.length > 0) throw invalid(`--features ${learned.join(',')}: learned features are for a collection folder, not cluster mode`);
  const index = clusterIndexChoice(o.index);
  const progress = progressFor(o.json);
  const cc = await ClusterCollection.open(o.catalog!, {
    collection: clusterCollection(o),
    queue: redisUrl(o.queue),
    ...(o.queueName !== undefined ? { queueName: o.queueName } : {}),
    ...(o.wait === false ? { writerWait: 0 } : {}),
    onWriterWait,
  });
  // --no-wait means wait for nothing: not for another writer, nor, in cluster mode, for the workers
  const detach = Boolean(o.detach) || o.wait === false;
  const stop = interruptible(detach ? 'stopping before the jobs are queued' : 'no longer waiting for the workers (the queued jobs still run)');
  let report: ClusterIndexReport;
  try {
    report = await cc.index(root, {
      ...(features ? { features } : {}),
      ...(index ? { index } : {}),
      ...(o.nlist ? { nlist: o.nlist } : {}),
      retrySkipped: Boolean(o.retrySkipped),
      ...(detach ? { detach: true } : {}),
      progress,
      signal: stop.signal,
      onEnqueued: ({ jobs, workers, queue }) => {
        if (workers !== 0) return;
        const start = `nitamono worker --catalog … --collection ${cc.name}${o.queue ? ` --queue ${redisUrl(o.queue)}` : ''}`;
        process.stderr.write(
          `nitamono: ${fmtInt(jobs)} extraction jobs are on queue ${queue}, and no worker is connected to it yet: start "${start}" on machines that see ${root}${detach ? '' : ' (waiting for them; Ctrl-C stops waiting, the jobs stay queued)'}\n`,
        );
      },
      onQueueEvent: (e) => {
        if (e.type === 'stalled') {
          process.stderr.write(
            `nitamono: the worker extracting ${e.job.files[0]?.relpath ?? e.job.path} stopped (killed or hung); the job runs again on another worker\n`,
          );
        } else if (e.type === 'unreachable') {
          process.stderr.write(`nitamono: ${e.error}; waiting for it (Ctrl-C stops waiting)\n`);
        } else if (e.type === 'reconnected') {
          process.stderr.write("nitamono: the job queue's Redis answers again\n");
        } else if (e.type === 'requeued') {
          process.stderr.write(
            `nitamono: ${fmtInt(e.jobs.length)} extraction ${e.jobs.length === 1 ? 'job' : 'jobs'} vanished from the queue before running (Redis restarted without its data?): queued again\n`,
          );
        }
      },
    });
  } finally {
    await cc.close();
    stop.dispose();
  }
  finishIndex(o, report, stop.exitCode());
}

async function indexCommand(dir: string, o: IndexCliOptions): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root)) throw invalid(`folder ${dir} does not exist`);
  if (!statSync(root).isDirectory()) throw invalid(`${dir} is not a folder`);
  if (o.catalog !== undefined) return clusterIndexCommand(root, o);
  if (o.queue !== undefined || o.queueName !== undefined || o.detach) throw invalid('--queue, --queue-name and --detach need --catalog (cluster mode)');
  const { extracted: features, learned } = parseIndexFeatures(o.features);
  const index = o.index !== undefined ? parseIndexPolicy(o.index) : undefined;
  const tuning = {
    ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}),
    ...(o.targetRecall !== undefined ? { targetRecall: o.targetRecall } : {}),
  };
  const progress = progressFor(o.json);
  const c = await Collection.open(collectionPath(o), {
    create: true,
    root,
    ...(features ? { features } : {}),
    ...(index ? { index } : {}),
    ...(o.nlist ? { nlist: o.nlist } : {}),
    ...tuning,
    ...(o.threads ? { threads: o.threads } : {}),
    progress,
    ...(o.wait === false ? { writerWait: 0 } : {}),
    onWriterWait,
  });
  const stop = interruptible('finishing the current batch and saving');
  let report: IndexReport;
  try {
    report = await c.update({
      ...(features ? { features } : {}),
      ...(learned.length > 0 ? { learned } : {}),
      ...(index ? { index } : {}),
      ...(o.nlist ? { nlist: o.nlist } : {}),
      ...tuning,
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.batch ? { batchSize: o.batch } : {}),
      retrySkipped: Boolean(o.retrySkipped),
      progress,
      signal: stop.signal,
    });
  } finally {
    await c.close();
    stop.dispose();
  }
  finishIndex(o, report, stop.exitCode());
}

export function registerIndexCommand(program: Command): void {
  program
    .command('index')
    .description('index a folder of images (recursively): only new or changed files are processed, deleted files are dropped')
    .argument('<dir>', 'folder of images')
    .option(
      '--collection <path>',
      `collection folder (default ${DEFAULT_COLLECTION_PATH}, or $NITAMONO_COLLECTION); with --catalog, the collection's name (default "default")`,
    )
    .option(
      '--features <kinds>',
      "color, deep or both (default: color for a new collection, else the collection's); learned names listed too (deep,shapes) must be indexed, or the run exits 3",
    )
    .option(
      '--index <kind>',
      `auto, flat, ivf or a Faiss factory string (IVF1024,SQ8, IVF1024,PQ64,RFlat, SQ8, PQ16, …); auto (the default) is flat below ${fmtInt(AUTO_FLAT_MAX)} images, then IVF, IVF-SQ8 or IVF-PQ re-ranked from the catalogue as --memory-budget allows`,
    )
    .option('--nlist <n>', 'IVF lists (default ⌈√N⌉)', intAtLeast('nlist'))
    .option(
      '--memory-budget <size>',
      'RAM the indexes may take under --index auto, for all feature kinds: bytes or 512MB, 2GB … (powers of 1024); default half the memory available when an index is built',
      (v: string) => parseMemorySize(v),
    )
    .option(
      '--target-recall <r>',
      'tune nprobe (and the re-ranking factor) until 10-recall@10 on queries drawn from the collection reaches r, e.g. 0.95; kept as the search default',
      targetRecall,
    )
    .option('--threads <t>', 'worker threads for feature extraction and training (default: all cores)', intAtLeast('threads'))
    .option('--retry-skipped', 'try again files that were skipped before, even if unchanged')
    .option('--batch <n>', 'images per SQLite transaction', intAtLeast('batch'))
    .option(
      '--no-wait',
      'if another process is writing the collection, fail (exit 2) instead of waiting for it; in cluster mode also return once the jobs are queued (as --detach)',
    )
    .option('--json', 'print the summary as JSON')
    .option(
      '--catalog <url>',
      'cluster mode: the shared catalogue (postgres://user:password@host:port/database); extraction runs in `nitamono worker` processes',
    )
    .option('--queue <url>', `cluster mode: the job queue's Redis (default $NITAMONO_REDIS, else ${DEFAULT_REDIS})`)
    .option('--queue-name <name>', "cluster mode: the queue's name (default: the catalogue's database and the collection, as the workers derive it)")
    .option('--detach', 'cluster mode: return once the extraction jobs are queued; the workers commit them')
    .action(printing(indexCommand));
}

/** --target-recall: a number in (0, 1]. */
function targetRecall(v: string): number {
  const n = Number(v);
  if (v.trim() === '') throw invalid(`--target-recall must be a number in (0, 1], e.g. 0.95, got '${v}'`);
  try {
    return checkTargetRecall(n);
  } catch {
    throw invalid(`--target-recall must be a number in (0, 1], e.g. 0.95, got '${v}'`);
  }
}

/** --index in cluster mode: the shards build flat or IVF indexes only. */
function clusterIndexChoice(v: string | undefined) {
  if (v !== undefined && v !== 'flat' && v !== 'ivf' && v !== 'auto')
    throw invalid(
      `--index with --catalog must be flat, ivf or auto (the shards build flat or IVF indexes; compressed kinds are for a collection folder), not "${v}"`,
    );
  return parseIndexChoice(v);
}
