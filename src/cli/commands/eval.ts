/**
 * `nitamono eval`: precision@1/@10 and mAP with folder names as labels, and how faithful IVF
 * search is to exact search (src/collection/evaluate.ts does the work).
 */
import type { Command } from 'commander';
import { parseCompare } from '../../collection/evaluate.js';
import { Collection, DEFAULT_COLLECTION_PATH, type EvalReport, evaluateCollection, parseKindList } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { displayPath, fmtInt, fmtMs, writeJson } from '../format.js';
import { collectionPath, intAtLeast, listOf } from '../options.js';
import { progressFor } from '../progress-bar.js';
import { printing } from '../run.js';

interface EvalCliOptions {
  collection?: string;
  labels: string;
  json?: boolean;
  sample?: number;
  compare?: string | boolean;
  features?: string;
  nprobe?: number[];
  ivf: boolean;
  threads?: number;
}

function printEval(r: EvalReport): void {
  const out: string[] = [];
  out.push(
    `Evaluation of ${displayPath(r.collection)}: ${fmtInt(r.n)} images in ${r.classes} folders (labels = parent folder), ${fmtInt(r.queries)} leave-one-out queries`,
  );
  out.push('');
  const w = Math.max(14, ...Object.entries(r.features).map(([k, f]) => k.length + (f.source === 'held-out' ? 11 : 2)));
  out.push(`${'features'.padEnd(w)}  dim   P@1     P@10    mAP     exact ms/query`);
  for (const [k, f] of Object.entries(r.features)) {
    out.push(
      `${(k + (f.source === 'computed' ? ' *' : f.source === 'held-out' ? ' (held-out)' : '')).padEnd(w)} ${String(f.dim).padStart(5)}   ${f.precision_at_1.toFixed(3)}   ${f.precision_at_10.toFixed(3)}   ${f.map.toFixed(3)}   ${f.exact_ms_per_query.toFixed(3)}`,
    );
  }
  if (Object.values(r.features).some((f) => f.source === 'computed')) out.push('  * computed on the fly for comparison (--compare), not stored');
  if (Object.values(r.features).some((f) => f.source === 'held-out'))
    out.push('  (held-out) learned features: over their held-out images only, never their training images (see the note)');
  if (r.ivf.length > 0) {
    out.push('');
    out.push('IVF vs exact (self excluded; ties count as found)');
    out.push('features  nlist  nprobe   R@1     10-R@10  ms/query  distances/query');
    for (const row of r.ivf) {
      out.push(
        `${row.features.padEnd(9)} ${String(row.nlist).padStart(5)}  ${String(row.nprobe).padStart(6)}   ${row.recall_at_1.toFixed(3)}   ${row.recall_at_10.toFixed(3)}    ${row.ms_per_query.toFixed(3).padStart(7)}  ${fmtInt(row.distances_per_query).padStart(9)}`,
      );
    }
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  out.push(`took ${fmtMs(r.took_ms)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function evalCommand(o: EvalCliOptions): Promise<void> {
  if (o.labels !== 'folders') throw invalid(`--labels supports only "folders" (each image's parent folder name), not "${o.labels}"`);
  const compare = parseCompare(o.compare);
  const features = o.features !== undefined ? parseKindList(o.features) : undefined;
  const c = await Collection.open(collectionPath(o));
  try {
    const report = await evaluateCollection(c, {
      ...(o.sample ? { sample: o.sample } : {}),
      ...(compare ? { compare } : {}),
      ...(features ? { features } : {}),
      ...(o.nprobe ? { nprobes: o.nprobe } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      skipIvf: !o.ivf,
      progress: progressFor(o.json),
    });
    if (o.json) writeJson(report);
    else printEval(report);
  } finally {
    await c.close();
  }
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('precision@1/@10 and mAP with folder names as labels, and IVF recall vs exact search')
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH})`)
    .option('--labels <source>', 'where labels come from: folders (the parent folder name)', 'folders')
    .option('--sample <n>', 'number of query images (default all; 2,000 above 5,000 images)', intAtLeast('sample'))
    .option('--features <kinds>', 'kinds to evaluate: color, deep, both, or learned names (held-out images only); default all the collection has')
    .option('--compare [kinds]', 'also evaluate features computed on the fly: pixels, color4, color8 (default all three)')
    .option('--nprobe <list>', 'nprobe values for the IVF sweep (default 1,2,4,… up to nlist)', listOf(intAtLeast('nprobe')))
    .option('--no-ivf', 'skip the IVF faithfulness sweep')
    .option('--threads <t>', 'worker threads for the exact ranking (default: all cores)', intAtLeast('threads'))
    .option('--json', 'print the report as JSON')
    .action(printing(evalCommand));
}
