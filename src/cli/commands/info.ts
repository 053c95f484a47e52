/** `nitamono info`: what a collection holds — images, skipped files, features, index, memory and disk use. */
import type { Command } from 'commander';
import { AUTO_FLAT_MAX, Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { displayPath, fmtBytes, fmtInt, writeJson } from '../format.js';
import { collectionPath } from '../options.js';
import { printing } from '../run.js';

interface InfoCliOptions {
  collection?: string;
  json?: boolean;
}

async function infoCommand(o: InfoCliOptions): Promise<void> {
  const c = await Collection.open(collectionPath(o));
  try {
    const s = await c.stats();
    if (o.json) {
      writeJson(s);
      return;
    }
    const out: string[] = [];
    out.push(`Collection ${displayPath(s.path)} — images of ${displayPath(s.root)}`);
    out.push(`  images:   ${fmtInt(s.images)} searchable, ${fmtInt(s.skipped)} skipped${s.excluded ? `, ${fmtInt(s.excluded)} excluded` : ''}`);
    const budget = s.memory_budget !== null ? fmtBytes(s.memory_budget) : 'half the available memory';
    out.push(
      `  index:    ${s.index_policy}${s.index_policy === 'auto' ? ` (flat below ${fmtInt(AUTO_FLAT_MAX)} images, then IVF, IVF-SQ8 or IVF-PQ + re-ranking within the memory budget: ${budget})` : ''}`,
    );
    if (s.target_recall !== null) out.push(`  tuning:   target 10-recall@10 ${s.target_recall}`);
    for (const f of s.features) {
      const i = f.index;
      let line = `  ${f.kind.padEnd(6)}  ${f.dim}-d`;
      if (i) {
        line += `  ${i.kind}${i.nlist ? ` nlist=${i.nlist}` : ''}${i.kind !== 'flat' ? ` (${i.factory})` : ''}, ${fmtInt(i.size)} vectors, ${fmtBytes(i.memory_bytes)} in memory (${fmtBytes(i.bytes_per_image)} per image`;
        line += i.size > 0 && i.raw_bytes > 0 ? `, ${((100 * i.memory_bytes) / i.raw_bytes).toFixed(0)}% of float32)` : ')';
        if (i.refine_bytes > 0) line += `, ${fmtBytes(i.refine_bytes)} of full vectors re-ranked from the catalogue on disk`;
        line += `, ${fmtBytes(i.file_bytes)} index file`;
        if (i.list_sizes) line += `; list sizes min ${i.list_sizes.min} / mean ${i.list_sizes.mean} / max ${i.list_sizes.max}, ${i.list_sizes.empty} empty`;
        out.push(line);
        if (i.reason) out.push(`          why: ${i.reason}${i.budget_bytes !== null ? ` (budget for ${f.kind}: ${fmtBytes(i.budget_bytes)})` : ''}`);
        const d = i.search_defaults;
        const set = [d.nprobe !== null ? `nprobe ${d.nprobe}` : '', d.refine_factor !== null ? `refine factor ${d.refine_factor}` : '']
          .filter(Boolean)
          .join(', ');
        const t = i.tuning;
        if (t)
          out.push(
            `          search: ${set}, tuned: 10-recall@10 ${t.recall}${t.reached ? '' : ` (target ${t.target_recall} not reached)`} on ${t.queries} queries`,
          );
        else if (set) out.push(`          search: ${set} (defaults; --target-recall tunes them)`);
      } else {
        out.push(`${line}  (no index yet)`);
      }
    }
    const refine = s.features.reduce((a, f) => a + (f.index?.refine_bytes ?? 0), 0);
    out.push(`  memory:   ${fmtBytes(s.memory_bytes)} (indexes)${refine > 0 ? `; ${fmtBytes(refine)} of vectors for re-ranking stay in the catalogue` : ''}`);
    out.push(`  disk:     ${fmtBytes(s.disk_bytes)} (catalog, indexes)`);
    out.push(`  updated:  ${s.updated_at}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await c.close();
  }
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('what a collection holds: images, skipped files, features, index, memory and disk use')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('--json', 'print as JSON')
    .action(printing(infoCommand));
}
