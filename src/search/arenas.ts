/**
 * The arenas of one index. A WebAssembly memory addresses at most 4 GiB (Node 20 has no
 * memory64), so an index's data lives in *parts* (./parts.ts) spread over as many arenas as
 * it needs: each part holds a contiguous run of the index's rows (for an inverted file, that
 * run grouped by list), parts are filled in order and sealed when full, and a new part goes
 * into the last arena while it has room, else into a new arena. Slot 0, the main arena, also
 * holds what a search needs once (coarse centroids and their graph, codec parameters, query
 * scratch); every other arena gets a copy of the little that its scanners read.
 *
 * A search scans every arena (on this thread or on the worker pool, one task per arena and
 * range of queries) into per-arena heaps, which are merged by (score, id): the order every
 * heap and the cluster coordinator use, so the answer is bit for bit the one a single arena
 * would give. A small index is the one-arena, one-part case of the same structure.
 *
 * Limits (NITAMONO_ARENA_BYTES in the environment, read when an index is made, lowers the
 * arena cap so tests can force many arenas with little data):
 * - an arena may grow to `arenaBytes` (default: just under 4 GiB);
 * - a part holds at most `partBytes` (min(256 MiB, arenaBytes/8)): appending to the open part
 *   or rebuilding it (an inverted file's add) copies at most that much;
 * - a new part is placed in an arena only while the arena keeps 2·partBytes (the part's growth
 *   and one rebuild) plus `headroom` (arenaBytes/8, at least min(arenaBytes/4, 64 KiB): query
 *   blocks and scratch) free.
 */
import { invalid, NitamonoError } from '../errors.js';
import { ARENA_MAX_BYTES, Arena } from '../kernels/arena.js';
import { createKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { forgetArena } from './pool.js';

/** The default cap of one arena: the wasm32 address space less one page. */
export const DEFAULT_ARENA_BYTES = ARENA_MAX_BYTES - 65536;
/** Largest part: bounds the copy of one append or rebuild. */
export const PART_MAX_BYTES = 256 << 20;
/** The smallest cap accepted (four pages: the reserved one and room for a few parts). */
const MIN_ARENA_BYTES = 4 * 65536;

export interface ArenaLimits {
  arenaBytes: number;
  partBytes: number;
  headroom: number;
}

function envArenaBytes(): number | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const raw = env?.['NITAMONO_ARENA_BYTES']?.trim();
  if (!raw) return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < MIN_ARENA_BYTES || v > ARENA_MAX_BYTES) {
    throw invalid(`NITAMONO_ARENA_BYTES must be a whole number of bytes from ${MIN_ARENA_BYTES} to ${ARENA_MAX_BYTES}, got '${raw}'`);
  }
  return v;
}

/** The limits an index made now gets (see the module comment). */
export function arenaLimits(arenaBytes: number = envArenaBytes() ?? DEFAULT_ARENA_BYTES): ArenaLimits {
  const eighth = Math.floor(arenaBytes / 8);
  // small caps (tests) still leave room for a few query blocks and scanner scratch
  const headroom = Math.max(eighth, Math.min(Math.floor(arenaBytes / 4), 65536));
  return { arenaBytes, partBytes: Math.max(64, Math.min(PART_MAX_BYTES, eighth)), headroom };
}

/** One arena of an index, its kernels and its place among the index's arenas. */
export interface ArenaSlot {
  readonly index: number;
  readonly arena: Arena;
  readonly K: Kernels;
}

export class ArenaSet {
  readonly slots: ArenaSlot[] = [];
  readonly limits: ArenaLimits;
  /** Called for each arena made after the first (an index copies what its scanners read there). */
  onNewSlot?: (slot: ArenaSlot) => void;

  constructor(limits: ArenaLimits = arenaLimits()) {
    this.limits = limits;
    this.open();
  }

  /** Slot 0: where the coarse quantizer, codec parameters and query scratch live. */
  get main(): ArenaSlot {
    return this.slots[0]!;
  }

  get count(): number {
    return this.slots.length;
  }

  /** The arena a new part goes to: the last one while it has room for one more, else a new one. */
  placePart(): ArenaSlot {
    const last = this.slots[this.slots.length - 1]!;
    const { partBytes, headroom } = this.limits;
    // A part grows by reallocation (the old block is freed once the new one is filled), so its
    // growth needs about 3 parts of one contiguous run: free space scattered in holes left by
    // earlier parts does not count (measured: counting it overflowed the 4 GiB cap at 2 GB of codes).
    const need = 3 * partBytes + headroom;
    if (last.arena.contiguousRoom >= need) return last;
    const slot = this.open();
    // a fresh arena has no holes: room for the part and one reallocation of it is enough
    if (slot.arena.contiguousRoom < 2 * partBytes + headroom) {
      throw new NitamonoError(
        'TOO_LARGE',
        `what every arena of this index holds (centroids, codec parameters, tables: ${slot.arena.bytesInUse} bytes) leaves no room for data under the arena cap of ${this.limits.arenaBytes} bytes`,
      );
    }
    return slot;
  }

  /** Bytes handed out and not released, over every arena. */
  get bytesInUse(): number {
    return this.slots.reduce((a, s) => a + s.arena.bytesInUse, 0);
  }

  /**
   * Hands every arena's memory to the next index (Arena.recycle). Only once nothing reads
   * them: ArenaIndex.dispose waits for its searches, saves and training in flight.
   */
  dispose(): void {
    for (const s of this.slots) s.arena.recycle();
  }

  private open(): ArenaSlot {
    const arena = Arena.take(Math.min(1 << 20, this.limits.arenaBytes / 2), this.limits.arenaBytes);
    const slot: ArenaSlot = { index: this.slots.length, arena, K: createKernels(arena.memory) };
    this.slots.push(slot);
    if (slot.index > 0) this.onNewSlot?.(slot);
    return slot;
  }
}

/**
 * Frees the memories disposed indexes left for the next ones (Arena.recycle): this thread
 * drops them now and the worker threads drop their instances, so each is freed at its
 * isolate's next garbage collection. For a process done with large indexes for good; returns
 * how many were dropped.
 */
export function releaseSpareArenas(): number {
  const ids = Arena.dropSpares();
  for (const id of ids) forgetArena(id);
  return ids.length;
}
