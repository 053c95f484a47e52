/** `nitamono ann-build`: an index file (flat, IVF, or compressed) from a vector file; ids are row numbers. */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { FACTORY_FORMS, indexFactory, parseIndexFactory } from '../../search/factory.js';
import { VectorFileRefine } from '../../search/refine.js';
import { needsTraining, type VectorIndex } from '../../search/types.js';
import { readVectors } from '../../vectors/io.js';
import { factorAtLeastOne, indexDescription, metricOf, positiveInt } from '../options.js';

export function registerAnnBuildCommand(program: Command): void {
  program
    .command('ann-build')
    .description('build an index file from vectors')
    .requiredOption('--base <file>', 'vectors to index (.fvecs or .npy float32); ids are row numbers')
    .requiredOption('--out <file>', 'index file to write')
    .option('--index <description>', `flat, ivf, or a Faiss factory string: ${FACTORY_FORMS}`, indexDescription, 'ivf')
    .option('--nlist <n>', 'inverted lists for ivf (default ceil(sqrt(N)))', positiveInt('nlist'))
    .option('--metric <m>', 'l2 or ip', metricOf, 'l2')
    .option(
      '--refine-factor <f>',
      "compressed indexes: re-rank refine-factor × k candidates with the base file's vectors (read from it by offset, never loaded; its path is recorded in the index)",
      factorAtLeastOne('refine-factor'),
    )
    .option('--opq-niter <n>', 'OPQ{m},…: rotation updates while training (default 50, as Faiss)', positiveInt('opq-niter'))
    .option('--threads <t>', 'worker threads for k-means', positiveInt('threads'))
    .action(async (o) => {
      const spec = parseIndexFactory(o.index);
      const base = await readVectors(o.base);
      const refine = spec.refine || o.refineFactor !== undefined ? VectorFileRefine.open(o.base) : undefined;
      const t0 = performance.now();
      const index = indexFactory(base.dim, spec, {
        metric: o.metric,
        ...(o.nlist ? { nlist: o.nlist } : {}),
        ...(refine ? { refine } : {}),
        ...(o.refineFactor !== undefined ? { refineFactor: o.refineFactor } : {}),
        ...(o.opqNiter && spec.opq !== undefined ? { opq: { niter: o.opqNiter } } : {}),
      });
      try {
        if (needsTraining(index)) await (index as VectorIndex).train!(base.data, o.threads ? { threads: o.threads } : {});
        index.add(base.data);
        await index.save(o.out);
        const described = index.describe({ lists: false }).nlist;
        const nlist = described !== undefined ? `, nlist ${described}` : '';
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
        const disk = index.refineBytes ? ` + ${mib(index.refineBytes)} of refine vectors read from ${o.base}` : '';
        process.stdout.write(
          `${o.out}: ${index.kind} index (${spec.description}) of ${index.size} vectors, dimension ${index.dim}${nlist}, ${mib(index.memoryBytes)} in RAM${disk}, built in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
        );
      } finally {
        index.dispose();
      }
    });
}
