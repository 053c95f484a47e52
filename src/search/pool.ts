/**
 * A pool of worker threads that run the scan loops of ./scan.ts on shared arenas, so batch
 * search and k-means use every core and the event loop never waits on a scan.
 * Workers are unreferenced while idle: a CLI that is done exits even though the pool exists.
 */
import { availableParallelism } from 'node:os';
import { type ErrorCode, NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import { type PooledWorker, type Reply, WorkerPool } from '../util/worker-pool.js';
import { checkPositiveInt } from '../validate.js';
import type { FlatLayout, IVFLayout, QueryBlock } from './scan.js';

export type Task =
  | { op: 'flat'; layout: FlatLayout; block: QueryBlock; q0: number; q1: number; batched: boolean }
  | { op: 'ivf'; layout: IVFLayout; block: QueryBlock; q0: number; q1: number; nprobe: number; probeD: number; probeI: number; scratch?: number };

/** What ./worker.ts answers: the count of distances computed, or what went wrong (with its code, if it had one). */
function scanReply(m: unknown): Reply<number> | undefined {
  const r = m as { id?: unknown; result?: number; error?: string; code?: ErrorCode };
  if (typeof r?.id !== 'number') return undefined;
  if (r.error === undefined) return { id: r.id, result: r.result! };
  return { id: r.id, error: r.code ? new NitamonoError(r.code, r.error) : new Error(r.error) };
}

export class ScanPool {
  private readonly pool: WorkerPool<number>;

  constructor(
    readonly size: number,
    script: URL = new URL('./worker.js', import.meta.url),
  ) {
    checkPositiveInt('threads', size);
    this.pool = new WorkerPool<number>({ script, reply: scanReply });
  }

  /** The live worker threads (started on first use). */
  get workers(): readonly PooledWorker<number>[] {
    return this.pool.workers;
  }

  /**
   * Runs one task per entry, spread round-robin over the workers; resolves to each task's count.
   * Settles only once every task has: the tasks share the caller's arena blocks, which the
   * caller frees when this settles, so none may still be writing into them.
   */
  async run(arena: Arena, tasks: Task[]): Promise<number[]> {
    if (this.pool.isClosed) throw new Error('worker pool is closed');
    const settled = await Promise.allSettled(tasks.map((task, i) => this.pool.at(i % this.size).run({ arenaId: arena.id, memory: arena.memory, task })));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<number>).value);
  }

  /** Lets workers drop their instance for an arena that is being freed. */
  forget(arena: Arena): void {
    this.pool.broadcast({ forget: arena.id });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

let shared: ScanPool | undefined;

/** The process-wide pool, sized to the machine's cores; `threads` caps how many of them a call uses. */
export function sharedPool(): ScanPool {
  shared ??= new ScanPool(availableParallelism());
  return shared;
}

/** Frees worker-side state of an arena, if a pool was ever started. */
export function forgetArena(arena: Arena): void {
  shared?.forget(arena);
}

/** Resolves the `threads` option: default all cores. */
export function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return availableParallelism();
  return checkPositiveInt('threads', threads);
}
