/**
 * A learned projection on disk (`learned-<name>.model` in the collection folder): the
 * persist container (magic, format version, JSON header, 64-byte aligned sections, CRC-32 footer;
 * written to a temp file, fsynced and renamed), holding the head's weights and everything needed
 * to tell what it is and how good it was: the input feature space it was trained on, the loss
 * and hyper-parameters, the labels, the held-out split and the before/after figures.
 */
import { createHash } from 'node:crypto';
import type { FeatureSpace } from '../catalog/types.js';
import { NitamonoError } from '../errors.js';
import { readContainer, writeContainer } from '../persist/container.js';
import type { HeadLayer } from './project.js';

export const LEARNED_FILE_KIND = 'nitamono-learned-projection';
export const LEARNED_FILE_VERSION = 1;

/** Retrieval quality over the held-out images (each a query against the others, itself excluded). */
export interface HeldOutQuality {
  precision_at_10: number;
  map: number;
}

export interface LearnedModelMeta {
  name: string;
  /** 1 for the first model of this name, +1 each time `learn --name` replaces it. */
  version: number;
  /** Catalogue model id of the kind: name, version and a hash of the weights. */
  model: string;
  /** The frozen features the head reads. */
  input: FeatureSpace & { dim: number };
  dim: number;
  head: { layers: { in: number; out: number; relu: boolean }[] };
  loss: { name: 'cosface'; scale: number; margin: number };
  training: {
    optimizer: 'adam';
    learning_rate: number;
    batch: number;
    epochs_max: number;
    epochs_run: number;
    best_epoch: number;
    patience: number;
    seed: number;
    holdout: number;
    validation: number;
    backend: string;
    took_ms: number;
    final_loss: number;
  };
  labels: { source: string; names: string[] };
  /** Image ids (at training time) and paths of each part; labels as indexes into labels.names. */
  split: {
    train: { ids: number[]; paths: string[]; labels: number[] };
    holdout: { ids: number[]; paths: string[]; labels: number[] };
  };
  before: HeldOutQuality;
  after: HeldOutQuality;
  created_at: string;
}

export interface LearnedModel {
  meta: LearnedModelMeta;
  layers: HeadLayer[];
}

/** The catalogue model id: changes with every new version and every change of weights. */
export function learnedModelId(name: string, version: number, layers: readonly HeadLayer[]): string {
  const h = createHash('sha256');
  for (const l of layers) {
    h.update(new Uint8Array(l.weights.buffer, l.weights.byteOffset, l.weights.byteLength));
    h.update(new Uint8Array(l.bias.buffer, l.bias.byteOffset, l.bias.byteLength));
  }
  return `${name}-v${version}-${h.digest('hex').slice(0, 12)}`;
}

export async function saveLearnedModel(path: string, model: LearnedModel): Promise<void> {
  const sections: Record<string, ArrayBufferView> = {};
  model.layers.forEach((l, i) => {
    sections[`w${i}`] = l.weights;
    sections[`b${i}`] = l.bias;
  });
  await writeContainer(path, { kind: LEARNED_FILE_KIND, version: LEARNED_FILE_VERSION, meta: model.meta, sections });
}

/** Reads a model file; BAD_FILE naming the problem for a corrupt, truncated or foreign file. */
export async function loadLearnedModel(path: string): Promise<LearnedModel> {
  const f = await readContainer(path, { kind: LEARNED_FILE_KIND, maxVersion: LEARNED_FILE_VERSION });
  const meta = f.meta as unknown as LearnedModelMeta;
  const shape = meta?.head?.layers;
  if (!Array.isArray(shape) || shape.length === 0 || typeof meta.model !== 'string' || typeof meta.dim !== 'number')
    throw new NitamonoError('BAD_FILE', `${path}: not a complete learned projection (header fields missing)`);
  const layers: HeadLayer[] = shape.map((s, i) => {
    const w = f.sections[`w${i}`];
    const b = f.sections[`b${i}`];
    if (!w || !b || w.byteLength !== s.in * s.out * 4 || b.byteLength !== s.out * 4)
      throw new NitamonoError('BAD_FILE', `${path}: layer ${i} weights do not match their declared shape ${s.in}×${s.out}`);
    return {
      in: s.in,
      out: s.out,
      relu: s.relu,
      weights: new Float32Array(w.buffer, w.byteOffset, s.in * s.out),
      bias: new Float32Array(b.buffer, b.byteOffset, s.out),
    };
  });
  if (layers[0]!.in !== meta.input.dim || layers[layers.length - 1]!.out !== meta.dim)
    throw new NitamonoError('BAD_FILE', `${path}: the layers do not map ${meta.input.dim} to ${meta.dim} dimensions`);
  return { meta, layers };
}
