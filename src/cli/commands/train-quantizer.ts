/**
 * `nitamono train-quantizer --catalog postgres://… --features color`: trains IVF centroids once on
 * a sample of the whole collection and stores them in the catalogue as a new version. Every
 * `nitamono shard` of that feature space then rebuilds its partition as an inverted file on these
 * centroids (within its --poll-ms), so all shards probe the same lists.
 */
import type { Command } from 'commander';
import { PostgresCatalogStore } from '../../catalog/postgres.js';
import { trainSharedQuantizer } from '../../cluster/quantizer.js';
import { clusterSpace, requireClusterSettings } from '../../cluster/settings.js';
import type { FeatureKind } from '../../collection/config.js';
import { invalid } from '../../errors.js';
import { fmtInt, fmtMs, writeJson } from '../format.js';
import { clusterCollection, intAtLeast } from '../options.js';
import { printing } from '../run.js';

interface TrainCliOptions {
  catalog: string;
  collection?: string;
  features?: string;
  nlist?: number;
  threads?: number;
  json?: boolean;
}

async function trainCommand(o: TrainCliOptions): Promise<void> {
  const store = await PostgresCatalogStore.open(o.catalog, { collection: clusterCollection(o), poolSize: 2 });
  try {
    const settings = await requireClusterSettings(store);
    const v = o.features?.trim().toLowerCase();
    const kind: FeatureKind = v === undefined ? (settings.features.includes('deep') ? 'deep' : 'color') : v === 'colour' ? 'color' : (v as FeatureKind);
    if (kind !== 'color' && kind !== 'deep') throw invalid(`--features is one of color or deep, got '${o.features}'`);
    if (!settings.features.includes(kind)) throw invalid(`collection ${store.collection} has no ${kind} features (it has ${settings.features.join(', ')})`);
    const space = clusterSpace(settings, kind);
    const t0 = performance.now();
    const q = await trainSharedQuantizer(store, space, {
      ...(o.nlist !== undefined ? { nlist: o.nlist } : settings.nlist !== null ? { nlist: settings.nlist } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
    });
    const took = performance.now() - t0;
    if (o.json) {
      writeJson({
        collection: store.collection,
        features: kind,
        model: space.model,
        version: q.version,
        nlist: q.nlist,
        dim: q.dim,
        trained_on: q.trainedOn,
        collection_size: q.collectionSize,
        generation: q.generation,
        took_ms: Math.round(took),
      });
    } else {
      process.stdout.write(
        `Trained ${fmtInt(q.nlist)} shared IVF centroids (${q.dim}-d) for ${kind} features of collection ${store.collection}: version ${q.version}, ` +
          `k-means on ${fmtInt(q.trainedOn)} of ${fmtInt(q.collectionSize)} vectors, took ${fmtMs(took)}. Shards switch to them within their --poll-ms.\n`,
      );
    }
  } finally {
    await store.close();
  }
}

export function registerTrainQuantizerCommand(program: Command): void {
  program
    .command('train-quantizer')
    .description('cluster mode: train IVF centroids once on a sample of the collection and store them in the catalogue for every shard')
    .requiredOption('--catalog <url>', 'the shared catalogue: postgres://user:password@host:port/database')
    .option('--collection <name>', 'the collection inside the database (default "default")')
    .option('--features <kind>', 'color or deep (default: deep if the collection has it, else color)')
    .option('--nlist <n>', "lists (default: the collection's nlist setting, else ⌈√N⌉)", intAtLeast('nlist'))
    .option('--threads <t>', 'worker threads for k-means (default: all cores)', intAtLeast('threads'))
    .option('--json', 'print the result as JSON')
    .action(printing(trainCommand));
}
