/**
 * Vector files: the ANN-benchmark formats and NumPy's .npy.
 *
 * - `.fvecs` / `.ivecs` / `.bvecs`: per row, an int32 little-endian dimension d followed by d
 *   float32 / int32 / uint8 values. Every row must declare the same d.
 * - `.npy` (format versions 1.0, 2.0 and 3.0): only 2-D, C-order arrays of dtype '<f4'
 *   (vectors) or '<i4' (ids / ground truth) are accepted.
 *
 * Files are read block by block straight into the result array (no whole-file buffer next to
 * the result), and written through writeFileAtomic. Problems with a file are reported as
 * NitamonoError 'BAD_FILE' whose message starts with the file's path; a missing file is
 * 'NOT_FOUND'. Values are not checked for finiteness here: use checkVectors.
 */
import { fstatSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { NitamonoError } from '../errors.js';
import { writeFileAtomic } from '../persist/atomic.js';
import { badFile, openForRead, readExactly, requireLittleEndian } from '../persist/read.js';
import { checkDim } from '../validate.js';

export interface VectorFile {
  /** n×dim float32, row-major. */
  data: Float32Array;
  n: number;
  dim: number;
}

export interface IdFile {
  /** n×dim int32, row-major (e.g. ground-truth neighbour ids, one row per query). */
  data: Int32Array;
  n: number;
  dim: number;
}

/** Reading block size: rows are read and checked this many bytes at a time. */
const BLOCK_BYTES = 4 << 20;
/** A declared dimension above this is taken as a sign of a wrong or corrupt file. */
const MAX_DIM = 1 << 24;

const bad = badFile;
const requireLE = (path: string): void => requireLittleEndian(path, 'vector files');

// ---------------------------------------------------------------------------------------------
// .fvecs / .ivecs / .bvecs

type VecsElem = 'f32' | 'i32' | 'u8';

/**
 * Reads a *vecs file. `init(n, d)` is called once with the number of complete rows, then
 * `rows(first, count, block, rowBytes)` for consecutive blocks of rows whose dimensions have
 * been checked (each row in `block` is its 4-byte dimension followed by its payload).
 */
async function scanVecs(
  path: string,
  elemBytes: number,
  init: (n: number, dim: number) => void,
  rows: (first: number, count: number, block: Uint8Array, rowBytes: number) => void,
): Promise<void> {
  requireLE(path);
  const { fh, size } = await openForRead(path);
  try {
    if (size === 0) throw bad(path, 'empty file (no vectors)');
    if (size < 4) throw bad(path, `truncated at row 0 (${size} bytes, not even a dimension)`);
    const head = new Uint8Array(4);
    await readExactly(fh, path, head, 0);
    const dim = new DataView(head.buffer).getInt32(0, true);
    if (dim <= 0 || dim > MAX_DIM) {
      throw bad(path, `row 0 declares dimension ${dim}; this is not a valid ${extname(path) || 'vecs'} file`);
    }
    const rowBytes = 4 + dim * elemBytes;
    const n = Math.floor(size / rowBytes);
    const rem = size - n * rowBytes;
    init(n, dim);
    const blockRows = Math.max(1, Math.floor(BLOCK_BYTES / rowBytes));
    const block = new Uint8Array(Math.min(n, blockRows) * rowBytes);
    const dv = new DataView(block.buffer);
    const checkRow = (r: number, d: number): void => {
      if (d !== dim) {
        throw bad(path, `row ${r} has dimension ${d}, but row 0 has ${dim} (all rows must have the same dimension)`);
      }
    };
    for (let first = 0; first < n; first += blockRows) {
      const count = Math.min(blockRows, n - first);
      const view = block.subarray(0, count * rowBytes);
      await readExactly(fh, path, view, first * rowBytes);
      for (let i = 0; i < count; i++) checkRow(first + i, dv.getInt32(i * rowBytes, true));
      rows(first, count, view, rowBytes);
    }
    if (rem > 0) {
      if (rem >= 4) {
        const tail = new Uint8Array(4);
        await readExactly(fh, path, tail, n * rowBytes);
        checkRow(n, new DataView(tail.buffer).getInt32(0, true));
      }
      throw bad(path, `truncated at row ${n} (${rem} of its ${rowBytes} bytes present; ${n} complete rows before it)`);
    }
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function readVecs(path: string, elem: 'f32' | 'u8'): Promise<VectorFile>;
async function readVecs(path: string, elem: 'i32'): Promise<IdFile>;
async function readVecs(path: string, elem: VecsElem): Promise<VectorFile | IdFile> {
  const elemBytes = elem === 'u8' ? 1 : 4;
  let n = 0;
  let dim = 0;
  let out = new Float32Array(0) as Float32Array | Int32Array;
  let out8: Uint8Array = new Uint8Array(0);
  await scanVecs(
    path,
    elemBytes,
    (rows, d) => {
      n = rows;
      dim = d;
      out = elem === 'i32' ? new Int32Array(n * d) : new Float32Array(n * d);
      out8 = new Uint8Array(out.buffer);
    },
    (first, count, block, rowBytes) => {
      if (elem === 'u8') {
        const f = out as Float32Array;
        for (let i = 0; i < count; i++) {
          const src = i * rowBytes + 4;
          const dst = (first + i) * dim;
          for (let j = 0; j < dim; j++) f[dst + j] = block[src + j]!;
        }
      } else {
        const payload = dim * 4;
        for (let i = 0; i < count; i++) {
          const src = i * rowBytes + 4;
          out8.set(block.subarray(src, src + payload), (first + i) * payload);
        }
      }
    },
  );
  return elem === 'i32' ? { data: out as Int32Array, n, dim } : { data: out as Float32Array, n, dim };
}

function* vecsChunks(data: Float32Array | Int32Array, dim: number): Generator<Uint8Array> {
  const n = data.length / dim;
  const rowBytes = 4 + dim * 4;
  const blockRows = Math.max(1, Math.floor(BLOCK_BYTES / rowBytes));
  const block = new Uint8Array(Math.min(n, blockRows) * rowBytes);
  const dv = new DataView(block.buffer);
  const src8 = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const payload = dim * 4;
  for (let first = 0; first < n; first += blockRows) {
    const count = Math.min(blockRows, n - first);
    for (let i = 0; i < count; i++) {
      dv.setInt32(i * rowBytes, dim, true);
      const s = (first + i) * payload;
      block.set(src8.subarray(s, s + payload), i * rowBytes + 4);
    }
    // writeFileAtomic finishes writing a chunk before asking for the next, so the block is reused.
    yield block.subarray(0, count * rowBytes);
  }
}

function checkShape(fn: string, path: string, length: number, dim: number): number {
  checkDim(dim, `${fn}(${path})`);
  if (length % dim !== 0) {
    throw new NitamonoError('DIMENSION_MISMATCH', `${fn}(${path}): length ${length} is not a multiple of the dimension ${dim}`);
  }
  if (length === 0) {
    throw new NitamonoError('INVALID_ARGUMENT', `${fn}(${path}): no rows to write (a *vecs file cannot record the dimension of zero rows)`);
  }
  return length / dim;
}

/** Writes n×dim float32 rows as .fvecs (atomically). */
export async function writeFvecs(path: string, data: Float32Array, dim: number): Promise<void> {
  requireLE(path);
  checkShape('writeFvecs', path, data.length, dim);
  await writeFileAtomic(path, vecsChunks(data, dim));
}

/** Writes n×dim int32 rows as .ivecs (atomically). */
export async function writeIvecs(path: string, data: Int32Array, dim: number): Promise<void> {
  requireLE(path);
  checkShape('writeIvecs', path, data.length, dim);
  await writeFileAtomic(path, vecsChunks(data, dim));
}

// ---------------------------------------------------------------------------------------------
// .npy

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
type NpyDtype = '<f4' | '<i4';

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  dataStart: number;
}

async function readNpyHeader(fh: FileHandle, path: string, size: number): Promise<NpyHeader> {
  const pre = new Uint8Array(Math.min(size, 12));
  await readExactly(fh, path, pre, 0);
  for (let i = 0; i < Math.min(pre.length, 6); i++) {
    if (pre[i] !== NPY_MAGIC[i]) throw bad(path, 'not a .npy file (bad magic)');
  }
  if (size < 10) throw bad(path, `truncated (${size} bytes, shorter than the .npy preamble)`);
  const major = pre[6]!;
  const minor = pre[7]!;
  if (major < 1 || major > 3) throw bad(path, `.npy format version ${major}.${minor} is not supported (expected 1.0, 2.0 or 3.0)`);
  const pdv = new DataView(pre.buffer);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerStart = 10;
    headerLen = pdv.getUint16(8, true);
  } else {
    if (size < 12) throw bad(path, `truncated (${size} bytes, shorter than the .npy preamble)`);
    headerStart = 12;
    headerLen = pdv.getUint32(8, true);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > size) throw bad(path, `truncated (the .npy header needs ${dataStart} bytes, the file has ${size})`);
  const hb = new Uint8Array(headerLen);
  await readExactly(fh, path, hb, headerStart);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(hb);
  return { ...parseNpyDict(path, text), dataStart };
}

/** The fields of a .npy header's dictionary text. */
function parseNpyDict(path: string, text: string): Omit<NpyHeader, 'dataStart'> {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw bad(path, `malformed .npy header (expected 'descr', 'fortran_order' and 'shape'): ${text.trim().slice(0, 200)}`);
  }
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : NaN));
  if (dims.some((x) => !Number.isSafeInteger(x))) throw bad(path, `malformed .npy shape (${shape[1]!.trim()})`);
  return { descr: descr[1]!, fortranOrder: fortran[1] === 'True', shape: dims };
}

async function readNpy(path: string, want: '<f4'): Promise<VectorFile>;
async function readNpy(path: string, want: '<i4'): Promise<IdFile>;
async function readNpy(path: string, want: NpyDtype): Promise<VectorFile | IdFile> {
  requireLE(path);
  const { fh, size } = await openForRead(path);
  try {
    const h = await readNpyHeader(fh, path, size);
    if (h.descr !== want) {
      const expected = want === '<f4' ? "float32 ('<f4')" : "int32 ('<i4')";
      const hint = want === '<f4' ? ".astype('float32')" : ".astype('int32')";
      throw bad(path, `dtype '${h.descr}' is not supported; expected ${expected} (convert with ${hint})`);
    }
    if (h.shape.length !== 2) {
      const shown = h.shape.length === 1 ? `(${h.shape[0]},)` : `(${h.shape.join(', ')})`;
      throw bad(path, `shape ${shown} is ${h.shape.length}-D; expected a 2-D array (n, dim)`);
    }
    if (h.fortranOrder) {
      throw bad(path, 'fortran_order is True (column-major); only C-order arrays are supported (save np.ascontiguousarray(x))');
    }
    const [n, dim] = h.shape as [number, number];
    if (dim === 0) throw bad(path, `shape (${n}, 0) has dimension 0`);
    const rowBytes = dim * 4;
    const expected = n * rowBytes;
    const avail = size - h.dataStart;
    if (avail < expected) {
      const r = Math.floor(avail / rowBytes);
      throw bad(path, `truncated at row ${r} (shape (${n}, ${dim}) needs ${expected} data bytes, the file has ${avail})`);
    }
    if (avail > expected) throw bad(path, `${avail - expected} unexpected bytes after the array data (shape (${n}, ${dim}))`);
    const out = want === '<f4' ? new Float32Array(n * dim) : new Int32Array(n * dim);
    await readExactly(fh, path, new Uint8Array(out.buffer), h.dataStart);
    return want === '<f4' ? { data: out as Float32Array, n, dim } : { data: out as Int32Array, n, dim };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Writes a 2-D C-order array as .npy (format 1.0, header padded so the data starts at a
 * multiple of 64), atomically. dtype '<f4' for Float32Array, '<i4' for Int32Array.
 */
export async function writeNpy(path: string, data: Float32Array | Int32Array, shape: [number, number]): Promise<void> {
  requireLE(path);
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new NitamonoError('INVALID_ARGUMENT', `writeNpy(${path}): shape must be [n, dim] of non-negative integers`);
  }
  if (shape[0] * shape[1] !== data.length) {
    throw new NitamonoError(
      'DIMENSION_MISMATCH',
      `writeNpy(${path}): shape (${shape[0]}, ${shape[1]}) holds ${shape[0] * shape[1]} values, the data has ${data.length}`,
    );
  }
  let descr: NpyDtype;
  if (data instanceof Float32Array) descr = '<f4';
  else if (data instanceof Int32Array) descr = '<i4';
  else throw new NitamonoError('INVALID_ARGUMENT', `writeNpy(${path}): data must be a Float32Array or an Int32Array`);
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = `${dict.padEnd(total - 10 - 1, ' ')}\n`;
  const head = new Uint8Array(total);
  head.set(NPY_MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  new DataView(head.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) head[10 + i] = dict.charCodeAt(i);
  await writeFileAtomic(path, [head, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
}

// ---------------------------------------------------------------------------------------------
// Dispatch by extension

/** Reads vectors from .fvecs, .bvecs (uint8, converted to float) or .npy ('<f4', 2-D, C order). */
export async function readVectors(path: string): Promise<VectorFile> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.fvecs':
      return readVecs(path, 'f32');
    case '.bvecs':
      return readVecs(path, 'u8');
    case '.npy':
      return readNpy(path, '<f4');
    default:
      throw new NitamonoError('UNSUPPORTED', `${path}: unknown vector file type '${ext}' (expected .fvecs, .bvecs or .npy)`);
  }
}

/** Reads int32 rows (ids, ground truth) from .ivecs or .npy ('<i4', 2-D, C order). */
export async function readIds(path: string): Promise<IdFile> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.ivecs':
      return readVecs(path, 'i32');
    case '.npy':
      return readNpy(path, '<i4');
    default:
      throw new NitamonoError('UNSUPPORTED', `${path}: unknown id file type '${ext}' (expected .ivecs or .npy)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Row layout, for reading single rows in place

/** Where the rows of a float32 vector file lie: row r's dim floats start at byte offset + r·stride. */
export interface VectorFileLayout {
  format: 'fvecs' | 'npy';
  rows: number;
  dim: number;
  offset: number;
  stride: number;
  /** The file's size in bytes. */
  size: number;
}

/**
 * The row layout of a .fvecs or .npy ('<f4', 2-D, C order) file, read from its header with
 * synchronous positional reads on the open descriptor `fd` (the rows are not read or checked).
 * Problems are BAD_FILE naming `path`.
 */
export function vectorFileLayoutSync(path: string, fd: number): VectorFileLayout {
  requireLE(path);
  const size = fstatSync(fd).size;
  const read = (len: number, pos: number): Uint8Array => {
    const b = new Uint8Array(len);
    let off = 0;
    while (off < len) {
      const got = readSync(fd, b, off, len - off, pos + off);
      if (got === 0) throw bad(path, `truncated (expected ${pos + len} bytes, the file has ${size})`);
      off += got;
    }
    return b;
  };
  const ext = extname(path).toLowerCase();
  if (ext === '.fvecs') {
    if (size < 4) throw bad(path, 'empty file (no vectors)');
    const dim = new DataView(read(4, 0).buffer).getInt32(0, true);
    if (dim <= 0 || dim > MAX_DIM) throw bad(path, `row 0 declares dimension ${dim}; this is not a valid .fvecs file`);
    const stride = 4 + dim * 4;
    if (size % stride !== 0) throw bad(path, `truncated (${size} bytes is not a whole number of ${stride}-byte rows)`);
    return { format: 'fvecs', rows: size / stride, dim, offset: 4, stride, size };
  }
  if (ext === '.npy') {
    if (size < 12) throw bad(path, `truncated (${size} bytes, shorter than the .npy preamble)`);
    const pre = read(12, 0);
    for (let i = 0; i < 6; i++) if (pre[i] !== NPY_MAGIC[i]) throw bad(path, 'not a .npy file (bad magic)');
    const major = pre[6]!;
    if (major < 1 || major > 3) throw bad(path, `.npy format version ${major}.${pre[7]} is not supported (expected 1.0, 2.0 or 3.0)`);
    const pdv = new DataView(pre.buffer);
    const headerStart = major === 1 ? 10 : 12;
    const headerLen = major === 1 ? pdv.getUint16(8, true) : pdv.getUint32(8, true);
    const offset = headerStart + headerLen;
    if (offset > size) throw bad(path, `truncated (the .npy header needs ${offset} bytes, the file has ${size})`);
    const h = parseNpyDict(path, new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(read(headerLen, headerStart)));
    if (h.descr !== '<f4' || h.shape.length !== 2 || h.fortranOrder || h.shape[1] === 0) {
      throw bad(
        path,
        `expected a 2-D C-order float32 ('<f4') array, got dtype '${h.descr}', shape (${h.shape.join(', ')})${h.fortranOrder ? ', Fortran order' : ''}`,
      );
    }
    const [rows, dim] = h.shape as [number, number];
    if (size - offset !== rows * dim * 4) throw bad(path, `shape (${rows}, ${dim}) needs ${rows * dim * 4} data bytes, the file has ${size - offset}`);
    return { format: 'npy', rows, dim, offset, stride: dim * 4, size };
  }
  throw new NitamonoError('UNSUPPORTED', `${path}: rows can be read in place from .fvecs or .npy files, not '${ext}'`);
}
