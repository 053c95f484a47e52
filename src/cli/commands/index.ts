/**
 * `nitamono index <dir>` (this file is the index command, not a barrel): adds new and changed
 * images of a folder to a collection and drops deleted ones. Exit 3 when files were skipped, 130
 * (143 on SIGTERM) when interrupted after saving what was committed.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AUTO_FLAT_MAX, Collection, DEFAULT_COLLECTION_PATH, type IndexReport, parseFeatures, parseIndexChoice } from '../../collection/index.js';
import { describeHolder } from '../../collection/writer.js';
import { invalid } from '../../errors.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { collectionPath, intAtLeast } from '../options.js';
import { progressFor } from '../progress-bar.js';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_SKIPPED, EXIT_TERMINATED, printing } from '../run.js';

interface IndexCliOptions {
  collection?: string;
  features?: string;
  index?: string;
  nlist?: number;
  threads?: number;
  json?: boolean;
  retrySkipped?: boolean;
  batch?: number;
  /** false with --no-wait */
  wait?: boolean;
}

function indexJson(r: IndexReport) {
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
    interrupted: r.interrupted,
    took_ms: r.took_ms,
  };
}

function printIndexReport(r: IndexReport): void {
  const out: string[] = [];
  const idx = Object.entries(r.index)
    .map(([k, v]) => `${k}: ${v.kind}${v.nlist ? ` nlist=${v.nlist}` : ''}`)
    .join(', ');
  out.push(
    `${r.interrupted ? 'Interrupted while indexing' : 'Indexed'} ${displayPath(r.root)} into ${displayPath(r.collection)} (${r.features.join(' + ')} features${idx ? `; ${idx}` : ''})`,
  );
  if (r.images === 0 && r.skipped.length === 0 && r.indexed === 0 && r.removed === 0) {
    out.push(`  no images found in ${displayPath(r.root)}: the collection is empty (looked for jpg, jpeg, png, webp, gif, tif, tiff, avif, svg …)`);
  }
  out.push(
    `  new or changed: ${fmtInt(r.indexed)}${r.reused ? ` (${fmtInt(r.reused)} identical to an indexed file, vectors reused)` : ''}${r.changed ? `, of which ${fmtInt(r.changed)} changed` : ''}`,
  );
  out.push(`  unchanged:      ${fmtInt(r.unchanged)}`);
  out.push(`  removed:        ${fmtInt(r.removed)}`);
  out.push(`  skipped:        ${fmtInt(r.skipped.length)}${r.skipped_new ? ` (${fmtInt(r.skipped_new)} new)` : ''}`);
  if (r.ignored) out.push(`  not images:     ${fmtInt(r.ignored)} (other extensions, ignored)`);
  out.push(`  searchable:     ${fmtInt(r.images)} images   took ${fmtMs(r.took_ms)}`);
  if (r.skipped.length > 0) {
    out.push('Skipped files:');
    for (const s of r.skipped) out.push(`  ${displayPath(join(r.root, s.path))}\t${s.code}\t${s.reason}`);
  }
  if (r.interrupted) out.push('Everything committed so far is kept; run the same command again to continue.');
  process.stdout.write(`${out.join('\n')}\n`);
}

async function indexCommand(dir: string, o: IndexCliOptions): Promise<void> {
  const root = resolve(dir);
  if (!existsSync(root)) throw invalid(`folder ${dir} does not exist`);
  if (!statSync(root).isDirectory()) throw invalid(`${dir} is not a folder`);
  const features = parseFeatures(o.features);
  const index = parseIndexChoice(o.index);
  const progress = progressFor(o.json);
  const c = await Collection.open(collectionPath(o), {
    create: true,
    root,
    ...(features ? { features } : {}),
    ...(index ? { index } : {}),
    ...(o.nlist ? { nlist: o.nlist } : {}),
    ...(o.threads ? { threads: o.threads } : {}),
    progress,
    ...(o.wait === false ? { writerWait: 0 } : {}),
    onWriterWait: (h) =>
      process.stderr.write(
        `nitamono: waiting for the other process writing this collection: ${describeHolder(h)} (Ctrl-C to stop; --no-wait to fail instead)\n`,
      ),
  });
  // The first signal lets the current batch commit and the indexes save; a second one quits at once.
  const ac = new AbortController();
  let signals = 0;
  let exitOnSignal = EXIT_INTERRUPTED;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    exitOnSignal = sig === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED;
    if (signals === 1) {
      process.stderr.write('\nnitamono: interrupted — finishing the current batch and saving (Ctrl-C again to quit at once)\n');
      ac.abort();
    } else {
      process.exit(exitOnSignal);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report: IndexReport;
  try {
    report = await c.update({
      ...(features ? { features } : {}),
      ...(index ? { index } : {}),
      ...(o.nlist ? { nlist: o.nlist } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.batch ? { batchSize: o.batch } : {}),
      retrySkipped: Boolean(o.retrySkipped),
      progress,
      signal: ac.signal,
    });
  } finally {
    await c.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (o.json) writeJson(indexJson(report));
  else printIndexReport(report);
  process.exitCode = report.interrupted ? exitOnSignal : report.skipped.length > 0 ? EXIT_SKIPPED : EXIT_OK;
}

export function registerIndexCommand(program: Command): void {
  program
    .command('index')
    .description('index a folder of images (recursively): only new or changed files are processed, deleted files are dropped')
    .argument('<dir>', 'folder of images')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}, or $NITAMONO_COLLECTION)`)
    .option('--features <kinds>', "color, deep or both (default: color for a new collection, else the collection's)")
    .option('--index <kind>', `flat, ivf or auto (flat below ${fmtInt(AUTO_FLAT_MAX)} images)`)
    .option('--nlist <n>', 'IVF lists (default ⌈√N⌉)', intAtLeast('nlist'))
    .option('--threads <t>', 'worker threads for feature extraction and training (default: all cores)', intAtLeast('threads'))
    .option('--retry-skipped', 'try again files that were skipped before, even if unchanged')
    .option('--batch <n>', 'images per SQLite transaction', intAtLeast('batch'))
    .option('--no-wait', 'if another process is writing the collection, fail (exit 2) instead of waiting for it')
    .option('--json', 'print the summary as JSON')
    .action(printing(indexCommand));
}
