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
    out.push(`  index:    ${s.index_policy}${s.index_policy === 'auto' ? ` (flat below ${fmtInt(AUTO_FLAT_MAX)} images, else IVF nlist = ⌈√N⌉)` : ''}`);
    for (const f of s.features) {
      const i = f.index;
      let line = `  ${f.kind.padEnd(6)}  ${f.dim}-d`;
      if (i) {
        line += `  ${i.kind}${i.nlist ? ` nlist=${i.nlist}` : ''}, ${fmtInt(i.size)} vectors, ${fmtBytes(i.memory_bytes)} in memory, ${fmtBytes(i.file_bytes)} on disk`;
        if (i.list_sizes) line += `; list sizes min ${i.list_sizes.min} / mean ${i.list_sizes.mean} / max ${i.list_sizes.max}, ${i.list_sizes.empty} empty`;
      } else {
        line += '  (no index yet)';
      }
      out.push(line);
    }
    out.push(`  memory:   ${fmtBytes(s.memory_bytes)} (indexes)`);
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
