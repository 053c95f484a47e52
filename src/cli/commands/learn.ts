/**
 * `nitamono learn`: teaches the collection its labels (folders or a CSV) — a projection of the
 * deep features trained with a metric-learning loss (src/learn/learn.ts does the work) — and
 * prints the held-out figures before and after.
 */
import type { Command } from 'commander';
import { Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { DEFAULT_LEARNED_NAME, type LearnReport } from '../../learn/learn.js';
import { cliCommand, displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { collectionPath, intAtLeast, listOf } from '../options.js';
import { progressFor } from '../progress-bar.js';
import { printing } from '../run.js';

interface LearnCliOptions {
  collection?: string;
  labels: string;
  holdout?: number;
  seed?: number;
  name?: string;
  dim?: number;
  epochs?: number;
  hidden?: number[];
  json?: boolean;
}

function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1) throw invalid(`--holdout must be a fraction strictly between 0 and 1, e.g. 0.3, got '${v}'`);
  return n;
}

function printLearn(r: LearnReport): void {
  const row = (label: string, b: number, a: number) =>
    `${label.padEnd(14)} ${b.toFixed(3).padStart(7)}  ${a.toFixed(3).padStart(7)}  ${(a - b >= 0 ? '+' : '') + (a - b).toFixed(3)}`;
  const out = [
    `Learned "${r.name}" (version ${r.version}): ${r.head} on the ${r.input.model} features, CosFace loss (s=${r.loss.scale}, m=${r.loss.margin})`,
    `labels: ${r.classes} from ${r.labels_source === 'folders' ? 'folders' : displayPath(r.labels_source)} · ${fmtInt(r.train_images)} training images (${fmtInt(r.validation_images)} of them for early stopping) · ${fmtInt(r.holdout_images)} held out · ${fmtInt(r.unlabelled_images)} unlabelled`,
    `training: ${r.epochs_run} epochs (best ${r.best_epoch}), ${fmtMs(r.train_ms)} on the tfjs ${r.backend} backend`,
    '',
    `held-out images only (${fmtInt(r.holdout_images)} queries, each against the other held-out images):`,
    `${''.padEnd(14)} ${'deep'.padStart(7)}  ${'learned'.padStart(7)}  change`,
    row('precision@10', r.before.precision_at_10, r.after.precision_at_10),
    row('mAP', r.before.map, r.after.map),
    '',
    `Search with it: ${cliCommand()} search IMAGE --features ${r.name}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

async function learnCommand(o: LearnCliOptions): Promise<void> {
  const c = await Collection.open(collectionPath(o), { progress: progressFor(o.json) });
  try {
    const r = await c.learn({
      labels: o.labels,
      ...(o.holdout !== undefined ? { holdout: o.holdout } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.dim !== undefined ? { dim: o.dim } : {}),
      ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
      ...(o.hidden !== undefined ? { hidden: o.hidden } : {}),
    });
    if (o.json) writeJson(r);
    else printLearn(r);
  } finally {
    await c.close();
  }
}

export function registerLearnCommand(program: Command): void {
  program
    .command('learn')
    .description('train a projection of the deep features on your labels (folders or a CSV) and search with it as --features NAME')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option(
      '--labels <source>',
      "folders (each image's folder under the root; images in the root itself are unlabelled) or a CSV file of path,label",
      'folders',
    )
    .option('--holdout <fraction>', 'share of each label held out for the before/after figures (default 0.3)', fraction)
    .option('--seed <n>', 'seed of the split and the training (default 1)', intAtLeast('seed', 0))
    .option('--name <name>', `name of the learned features (default ${DEFAULT_LEARNED_NAME}); learning again replaces them`)
    .option('--dim <d>', 'output dimension (default 128)', intAtLeast('dim', 2))
    .option('--epochs <n>', 'most training epochs (default 40; stops early when validation stops improving)', intAtLeast('epochs'))
    .option('--hidden <widths>', 'hidden layer widths of an MLP head, e.g. 512 (default none: linear)', listOf(intAtLeast('hidden', 2)))
    .option('--json', 'print the report as JSON')
    .action(printing(learnCommand));
}
