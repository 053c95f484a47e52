/**
 * The core both worker pools share (the scan pool of src/search and the feature extractor of
 * src/image): spawning worker threads, tagging each task with an id, matching replies to the
 * tasks waiting for them, and — the part that is easy to get wrong — noticing when a worker
 * dies. A worker's `error` or `exit` rejects every task it still owed an answer, and the
 * worker leaves the pool, so nobody waits forever on a thread that is gone; the pool starts a
 * replacement on next use (or the owner does, from onExit).
 */
import { type Transferable, Worker } from 'node:worker_threads';
import { type ErrorCode, NitamonoError } from '../errors.js';

/** The answer to task `id`: a result, or the error the worker reported for it. */
export type Reply<R> = { id: number; result: R } | { id: number; error: Error };

/**
 * The reply of a worker script that answers { id, result } or { id, error, code? } (see
 * errorReply): the code makes the caller's error the same NitamonoError (a 4xx, not a 500).
 */
export function codedReply<R>(m: unknown): Reply<R> | undefined {
  const r = m as { id?: unknown; result?: R; error?: string; code?: ErrorCode };
  if (typeof r?.id !== 'number') return undefined;
  if (r.error === undefined) return { id: r.id, result: r.result! };
  return { id: r.id, error: r.code ? new NitamonoError(r.code, r.error) : new Error(r.error) };
}

/** What a worker script posts when task `id` failed: the message, and the code of a NitamonoError. */
export function errorReply(id: number, err: unknown): { id: number; error: string; code?: ErrorCode } {
  return { id, error: err instanceof Error ? err.message : String(err), ...(err instanceof NitamonoError ? { code: err.code } : {}) };
}

export interface WorkerPoolOptions<R> {
  /** The worker's script. */
  script: URL;
  /** workerData for each new worker; called at every spawn, so replacements see current settings. */
  workerData?: () => unknown;
  /** Recognises the reply to a task among a worker's messages; other messages go to onMessage. */
  reply(message: unknown): Reply<R> | undefined;
  /** A worker that must prepare (e.g. load a model) says so with a message this accepts; until then it is not ready. */
  isReadyMessage?(message: unknown): boolean;
  /** Messages that are neither replies nor the ready signal. */
  onMessage?(worker: PooledWorker<R>, message: unknown): void;
  /** A worker died on its own: its tasks have been rejected and it has left the pool. */
  onExit?(worker: PooledWorker<R>, error: Error): void;
  /**
   * Keep a worker referenced (the process alive) exactly while it owes answers; idle workers
   * then never hold a finished program open. Default true; false leaves ref/unref to the owner.
   */
  refWhileBusy?: boolean;
}

interface Pending<R> {
  resolve(value: R): void;
  reject(error: Error): void;
}

let nextTaskId = 1;

/** One worker thread of a pool and the tasks it owes answers to. */
export class PooledWorker<R> {
  readonly worker: Worker;
  /** Settles when the worker is ready for tasks; rejects if it dies first. */
  readonly ready: Promise<void>;
  private readonly pending = new Map<number, Pending<R>>();
  private alive = true;
  private readyNow: boolean;
  private markReady!: () => void;
  private failReady!: (error: Error) => void;

  constructor(
    private readonly options: WorkerPoolOptions<R>,
    private readonly leave: (w: PooledWorker<R>) => void,
  ) {
    this.worker = new Worker(options.script, { workerData: options.workerData?.() });
    this.readyNow = options.isReadyMessage === undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // whoever does not await readiness must not see an unhandled rejection
    this.ready.catch(() => {});
    if (this.readyNow) this.markReady();
    if (options.refWhileBusy !== false) this.worker.unref();
    this.worker.on('message', (m: unknown) => this.onMessage(m));
    this.worker.on('error', (err: Error) => this.died(err));
    this.worker.on('exit', (code: number) => this.died(new Error(`worker thread exited with code ${code}`)));
  }

  get isReady(): boolean {
    return this.readyNow;
  }
  get isAlive(): boolean {
    return this.alive;
  }
  /** Tasks sent and not yet answered. */
  get inflight(): number {
    return this.pending.size;
  }

  /** Sends `message` plus a fresh task `id`; resolves with the worker's reply to it. */
  run(message: object, transfer?: readonly Transferable[]): Promise<R> {
    if (!this.alive) return Promise.reject(new Error('worker thread has exited'));
    const id = nextTaskId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1 && this.options.refWhileBusy !== false) this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** A message that expects no reply. */
  post(message: unknown): void {
    if (this.alive) this.worker.postMessage(message);
  }

  /** Stops the worker on purpose; its unanswered tasks reject with `reason`. */
  async terminate(reason: Error): Promise<void> {
    this.fail(reason);
    await this.worker.terminate();
  }

  private onMessage(m: unknown): void {
    const r = this.options.reply(m);
    if (r === undefined) {
      if (!this.readyNow && this.options.isReadyMessage?.(m)) {
        this.readyNow = true;
        this.markReady();
      } else {
        this.options.onMessage?.(this, m);
      }
      return;
    }
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (this.pending.size === 0 && this.options.refWhileBusy !== false) this.worker.unref();
    if ('error' in r) p.reject(r.error);
    else p.resolve(r.result);
  }

  private died(error: Error): void {
    if (!this.fail(error)) return;
    this.options.onExit?.(this, error);
  }

  /** Marks the worker gone and rejects what it owed; false if that already happened. */
  private fail(error: Error): boolean {
    if (!this.alive) return false;
    this.alive = false;
    this.leave(this);
    const owed = [...this.pending.values()];
    this.pending.clear();
    this.failReady(error);
    for (const p of owed) p.reject(error);
    return true;
  }
}

export class WorkerPool<R> {
  private list: PooledWorker<R>[] = [];
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions<R>) {}

  /** The live workers, oldest first. */
  get workers(): readonly PooledWorker<R>[] {
    return this.list;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Starts one more worker. */
  spawn(): PooledWorker<R> {
    if (this.closed) throw new Error('worker pool is closed');
    const w = new PooledWorker<R>(this.options, (gone) => {
      const i = this.list.indexOf(gone);
      if (i >= 0) this.list.splice(i, 1);
    });
    this.list.push(w);
    return w;
  }

  /** Worker `i`, starting workers up to it: one that died has left the list and is replaced here. */
  at(i: number): PooledWorker<R> {
    while (this.list.length <= i) this.spawn();
    return this.list[i]!;
  }

  /** Sends a message that expects no reply to every live worker. */
  broadcast(message: unknown): void {
    for (const w of this.list) w.post(message);
  }

  /** Stops every worker; unanswered tasks reject with `reason`. The pool cannot be used again. */
  async close(reason: Error = new Error('worker pool is closed')): Promise<void> {
    this.closed = true;
    const all = this.list;
    this.list = [];
    await Promise.all(all.map((w) => w.terminate(reason)));
  }
}
