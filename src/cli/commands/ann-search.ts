/** `nitamono ann-search`: query an index file made by ann-build with a vector file. */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { invalid } from '../../errors.js';
import { loadIndex } from '../../search/load.js';
import { readVectors, writeIvecs } from '../../vectors/io.js';
import { factorAtLeastOne, positiveInt } from '../options.js';

export function registerAnnSearchCommand(program: Command): void {
  program
    .command('ann-search')
    .description('query an index file with vectors')
    .requiredOption('--index <file>', 'index file made by ann-build')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .npy float32)')
    .option('--k <k>', 'neighbours per query', positiveInt('k'), 10)
    .option('--nprobe <p>', 'lists to scan (ivf)', positiveInt('nprobe'))
    .option(
      '--refine-factor <f>',
      'compressed indexes: re-rank refine-factor × k candidates with the refine vectors the index was built with',
      factorAtLeastOne('refine-factor'),
    )
    .option('--threads <t>', 'worker threads', positiveInt('threads'))
    .option('--out <file>', 'write neighbour ids as .ivecs')
    .option('--json', 'print results as JSON')
    .action(async (o) => {
      const index = await loadIndex(o.index);
      if (o.refineFactor !== undefined && !index.capabilities.compressed) {
        throw invalid(`--refine-factor re-ranks compressed indexes; ${o.index} holds a ${index.kind} index, which stores the full vectors`);
      }
      const queries = await readVectors(o.queries);
      const t0 = performance.now();
      const r = await index.searchAsync(queries.data, o.k, {
        ...(o.nprobe ? { nprobe: o.nprobe } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.refineFactor !== undefined ? { refineFactor: o.refineFactor } : {}),
      });
      const ms = performance.now() - t0;
      for (const w of r.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      if (o.out) await writeIvecs(o.out, r.labels, o.k);
      if (o.json) {
        const rows = Array.from({ length: r.nq }, (_, i) => ({
          ids: Array.from(r.labels.subarray(i * o.k, (i + 1) * o.k)),
          distances: Array.from(r.distances.subarray(i * o.k, (i + 1) * o.k)),
        }));
        process.stdout.write(
          `${JSON.stringify({ index: index.kind, n: index.size, dim: index.dim, k: o.k, nprobe: r.nprobe ?? null, took_ms: ms, distances_computed: r.distancesComputed, results: rows })}\n`,
        );
      } else {
        const show = Math.min(r.nq, 10);
        for (let i = 0; i < show; i++) {
          const ids = Array.from(r.labels.subarray(i * o.k, (i + 1) * o.k)).join(' ');
          process.stdout.write(`query ${i}: ${ids}\n`);
        }
        if (r.nq > show) process.stdout.write(`… ${r.nq - show} more queries${o.out ? ` (all in ${o.out})` : ''}\n`);
        process.stdout.write(
          `${r.nq} queries in ${ms.toFixed(1)} ms, ${Math.round(r.distancesComputed / r.nq)} distances per query (exact search: ${index.size})\n`,
        );
      }
    });
}
