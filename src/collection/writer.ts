/**
 * One writer per collection across processes: a lease in the catalogue (CatalogStore
 * acquireWriter/releaseWriter) taken around every write — an `index` run, an upload, a removal.
 * Readers never take it: the catalogue's own transactions give them consistent reads, and index
 * files are replaced atomically.
 *
 * A second writer waits (polling), says once who it waits for, or, with `wait: 0`, fails at
 * once with NitamonoError LOCKED. A lease whose holder no longer runs on this host (its pid is
 * gone, or now belongs to a process that started at another time) is taken over.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { CatalogStore, WriterIdentity, WriterLease } from '../catalog/types.js';
import { NitamonoError } from '../errors.js';

const POLL_MS = 200;

/**
 * A long write (an `index` run) gives the lease up for a moment this often, between its batches,
 * so that short writes of other processes (an upload through `serve`) wait seconds, not the
 * whole run. The pause is longer than a waiter's poll, so every waiter gets to try once.
 */
export const YIELD_EVERY_MS = 3000;
export const YIELD_PAUSE_MS = POLL_MS + 50;

/** Start time of a process (ms since the epoch) from /proc, or undefined where there is none. */
export function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 of the whole line: start time in clock ticks after boot
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return undefined;
    return btime * 1000 + ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // it exists, we may not signal it
  }
}

/** This process as a writer; `command` names what it runs. */
export function writerIdentity(command: string): WriterIdentity {
  return {
    token: randomUUID(),
    pid: process.pid,
    host: hostname(),
    started_at: processStartMs(process.pid) ?? Math.round(Date.now() - process.uptime() * 1000),
    command,
  };
}

/** A lease of a process on this host that no longer runs. On another host nobody can tell. */
export function isStale(holder: WriterLease): boolean {
  if (holder.host !== hostname()) return false;
  if (!processRuns(holder.pid)) return true;
  const started = processStartMs(holder.pid);
  return started !== undefined && started !== holder.started_at;
}

export function describeHolder(h: WriterLease): string {
  return `pid ${h.pid} on ${h.host} (${h.command}), writing since ${new Date(h.acquired_at).toISOString()}`;
}

export interface AcquireOptions {
  /** How long to wait for another writer, in ms (default: as long as it takes; 0: not at all). */
  wait?: number;
  /** Called once when the lease is taken by another writer and this one starts waiting. */
  onWait?: (holder: WriterLease) => void;
  signal?: AbortSignal;
}

export async function acquireWriterLease(store: CatalogStore, me: WriterIdentity, opts: AcquireOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.wait ?? Number.POSITIVE_INFINITY);
  let told = false;
  for (;;) {
    const r = await store.acquireWriter(me, isStale);
    if (r.acquired) return;
    if (opts.signal?.aborted) throw new NitamonoError('LOCKED', `gave up waiting for the collection's writer: ${describeHolder(r.holder)}`);
    if (Date.now() >= deadline) {
      throw new NitamonoError('LOCKED', `another process is writing this collection: ${describeHolder(r.holder)}; try again when it is done`);
    }
    if (!told) {
      told = true;
      opts.onWait?.(r.holder);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}

/** Runs `fn` holding the writer lease (taken as `acquireWriterLease` does), and gives it back however `fn` ends. */
export async function withWriterLease<T>(store: CatalogStore, me: WriterIdentity, opts: AcquireOptions, fn: () => Promise<T>): Promise<T> {
  await acquireWriterLease(store, me, opts);
  try {
    return await fn();
  } finally {
    await store.releaseWriter(me);
  }
}

/**
 * The lease held by a long write, given up between its steps: `checkpoint()` releases it when it
 * has been held for `every` ms, waits `pause` ms, and takes it back (waiting for whoever took it
 * meanwhile). Between checkpoints the holder may assume nothing else wrote.
 */
export class YieldingLease {
  private heldSince = Date.now();

  constructor(
    private readonly store: CatalogStore,
    private readonly me: WriterIdentity,
    private readonly opts: { signal?: AbortSignal; every?: number; pause?: number } = {},
  ) {}

  /** True when the lease was given up and taken back: the caller re-checks what it relies on. */
  async checkpoint(): Promise<boolean> {
    if (Date.now() - this.heldSince < (this.opts.every ?? YIELD_EVERY_MS)) return false;
    await this.store.releaseWriter(this.me);
    await new Promise((r) => setTimeout(r, this.opts.pause ?? YIELD_PAUSE_MS));
    // back to the front of the queue: wait as long as the other short write takes
    // quietly: the holder of a moment is a short write, not worth a message
    await acquireWriterLease(this.store, this.me, this.opts.signal ? { signal: this.opts.signal } : {});
    this.heldSince = Date.now();
    return true;
  }
}
