/**
 * Writing a collection of cluster mode: `index` of a folder into the shared PostgreSQL catalogue,
 * its extraction jobs on the BullMQ queue that `nitamono worker` processes take them from.
 *
 *   const cc = await ClusterCollection.open('postgres://…/photos', { collection: 'main', queue: 'redis://…' });
 *   const report = await cc.index('/mnt/photos', { features: ['color', 'deep'] });
 *   await cc.close();
 *
 * It is the single-machine sync (../collection/sync.ts: scan, hash, the same pure planner, cheap
 * writes, one job per distinct content) over another SyncTarget: the settings are the
 * catalogue's (`ensureClusterSettings`: root folder, kinds, bins, model), the jobs go to the
 * queue, and no search index is kept here (the shards keep theirs). There is no collection
 * folder and no collection.json.
 *
 * The writer lease (../collection/writer.ts) is taken in the catalogue for what this process
 * writes: the settings, the cheap writes (metadata, copies of known content, unreadable files,
 * deletions) and the enqueue. It is given back once the jobs are queued: from then on only the
 * workers write (puts by path, idempotent, which need no lease), and a run waiting hours for
 * them must not keep other writers out.
 */
import { resolve } from 'node:path';
import { PostgresCatalogStore } from '../catalog/postgres.js';
import { type CatalogReader, type ClusterCatalogStore, readOnlyCatalog, type WriterIdentity, type WriterLease } from '../catalog/types.js';
import type { FeatureKind, IndexChoice } from '../collection/config.js';
import { RootPaths } from '../collection/context.js';
import { type Progress, silentProgress } from '../collection/progress.js';
import { type SyncTarget, syncFolder } from '../collection/sync.js';
import type { IndexReport } from '../collection/types.js';
import { type AcquireOptions, withWriterLease, writerIdentity } from '../collection/writer.js';
import { invalid } from '../errors.js';
import type { JobResult, JobRunner } from '../ingest/jobs.js';
import { BullJobRunner, ExtractionQueue, type QueueProgressEvent } from '../ingest/queue.js';
import { type ClusterSettings, clusterSpace, ensureClusterSettings, readClusterSettings } from './settings.js';

/**
 * The job queue of a collection: its database and name, so that two catalogues sharing one
 * Redis never share a queue (a worker writes every job it takes into its own catalogue). Every
 * process computes it from `--catalog` and `--collection`, so nobody has to type it.
 */
export function clusterQueueName(database: string, collection: string): string {
  // BullMQ queue names may not hold ':'; '%' is escaped first so that distinct names stay distinct
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/:/g, '%3A');
  return `${esc(database)}/${esc(collection)}`;
}

export interface ClusterCollectionOptions {
  /** The collection inside the database (default 'default'). */
  collection?: string;
  /** The job queue's Redis: redis://[user:password@]host[:port][/db]. */
  queue: string;
  /** The queue's name (default `clusterQueueName(database, collection)`; workers must use the same). */
  queueName?: string;
  /** How long to wait for the first connection to PostgreSQL and Redis, ms. */
  connectTimeoutMs?: number;
  /** How long a write waits for another writer of the collection, ms (default: as long as it takes; 0: fail at once with LOCKED). */
  writerWait?: number;
  /** Called once when a write starts waiting for another writer. */
  onWriterWait?: (holder: WriterLease) => void;
  /** What this process runs, shown to a writer that has to wait for it (default: its argv). */
  command?: string;
}

export interface ClusterIndexOptions {
  /** Feature kinds to make sure exist (added to the collection's; default colour for a new collection). */
  features?: FeatureKind[];
  /** The index policy the shards follow. */
  index?: IndexChoice;
  nlist?: number | null;
  /** Try again files that were skipped before, even if unchanged. */
  retrySkipped?: boolean;
  /** Return once the jobs are queued; the workers commit them without anyone waiting. */
  detach?: boolean;
  progress?: Progress;
  /** Aborting stops waiting (the queued jobs still run) and returns with `interrupted: true`. */
  signal?: AbortSignal;
  /** Once the jobs are queued: how many, and how many workers are connected to the queue now. */
  onEnqueued?: (info: { jobs: number; requeued: number; workers: number; queue: string }) => void;
  /** What the queue says about this run's jobs while waiting (a job's worker died, a try failed, …). */
  onQueueEvent?: (e: QueueProgressEvent) => void;
}

/** The single-machine report, plus where the work went. */
export interface ClusterIndexReport extends IndexReport {
  /** The catalogue (user@host:port/database, no password). */
  catalog: string;
  /** The queue's name. */
  queue: string;
  /** Extraction jobs (one per distinct content) put on the queue by this run. */
  enqueued: number;
  /** Files handed to the workers whose outcome this run did not wait for (`detach`, or interrupted). */
  queued: number;
}

export class ClusterCollection {
  readonly store: CatalogReader;
  /** The queue's name. */
  readonly queueName: string;
  private readonly writer: WriterIdentity;
  private readonly writerWait: Pick<AcquireOptions, 'wait' | 'onWait'>;
  private writeLock: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly catalog: ClusterCatalogStore,
    private readonly queue: ExtractionQueue,
    o: Omit<ClusterCollectionOptions, 'queue'>,
    private readonly owns: boolean,
  ) {
    this.store = readOnlyCatalog(catalog);
    this.queueName = queue.name;
    this.writer = writerIdentity(o.command ?? ['nitamono', ...process.argv.slice(2)].join(' '));
    this.writerWait = { ...(o.writerWait !== undefined ? { wait: o.writerWait } : {}), ...(o.onWriterWait ? { onWait: o.onWriterWait } : {}) };
  }

  /**
   * Connects to the catalogue at `catalogUrl` (postgres://…) and to the queue's Redis. Throws
   * NitamonoError UNAVAILABLE / ACCESS_DENIED naming the server that failed, before anything is
   * written.
   */
  static async open(catalogUrl: string, o: ClusterCollectionOptions): Promise<ClusterCollection> {
    const store = await PostgresCatalogStore.open(catalogUrl, {
      collection: o.collection ?? 'default',
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    try {
      const queue = await ExtractionQueue.open({
        url: o.queue,
        queueName: o.queueName ?? clusterQueueName(store.database, store.collection),
        ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      });
      return new ClusterCollection(store, queue, o, true);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Over a catalogue and a queue the caller opened (and closes). */
  static over(store: ClusterCatalogStore, queue: ExtractionQueue, o: Omit<ClusterCollectionOptions, 'queue'> = {}): ClusterCollection {
    return new ClusterCollection(store, queue, o, false);
  }

  get name(): string {
    return this.catalog.collection;
  }

  /** Where the catalogue is (no password). */
  get target(): string {
    return this.catalog.target;
  }

  /** The collection's settings, or undefined before its first index. */
  settings(): Promise<ClusterSettings | undefined> {
    return readClusterSettings(this.catalog);
  }

  /**
   * Brings the collection in line with `root`: new and changed files become extraction jobs on
   * the queue (one per distinct content; the workers commit their rows), identical copies of
   * stored content reuse its vectors, deleted files are dropped. Resolves when the workers have
   * finished this run's jobs, or once they are queued with `detach`. Throws INVALID_ARGUMENT,
   * writing nothing, when the collection records another folder, colour bins or deep model.
   */
  index(root: string, opts: ClusterIndexOptions = {}): Promise<ClusterIndexReport> {
    if (this.closed) return Promise.reject(invalid('the cluster collection is closed'));
    const dir = resolve(root);
    const store = this.catalog;
    const run = async (): Promise<ClusterIndexReport> => {
      let settings: ClusterSettings | undefined;
      const paths = new RootPaths(() => dir);
      let handed = 0;
      let finished = 0;
      let enqueued = 0;
      const queue = this.queue;
      const writer = this.writer;
      const target: SyncTarget = {
        root: dir,
        name: store.collection,
        store,
        progress: opts.progress ?? silentProgress,
        excludeDirs: [],
        absolute: (relpath) => paths.absolute(relpath),
        async prepare() {
          settings = await ensureClusterSettings(store, {
            root: dir,
            ...(opts.features ? { features: opts.features } : {}),
            ...(opts.index ? { index: opts.index } : {}),
            ...(opts.nlist !== undefined ? { nlist: opts.nlist } : {}),
          });
          return settings.features;
        },
        space: (kind) => clusterSpace(settings!, kind),
        runner(): JobRunner {
          const bull = new BullJobRunner(queue, {
            store,
            wait: !opts.detach,
            async onEnqueued(summary) {
              enqueued = summary.jobs;
              // from here on only the workers write: the lease goes back now, not after hours of extraction
              await store.releaseWriter(writer);
              if (opts.onEnqueued) {
                const workers = await queue.workerCount().catch(() => -1);
                opts.onEnqueued({ jobs: summary.jobs, requeued: summary.requeued, workers, queue: queue.name });
              }
            },
            ...(opts.onQueueEvent ? { onProgress: (e: QueueProgressEvent) => opts.onQueueEvent!(e) } : {}),
          });
          return {
            async *run(jobs, signal): AsyncIterable<JobResult> {
              handed += jobs.reduce((n, j) => n + j.files.length, 0);
              for await (const r of bull.run(jobs, signal)) {
                finished += r.job.files.length;
                yield r;
              }
            },
          };
        },
        finish: async () => ({}),
      };
      const report = await syncFolder(target, {
        ...(opts.retrySkipped ? { retrySkipped: true } : {}),
        ...(opts.progress ? { progress: opts.progress } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      return { ...report, catalog: store.target, queue: queue.name, enqueued, queued: handed - finished };
    };
    const leased = () => withWriterLease(store, this.writer, { ...this.writerWait, ...(opts.signal ? { signal: opts.signal } : {}) }, run);
    const p = this.writeLock.then(leased, leased);
    this.writeLock = p.catch(() => undefined);
    return p;
  }

  /** Waits for a run in progress, then closes the connections it opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeLock.catch(() => undefined);
    if (this.owns) {
      await this.queue.close();
      await this.catalog.close();
    }
  }
}
