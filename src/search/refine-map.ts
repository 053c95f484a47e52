/**
 * The rows of a refine vectors file mapped read-only by the native addon (native/refine.cc):
 * re-ranking scores candidates straight from the page cache, with no system call, buffer or copy
 * per candidate (a positional read costs ≈ 5 µs of CPU per row of 784 floats; see BENCHMARKS.md).
 * The mapped pages are the kernel's page cache, shared and evictable, not the index's RAM.
 *
 * Guarantees: the file's size is checked against the layout when mapping and before every call
 * (BAD_FILE when it shrank); a file replaced by rename keeps serving the mapped (old) rows, as the
 * positional reads on the old descriptor do. A file truncated *while* a call reads it can still
 * raise SIGBUS: do not truncate a vectors file in place under a running search.
 */
import { type ErrorCode, NitamonoError } from '../errors.js';
import { nativeAddon, nativeAllowed } from '../kernels/index.js';
import type { MetricCode } from '../kernels/types.js';
import type { VectorFileLayout } from '../vectors/io.js';

type Handle = object;

interface RefineAddon {
  refineMap(path: string, offset: number, stride: number, rows: number, dim: number): Handle;
  refineUnmap(h: Handle): void;
  refineGather(h: Handle, ids: Int32Array, out: Float32Array): void;
  refineTopK(
    h: Handle,
    metric: number,
    query: Float32Array,
    labels: Int32Array,
    k: number,
    memory: Uint8Array,
    heapD: number,
    heapI: number,
    size: number,
  ): number;
  refineResident(h: Handle, labels: Int32Array): boolean;
}

function addon(): RefineAddon | null {
  const a = nativeAllowed() ? nativeAddon() : null;
  return a && typeof a['refineTopK'] === 'function' ? (a as unknown as RefineAddon) : null;
}

/** Whether refine vectors files are mapped here (the addon is built, NITAMONO_KERNELS allows it). */
export function refineMappingSupported(): boolean {
  return addon() !== null;
}

export class MappedRows {
  private handle: Handle | undefined;

  private constructor(
    private readonly a: RefineAddon,
    private readonly path: string,
    handle: Handle,
  ) {
    this.handle = handle;
  }

  /** Maps the rows of `layout` in `path`, or undefined when mapping is not supported here. */
  static map(path: string, layout: VectorFileLayout): MappedRows | undefined {
    const a = addon();
    if (!a) return undefined;
    return new MappedRows(
      a,
      path,
      MappedRows.call(path, () => a.refineMap(path, layout.offset, layout.stride, layout.rows, layout.dim)),
    );
  }

  /** Runs an addon call, turning its errors into NitamonoErrors naming the file. */
  private static call<T>(path: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'CLOSED') throw new NitamonoError('INVALID_ARGUMENT', `${path}: the refine vectors file was closed`);
      const known: ErrorCode[] = ['BAD_FILE', 'NOT_FOUND', 'IO', 'INVALID_ARGUMENT'];
      throw new NitamonoError(known.includes(code as ErrorCode) ? (code as ErrorCode) : 'IO', `${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private h(): Handle {
    if (!this.handle) throw new NitamonoError('INVALID_ARGUMENT', `${this.path}: the refine vectors file was closed`);
    return this.handle;
  }

  /** The rows of `ids` into `out`, in order. */
  gather(ids: Int32Array, out: Float32Array): void {
    const h = this.h();
    MappedRows.call(this.path, () => this.a.refineGather(h, ids, out));
  }

  /** See RefineVectors.topK. */
  topK(metric: MetricCode, query: Float32Array, labels: Int32Array, k: number, memory: WebAssembly.Memory, heapD: number, heapI: number, size: number): number {
    const h = this.h();
    // a fresh view each call: the memory may have grown
    return MappedRows.call(this.path, () => this.a.refineTopK(h, metric, query, labels, k, new Uint8Array(memory.buffer), heapD, heapI, size));
  }

  /** Whether every page of these rows (−1: none) is in the page cache (mincore). */
  resident(labels: Int32Array): boolean {
    const h = this.h();
    return MappedRows.call(this.path, () => this.a.refineResident(h, labels));
  }

  close(): void {
    if (this.handle) this.a.refineUnmap(this.handle);
    this.handle = undefined;
  }
}
