/**
 * `nitamono worker`: cluster mode's extraction worker. Takes extraction jobs from a Redis queue
 * (BullMQ, src/ingest/queue.ts), extracts features on worker threads and commits the rows to the
 * collection's catalogue, until Ctrl-C or SIGTERM (the jobs in flight finish first; a second
 * signal quits at once, and those jobs run again on another worker). Run one per machine: every
 * machine must see the images at the paths the enqueuer saw. Exit 0 when stopped by a signal,
 * 2 when Redis cannot be reached or the collection does not exist.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { runExtractionWorker } from '../../ingest/queue.js';
import { displayPath, fmtInt, writeJson } from '../format.js';
import { collectionPath, intAtLeast } from '../options.js';
import { EXIT_INTERRUPTED, EXIT_TERMINATED, printing } from '../run.js';

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

interface WorkerCliOptions {
  collection?: string;
  redis?: string;
  queue: string;
  concurrency?: number;
  threads?: number;
  lockDuration?: number;
  stalledInterval?: number;
  json?: boolean;
}

async function workerCommand(o: WorkerCliOptions): Promise<void> {
  const url = o.redis ?? process.env.NITAMONO_REDIS ?? DEFAULT_REDIS;
  const dir = resolve(collectionPath(o));
  const store = await Collection.openJobStore(dir);
  const ac = new AbortController();
  let worker: Awaited<ReturnType<typeof runExtractionWorker>>;
  try {
    worker = await runExtractionWorker({
      url,
      queueName: o.queue,
      store,
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      ...(o.lockDuration ? { lockDurationMs: o.lockDuration } : {}),
      ...(o.stalledInterval ? { stalledIntervalMs: o.stalledInterval } : {}),
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'failed') process.stderr.write(`nitamono: job failed: ${e.job?.files[0]?.relpath ?? e.jobId}: ${e.error}\n`);
        else if (e.type === 'error') process.stderr.write(`nitamono: queue: ${e.error.message}\n`);
      },
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  process.stderr.write(`nitamono: worker ${worker.name} taking jobs of queue ${o.queue} at ${worker.url} into ${displayPath(dir)} (Ctrl-C to stop)\n`);

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
  if (o.json) writeJson({ worker: worker.name, queue: o.queue, ...s });
  else process.stdout.write(`nitamono: worker stopped: ${fmtInt(s.completed)} jobs done, ${fmtInt(s.failed)} failed, ${fmtInt(s.retried)} tries retried\n`);
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description("cluster mode: run extraction jobs from a Redis queue, committing rows to the collection's catalogue")
    .requiredOption('--queue <name>', "the collection's queue (one queue per collection)")
    .option('--redis <url>', `Redis URL (default $NITAMONO_REDIS, else ${DEFAULT_REDIS})`)
    .option('--collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}, or $NITAMONO_COLLECTION)`)
    .option('--threads <t>', 'extraction worker threads (default: all cores)', intAtLeast('threads'))
    .option('--concurrency <n>', 'jobs in flight (default 4 × threads)', intAtLeast('concurrency'))
    .option('--lock-duration <ms>', "a dead worker's jobs run again this long after it stopped renewing them (default 30000)", intAtLeast('lock-duration', 100))
    .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers (default 30000)', intAtLeast('stalled-interval', 100))
    .option('--json', 'print the summary as JSON')
    .action(printing(workerCommand));
}
