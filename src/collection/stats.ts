/**
 * Collection statistics. Reading them never writes: the primary indexes are loaded (or built in
 * memory) to report their shape, but nothing is saved and no auxiliary IVF is built.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CollectionContext } from './context.js';
import { fileBytes, readSidecar } from './index-manager.js';
import { round3 } from './search.js';
import type { CollectionStats, KindStats } from './types.js';

export async function collectionStats(ctx: CollectionContext): Promise<CollectionStats> {
  const counts = await ctx.store.countByStatus();
  const features: KindStats[] = [];
  let memory = 0;
  for (const kind of ctx.config.features) {
    const dim = (await ctx.dims.of(kind)) ?? 0;
    const p = counts.ok > 0 ? await ctx.indexes.primary(kind) : undefined;
    let index: KindStats['index'] = null;
    if (p) {
      const idx = p.index;
      const d = idx.describe();
      const list_sizes = d.lists ? { min: d.lists.min, max: d.lists.max, mean: round3(d.lists.mean), empty: d.lists.empty } : null;
      memory += idx.memoryBytes;
      const side = await readSidecar(p.slot.sidecarFile);
      index = {
        kind: idx.kind as 'flat' | 'ivf',
        size: idx.size,
        nlist: d.nlist ?? null,
        list_sizes,
        memory_bytes: idx.memoryBytes,
        file_bytes: await fileBytes(p.slot.file),
        generation: side?.generation ?? p.slot.generation,
      };
    }
    features.push({ kind, dim, index });
  }
  return {
    path: ctx.path,
    root: ctx.config.root,
    images: counts.ok,
    skipped: counts.skipped,
    excluded: counts.excluded,
    generation: await ctx.store.generation(),
    index_policy: ctx.config.index,
    features,
    memory_bytes: memory,
    disk_bytes: await dirBytes(ctx.path),
    created_at: ctx.config.created_at,
    updated_at: ctx.config.updated_at,
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
