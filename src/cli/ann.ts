/** Commands that run the vector engine on anyone's own vectors (.fvecs / .npy). */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { readIds, readVectors, writeIvecs } from '../vectors/io.js';
import { runAnnBenchmark, formatAnnReport } from '../eval/annbench.js';
import { FlatIndex } from '../search/flat.js';
import { IVFIndex } from '../search/ivf.js';
import { loadIndex } from '../search/load.js';
import type { Metric } from '../search/types.js';
import { invalid } from '../errors.js';

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw invalid(`--${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

function intList(v: string): number[] {
  return v.split(',').map((s) => int('nprobe')(s.trim()));
}

function metricOf(v: string): Metric {
  if (v !== 'l2' && v !== 'ip') throw invalid(`--metric must be l2 or ip, got '${v}'`);
  return v;
}

function indexKind(v: string): 'flat' | 'ivf' {
  if (v !== 'flat' && v !== 'ivf') throw invalid(`--index must be flat or ivf, got '${v}'`);
  return v;
}

export function registerAnnCommands(program: Command): void {
  program
    .command('ann-bench')
    .description('build an index on base vectors and measure recall, queries/s and distances computed')
    .requiredOption('--base <file>', 'base vectors (.fvecs or .npy float32)')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .npy float32)')
    .option('--gt <file>', 'ground-truth neighbour ids (.ivecs or .npy int32); computed exactly when absent')
    .option('--index <kind>', 'flat or ivf', indexKind, 'ivf')
    .option('--nlist <n>', 'inverted lists for ivf (default ceil(sqrt(N)))', int('nlist'))
    .option('--nprobe <list>', 'comma-separated nprobe values to sweep', intList, [1, 2, 4, 8, 16, 32, 64])
    .option('--k <k>', 'neighbours per query', int('k'), 10)
    .option('--threads <t>', 'worker threads for batch search and k-means', int('threads'), 1)
    .option('--metric <m>', 'l2 or ip', metricOf, 'l2')
    .option('--iterations <n>', 'k-means iterations', int('iterations'), 25)
    .option('--single-queries <n>', 'queries issued one at a time for the single-query rate', int('single-queries'), 2000)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o) => {
      const base = await readVectors(o.base), queries = await readVectors(o.queries);
      if (base.dim !== queries.dim) throw invalid(`base vectors have dimension ${base.dim} but queries ${queries.dim}`);
      const gt = o.gt ? await readIds(o.gt) : undefined;
      if (gt && gt.n !== queries.n) throw invalid(`${o.gt}: ${gt.n} ground-truth rows for ${queries.n} queries`);
      const report = await runAnnBenchmark({
        base: base.data, queries: queries.data, dim: base.dim,
        ...(gt ? { groundTruth: { labels: gt.data, k: gt.dim } } : {}),
        index: o.index, metric: o.metric, ...(o.nlist ? { nlist: o.nlist } : {}), nprobes: o.nprobe,
        k: o.k, threads: o.threads, iterations: o.iterations, singleQueries: o.singleQueries,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(`${formatAnnReport(report)}\n`);
      if (o.json) await writeFile(o.json, JSON.stringify(report, null, 2));
    });

  program
    .command('ann-build')
    .description('build an index file from vectors')
    .requiredOption('--base <file>', 'vectors to index (.fvecs or .npy float32); ids are row numbers')
    .requiredOption('--out <file>', 'index file to write')
    .option('--index <kind>', 'flat or ivf', indexKind, 'ivf')
    .option('--nlist <n>', 'inverted lists for ivf (default ceil(sqrt(N)))', int('nlist'))
    .option('--metric <m>', 'l2 or ip', metricOf, 'l2')
    .option('--threads <t>', 'worker threads for k-means', int('threads'))
    .action(async (o) => {
      const base = await readVectors(o.base);
      const t0 = performance.now();
      const index = o.index === 'ivf'
        ? new IVFIndex(base.dim, { metric: o.metric, ...(o.nlist ? { nlist: o.nlist } : {}) })
        : new FlatIndex(base.dim, { metric: o.metric });
      if (index instanceof IVFIndex) await index.train(base.data, o.threads ? { threads: o.threads } : {});
      index.add(base.data);
      await index.save(o.out);
      const nlist = index instanceof IVFIndex ? `, nlist ${index.nlist}` : '';
      process.stdout.write(`${o.out}: ${index.kind} index of ${index.size} vectors, dimension ${index.dim}${nlist}, built in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    });

  program
    .command('ann-search')
    .description('query an index file with vectors')
    .requiredOption('--index <file>', 'index file made by ann-build')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .npy float32)')
    .option('--k <k>', 'neighbours per query', int('k'), 10)
    .option('--nprobe <p>', 'lists to scan (ivf)', int('nprobe'))
    .option('--threads <t>', 'worker threads', int('threads'))
    .option('--out <file>', 'write neighbour ids as .ivecs')
    .option('--json', 'print results as JSON')
    .action(async (o) => {
      const index = await loadIndex(o.index);
      const queries = await readVectors(o.queries);
      const t0 = performance.now();
      const r = await index.searchAsync(queries.data, o.k, { ...(o.nprobe ? { nprobe: o.nprobe } : {}), ...(o.threads ? { threads: o.threads } : {}) });
      const ms = performance.now() - t0;
      for (const w of r.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      if (o.out) await writeIvecs(o.out, r.labels, o.k);
      if (o.json) {
        const rows = Array.from({ length: r.nq }, (_, i) => ({
          ids: Array.from(r.labels.subarray(i * o.k, (i + 1) * o.k)),
          distances: Array.from(r.distances.subarray(i * o.k, (i + 1) * o.k)),
        }));
        process.stdout.write(`${JSON.stringify({ index: index.kind, n: index.size, dim: index.dim, k: o.k, nprobe: r.nprobe ?? null, took_ms: ms, distances_computed: r.distancesComputed, results: rows })}\n`);
      } else {
        const show = Math.min(r.nq, 10);
        for (let i = 0; i < show; i++) {
          const ids = Array.from(r.labels.subarray(i * o.k, (i + 1) * o.k)).join(' ');
          process.stdout.write(`query ${i}: ${ids}\n`);
        }
        if (r.nq > show) process.stdout.write(`… ${r.nq - show} more queries${o.out ? ` (all in ${o.out})` : ''}\n`);
        process.stdout.write(`${r.nq} queries in ${ms.toFixed(1)} ms, ${Math.round(r.distancesComputed / r.nq)} distances per query (exact search: ${index.size})\n`);
      }
    });
}
