/** `nitamono ann-build`: an index file (flat or IVF) from a vector file; ids are row numbers. */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { FlatIndex } from '../../search/flat.js';
import { IVFIndex } from '../../search/ivf.js';
import { needsTraining, type VectorIndex } from '../../search/types.js';
import { readVectors } from '../../vectors/io.js';
import { indexKind, metricOf, positiveInt } from '../options.js';

export function registerAnnBuildCommand(program: Command): void {
  program
    .command('ann-build')
    .description('build an index file from vectors')
    .requiredOption('--base <file>', 'vectors to index (.fvecs or .npy float32); ids are row numbers')
    .requiredOption('--out <file>', 'index file to write')
    .option('--index <kind>', 'flat or ivf', indexKind, 'ivf')
    .option('--nlist <n>', 'inverted lists for ivf (default ceil(sqrt(N)))', positiveInt('nlist'))
    .option('--metric <m>', 'l2 or ip', metricOf, 'l2')
    .option('--threads <t>', 'worker threads for k-means', positiveInt('threads'))
    .action(async (o) => {
      const base = await readVectors(o.base);
      const t0 = performance.now();
      const index: VectorIndex =
        o.index === 'ivf'
          ? new IVFIndex(base.dim, { metric: o.metric, ...(o.nlist ? { nlist: o.nlist } : {}) })
          : new FlatIndex(base.dim, { metric: o.metric });
      if (needsTraining(index)) await index.train?.(base.data, o.threads ? { threads: o.threads } : {});
      index.add(base.data);
      await index.save(o.out);
      const described = index.describe({ lists: false }).nlist;
      const nlist = described !== undefined ? `, nlist ${described}` : '';
      process.stdout.write(
        `${o.out}: ${index.kind} index of ${index.size} vectors, dimension ${index.dim}${nlist}, built in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
      );
    });
}
