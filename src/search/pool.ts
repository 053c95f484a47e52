/**
 * A pool of worker threads that run the scan loops of ./scan.ts on shared arenas, so batch
 * search and k-means use every core and the event loop never waits on a scan.
 * Workers are unreferenced while idle: a CLI that is done exits even though the pool exists.
 */
import { availableParallelism } from 'node:os';
import type { Arena } from '../kernels/arena.js';
import { codedReply, type PooledWorker, WorkerPool } from '../util/worker-pool.js';
import { checkPositiveInt } from '../validate.js';
import type { PrepareTask } from './add-rows.js';
import type { RotateTask } from './rotate.js';
import type { CoarseLayout, FlatLayout, IVFLayout, Probes, QueryBlock } from './scan.js';

/**
 * One range of queries against what one arena holds. 'flat': the row parts of a FlatIndex
 * (./scan.ts flatSearchRange each). 'ivf': the coarse step when `coarse` is given (it fills
 * `probes`), then the list parts (ivfSearchRange). 'rotate': rows through OPQ's rotation
 * (./rotate.ts). 'prepare': rows being added, assigned to lists and encoded (./add-rows.ts).
 */
export type Task =
  | RotateTask
  | PrepareTask
  | { op: 'flat'; layouts: FlatLayout[]; block: QueryBlock; q0: number; q1: number; batched: boolean }
  | {
      op: 'ivf';
      coarse: CoarseLayout | null;
      parts: IVFLayout[];
      block: QueryBlock;
      q0: number;
      q1: number;
      probes: Probes | null;
      /** HNSW coarse step: candidates kept per query (efSearch). */
      ef: number;
      /** The list scanner's scratch (scratchFloats). */
      scratch: number;
      /** The graph search's scratch (hnswScratchBytes), when coarse has a graph. */
      graphScratch: number;
      /** A filtered search's gather scratch (GATHER_ROWS rows); 0 when unfiltered. */
      gather?: number;
      /** Room for a reservoir of candidates (reservoirBytes); 0: heaps only. */
      reservoir?: number;
    };

export class ScanPool {
  private readonly pool: WorkerPool<number>;

  constructor(
    readonly size: number,
    script: URL = new URL('./worker.js', import.meta.url),
  ) {
    checkPositiveInt('threads', size);
    this.pool = new WorkerPool<number>({ script, reply: codedReply<number> });
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
    return this.runOn(tasks.map((task) => ({ arena, task })));
  }

  /**
   * The same for tasks on several arenas (an index spread over several): task i goes to
   * worker i mod min(threads, size), so `threads` bounds the cores used whatever the number
   * of arenas.
   */
  async runOn(jobs: Array<{ arena: Arena; task: Task }>, threads: number = this.size): Promise<number[]> {
    if (this.pool.isClosed) throw new Error('worker pool is closed');
    const width = Math.max(1, Math.min(threads, this.size));
    const settled = await Promise.allSettled(jobs.map(({ arena, task }, i) => this.pool.at(i % width).run({ arenaId: arena.id, memory: arena.memory, task })));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<number>).value);
  }

  /** Lets workers drop their instance for an arena's memory that is being freed. */
  forget(arenaId: number): void {
    this.pool.broadcast({ forget: arenaId });
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

/** Frees worker-side state of an arena's memory (by Arena.id), if a pool was ever started. */
export function forgetArena(arenaId: number): void {
  shared?.forget(arenaId);
}

/** Resolves the `threads` option: default all cores. */
export function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return availableParallelism();
  return checkPositiveInt('threads', threads);
}
