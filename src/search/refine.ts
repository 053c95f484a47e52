/**
 * Re-ranking (Faiss's IndexRefine): a compressed index answers with refineFactor·k candidates,
 * whose exact distances are then computed from the full vectors and the best k kept. The full
 * vectors live outside the index's RAM: rows of a vector file mapped read-only by the native
 * addon and scored in place (./refine-map.ts), else read by offset (positional reads; the file
 * is never loaded), or whatever a callback reads them from (the catalogue of a collection). An index reports their bytes as `refineBytes`, apart from the
 * `memoryBytes` of its codes.
 */
import { closeSync, openSync, read as readCb, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { invalid, NitamonoError } from '../errors.js';
import type { Arena } from '../kernels/arena.js';
import type { Kernels, MetricCode } from '../kernels/types.js';
import { checkDim } from '../validate.js';
import { type VectorFileLayout, vectorFileLayoutSync } from '../vectors/io.js';
import { MappedRows } from './refine-map.js';
import type { QueryBlock } from './scan.js';

/** Where the refine vectors of an index file are: recorded in the file so a loaded index finds them again. */
export interface RefineLocation {
  /** Absolute path of a .fvecs or .npy file whose row r is the vector of id r. */
  file: string;
  format: 'fvecs' | 'npy';
  rows: number;
  dim: number;
  /** The file's size when it was attached (a file of another size is not the same file). */
  size: number;
}

/** Full vectors by id, for re-ranking. */
export interface RefineVectors {
  readonly dim: number;
  /** Bytes of the full vectors where they live (disk, catalogue): not the index's RAM. */
  readonly bytes: number;
  /** How to open them again, for sources that can be (index files record it). */
  readonly location?: RefineLocation;
  /**
   * Writes the vectors of `ids` (distinct, ascending) into `out`, ids.length × dim floats, in
   * the order of `ids`; synchronous, for search(). Sources without it serve searchAsync only.
   */
  readSync?(ids: Int32Array, out: Float32Array): void;
  /** The same, without blocking the event loop. */
  read(ids: Int32Array, out: Float32Array): Promise<void>;
  /**
   * Sources that score in place (a mapped file) have it: pushes the exact scores of `query`
   * against the rows of `labels` (−1: no candidate) into the heap of k at heapD/heapI in
   * `memory` that holds `size` entries, as scanTopK would on copies of those rows (the same
   * bits); returns the heap's new size.
   */
  readonly topK?: (
    metric: MetricCode,
    query: Float32Array,
    labels: Int32Array,
    k: number,
    memory: WebAssembly.Memory,
    heapD: number,
    heapI: number,
    size: number,
  ) => number;
  /** With topK: whether topK would read these rows without waiting on the disk (all in the page cache). */
  readonly resident?: (labels: Int32Array) => boolean;
  /** Releases what it holds open (a file descriptor, a mapping). */
  close?(): void;
}

/** Reads two rows in one system call when fewer than this many bytes lie between them. */
const GAP_BYTES = 4096;
/** Largest single read. */
const RUN_BYTES = 1 << 20;

interface Run {
  /** First and one past the last position in `ids`. */
  a: number;
  b: number;
  pos: number;
  len: number;
}

/** How VectorFileRefine reads rows. */
export interface VectorFileRefineOptions {
  /**
   * Map the file and score candidates in place where the native addon is built and
   * NITAMONO_KERNELS allows it (default true); false: positional reads only.
   */
  map?: boolean;
}

/**
 * Rows of a .fvecs or .npy file (row r = the vector of id r). Mapped read-only where the native
 * addon runs (topK scores them in place, readSync copies them from the mapping); otherwise, and
 * for read(), positional reads: sorted ids are grouped into runs of nearby rows, one read each.
 */
export class VectorFileRefine implements RefineVectors {
  readonly dim: number;
  readonly bytes: number;
  readonly location: RefineLocation;
  readonly topK?: RefineVectors['topK'];
  readonly resident?: RefineVectors['resident'];
  private fd: number | undefined;
  /** Reused by readSync for runs of several rows (a search reads one run after another). */
  private scratch = new Uint8Array(0);

  private constructor(
    private readonly path: string,
    fd: number,
    private readonly layout: VectorFileLayout,
    private readonly mapped: MappedRows | undefined,
  ) {
    this.fd = fd;
    this.dim = layout.dim;
    this.bytes = layout.rows * layout.dim * 4;
    this.location = { file: path, format: layout.format, rows: layout.rows, dim: layout.dim, size: layout.size };
    if (mapped) {
      this.topK = mapped.topK.bind(mapped);
      this.resident = mapped.resident.bind(mapped);
    }
  }

  /** Whether the rows are mapped (scored in place) rather than read by offset. */
  get isMapped(): boolean {
    return this.mapped !== undefined;
  }

  /** Opens `path` (.fvecs or .npy float32) and reads its header; NOT_FOUND or BAD_FILE naming it otherwise. */
  static open(path: string, options: VectorFileRefineOptions = {}): VectorFileRefine {
    const abs = resolve(path);
    let fd: number;
    try {
      fd = openSync(abs, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new NitamonoError('NOT_FOUND', `${abs}: no such file (refine vectors)`, { cause: err });
      throw new NitamonoError('IO', `${abs}: cannot open the refine vectors: ${(err as Error).message}`, { cause: err });
    }
    try {
      const layout = vectorFileLayoutSync(abs, fd);
      return new VectorFileRefine(abs, fd, layout, options.map === false ? undefined : MappedRows.map(abs, layout));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Reopens a recorded location, refusing a file that is no longer the one recorded. */
  static reopen(loc: RefineLocation, options: VectorFileRefineOptions = {}): VectorFileRefine {
    const src = VectorFileRefine.open(loc.file, options);
    const l = src.layout;
    if (l.rows !== loc.rows || l.dim !== loc.dim || l.size !== loc.size || l.format !== loc.format) {
      src.close();
      throw new NitamonoError(
        'BAD_FILE',
        `${loc.file}: the refine vectors changed (${l.rows} rows of dimension ${l.dim}, ${l.size} bytes; the index recorded ${loc.rows} of ${loc.dim}, ${loc.size} bytes)`,
      );
    }
    return src;
  }

  get rows(): number {
    return this.layout.rows;
  }

  private plan(ids: Int32Array, out: Float32Array): Run[] {
    const { rows, offset, stride, dim } = this.layout;
    if (out.length < ids.length * dim) throw invalid(`refine output holds ${out.length} floats, ${ids.length * dim} are needed`);
    const runs: Run[] = [];
    const rowBytes = dim * 4;
    for (let i = 0; i < ids.length; ) {
      const first = ids[i]!;
      if (!(first >= 0 && first < rows)) throw new NitamonoError('NOT_FOUND', `${this.path}: id ${first} has no row in the refine vectors (${rows} rows)`);
      let j = i + 1;
      while (j < ids.length) {
        const id = ids[j]!;
        if (!(id >= 0 && id < rows)) throw new NitamonoError('NOT_FOUND', `${this.path}: id ${id} has no row in the refine vectors (${rows} rows)`);
        const gap = (id - ids[j - 1]!) * stride - rowBytes;
        if (gap < 0 || gap > GAP_BYTES || (id - first) * stride + rowBytes > RUN_BYTES) break;
        j++;
      }
      runs.push({ a: i, b: j, pos: offset + first * stride, len: (ids[j - 1]! - first) * stride + rowBytes });
      i = j;
    }
    return runs;
  }

  private copy(run: Run, buf: Uint8Array, ids: Int32Array, out: Float32Array): void {
    const { stride, dim } = this.layout;
    const first = ids[run.a]!;
    const o8 = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    for (let i = run.a; i < run.b; i++) {
      const at = (ids[i]! - first) * stride;
      o8.set(buf.subarray(at, at + dim * 4), i * dim * 4);
    }
  }

  private open(): number {
    if (this.fd === undefined) throw invalid(`${this.path}: the refine vectors file was closed`);
    return this.fd;
  }

  readSync(ids: Int32Array, out: Float32Array): void {
    const fd = this.open();
    if (this.mapped) {
      if (out.length < ids.length * this.dim) throw invalid(`refine output holds ${out.length} floats, ${ids.length * this.dim} are needed`);
      this.mapped.gather(ids, out);
      return;
    }
    const o8 = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    for (const run of this.plan(ids, out)) {
      // a run of one row goes straight to its place in `out`; longer ones through the scratch buffer
      const single = run.b - run.a === 1;
      if (!single && this.scratch.length < run.len) this.scratch = new Uint8Array(Math.max(run.len, 2 * this.scratch.length));
      const buf = single ? o8.subarray(run.a * run.len, (run.a + 1) * run.len) : this.scratch;
      let off = 0;
      while (off < run.len) {
        const got = readSync(fd, buf, off, run.len - off, run.pos + off);
        if (got === 0) throw new NitamonoError('BAD_FILE', `${this.path}: truncated (the refine vectors file shrank)`);
        off += got;
      }
      if (!single) this.copy(run, buf, ids, out);
    }
  }

  async read(ids: Int32Array, out: Float32Array): Promise<void> {
    const fd = this.open();
    const readAt = (buf: Uint8Array, off: number, len: number, pos: number): Promise<number> =>
      new Promise((res, rej) => readCb(fd, buf, off, len, pos, (err, n) => (err ? rej(err) : res(n))));
    // a few reads in flight at once (the thread pool has four threads)
    const runs = this.plan(ids, out);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runs.length) {
        const run = runs[next++]!;
        const buf = new Uint8Array(run.len);
        let off = 0;
        while (off < run.len) {
          const got = await readAt(buf, off, run.len - off, run.pos + off);
          if (got === 0) throw new NitamonoError('BAD_FILE', `${this.path}: truncated (the refine vectors file shrank)`);
          off += got;
        }
        this.copy(run, buf, ids, out);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, runs.length) }, worker));
  }

  close(): void {
    this.mapped?.close();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Vectors in memory (row r = id r): for tests and for callers that have them anyway. */
export class ArrayRefine implements RefineVectors {
  readonly dim: number;
  readonly bytes: number;
  private readonly rows: number;

  constructor(
    private readonly vectors: Float32Array,
    dim: number,
  ) {
    this.dim = checkDim(dim, 'refine vectors');
    if (vectors.length % dim !== 0) throw invalid(`refine vectors: length ${vectors.length} is not a multiple of the dimension ${dim}`);
    this.rows = vectors.length / dim;
    this.bytes = vectors.byteLength;
  }

  readSync(ids: Int32Array, out: Float32Array): void {
    const d = this.dim;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < this.rows)) throw new NitamonoError('NOT_FOUND', `id ${id} has no row in the refine vectors (${this.rows} rows)`);
      out.set(this.vectors.subarray(id * d, (id + 1) * d), i * d);
    }
  }

  async read(ids: Int32Array, out: Float32Array): Promise<void> {
    this.readSync(ids, out);
  }
}

/**
 * Vectors a callback fetches (e.g. a collection backs it with its catalogue): `fetch(ids)`
 * returns ids.length × dim floats in the order of `ids`.
 */
export function callbackRefine(options: { dim: number; bytes: number; fetch: (ids: Int32Array) => Promise<Float32Array> }): RefineVectors {
  const dim = checkDim(options.dim, 'refine vectors');
  return {
    dim,
    bytes: options.bytes,
    async read(ids: Int32Array, out: Float32Array): Promise<void> {
      const got = await options.fetch(ids);
      if (!(got instanceof Float32Array) || got.length !== ids.length * dim) {
        throw invalid(`the refine callback returned ${got?.length} floats for ${ids.length} ids of dimension ${dim}`);
      }
      out.set(got);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Re-scoring in the arena

/** The distinct valid ids among the candidates of queries [q0, q1), ascending. */
export function candidateIds(labels: Int32Array, kc: number, q0: number, q1: number): Int32Array {
  // a typed-array sort, then one pass dropping repeats and the −1 (which sort first)
  const all = labels.slice(q0 * kc, q1 * kc).sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) {
    const id = all[i]!;
    if (id >= 0 && (n === 0 || all[n - 1] !== id)) all[n++] = id;
  }
  return all.subarray(0, n);
}

/** Arena room for re-scoring one query's candidates at a time. */
export interface RescoreScratch {
  /** f32 kc×d: the candidates' vectors */
  X: number;
  /** i32 kc: their ids (the label map of the scan) */
  ids: number;
  /** f32 d: the query */
  q: number;
}

/**
 * Scores each query of [q0, q1) against the full vectors of its candidates (the exact scan of
 * flat search: direct formula), into its heap of k in `block` (heaps start empty). `vectors`
 * holds the rows of `ids` (as candidateIds gave them). Returns the distances computed.
 */
export function rescore(
  K: Kernels,
  arena: Arena,
  metric: MetricCode,
  d: number,
  queries: Float32Array,
  labels: Int32Array,
  kc: number,
  q0: number,
  q1: number,
  ids: Int32Array,
  vectors: Float32Array,
  block: QueryBlock,
  s: RescoreScratch,
): number {
  const k = block.k;
  // one query: its candidates are `ids` and `vectors` holds their rows in order, copied as they
  // are (the heap's order on (score, label) makes the order of the scan irrelevant)
  const one = q1 - q0 === 1;
  const rowOf = new Map<number, number>();
  if (!one) for (let i = 0; i < ids.length; i++) rowOf.set(ids[i]!, i);
  const X = arena.f32(s.X, kc * d),
    I = arena.i32(s.ids, kc),
    Q = arena.f32(s.q, d),
    sizes = arena.i32(block.sizes, q1);
  let computed = 0;
  K.setLabelMap(s.ids);
  for (let i = q0; i < q1; i++) {
    let cnt = 0;
    if (one) {
      X.set(vectors.subarray(0, ids.length * d));
      I.set(ids);
      cnt = ids.length;
    } else {
      for (let j = 0; j < kc; j++) {
        const id = labels[i * kc + j]!;
        if (id < 0) continue;
        const r = rowOf.get(id)!;
        X.set(vectors.subarray(r * d, (r + 1) * d), cnt * d);
        I[cnt++] = id;
      }
    }
    Q.set(queries.subarray(i * d, (i + 1) * d));
    sizes[i] = K.scanTopK(metric, s.q, s.X, cnt, d, k, block.heapsD + i * k * 4, block.heapsI + i * k * 4, 0, 0);
    computed += cnt;
  }
  return computed;
}
