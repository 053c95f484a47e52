/**
 * A pool of worker threads that run the scan loops of ./scan.ts on shared arenas, so batch
 * search and k-means use every core and the event loop never waits on a scan.
 * Workers are unreferenced while idle: a CLI that is done exits even though the pool exists.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Arena } from '../kernels/arena.js';
import type { FlatLayout, IVFLayout, QueryBlock } from './scan.js';
import { invalid } from '../errors.js';

export type Task =
  | { op: 'flat'; layout: FlatLayout; block: QueryBlock; q0: number; q1: number; batched: boolean }
  | { op: 'ivf'; layout: IVFLayout; block: QueryBlock; q0: number; q1: number; nprobe: number; probeD: number; probeI: number };

interface Pending { resolve: (v: number) => void; reject: (e: Error) => void }

interface Slot { worker: Worker; busy: number; pending: Map<number, Pending> }

let nextTaskId = 1;

export class WorkerPool {
  private slots: Slot[] = [];
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw invalid(`threads must be a positive integer, got ${size}`);
  }

  /** Runs one task per entry, spread round-robin over the workers; resolves to each task's count. */
  run(arena: Arena, tasks: Task[]): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return Promise.all(tasks.map((t, i) => this.submit(this.slot(i % this.size), arena, t)));
  }

  /** Lets workers drop their instance for an arena that is being freed. */
  forget(arena: Arena): void {
    for (const s of this.slots) s.worker.postMessage({ forget: arena.id });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }

  private slot(i: number): Slot {
    while (this.slots.length <= i) {
      const worker = new Worker(new URL('./worker.js', import.meta.url));
      const slot: Slot = { worker, busy: 0, pending: new Map() };
      worker.unref();
      worker.on('message', (m: { id: number; result?: number; error?: string }) => {
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        if (--slot.busy === 0) worker.unref();
        if (m.error !== undefined) p.reject(new Error(m.error)); else p.resolve(m.result!);
      });
      worker.on('error', (err) => {
        for (const p of slot.pending.values()) p.reject(err);
        slot.pending.clear();
        slot.busy = 0;
        // a crashed worker is replaced on next use
        const idx = this.slots.indexOf(slot);
        if (idx >= 0) this.slots.splice(idx, 1);
      });
      this.slots.push(slot);
    }
    return this.slots[i]!;
  }

  private submit(slot: Slot, arena: Arena, task: Task): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = nextTaskId++;
      slot.pending.set(id, { resolve, reject });
      if (slot.busy++ === 0) slot.worker.ref();
      slot.worker.postMessage({ id, arenaId: arena.id, memory: arena.memory, task });
    });
  }
}

let shared: WorkerPool | undefined;

/** The process-wide pool, sized to the machine's cores; `threads` caps how many of them a call uses. */
export function sharedPool(): WorkerPool {
  shared ??= new WorkerPool(availableParallelism());
  return shared;
}

/** Frees worker-side state of an arena, if a pool was ever started. */
export function forgetArena(arena: Arena): void {
  shared?.forget(arena);
}

/** Resolves the `threads` option: default all cores, at most the pool size. */
export function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw invalid(`threads must be a positive integer, got ${threads}`);
  return threads;
}
