/**
 * `learn`: deep metric learning on the user's own labels, on top of the frozen network's stored
 * deep vectors (the CNN is not fine-tuned). Labels → stratified held-out split → a projection
 * head trained with the CosFace loss on a worker thread → the head saved as a versioned model
 * file → its output a searchable feature kind, indexed like the others. The figures reported are
 * over the held-out images only: each a query against the other held-out images, relevant =
 * same label, before (the deep vectors) and after (their projection).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkLearnedName, featureSpace, type LearnedEntry } from '../collection/config.js';
import type { CollectionContext } from '../collection/context.js';
import { gather, retrievalQuality } from '../collection/evaluate.js';
import { type Progress, silentProgress } from '../collection/progress.js';
import { invalid } from '../errors.js';
import { checkInt } from '../validate.js';
import { checkLabels, type LabelledImage, labelsFromCsv, labelsFromFolders, rowsById, splitLabelled } from './labels.js';
import { type HeldOutQuality, LEARNED_FILE_VERSION, type LearnedModel, learnedModelId, saveLearnedModel } from './model-file.js';
import { projectRows } from './project.js';
import { forgetLearnedKind } from './registry.js';
import { trainHead } from './train.js';

export const DEFAULT_LEARNED_NAME = 'learned';

export interface LearnOptions {
  /** 'folders' (the image's folder relative to the root; default) or the path of a CSV of path,label. */
  labels?: string;
  /** Share of each label's images held out for the before/after figures (default 0.3). */
  holdout?: number;
  seed?: number;
  /** Name of the learned kind (default 'learned'). */
  name?: string;
  /** Output dimension (default 128). */
  dim?: number;
  /** Most epochs (default 40); training stops earlier when the validation mAP stops improving. */
  epochs?: number;
  /** Hidden layer widths (default none: a linear head). */
  hidden?: number[];
  scale?: number;
  margin?: number;
  learningRate?: number;
  batch?: number;
  patience?: number;
  progress?: Progress;
}

export interface LearnReport {
  name: string;
  version: number;
  model: string;
  file: string;
  dim: number;
  input: { kind: string; model: string; dim: number };
  labels_source: string;
  classes: number;
  labels: string[];
  train_images: number;
  validation_images: number;
  holdout_images: number;
  unlabelled_images: number;
  holdout_paths: string[];
  before: HeldOutQuality;
  after: HeldOutQuality;
  epochs_run: number;
  best_epoch: number;
  loss: { name: 'cosface'; scale: number; margin: number; final: number };
  head: string;
  backend: string;
  train_ms: number;
  took_ms: number;
}

const DEFAULTS = { holdout: 0.3, seed: 1, dim: 128, epochs: 40, scale: 16, margin: 0.2, learningRate: 0.002, batch: 128, patience: 5 };

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Checks the options before anything is read or written. */
function checkOptions(o: LearnOptions) {
  const name = checkLearnedName(o.name ?? DEFAULT_LEARNED_NAME);
  const holdout = o.holdout ?? DEFAULTS.holdout;
  if (typeof holdout !== 'number' || !(holdout > 0 && holdout < 1))
    throw invalid(`--holdout must be a fraction strictly between 0 and 1, e.g. 0.3, got ${String(holdout)}`);
  const dim = checkInt('--dim', o.dim ?? DEFAULTS.dim, { min: 2, max: 4096 });
  const epochs = checkInt('--epochs', o.epochs ?? DEFAULTS.epochs, { min: 1, max: 10_000 });
  const seed = checkInt('--seed', o.seed ?? DEFAULTS.seed, { min: 0, max: 2 ** 32 - 1 });
  const hidden = (o.hidden ?? []).map((h) => checkInt('--hidden', h, { min: 2, max: 8192 }));
  const batch = checkInt('batch', o.batch ?? DEFAULTS.batch, { min: 2, max: 65536 });
  const patience = checkInt('patience', o.patience ?? DEFAULTS.patience, { min: 1, max: 10_000 });
  const num = (label: string, v: number, ok: (v: number) => boolean) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalid(`${label} out of range: ${String(v)}`);
    return v;
  };
  const scale = num('scale', o.scale ?? DEFAULTS.scale, (v) => v > 0);
  const margin = num('margin', o.margin ?? DEFAULTS.margin, (v) => v >= 0 && v < 1);
  const lr = num('learning rate', o.learningRate ?? DEFAULTS.learningRate, (v) => v > 0 && v < 1);
  return { name, holdout, dim, epochs, seed, hidden, batch, patience, scale, margin, lr, labels: o.labels ?? 'folders' };
}

/**
 * Learns (or re-learns) the kind `name` of the collection. The new model gets a new version and
 * model id, written to a new file before collection.json names it (so a crash leaves the old
 * model in place), and only then is the old file removed. Nothing is stored when an argument,
 * the labels or the training fail.
 */
export async function learnKind(ctx: CollectionContext, opts: LearnOptions = {}): Promise<LearnReport> {
  const t0 = performance.now();
  const o = checkOptions(opts);
  const progress = opts.progress ?? silentProgress;
  const cfg = ctx.config;
  if (!cfg.features.includes('deep'))
    throw invalid(
      `this collection has no deep features to learn from; index it with --features deep (or both) first, e.g. "nitamono index ${cfg.root} --features both"`,
    );

  const rows = await ctx.store.okRows();
  const labelled = o.labels === 'folders' ? labelsFromFolders(rows) : await labelsFromCsv(o.labels, rows);

  const input = featureSpace(cfg, 'deep');
  const d = await ctx.dims.of('deep');
  const snap = d === undefined ? undefined : await ctx.store.snapshot(input, d);
  if (!snap || d === undefined || snap.ids.length === 0) throw invalid('the collection holds no deep vectors yet; run "nitamono index" first');
  const row = rowsById(snap.ids);
  const usable = labelled.filter((im) => row.has(im.id));
  const names = checkLabels(usable);
  const split = splitLabelled(usable, o.holdout, o.seed);
  const labelIndex = new Map(names.map((n, i) => [n, i]));
  const part = (list: LabelledImage[]) => ({
    x: gather(
      snap.vectors,
      d,
      Int32Array.from(list, (im) => row.get(im.id)!),
    ),
    y: Int32Array.from(list, (im) => labelIndex.get(im.label)!),
  });
  const train = part(split.train);
  const val = part(split.validation);
  const held = part(split.holdout);

  const quality = async (vectors: Float32Array, dim: number): Promise<HeldOutQuality> => {
    const q = await retrievalQuality(
      vectors,
      dim,
      held.y,
      Int32Array.from({ length: held.y.length }, (_, i) => i),
    );
    return { precision_at_10: q.precision_at_10, map: q.map };
  };
  const before = await quality(held.x, d);

  const bar = progress.step(`learning ${o.name}`, o.epochs, 'epochs');
  let trained: Awaited<ReturnType<typeof trainHead>>;
  try {
    trained = await trainHead(
      {
        x: train.x,
        y: train.y,
        n: split.train.length,
        xVal: val.x,
        yVal: val.y,
        nVal: split.validation.length,
        d,
        classes: names.length,
        hidden: o.hidden,
        outDim: o.dim,
        scale: o.scale,
        margin: o.margin,
        lr: o.lr,
        batch: o.batch,
        epochs: o.epochs,
        patience: o.patience,
        seed: o.seed,
      },
      (m) => bar.update(m.epoch),
    );
  } finally {
    bar.stop();
  }
  const layers = trained.layers;
  const after = await quality(projectRows(layers, held.x, split.holdout.length), o.dim);

  const previous = Object.hasOwn(cfg.learned, o.name) ? cfg.learned[o.name] : undefined;
  const version = (previous?.version ?? 0) + 1;
  const modelId = learnedModelId(o.name, version, layers);
  const file = `learned-${o.name}.v${version}.model`;
  const ids = (list: LabelledImage[]) => list.map((im) => im.id);
  const paths = (list: LabelledImage[]) => list.map((im) => im.relpath);
  const labelsOf = (list: LabelledImage[]) => list.map((im) => labelIndex.get(im.label)!);
  const trainAll = [...split.train, ...split.validation];
  const model: LearnedModel = {
    layers,
    meta: {
      name: o.name,
      version,
      model: modelId,
      input: { ...input, dim: d },
      dim: o.dim,
      head: { layers: layers.map((l) => ({ in: l.in, out: l.out, relu: l.relu })) },
      loss: { name: 'cosface', scale: o.scale, margin: o.margin },
      training: {
        optimizer: 'adam',
        learning_rate: o.lr,
        batch: o.batch,
        epochs_max: o.epochs,
        epochs_run: trained.epochs_run,
        best_epoch: trained.best_epoch,
        patience: o.patience,
        seed: o.seed,
        holdout: o.holdout,
        validation: split.validation.length,
        backend: trained.backend,
        took_ms: trained.took_ms,
        final_loss: trained.final_loss,
      },
      labels: { source: o.labels, names },
      split: {
        train: { ids: ids(trainAll), paths: paths(trainAll), labels: labelsOf(trainAll) },
        holdout: { ids: ids(split.holdout), paths: paths(split.holdout), labels: labelsOf(split.holdout) },
      },
      before,
      after,
      created_at: new Date().toISOString(),
    },
  };
  await saveLearnedModel(join(ctx.path, file), model);
  const entry: LearnedEntry = { file, model: modelId, version, dim: o.dim };
  cfg.learned = { ...cfg.learned, [o.name]: entry };
  try {
    await ctx.saveConfig();
  } catch (err) {
    // collection.json still names the previous model: the new file is not used, so it goes
    if (previous) cfg.learned = { ...cfg.learned, [o.name]: previous };
    else {
      const { [o.name]: _gone, ...rest } = cfg.learned;
      cfg.learned = rest;
    }
    await rm(join(ctx.path, file), { force: true });
    throw err;
  }
  if (previous && previous.file !== file) await rm(join(ctx.path, previous.file), { force: true }).catch(() => undefined);
  forgetLearnedKind(ctx, o.name);
  await ctx.indexes.sync([o.name], progress);

  return {
    name: o.name,
    version,
    model: modelId,
    file: join(ctx.path, file),
    dim: o.dim,
    input: model.meta.input,
    labels_source: o.labels,
    classes: names.length,
    labels: names,
    train_images: trainAll.length,
    validation_images: split.validation.length,
    holdout_images: split.holdout.length,
    unlabelled_images: rows.length - usable.length,
    holdout_paths: paths(split.holdout),
    before,
    after,
    epochs_run: trained.epochs_run,
    best_epoch: trained.best_epoch,
    loss: { name: 'cosface', scale: o.scale, margin: o.margin, final: round4(trained.final_loss) },
    head: layers.map((l) => `${l.in}→${l.out}${l.relu ? ' ReLU' : ''}`).join(', '),
    backend: trained.backend,
    train_ms: trained.took_ms,
    took_ms: Math.round(performance.now() - t0),
  };
}

export { LEARNED_FILE_VERSION };
