/**
 * An Arena is one shared WebAssembly.Memory plus a small first-fit allocator over it. Index data
 * lives here (not in JS arrays) so that the WASM kernels scan it in place and worker threads can
 * attach the same memory without copying. Offsets are byte addresses; allocations are 64-byte
 * aligned (cache lines, and f32x4 loads never straddle them).
 *
 * Memories are recycled (Arena.take, recycle), not left to the garbage collector: V8 does not
 * count a shared WebAssembly memory as heap pressure, so nothing prompts the collection that
 * would free a dropped one, and every worker thread that scanned it holds its own reference
 * until its own isolate collects. Measured: building, searching on the pool and disposing a
 * 67 MB FlatIndex 30 times grew RSS to 2.2 GB. A memory can never shrink either, so the next
 * arena takes a disposed one instead: memory then stays at what the most arenas ever alive at
 * once needed. Its id goes with it, so worker threads keep their kernel instance for it.
 */
import { NitamonoError } from '../errors.js';
import { adviseHugePages } from './huge-pages.js';

const PAGE = 65536;
/** The first page is left to the WASM module itself (its data segment and stack). */
const RESERVED = PAGE;
const ALIGN = 64;
/** wasm32 addresses 4 GiB; shared memories need a declared maximum. */
const MAX_PAGES = 65536;
/** The whole wasm32 address space, the most an arena may ever hold. */
export const ARENA_MAX_BYTES = MAX_PAGES * PAGE;

let nextArenaId = 1;

/** A disposed arena's memory, waiting for the next arena. */
interface Spare {
  memory: WebAssembly.Memory;
  id: number;
}
const spares: Spare[] = [];

interface Block {
  off: number;
  size: number;
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** Identifies this memory to worker threads, which cache one kernel instance per arena. */
  readonly id: number;
  private free: Block[] = [];
  private top = RESERVED;
  private used = new Map<number, number>();
  /** Bytes of address space this arena may use (its first page included); at most 4 GiB. */
  readonly limit: number;
  private recycled = false;

  /**
   * `limit` caps the address space this arena grows to (default: all of wasm32's 4 GiB); an
   * index that needs more spreads over several arenas (src/search/arenas.ts). Always a new
   * memory: Arena.take reuses a recycled one.
   */
  constructor(initialBytes = 4 * PAGE, limit = ARENA_MAX_BYTES, reuse?: Spare) {
    this.limit = clampLimit(limit);
    if (reuse) {
      this.id = reuse.id;
      this.memory = reuse.memory;
      return;
    }
    this.id = nextArenaId++;
    const pages = Math.min(Math.ceil(this.limit / PAGE), Math.max(2, Math.ceil((initialBytes + RESERVED) / PAGE)));
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
    // before any row is written: pages are given their size when first touched
    adviseHugePages(this.memory, this.limit);
  }

  /**
   * An arena over the memory of a recycled one when one fits under `limit` — the smallest that
   * already holds `initialBytes`, else the largest (it grows) — or over a new memory.
   */
  static take(initialBytes = 4 * PAGE, limit = ARENA_MAX_BYTES): Arena {
    const cap = clampLimit(limit);
    const want = initialBytes + RESERVED;
    const bytes = spares.map((s) => s.memory.buffer.byteLength);
    let fit = -1,
      largest = -1;
    bytes.forEach((have, i) => {
      if (have > cap) return;
      if (have >= want && (fit < 0 || have < bytes[fit]!)) fit = i;
      if (largest < 0 || have > bytes[largest]!) largest = i;
    });
    const pick = fit >= 0 ? fit : largest;
    if (pick < 0) return new Arena(initialBytes, limit);
    return new Arena(initialBytes, limit, spares.splice(pick, 1)[0]!);
  }

  /**
   * Hands this arena's memory to the next Arena.take. The caller guarantees that nothing reads
   * or writes it any more (no search, save or scan in flight): the next owner's allocations
   * zero what they get, but a late writer would corrupt them. Later calls do nothing.
   */
  recycle(): void {
    if (this.recycled) return;
    this.recycled = true;
    this.free = [];
    this.used.clear();
    this.top = this.limit;
    spares.push({ memory: this.memory, id: this.id });
  }

  /**
   * Drops every recycled memory (they are then freed by the garbage collections of this thread
   * and of every worker thread that scanned them) and returns their ids, so worker threads can
   * drop their instances too (src/search/arenas.ts releaseSpareArenas).
   */
  static dropSpares(): number[] {
    return spares.splice(0).map((s) => s.id);
  }

  /** Recycled memories waiting for an arena, and their bytes. */
  static get spares(): { count: number; bytes: number } {
    return { count: spares.length, bytes: spares.reduce((a, s) => a + s.memory.buffer.byteLength, 0) };
  }

  /** Whether alloc(bytes) would succeed now without passing the limit. */
  canAlloc(bytes: number): boolean {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (const b of this.free) if (b.size >= size) return true;
    return this.top + size <= this.limit;
  }

  /** The largest block one alloc could get now: the biggest free block or the room above the top. */
  get contiguousRoom(): number {
    let best = Math.max(0, this.limit - this.top);
    for (const b of this.free) best = Math.max(best, b.size);
    return best;
  }

  /** Bytes below the limit not yet handed out: the free blocks plus the room above the top. */
  get room(): number {
    let free = this.limit - this.top;
    for (const b of this.free) free += b.size;
    return Math.max(0, free);
  }

  /** Returns a byte offset of `bytes` zero-filled bytes. */
  alloc(bytes: number): number {
    if (this.recycled) throw new NitamonoError('INVALID_ARGUMENT', 'this arena was recycled (its index was disposed)');
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= size) {
        const off = b.off;
        if (b.size === size) this.free.splice(i, 1);
        else {
          b.off += size;
          b.size -= size;
        }
        this.used.set(off, size);
        new Uint8Array(this.memory.buffer, off, size).fill(0);
        return off;
      }
    }
    const off = this.top;
    const end = off + size;
    if (end > this.limit) {
      throw new NitamonoError(
        'TOO_LARGE',
        this.limit === ARENA_MAX_BYTES
          ? `index data would exceed the 4 GiB WebAssembly address space (${end} bytes)`
          : `index data would exceed this arena's limit of ${this.limit} bytes (${end} bytes)`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow geometrically so a stream of adds costs amortised O(1) grows
      const want = Math.min(Math.ceil(this.limit / PAGE), Math.max(Math.ceil(end / PAGE), Math.ceil((have * 1.5) / PAGE)));
      this.memory.grow(want - have / PAGE);
    }
    this.top = end;
    this.used.set(off, size);
    // released blocks at the top may be handed out again, so zero even "fresh" space
    new Uint8Array(this.memory.buffer, off, size).fill(0);
    return off;
  }

  release(off: number): void {
    const size = this.used.get(off);
    if (size === undefined) return;
    this.used.delete(off);
    if (off + size === this.top) {
      this.top = off;
      this.coalesceTop();
      return;
    }
    // keep the free list sorted and merged
    let i = 0;
    while (i < this.free.length && this.free[i]!.off < off) i++;
    this.free.splice(i, 0, { off, size });
    this.merge(i);
    if (i > 0) this.merge(i - 1);
  }

  /** Bytes of the blocks handed out and not yet released (what a leak shows up in). */
  get bytesInUse(): number {
    let total = 0;
    for (const size of this.used.values()) total += size;
    return total;
  }

  f32(off: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, off, length);
  }
  i32(off: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, off, length);
  }

  private merge(i: number): void {
    const a = this.free[i],
      b = this.free[i + 1];
    if (a && b && a.off + a.size === b.off) {
      a.size += b.size;
      this.free.splice(i + 1, 1);
    }
  }

  private coalesceTop(): void {
    const last = this.free[this.free.length - 1];
    if (last && last.off + last.size === this.top) {
      this.top = last.off;
      this.free.pop();
    }
  }
}

/** A limit as the constructor keeps it: at least two pages, at most 4 GiB. */
function clampLimit(limit: number): number {
  return Math.min(ARENA_MAX_BYTES, Math.max(2 * PAGE, Math.floor(limit)));
}
