/** `nitamono ann-bench`: recall, queries/s and distances computed of an index on anyone's own vectors. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { invalid } from '../../errors.js';
import { formatAnnReport, runAnnBenchmark } from '../../eval/annbench.js';
import { FACTORY_FORMS, parseIndexFactory } from '../../search/factory.js';
import { VectorFileRefine } from '../../search/refine.js';
import { readIds, readVectors } from '../../vectors/io.js';
import { factorAtLeastOne, indexDescription, listOf, metricOf, positiveInt } from '../options.js';

export function registerAnnBenchCommand(program: Command): void {
  program
    .command('ann-bench')
    .description('build an index on base vectors and measure recall, queries/s and distances computed')
    .requiredOption('--base <file>', 'base vectors (.fvecs or .npy float32)')
    .requiredOption('--queries <file>', 'query vectors (.fvecs or .npy float32)')
    .option('--gt <file>', 'ground-truth neighbour ids (.ivecs or .npy int32); computed exactly when absent')
    .option('--index <description>', `flat, ivf, or a Faiss factory string: ${FACTORY_FORMS}`, indexDescription, 'ivf')
    .option('--nlist <n>', 'inverted lists for ivf (default ceil(sqrt(N)))', positiveInt('nlist'))
    .option('--nprobe <list>', 'comma-separated nprobe values to sweep', listOf(positiveInt('nprobe')), [1, 2, 4, 8, 16, 32, 64])
    .option(
      '--refine-factor <list>',
      "compressed indexes: comma-separated re-ranking factors to sweep; refine-factor × k candidates are re-scored with the base file's vectors, read from it by offset (default 1 with ,RFlat)",
      listOf(factorAtLeastOne('refine-factor')),
    )
    .option('--k <k>', 'neighbours per query', positiveInt('k'), 10)
    .option('--threads <t>', 'worker threads for batch search and k-means', positiveInt('threads'), 1)
    .option('--metric <m>', 'l2 or ip', metricOf, 'l2')
    .option('--iterations <n>', 'k-means iterations', positiveInt('iterations'), 25)
    .option('--opq-niter <n>', 'OPQ{m},…: rotation updates while training (default 50, as Faiss)', positiveInt('opq-niter'))
    .option('--single-queries <n>', 'queries issued one at a time for the single-query rate', positiveInt('single-queries'), 2000)
    .option('--json <file>', 'also write the results as JSON')
    .action(async (o) => {
      const base = await readVectors(o.base),
        queries = await readVectors(o.queries);
      if (base.dim !== queries.dim) throw invalid(`base vectors have dimension ${base.dim} but queries ${queries.dim}`);
      const spec = parseIndexFactory(o.index);
      const gt = o.gt ? await readIds(o.gt) : undefined;
      if (gt && gt.n !== queries.n) throw invalid(`${o.gt}: ${gt.n} ground-truth rows for ${queries.n} queries`);
      const refine = spec.refine || o.refineFactor !== undefined ? VectorFileRefine.open(o.base) : undefined;
      const report = await runAnnBenchmark({
        base: base.data,
        queries: queries.data,
        dim: base.dim,
        ...(gt ? { groundTruth: { labels: gt.data, k: gt.dim } } : {}),
        index: o.index,
        metric: o.metric,
        ...(refine ? { refine } : {}),
        ...(o.refineFactor ? { refineFactors: o.refineFactor } : {}),
        ...(o.nlist ? { nlist: o.nlist } : {}),
        nprobes: o.nprobe,
        k: o.k,
        threads: o.threads,
        iterations: o.iterations,
        ...(o.opqNiter ? { opq: { niter: o.opqNiter } } : {}),
        singleQueries: o.singleQueries,
        log: (l) => process.stderr.write(`${l}\n`),
      }).finally(() => refine?.close());
      process.stdout.write(`${formatAnnReport(report)}\n`);
      if (o.json) await writeFile(o.json, JSON.stringify(report, null, 2));
    });
}
