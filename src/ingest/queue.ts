/**
 * Extraction jobs on a BullMQ queue over Redis: cluster mode's ingest. The enqueuing side
 * (`ExtractionQueue`, `BullJobRunner`) adds one queue job per ExtractionJob; workers on any
 * number of machines (`runExtractionWorker`) run `handleExtractionJob` on their own worker-thread
 * extractors and COMMIT the writes to the shared catalogue themselves, so the enqueuer may stop
 * waiting (`index --detach`) and the work still lands.
 *
 * Guarantees and their limits:
 * - At-least-once: a job whose worker dies is run again after the stall interval (BullMQ's
 *   lock), a job that throws is retried with exponential backoff. Both are safe because the
 *   handler is idempotent: stored content is copied, never re-extracted, and `put` is idempotent
 *   by relpath, so a job run twice writes the same rows once.
 * - De-duplication: the queue job id is the job key (content hash + feature spaces) plus a digest
 *   of the files it writes, so the same work enqueued twice (two `index` runs, a re-run after a
 *   crash) is one queue job. A job finished by an earlier enqueue is run again (cheaply: the
 *   handler copies what is stored), because its rows may have changed since.
 * - Poison jobs: an undecodable image ends as a `skipped` row (the handler's failed outcome); a
 *   job that throws on every attempt, or whose workers keep dying on it, is written as a
 *   `skipped` row with the reason when the catalogue accepts it, and fails in the queue.
 * - Vectors are those of the in-process runner (same extractor code). Row ids are not: they
 *   follow the order in which workers commit, where the in-process runner commits in job order
 *   and so gives a folder the same ids on every run. Cluster mode cannot promise that.
 * - Workers read the image at the job's absolute path: every worker must see the folder at the
 *   path the enqueuer saw (a shared mount). Use one queue per collection (catalogue): a worker
 *   writes every job it takes to its own catalogue.
 * - Redis restarting: workers and an enqueuer following its jobs (`results`) reconnect and carry
 *   on. Jobs a Redis restarted without persistence lost are queued again by the enqueuer that
 *   follows them (the catalogue tells which ones never ran); jobs nobody follows
 *   (`index --detach`) survive only a Redis that keeps its data (appendonly yes): docs/cluster.md.
 *
 * bullmq and ioredis are loaded on first use, so importing nitamono does not pay for them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import type { Job, KeepJobs, Queue, QueueEvents } from 'bullmq';
import type { CatalogStore, CatalogWrite, FeatureSpace } from '../catalog/types.js';
import { SpaceExtractors } from '../collection/extractors.js';
import type { JobRunnerFactory } from '../collection/sync.js';
import { invalid, NitamonoError } from '../errors.js';
import { checkInt, checkPositiveInt } from '../validate.js';
import { type ExtractFn, type ExtractionJob, handleExtractionJob, type JobOutcome, type JobResult, type JobRunner } from './jobs.js';

/** Redis key prefix of nitamono's queues (BullMQ's default is "bull"). */
export const DEFAULT_QUEUE_PREFIX = 'nitamono';
const JOB_NAME = 'extract';
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Connection

/** Where the queue lives. One queue per collection: its workers write to that one catalogue. */
export interface QueueConnection {
  /** redis://[user:password@]host[:port][/db], or rediss:// for TLS. */
  url: string;
  queueName: string;
  /** Redis key prefix (default "nitamono"). */
  prefix?: string;
  /** How long the first connection may take before failing with UNAVAILABLE (default 5000 ms). */
  connectTimeoutMs?: number;
}

/** Connection settings both ioredis and BullMQ take. */
interface RedisParams {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  connectTimeout?: number;
  maxRetriesPerRequest?: number;
}

interface RedisTarget {
  /** The URL with any password masked: what messages show. */
  display: string;
  options: RedisParams;
}

function redisTarget(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`'${url}' is not a Redis URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw invalid(`'${url}' is not a Redis URL (expected redis:// or rediss://)`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbPath = u.pathname.replace(/^\//, '');
  if (dbPath !== '' && !/^\d+$/.test(dbPath)) throw invalid(`'${url}': the path must be a database number`);
  const options: RedisParams = { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port, db: dbPath === '' ? 0 : Number(dbPath) };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (u.password) options.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') options.tls = {};
  if (u.password) u.password = '***';
  return { display: u.toString(), options };
}

/** A Redis URL as messages show it: the password masked (INVALID_ARGUMENT for something else). */
export function displayRedisUrl(url: string): string {
  return redisTarget(url).display;
}

function unavailable(target: RedisTarget, err: unknown): NitamonoError {
  const msg = err instanceof Error ? err.message : String(err);
  return new NitamonoError('UNAVAILABLE', `cannot reach the job queue's Redis at ${target.display}: ${msg || 'no answer'}`, { cause: err });
}

/**
 * Connects once with a bounded wait (ioredis would otherwise retry forever) and checks the
 * server answers PING and is Redis ≥ 5 (BullMQ's minimum). Throws NitamonoError UNAVAILABLE
 * naming the URL.
 */
async function probeRedis(target: RedisTarget, timeoutMs: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ''}`)), timeoutMs);
  });
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        const info = await client.info('server');
        const version = /redis_version:(\d+)/.exec(info)?.[1];
        if (version !== undefined && Number(version) < 5) throw new Error(`Redis ${version} is too old: BullMQ needs 5.0 or later`);
      })(),
      timeout,
    ]);
  } catch (err) {
    throw unavailable(target, lastError && err instanceof Error && /Connection is closed|Stream isn't writeable/.test(err.message) ? lastError : err);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Job ids and payloads

/** What a queue job carries: the ExtractionJob (plain JSON) and who enqueued it. */
export interface QueuedJobData extends ExtractionJob {
  /** A token of the enqueue call that added the queue job (tells an older queue job apart). */
  enqueuedBy: string;
}

/** What a worker returns: the outcome without the vectors, and the row ids it committed. */
export interface QueuedJobReturn {
  outcome: JobOutcome;
  ids: number[];
}

/**
 * The queue job id of an extraction job: its key (content hash + spaces) and a digest of the
 * files it writes (two plans for one content with other files are two queue jobs, or the second
 * would be dropped as a duplicate and its files never written). BullMQ ids cannot contain ':'
 * (nor be integers): the key is percent-encoded.
 */
export function queueJobId(job: Pick<ExtractionJob, 'key' | 'files'>): string {
  const files = [...job.files].sort((a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0)).map((f) => [f.relpath, f.size, f.mtime_ms]);
  const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  return `${encodeURIComponent(job.key)}.${digest}`;
}

function isExtractionJob(d: unknown): d is ExtractionJob {
  const j = d as ExtractionJob;
  return (
    typeof j === 'object' &&
    j !== null &&
    typeof j.key === 'string' &&
    typeof j.sha256 === 'string' &&
    typeof j.path === 'string' &&
    Array.isArray(j.spaces) &&
    j.spaces.every((s) => typeof s?.kind === 'string' && typeof s?.model === 'string') &&
    Array.isArray(j.files) &&
    j.files.every((f) => typeof f?.relpath === 'string' && typeof f?.size === 'number' && typeof f?.mtime_ms === 'number')
  );
}

/** A job failure as the queue stores it: "CODE: reason". */
function failureMessage(code: string, reason: string): string {
  return `${code}: ${reason}`;
}

function failureOutcome(failedReason: string | undefined): JobOutcome {
  const m = /^([A-Z][A-Z_]*): ([\s\S]*)$/.exec(failedReason ?? '');
  if (m) return { status: 'failed', code: m[1]!, reason: m[2]! };
  return { status: 'failed', code: 'IO', reason: failedReason || 'the job failed in the queue' };
}

/** The code and reason of an error a job threw. */
function errorFailure(err: unknown): { code: string; reason: string } {
  if (err instanceof NitamonoError) return { code: err.code, reason: err.message };
  const e = err as NodeJS.ErrnoException;
  const msg = e instanceof Error ? e.message : String(err);
  return { code: 'IO', reason: e?.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg };
}

function isReturn(v: unknown): v is QueuedJobReturn {
  const r = v as QueuedJobReturn;
  return typeof r === 'object' && r !== null && typeof r.outcome?.status === 'string' && Array.isArray(r.ids);
}

// ---------------------------------------------------------------------------------------------
// The enqueuing side

export interface ExtractionQueueOptions extends QueueConnection {
  /** Tries per job before it fails (default 3). */
  attempts?: number;
  /** First retry delay; each next one doubles (default 1000 ms). */
  backoffMs?: number;
  /** Finished jobs kept in Redis, for late readers of their outcome (default 1 h, at most 20,000). */
  keepCompleted?: KeepJobs;
  /** Failed jobs kept in Redis, to look at (default 7 days, at most 10,000). */
  keepFailed?: KeepJobs;
}

export interface EnqueueSummary {
  /** Queue jobs asked for (one per extraction job). */
  jobs: number;
  /** Jobs an earlier enqueue had finished, put back to run again. */
  requeued: number;
}

/** One extraction job done, as the enqueuer learns it from the queue. */
export interface QueuedJobResult {
  job: ExtractionJob;
  jobId: string;
  outcome: JobOutcome;
  /** Row ids the worker committed (one per file), when the queue still had them. */
  ids?: number[];
}

export type QueueProgressEvent =
  | { type: 'active'; job: ExtractionJob }
  /** A try failed; the job waits for its next one. */
  | { type: 'retrying'; job: ExtractionJob }
  /** Its worker stopped renewing the lock (died or hung): the job runs again elsewhere. */
  | { type: 'stalled'; job: ExtractionJob }
  | { type: 'finished'; result: QueuedJobResult }
  /** Redis stopped answering while the jobs were followed: waiting for it (said once per outage). */
  | { type: 'unreachable'; error: string }
  /** Redis answers again after an outage. */
  | { type: 'reconnected' }
  /**
   * These jobs vanished from the queue before anyone ran them (a Redis restarted without its
   * data, or flushed) and their rows are not in the catalogue: they were queued again.
   */
  | { type: 'requeued'; jobs: ExtractionJob[] };

export interface WaitOptions {
  signal?: AbortSignal;
  onProgress?: (event: QueueProgressEvent, counts: { total: number; finished: number }) => void;
  /**
   * A catalogue to read the outcome from when a job left the queue before its outcome was read
   * (evicted by the keep policy); without it such a job counts as failed.
   */
  store?: CatalogStore;
  /** When no event came for this long, the unfinished jobs' states are read (default 10 s). */
  reconcileMs?: number;
}

const CHUNK = 500;
/** How often a vanished job is queued again before the wait gives up on it (see `results`). */
export const MAX_REQUEUES = 3;
/** While Redis does not answer, its jobs' states are read again this often (ms). */
const OUTAGE_RETRY_MS = 1000;

/**
 * The producer side of the extraction queue: adds jobs and follows them to the end.
 * `open` fails fast (NitamonoError UNAVAILABLE naming the URL) when Redis cannot be reached.
 */
export class ExtractionQueue {
  readonly name: string;
  readonly prefix: string;
  /** The Redis URL, password masked. */
  readonly url: string;
  private readonly target: RedisTarget;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly keepCompleted: KeepJobs;
  private readonly keepFailed: KeepJobs;
  private lastError: Error | undefined;
  private closed = false;

  private constructor(
    opts: ExtractionQueueOptions,
    target: RedisTarget,
    private readonly queue: Queue<QueuedJobData, QueuedJobReturn>,
    private readonly QueueEventsClass: typeof QueueEvents,
    private readonly control: import('ioredis').Redis,
  ) {
    this.name = opts.queueName;
    this.prefix = opts.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.target = target;
    this.url = target.display;
    this.attempts = checkInt('attempts', opts.attempts ?? 3, { min: 1, max: 100 });
    this.backoffMs = checkInt('backoffMs', opts.backoffMs ?? 1000, { min: 0 });
    this.keepCompleted = opts.keepCompleted ?? { age: 3600, count: 20_000 };
    this.keepFailed = opts.keepFailed ?? { age: 7 * 24 * 3600, count: 10_000 };
    queue.on('error', (e) => {
      this.lastError = e;
    });
  }

  static async open(opts: ExtractionQueueOptions): Promise<ExtractionQueue> {
    const target = redisTarget(opts.url);
    checkQueueName(opts.queueName);
    const timeoutMs = checkPositiveInt('connectTimeoutMs', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    await probeRedis(target, timeoutMs);
    const [{ Queue, QueueEvents }, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
    const prefix = opts.prefix ?? DEFAULT_QUEUE_PREFIX;
    // Commands fail after a few reconnection tries instead of waiting forever for a Redis that left.
    const options: RedisParams = { ...target.options, connectTimeout: timeoutMs, maxRetriesPerRequest: 3 };
    const queue = new Queue<QueuedJobData, QueuedJobReturn>(opts.queueName, { connection: options, prefix });
    const control = new Redis(options);
    control.on('error', () => undefined); // surfaces through the command that fails
    const q = new ExtractionQueue(opts, target, queue, QueueEvents, control);
    try {
      await queue.waitUntilReady();
    } catch (err) {
      await q.close();
      throw unavailable(target, err);
    }
    return q;
  }

  /**
   * Adds one queue job per extraction job (a job already queued is not added twice). A job an
   * earlier enqueue finished is put back to run again: its rows may have changed since, and a
   * re-run costs one catalogue look-up when they did not.
   */
  async enqueue(jobs: readonly ExtractionJob[]): Promise<EnqueueSummary> {
    const token = randomUUID();
    let requeued = 0;
    for (let start = 0; start < jobs.length; start += CHUNK) {
      const chunk = jobs.slice(start, start + CHUNK);
      const ids = chunk.map(queueJobId);
      await this.call(() =>
        this.queue.addBulk(
          chunk.map((job, i) => ({
            name: JOB_NAME,
            data: { key: job.key, sha256: job.sha256, path: job.path, spaces: job.spaces, files: job.files, enqueuedBy: token },
            opts: {
              jobId: ids[i]!,
              attempts: this.attempts,
              backoff: { type: 'exponential', delay: this.backoffMs },
              removeOnComplete: this.keepCompleted,
              removeOnFail: this.keepFailed,
            },
          })),
        ),
      );
      const states = await this.call(() => Promise.all(ids.map((id) => this.queue.getJobState(id))));
      for (let i = 0; i < ids.length; i++) {
        const state = states[i];
        if (state !== 'completed' && state !== 'failed') continue;
        const existing = await this.call(() => this.queue.getJob(ids[i]!));
        // finished already by this very enqueue (a fast worker): that outcome is current
        if (!existing || existing.data?.enqueuedBy === token) continue;
        try {
          await existing.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
          requeued++;
        } catch {
          // another enqueuer put it back first, or it was removed: it runs, or is gone (then reconciled)
        }
      }
    }
    return { jobs: jobs.length, requeued };
  }

  /**
   * Follows these jobs until each has finished (completed or failed for good), yielding each
   * outcome once, in the order they finish. Fed by the queue's event stream read from just
   * before the jobs' states are checked, so an event that came before the call is not missed;
   * the states are read again whenever no event came for `reconcileMs`, and at once when the
   * connection to Redis comes back after a loss. Ends early when `signal` aborts (the jobs stay
   * queued and land anyway).
   *
   * A Redis that restarts meanwhile is waited for (an `unreachable` event, then `reconnected`;
   * as long as it takes: the workers wait for it too). A job gone from the queue — a Redis
   * restarted without persistence, or flushed — is settled from the catalogue when its rows are
   * there (its worker committed it before the loss), and otherwise queued again (a `requeued`
   * event; at most MAX_REQUEUES times, then it counts as failed): the run resumes whatever Redis
   * kept. Jobs nobody follows (`index --detach`) need a Redis that keeps its data (AOF).
   */
  async *results(jobs: readonly ExtractionJob[], opts: WaitOptions = {}): AsyncGenerator<QueuedJobResult> {
    const pending = new Map<string, ExtractionJob>();
    for (const j of jobs) pending.set(queueJobId(j), j);
    const total = pending.size;
    if (total === 0) return;
    const reconcileMs = checkPositiveInt('reconcileMs', opts.reconcileMs ?? 10_000);
    let finished = 0;
    const ready: QueuedJobResult[] = [];
    let wake: () => void = () => undefined;
    const progress = (e: QueueProgressEvent) => opts.onProgress?.(e, { total, finished });
    const settle = (jobId: string, outcome: JobOutcome, ids?: number[]) => {
      const job = pending.get(jobId);
      if (!job) return;
      pending.delete(jobId);
      finished++;
      const r: QueuedJobResult = { job, jobId, outcome, ...(ids ? { ids } : {}) };
      ready.push(r);
      progress({ type: 'finished', result: r });
      wake();
    };
    const mine = (jobId: string, fn: (job: ExtractionJob) => void) => {
      const job = pending.get(jobId);
      if (job) fn(job);
    };

    // The stream position before any state is read: every later finish arrives as an event.
    const from = await this.lastEventId();
    const events = new this.QueueEventsClass(this.name, { connection: this.target.options, prefix: this.prefix, lastEventId: from, blockingTimeout: 5000 });
    let recheck = false;
    events.on('error', (e) => {
      this.lastError = e;
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      if (isReturn(returnvalue)) settle(jobId, returnvalue.outcome, returnvalue.ids);
      else mine(jobId, () => settle(jobId, { status: 'failed', code: 'IO', reason: 'the worker returned no outcome' }));
    });
    events.on('failed', ({ jobId, failedReason }) => settle(jobId, failureOutcome(failedReason)));
    events.on('active', ({ jobId }) => mine(jobId, (job) => progress({ type: 'active', job })));
    events.on('delayed', ({ jobId }) => mine(jobId, (job) => progress({ type: 'retrying', job })));
    events.on('stalled', ({ jobId }) => mine(jobId, (job) => progress({ type: 'stalled', job })));
    events.on('removed', ({ jobId }) =>
      mine(jobId, () => {
        recheck = true;
        wake();
      }),
    );
    // the connection back after a loss: Redis may have restarted without the jobs
    let connectedOnce = this.control.status === 'ready';
    const onReady = () => {
      if (!connectedOnce) {
        connectedOnce = true;
        return;
      }
      recheck = true;
      wake();
    };
    this.control.on('ready', onReady);

    const requeues = new Map<string, number>();
    let outage: string | undefined;
    /** Reads the unfinished jobs' states; false when Redis did not answer (then read again soon). */
    const check = async (): Promise<boolean> => {
      try {
        const lost = await this.reconcile(pending, settle, opts.store);
        const again: ExtractionJob[] = [];
        for (const [jobId, job] of lost) {
          const n = requeues.get(jobId) ?? 0;
          if (n >= MAX_REQUEUES) {
            settle(jobId, {
              status: 'failed',
              code: 'IO',
              reason: `the job vanished from the queue ${n + 1} times before it ran (is Redis flushed or evicting keys?)`,
            });
          } else {
            requeues.set(jobId, n + 1);
            again.push(job);
          }
        }
        if (again.length > 0) {
          await this.enqueue(again);
          progress({ type: 'requeued', jobs: again });
        }
        if (outage !== undefined) {
          outage = undefined;
          progress({ type: 'reconnected' });
        }
        return true;
      } catch (err) {
        if (!(err instanceof NitamonoError && err.code === 'UNAVAILABLE')) throw err;
        if (outage === undefined) progress({ type: 'unreachable', error: err.message });
        outage = err.message;
        return false;
      }
    };
    try {
      let healthy = await check();
      for (;;) {
        while (ready.length > 0) yield ready.shift()!;
        if (pending.size === 0 || opts.signal?.aborted) return;
        if (recheck) {
          recheck = false;
          healthy = await check();
          continue;
        }
        const woken = await new Promise<boolean>((resolve) => {
          const signal = opts.signal;
          const done = (v: boolean) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            wake = () => undefined;
            resolve(v);
          };
          const onAbort = () => done(true);
          const timer = setTimeout(() => done(false), healthy ? reconcileMs : Math.min(reconcileMs, OUTAGE_RETRY_MS));
          signal?.addEventListener('abort', onAbort, { once: true });
          wake = () => done(true);
        });
        if (!woken) healthy = await check();
      }
    } finally {
      this.control.off('ready', onReady);
      await events.close().catch(() => undefined);
    }
  }

  /** Workers connected to this queue now (BullMQ's worker connections in Redis's client list). */
  async workerCount(): Promise<number> {
    return this.call(() => this.queue.getWorkersCount());
  }

  /** Counts of the queue's jobs by state. */
  async counts(): Promise<Record<string, number>> {
    return this.call(() => this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close().catch(() => undefined);
    this.control.disconnect();
  }

  /**
   * Reads the state of unfinished jobs; settles those that finished, or that left the queue with
   * their rows in the catalogue. Returns the jobs that left the queue without a trace there.
   */
  private async reconcile(
    pending: Map<string, ExtractionJob>,
    settle: (jobId: string, outcome: JobOutcome, ids?: number[]) => void,
    store?: CatalogStore,
  ): Promise<Map<string, ExtractionJob>> {
    const lost = new Map<string, ExtractionJob>();
    const ids = [...pending.keys()];
    for (let start = 0; start < ids.length; start += CHUNK) {
      const chunk = ids.slice(start, start + CHUNK);
      const states = await this.call(() => Promise.all(chunk.map((id) => this.queue.getJobState(id))));
      for (let i = 0; i < chunk.length; i++) {
        const id = chunk[i]!;
        const state = states[i];
        if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue;
        const job = state === 'unknown' ? undefined : await this.call(() => this.queue.getJob(id));
        if (state === 'completed' && job && isReturn(job.returnvalue)) settle(id, job.returnvalue.outcome, job.returnvalue.ids);
        else if (state === 'failed' && job) settle(id, failureOutcome(job.failedReason));
        else if (pending.has(id)) {
          const ej = pending.get(id)!;
          const outcome = await outcomeFromCatalog(store, ej);
          if (outcome) settle(id, outcome);
          else lost.set(id, ej);
        }
      }
    }
    return lost;
  }

  private async lastEventId(): Promise<string> {
    const last = (await this.call(() => this.control.xrevrange(this.queue.keys.events!, '+', '-', 'COUNT', 1))) as [string, string[]][];
    return last[0]?.[0] ?? '0-0';
  }

  /** Runs a Redis call; a connection failure becomes UNAVAILABLE naming the URL. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) throw unavailable(this.target, this.lastError ?? err);
      throw err;
    }
  }
}

function isConnectionError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException;
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(e?.code ?? '') ||
    /Connection is closed|Reached the max retries|Stream isn't writeable|connect ETIMEDOUT/.test(e?.message ?? '')
  );
}

function checkQueueName(name: unknown): void {
  if (typeof name !== 'string' || name === '' || name.includes(':'))
    throw invalid(`queue name must be a non-empty string without ':', got ${JSON.stringify(name)}`);
}

/**
 * A job that left the queue before its outcome was read: what its rows say — undefined when
 * they are not there (it never ran, or the catalogue is not known), so it must run again.
 */
async function outcomeFromCatalog(store: CatalogStore | undefined, job: ExtractionJob): Promise<JobOutcome | undefined> {
  if (!store) return undefined;
  const rows = await Promise.all(job.files.map((f) => store.byRelpath(f.relpath)));
  if (rows.every((r) => r?.sha256 === job.sha256 && r.status === 'ok')) return { status: 'extracted' };
  const skipped = rows.find((r) => r?.sha256 === job.sha256 && r.status === 'skipped');
  if (skipped) return { status: 'failed', code: skipped.error_code ?? 'IO', reason: skipped.error_message ?? 'skipped' };
  return undefined;
}

export interface BullJobRunnerOptions extends Omit<WaitOptions, 'signal'> {
  /** false: enqueue and return at once (`index --detach`); the workers commit what they do. */
  wait?: boolean;
  /**
   * Called once the jobs are in the queue, before any is waited for (cluster `index` gives its
   * writer lease back here: from then on only the workers write).
   */
  onEnqueued?: (summary: EnqueueSummary) => void | Promise<void>;
}

/**
 * A JobRunner over the extraction queue: enqueues the jobs and yields each outcome as workers
 * finish it, in finish order. The workers have committed the rows already, so every result
 * carries no writes (the sync service commits nothing for them). With `wait: false` it yields
 * nothing: the update reports only what it did itself.
 */
export class BullJobRunner implements JobRunner {
  constructor(
    private readonly queue: ExtractionQueue,
    private readonly opts: BullJobRunnerOptions = {},
  ) {}

  async *run(jobs: readonly ExtractionJob[], signal?: AbortSignal): AsyncIterable<JobResult> {
    if (jobs.length === 0) return;
    const summary = await this.queue.enqueue(jobs);
    await this.opts.onEnqueued?.(summary);
    if (this.opts.wait === false) return;
    const { wait: _, onEnqueued: __, ...waitOpts } = this.opts;
    for await (const r of this.queue.results(jobs, { ...waitOpts, ...(signal ? { signal } : {}) })) {
      yield { job: r.job, outcome: r.outcome, writes: [] };
    }
  }
}

/** A collection's job runner factory over this queue (`Collection.open(…, { jobRunner })`). */
export function queueJobRunner(queue: ExtractionQueue, opts: BullJobRunnerOptions = {}): JobRunnerFactory {
  return (ctx) => new BullJobRunner(queue, { store: ctx.store, ...opts });
}

// ---------------------------------------------------------------------------------------------
// The worker side

/** The extract function for a job's feature spaces. */
export type ExtractorFor = (spaces: readonly FeatureSpace[]) => ExtractFn;

export interface ExtractionWorkerOptions extends QueueConnection {
  /** The catalogue this queue's jobs are written to. Not closed by the worker. */
  store: CatalogStore;
  /** Default: worker-thread FeatureExtractors for whatever spaces the jobs ask (closed with the worker). */
  extract?: ExtractorFor;
  /** Threads of the default extractors (default: every core). */
  threads?: number;
  /** Jobs in flight at once (default 4 × threads: enough to keep every extractor thread busy). */
  concurrency?: number;
  /** Stops taking jobs, finishes those in flight, and closes. */
  signal?: AbortSignal;
  /** How long a job's lock lasts without renewal; a dead worker's job runs again after it (default 30 s). */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) and still run again; then it is recorded as skipped (default 2). */
  maxStalls?: number;
  /** Shown in the queue as the job's processor (default host/pid). */
  name?: string;
  /** What happens, for logs and tests. */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'active'; jobId: string; job: ExtractionJob; attempt: number }
  | { type: 'completed'; jobId: string; job: ExtractionJob; outcome: JobOutcome }
  | { type: 'retry'; jobId: string; job: ExtractionJob; attempt: number; error: string }
  | { type: 'failed'; jobId: string; job?: ExtractionJob; error: string; recorded: boolean }
  /** A problem outside any job (Redis connection lost, …); BullMQ keeps reconnecting. */
  | { type: 'error'; error: Error };

export interface ExtractionWorkerStats {
  completed: number;
  /** Tries that threw and were retried. */
  retried: number;
  /** Jobs failed for good. */
  failed: number;
}

export interface ExtractionWorker {
  readonly name: string;
  /** The Redis URL, password masked. */
  readonly url: string;
  readonly stats: Readonly<ExtractionWorkerStats>;
  /** Resolves once the worker has stopped (after close() or the signal). */
  readonly closed: Promise<void>;
  /** Stops taking jobs, waits for those in flight, closes the extractors it made. */
  close(): Promise<void>;
}

/** Raised inside the processor for a job that must not be tried again. */
class GiveUp extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
  ) {
    super(failureMessage(code, reason));
  }
}

/**
 * Starts a worker on the extraction queue and resolves once it is connected (Redis unreachable:
 * NitamonoError UNAVAILABLE naming the URL, within `connectTimeoutMs`). Extraction runs on
 * worker threads, so this thread stays free to renew the locks of the jobs in flight. Each job's
 * writes are committed before the job completes (commits of jobs finishing together are grouped).
 */
export async function runExtractionWorker(opts: ExtractionWorkerOptions): Promise<ExtractionWorker> {
  const target = redisTarget(opts.url);
  checkQueueName(opts.queueName);
  const timeoutMs = checkPositiveInt('connectTimeoutMs', opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const threads = checkInt('threads', opts.threads ?? availableParallelism(), { min: 1, max: 256 });
  const concurrency = checkInt('concurrency', opts.concurrency ?? 4 * threads, { min: 1, max: 10_000 });
  const maxStalls = checkInt('maxStalls', opts.maxStalls ?? 2, { min: 0, max: 1000 });
  const lockDuration = checkInt('lockDurationMs', opts.lockDurationMs ?? 30_000, { min: 100 });
  const stalledInterval = checkInt('stalledIntervalMs', opts.stalledIntervalMs ?? 30_000, { min: 100 });
  await probeRedis(target, timeoutMs);
  const { Worker, UnrecoverableError } = await import('bullmq');

  const own = opts.extract ? undefined : new SpaceExtractors(threads);
  const extractFor: ExtractorFor = opts.extract ?? ((spaces) => own!.extractFn(spaces));
  const committer = new GroupCommit(opts.store);
  const stats: ExtractionWorkerStats = { completed: 0, retried: 0, failed: 0 };
  const emit = (e: WorkerEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a listener's bug must not fail jobs
    }
  };
  const name = opts.name ?? `${hostname()}/${process.pid}`;

  const process_ = async (job: Job<QueuedJobData, QueuedJobReturn>): Promise<QueuedJobReturn> => {
    const jobId = job.id ?? '?';
    const data = job.data;
    if (!isExtractionJob(data)) throw new UnrecoverableError(failureMessage('INVALID_ARGUMENT', 'the queue job is not an extraction job'));
    const ej: ExtractionJob = { key: data.key, sha256: data.sha256, path: data.path, spaces: data.spaces, files: data.files };
    const attempts = job.opts.attempts ?? 1;
    const attempt = job.attemptsMade + 1;
    emit({ type: 'active', jobId, job: ej, attempt });
    try {
      // Each stall is a worker that died (or hung) running it: a job that keeps killing workers is recorded, not run forever.
      if (job.stalledCounter > maxStalls) {
        const n = job.stalledCounter;
        throw new GiveUp('IO', `its worker stopped ${n} ${n === 1 ? 'time' : 'times'} while extracting it (killed, out of memory or hung)`);
      }
      const r = await handleExtractionJob(ej, { store: opts.store, extract: extractFor(ej.spaces) });
      const ids = await committer.commit(r.writes);
      stats.completed++;
      emit({ type: 'completed', jobId, job: ej, outcome: r.outcome });
      return { outcome: r.outcome, ids };
    } catch (err) {
      const f = err instanceof GiveUp ? { code: err.code, reason: err.reason } : errorFailure(err);
      if (!(err instanceof GiveUp) && attempt < attempts) {
        stats.retried++;
        emit({ type: 'retry', jobId, job: ej, attempt, error: f.reason });
        throw new Error(failureMessage(f.code, f.reason));
      }
      // The last try: record the file as skipped with the reason, if the catalogue takes it.
      const reason = err instanceof GiveUp ? f.reason : `${f.reason} (gave up after ${attempt} ${attempt === 1 ? 'try' : 'tries'})`;
      let recorded = false;
      try {
        await committer.commit(
          ej.files.map(
            (file): CatalogWrite => ({
              op: 'put',
              image: {
                relpath: file.relpath,
                size: file.size,
                mtime_ms: file.mtime_ms,
                sha256: ej.sha256,
                status: 'skipped',
                error_code: f.code,
                error_message: reason,
              },
            }),
          ),
        );
        recorded = true;
      } catch {
        // the catalogue is down too: the failure stays in the queue's failed set
      }
      stats.failed++;
      emit({ type: 'failed', jobId, job: ej, error: reason, recorded });
      throw new UnrecoverableError(failureMessage(f.code, reason));
    }
  };

  const worker = new Worker<QueuedJobData, QueuedJobReturn>(opts.queueName, process_, {
    connection: { ...target.options, connectTimeout: timeoutMs },
    prefix: opts.prefix ?? DEFAULT_QUEUE_PREFIX,
    name,
    concurrency,
    lockDuration,
    stalledInterval,
    // one more than maxStalls: the processor records the job itself before BullMQ would fail it silently
    maxStalledCount: maxStalls + 1,
    autorun: true,
  });
  worker.on('error', (error) => emit({ type: 'error', error }));

  let closing: Promise<void> | undefined;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const close = () => {
    closing ??= (async () => {
      try {
        await worker.close();
      } finally {
        await own?.close();
        markClosed();
      }
    })();
    return closing;
  };
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await close().catch(() => undefined);
    throw unavailable(target, err);
  }
  if (opts.signal?.aborted) void close();
  else opts.signal?.addEventListener('abort', () => void close(), { once: true });
  return { name, url: target.display, stats, closed, close };
}

/**
 * Commits of jobs finishing together go in one unit of work (one fsync / round trip for
 * several jobs). A failed group is committed again job by job, so only the job at fault fails.
 */
class GroupCommit {
  private queue: { writes: readonly CatalogWrite[]; resolve: (ids: number[]) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly store: CatalogStore) {}

  commit(writes: readonly CatalogWrite[]): Promise<number[]> {
    if (writes.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ writes, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, 64);
        try {
          const r = await this.store.commit(group.flatMap((g) => g.writes));
          let at = 0;
          for (const g of group) {
            g.resolve(r.ids.slice(at, at + g.writes.length));
            at += g.writes.length;
          }
        } catch (err) {
          if (group.length === 1) {
            group[0]!.reject(err);
            continue;
          }
          for (const g of group) {
            try {
              g.resolve((await this.store.commit(g.writes)).ids);
            } catch (e) {
              g.reject(e);
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }
}
