/**
 * Collection statistics. Reading them never writes: the primary indexes are loaded (or built in
 * memory) to report their shape, but nothing is saved and no auxiliary IVF is built.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { followLearned } from '../learn/registry.js';
import { COLLECTION_REFINE_FACTOR } from './auto-index.js';
import { type FeatureKind, isExtractedKind, searchableKinds } from './config.js';
import type { CollectionContext } from './context.js';
import { fileBytes, readSidecar } from './index-manager.js';
import { round3 } from './search.js';
import { type CollectionStats, DEFAULT_NPROBE, type KindStats } from './types.js';

export async function collectionStats(ctx: CollectionContext): Promise<CollectionStats> {
  await followLearned(ctx);
  const counts = await ctx.store.countByStatus();
  const features: KindStats[] = [];
  let memory = 0;
  for (const kind of searchableKinds(ctx.config)) {
    if (!isExtractedKind(kind)) {
      // a learned kind whose model file cannot be read is reported, not allowed to fail the stats
      try {
        await ctx.learned.get(kind);
      } catch (err) {
        features.push({ kind, dim: ctx.config.learned[kind]!.dim, index: null, problem: (err as Error).message });
        continue;
      }
    }
    const dim = (await ctx.dims.of(kind)) ?? 0;
    const p = counts.ok > 0 ? await ctx.indexes.primary(kind) : undefined;
    let index: KindStats['index'] = null;
    if (p) {
      const idx = p.index;
      const d = idx.describe();
      const list_sizes = d.lists ? { min: d.lists.min, max: d.lists.max, mean: round3(d.lists.mean), empty: d.lists.empty } : null;
      memory += idx.memoryBytes;
      const side = await readSidecar(p.slot.sidecarFile);
      const refineBytes = idx.refineBytes ?? 0;
      const tuning = p.slot.tuning;
      index = {
        kind: idx.kind,
        factory: p.slot.factory ?? side?.factory ?? idx.kind,
        ...(d.codec ? { codec: d.codec } : {}),
        size: idx.size,
        nlist: d.nlist ?? null,
        list_sizes,
        memory_bytes: idx.memoryBytes,
        bytes_per_image: idx.size > 0 ? round3(idx.memoryBytes / idx.size) : 0,
        refine_bytes: refineBytes,
        raw_bytes: idx.size * idx.dim * 4,
        file_bytes: await fileBytes(p.slot.file),
        generation: side?.generation ?? p.slot.generation,
        reason: p.slot.reason,
        budget_bytes: p.slot.budget ?? null,
        search_defaults: {
          nprobe: idx.kind !== 'flat' && d.nlist ? Math.min(tuning?.nprobe ?? DEFAULT_NPROBE, d.nlist) : null,
          refine_factor: refineBytes > 0 ? (tuning?.refine_factor ?? COLLECTION_REFINE_FACTOR) : null,
        },
        tuning,
      };
    }
    features.push({ kind, dim, index, ...(isExtractedKind(kind) ? {} : await learnedStats(ctx, kind)) });
  }
  return {
    path: ctx.path,
    root: ctx.config.root,
    images: counts.ok,
    skipped: counts.skipped,
    excluded: counts.excluded,
    generation: await ctx.store.generation(),
    index_policy: ctx.config.index,
    memory_budget: ctx.config.memory_budget,
    target_recall: ctx.config.target_recall,
    features,
    memory_bytes: memory,
    disk_bytes: await dirBytes(ctx.path),
    created_at: ctx.config.created_at,
    updated_at: ctx.config.updated_at,
  };
}

async function learnedStats(ctx: CollectionContext, kind: FeatureKind): Promise<Pick<KindStats, 'learned'>> {
  const m = (await ctx.learned.get(kind)).meta;
  return {
    learned: { version: m.version, model: m.model, labels: m.labels.source, holdout_images: m.split.holdout.ids.length, before: m.before, after: m.after },
  };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) total += await dirBytes(p);
      else if (ent.isFile()) total += await fileBytes(p);
    }
  } catch {
    // unreadable: counted as 0
  }
  return total;
}
