/**
 * `nitamono worker`: cluster mode's extraction worker. Takes extraction jobs from a Redis queue
 * (BullMQ, src/ingest/queue.ts), extracts features on worker threads and commits the rows to the
 * collection's catalogue, until Ctrl-C or SIGTERM (the jobs in flight finish first; a second
 * signal quits at once, and those jobs run again on another worker). Run one per machine: every
 * machine must see the images at the paths the enqueuer saw.
 *
 * Two catalogues: `--catalog postgres://… [--collection NAME]` (cluster mode; the queue's name is
 * derived from the database and the collection, as `index --catalog` derives it, and the
 * collection must have been indexed once: its settings exist), or a collection folder
 * (`--collection PATH --queue-name NAME`, SQLite on a shared mount). The feature spaces come
 * with each job. Exit 0 when stopped by a signal, 2 for a collection that does not exist, 4 when
 * PostgreSQL or Redis cannot be reached.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { PostgresCatalogStore } from '../../catalog/postgres.js';
import type { CatalogStore } from '../../catalog/types.js';
import { clusterQueueName } from '../../cluster/collection.js';
import { requireClusterSettings } from '../../cluster/settings.js';
import { Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { runExtractionWorker } from '../../ingest/queue.js';
import { displayPath, fmtInt, writeJson } from '../format.js';
import { clusterCollection, collectionPath, DEFAULT_REDIS, intAtLeast, redisUrl } from '../options.js';
import { EXIT_INTERRUPTED, EXIT_TERMINATED, printing } from '../run.js';

interface WorkerCliOptions {
  catalog?: string;
  collection?: string;
  redis?: string;
  queue?: string;
  queueName?: string;
  concurrency?: number;
  threads?: number;
  lockDuration?: number;
  stalledInterval?: number;
  json?: boolean;
}

const isRedisUrl = (v: string) => /^rediss?:\/\//i.test(v);

/** The Redis URL and the queue name given: `--queue redis://… [--queue-name N]`, or the older `--queue N [--redis URL]`. */
function queueOptions(o: WorkerCliOptions): { url: string; queueName: string | undefined } {
  if (o.queue !== undefined && isRedisUrl(o.queue)) {
    if (o.redis !== undefined) throw invalid('--queue redis://… and --redis both give the Redis URL: give one');
    return { url: o.queue, queueName: o.queueName };
  }
  if (o.queue !== undefined && o.queueName !== undefined) throw invalid('--queue NAME and --queue-name NAME both give the queue name: give one');
  return { url: redisUrl(o.redis), queueName: o.queue ?? o.queueName };
}

/** The catalogue jobs are written to, what to call it, and the queue's name. */
async function openCatalog(o: WorkerCliOptions, asked: string | undefined): Promise<{ store: CatalogStore; into: string; queueName: string }> {
  if (o.catalog !== undefined) {
    const store = await PostgresCatalogStore.open(o.catalog, { collection: clusterCollection(o) });
    try {
      // the jobs name their feature spaces; the settings say the collection was indexed (a mistyped name is not made a collection)
      await requireClusterSettings(store);
    } catch (err) {
      await store.close();
      throw err;
    }
    const into = `collection ${JSON.stringify(store.collection)} of ${store.target}`;
    return { store, into, queueName: asked ?? clusterQueueName(store.database, store.collection) };
  }
  if (asked === undefined) throw invalid('which queue? --catalog postgres://… (cluster mode), or --queue-name NAME for a collection folder');
  const dir = resolve(collectionPath(o));
  return { store: await Collection.openJobStore(dir), into: displayPath(dir), queueName: asked };
}

async function workerCommand(o: WorkerCliOptions): Promise<void> {
  const { url, queueName: asked } = queueOptions(o);
  const { store, into, queueName } = await openCatalog(o, asked);
  const ac = new AbortController();
  let down = false;
  let worker: Awaited<ReturnType<typeof runExtractionWorker>>;
  try {
    worker = await runExtractionWorker({
      url,
      queueName,
      store,
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      ...(o.lockDuration ? { lockDurationMs: o.lockDuration } : {}),
      ...(o.stalledInterval ? { stalledIntervalMs: o.stalledInterval } : {}),
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'failed') process.stderr.write(`nitamono: job failed: ${e.job?.files[0]?.relpath ?? e.jobId}: ${e.error}\n`);
        else if (e.type === 'error') {
          // a Redis that is down is reported once, not at every reconnection attempt
          const connection = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection is closed/.test(e.error.message);
          if (!connection || !down) process.stderr.write(`nitamono: queue: ${e.error.message}${connection ? ' (reconnecting)' : ''}\n`);
          if (connection) down = true;
        } else if (e.type === 'active' && down) {
          process.stderr.write("nitamono: queue: the queue's Redis answers again; taking jobs\n");
          down = false;
        }
      },
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  process.stderr.write(`nitamono: worker ${worker.name} taking jobs of queue ${queueName} at ${worker.url} into ${into} (Ctrl-C to stop)\n`);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(sig === 'SIGTERM' ? EXIT_TERMINATED : EXIT_INTERRUPTED);
    process.stderr.write(`nitamono: ${sig}: finishing the jobs in flight (again to quit at once)\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.closed;
  } finally {
    await store.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const s = worker.stats;
  if (o.json) writeJson({ worker: worker.name, queue: queueName, ...s });
  else process.stdout.write(`nitamono: worker stopped: ${fmtInt(s.completed)} jobs done, ${fmtInt(s.failed)} failed, ${fmtInt(s.retried)} tries retried\n`);
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("cluster mode: run extraction jobs from a Redis queue, committing rows to the collection's catalogue")
    .option('--catalog <url>', 'the shared catalogue (postgres://user:password@host:port/database) of `index --catalog`')
    .option(
      '--collection <name>',
      `with --catalog, the collection's name (default "default"); else the collection folder (default ${DEFAULT_COLLECTION_PATH}, or $NITAMONO_COLLECTION)`,
    )
    .option('--queue <url>', `the job queue's Redis (default $NITAMONO_REDIS, else ${DEFAULT_REDIS}); a plain name is a queue name, as --queue-name`)
    .option('--queue-name <name>', "the queue's name (with --catalog: derived from the database and the collection, as `index --catalog` does)")
    .option('--redis <url>', 'the Redis URL, when --queue gives a queue name')
    .option('--threads <t>', 'extraction worker threads (default: all cores)', intAtLeast('threads'))
    .option('--concurrency <n>', 'jobs in flight (default 4 × threads)', intAtLeast('concurrency'))
    .option('--lock-duration <ms>', "a dead worker's jobs run again this long after it stopped renewing them (default 30000)", intAtLeast('lock-duration', 100))
    .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers (default 30000)', intAtLeast('stalled-interval', 100))
    .option('--json', 'print the summary as JSON')
    .action(printing(workerCommand));
}
