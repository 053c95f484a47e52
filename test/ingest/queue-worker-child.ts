/**
 * An extraction worker in its own process, for the queue tests: the compiled worker entry
 * (`runExtractionWorker`) on worker-thread extractors, writing to a SQLite catalogue. Config is
 * one JSON argument; every worker event is one JSON line on stdout ("ready" first). A `slow`
 * pattern delays extraction of matching paths, so a test can kill the process mid-job.
 * SIGTERM closes it gracefully.
 */
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import { SpaceExtractors } from '../../src/collection/extractors.js';
import { runExtractionWorker, type WorkerEvent } from '../../src/ingest/queue.js';

export interface ChildWorkerConfig {
  url: string;
  queueName: string;
  catalog: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Paths matching `match` (a RegExp source) wait `ms` before extraction. */
  slow?: { match: string; ms: number };
}

/** What the child prints per event. */
export interface ChildLine {
  type: 'ready' | WorkerEvent['type'];
  pid: number;
  jobId?: string;
  relpath?: string;
  error?: string;
}

const cfg = JSON.parse(process.argv[2]!) as ChildWorkerConfig;
const print = (l: Omit<ChildLine, 'pid'>) => process.stdout.write(`${JSON.stringify({ ...l, pid: process.pid })}\n`);

const store = await SQLiteCatalogStore.open(cfg.catalog);
const extractors = new SpaceExtractors(1);
const slow = cfg.slow ? { re: new RegExp(cfg.slow.match), ms: cfg.slow.ms } : undefined;
const worker = await runExtractionWorker({
  url: cfg.url,
  queueName: cfg.queueName,
  store,
  concurrency: cfg.concurrency,
  lockDurationMs: cfg.lockDurationMs,
  stalledIntervalMs: cfg.stalledIntervalMs,
  extract: (spaces) => {
    const inner = extractors.extractFn(spaces);
    return async (path) => {
      if (slow?.re.test(path)) await new Promise((r) => setTimeout(r, slow.ms));
      return inner(path);
    };
  },
  onEvent: (e) => {
    if (e.type === 'error') print({ type: 'error', error: e.error.message });
    else print({ type: e.type, jobId: e.jobId, ...(e.job ? { relpath: e.job.files[0]!.relpath } : {}), ...('error' in e ? { error: e.error } : {}) });
  },
});
print({ type: 'ready' });

process.once('SIGTERM', () => {
  void (async () => {
    await worker.close();
    await extractors.close();
    await store.close();
    process.exit(0);
  })();
});
