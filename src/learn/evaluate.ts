/**
 * `eval` of a learned kind: only over the held-out images of its training split (each a query
 * against the other held-out images, itself excluded; relevant = same training label). Training
 * images are never queries or gallery items here: their figures would measure memory, not
 * retrieval, and are not reported.
 */
import type { Collection } from '../collection/collection.js';
import type { FeatureKind } from '../collection/config.js';
import { type FeatureQuality, gather, retrievalQuality } from '../collection/evaluate.js';
import { rowsById } from './labels.js';

export interface HeldOutEvaluation {
  quality: FeatureQuality;
  /** Held-out images still searchable (an image changed or removed since training drops out). */
  queries: number;
  note: string;
}

export async function evaluateHeldOut(c: Collection, kind: FeatureKind, threads?: number): Promise<HeldOutEvaluation> {
  const model = await c.learnedModel(kind);
  const data = await c.vectors(kind);
  const row = rowsById(data.ids);
  const h = model.meta.split.holdout;
  const keep = h.ids.map((id, i) => ({ at: row.get(id), label: h.labels[i]! })).filter((x): x is { at: number; label: number } => x.at !== undefined);
  const vectors = gather(
    data.vectors,
    data.dim,
    Int32Array.from(keep, (x) => x.at),
  );
  const labels = Int32Array.from(keep, (x) => x.label);
  const q = await retrievalQuality(
    vectors,
    data.dim,
    labels,
    Int32Array.from({ length: keep.length }, (_, i) => i),
    threads ? { threads } : {},
  );
  const m = model.meta;
  return {
    quality: { dim: data.dim, source: 'held-out', ...q },
    queries: keep.length,
    note:
      `${kind}: held-out figures only — ${keep.length} of the ${h.ids.length} images held out when it was learned (v${m.version}, labels from ${m.labels.source}), ` +
      `each a query against the other held-out images; its ${m.split.train.ids.length} training images are not evaluated. ` +
      `At training: P@10 ${m.before.precision_at_10.toFixed(3)} → ${m.after.precision_at_10.toFixed(3)}, mAP ${m.before.map.toFixed(3)} → ${m.after.map.toFixed(3)} (deep → ${kind}).`,
  };
}
