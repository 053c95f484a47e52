/**
 * The versioned, checksummed binary container every nitamono index file uses.
 *
 * Layout (all integers little-endian; see docs/index-format.md):
 *
 *   offset 0   8 bytes   magic "NITAMONO"
 *   offset 8   u32       format version of the file's kind (≥ 1)
 *   offset 12  u32       H = byte length of the header JSON
 *   offset 16  H bytes   header JSON (UTF-8):
 *                          { "kind": string, "meta": object,
 *                            "sections": [{ "name", "offset", "length", "dtype" }, …] }
 *                        offsets are absolute byte offsets in the file, lengths in bytes,
 *                        dtype a hint such as "f32", "i32", "u8", "bytes"
 *              zero padding up to the next multiple of 64
 *   sections   each payload starts at a multiple of 64 (zero padding between payloads), in
 *              table order; there is no padding after the last payload
 *   footer     12 bytes: u32 CRC-32 (IEEE 802.3, as zlib/PNG/gzip) of every byte before the
 *              footer, then the end marker "ENDNITA\0"
 *
 * The file is written through writeFileAtomic chunk by chunk (the checksum is computed as the
 * chunks stream out), and read section by section, each payload into a buffer of its own
 * (aligned, ready for Float32Array/Int32Array views; a file may exceed the 4 GiB one typed
 * array holds as long as no section does).
 */
import * as zlib from 'node:zlib';
import { NitamonoError } from '../errors.js';
import { checkInt } from '../validate.js';
import { writeFileAtomic } from './atomic.js';
import { badFile, openForRead, READ_CHUNK, readExactly, requireLittleEndian } from './read.js';

export const CONTAINER_MAGIC = 'NITAMONO';
export const CONTAINER_END_MARKER = 'ENDNITA\0';
/** Bytes before the header JSON: magic, version, header length. */
export const PREFIX_BYTES = 16;
export const FOOTER_BYTES = 12;
export const SECTION_ALIGN = 64;

// ---------------------------------------------------------------------------------------------
// CRC-32

/** Slicing-by-8 tables for the reflected polynomial 0xEDB88320: table t at [t*256, t*256+256). */
const CRC_TABLES: Int32Array = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * CRC-32 in plain JavaScript (slicing-by-8). `crc` is the value returned for the preceding
 * bytes (0 to start), so a stream can be checksummed chunk by chunk. Same results as zlib.crc32.
 */
export function crc32Js(data: Uint8Array, crc = 0): number {
  const T = CRC_TABLES;
  let c = ~crc | 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c =
      T[1792 + (c & 0xff)]! ^
      T[1536 + ((c >>> 8) & 0xff)]! ^
      T[1280 + ((c >>> 16) & 0xff)]! ^
      T[1024 + (c >>> 24)]! ^
      T[768 + data[i + 4]!]! ^
      T[512 + data[i + 5]!]! ^
      T[256 + data[i + 6]!]! ^
      T[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) c = T[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `data` continuing from `crc`: zlib's native version when present (Node ≥ 20.15), else crc32Js. */
export function crc32(data: Uint8Array, crc = 0): number {
  if (nativeCrc32 && data.length > 64) return nativeCrc32(data, crc) >>> 0;
  return crc32Js(data, crc);
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface ContainerInput {
  /** What the file holds, e.g. 'flat' or 'ivf'. */
  kind: string;
  /** Format version of this kind (positive integer, ≤ 2^32−1). */
  version: number;
  /** Small JSON-serialisable metadata (dimension, metric, counts, …). */
  meta: object;
  /** Binary payloads, written as their raw (little-endian) bytes. */
  sections: Record<string, ArrayBufferView>;
}

interface SectionEntry {
  name: string;
  offset: number;
  length: number;
  dtype: string;
}

export interface ContainerFile {
  kind: string;
  version: number;
  meta: Record<string, unknown>;
  /** Raw payloads, each in a buffer of its own. */
  sections: Record<string, Uint8Array>;
  /** The dtype hint recorded for each section. */
  dtypes: Record<string, string>;
}

const align = (x: number, a = SECTION_ALIGN): number => Math.ceil(x / a) * a;

function dtypeOf(v: ArrayBufferView): string {
  if (v instanceof Float32Array) return 'f32';
  if (v instanceof Float64Array) return 'f64';
  if (v instanceof Int32Array) return 'i32';
  if (v instanceof Uint32Array) return 'u32';
  if (v instanceof Int16Array) return 'i16';
  if (v instanceof Uint16Array) return 'u16';
  if (v instanceof Int8Array) return 'i8';
  if (v instanceof Uint8Array || v instanceof Uint8ClampedArray) return 'u8';
  if (v instanceof BigInt64Array) return 'i64';
  if (v instanceof BigUint64Array) return 'u64';
  return 'bytes';
}

const requireLE = (path: string): void => requireLittleEndian(path, 'nitamono files');

const bytesOf = (v: ArrayBufferView): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));

/**
 * Writes a container atomically (temp file, fsync, rename). Returns the file's size in bytes.
 * Section payloads are streamed as they are (no concatenated copy of the file is built), after
 * this call returns: their bytes must stay unchanged until the promise settles, or the file
 * holds whatever they became, under a checksum that may well be valid.
 */
export async function writeContainer(path: string, input: ContainerInput): Promise<number> {
  requireLE(path);
  const { kind, version, meta, sections } = input;
  if (typeof kind !== 'string' || kind.length === 0) {
    throw new NitamonoError('INVALID_ARGUMENT', `writeContainer(${path}): kind must be a non-empty string`);
  }
  checkInt(`writeContainer(${path}): version`, version, { min: 1, max: 0xffffffff });
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new NitamonoError('INVALID_ARGUMENT', `writeContainer(${path}): meta must be a plain object`);
  }
  const names = Object.keys(sections);
  const views: Uint8Array[] = [];
  const dtypes: string[] = [];
  for (const name of names) {
    const v = sections[name];
    if (!ArrayBuffer.isView(v)) {
      throw new NitamonoError('INVALID_ARGUMENT', `writeContainer(${path}): section '${name}' is not an ArrayBufferView`);
    }
    if (name === '__proto__') {
      throw new NitamonoError('INVALID_ARGUMENT', `writeContainer(${path}): '__proto__' is not allowed as a section name`);
    }
    views.push(bytesOf(v));
    dtypes.push(dtypeOf(v));
  }

  // The header holds absolute offsets, whose digits change the header's length: iterate to a
  // fixed point (the data start only grows, so this settles within a few rounds).
  const encoder = new TextEncoder();
  let dataStart = align(PREFIX_BYTES + 2);
  let headerBytes: Uint8Array;
  let table: SectionEntry[];
  for (;;) {
    table = [];
    let cursor = dataStart;
    for (let i = 0; i < names.length; i++) {
      cursor = align(cursor);
      table.push({ name: names[i]!, offset: cursor, length: views[i]!.byteLength, dtype: dtypes[i]! });
      cursor += views[i]!.byteLength;
    }
    let json: string;
    try {
      json = JSON.stringify({ kind, meta, sections: table });
    } catch (err) {
      throw new NitamonoError('INVALID_ARGUMENT', `writeContainer(${path}): meta is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
    }
    headerBytes = encoder.encode(json);
    const needed = align(PREFIX_BYTES + headerBytes.byteLength);
    if (needed <= dataStart) break;
    dataStart = needed;
  }
  if (headerBytes.byteLength > 0xffffffff) {
    throw new NitamonoError('TOO_LARGE', `writeContainer(${path}): header JSON is too large`);
  }

  function* chunks(): Generator<Uint8Array> {
    let crc = 0;
    const head = new Uint8Array(dataStart);
    head.set(encoder.encode(CONTAINER_MAGIC), 0);
    const dv = new DataView(head.buffer);
    dv.setUint32(8, version, true);
    dv.setUint32(12, headerBytes.byteLength, true);
    head.set(headerBytes, PREFIX_BYTES);
    crc = crc32(head, crc);
    yield head;
    let pos = dataStart;
    const zeros = new Uint8Array(SECTION_ALIGN);
    for (let i = 0; i < table.length; i++) {
      const pad = table[i]!.offset - pos;
      if (pad > 0) {
        const z = zeros.subarray(0, pad);
        crc = crc32(z, crc);
        yield z;
      }
      const bytes = views[i]!;
      crc = crc32(bytes, crc);
      yield bytes;
      pos = table[i]!.offset + bytes.byteLength;
    }
    const footer = new Uint8Array(FOOTER_BYTES);
    new DataView(footer.buffer).setUint32(0, crc, true);
    footer.set(encoder.encode(CONTAINER_END_MARKER), 4);
    yield footer;
  }

  return writeFileAtomic(path, chunks());
}

// ---------------------------------------------------------------------------------------------
// Reading

const bad = badFile;

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Reads and verifies a container. Throws NitamonoError 'NOT_FOUND' for a missing file and
 * 'BAD_FILE' (message starting with the path) when the file is truncated, is not a nitamono
 * file, was written by a newer format version than `maxVersion`, holds a different `kind`, or
 * fails its checksum.
 *
 * Each section is read into a buffer of its own (so a file may be larger than the 4 GiB a
 * single typed array can hold, as long as each section is not), in file order, the checksum
 * computed as the bytes arrive.
 */
export async function readContainer(path: string, options: { kind?: string; maxVersion: number }): Promise<ContainerFile> {
  requireLE(path);
  const { kind: wantKind, maxVersion } = options;
  const { fh, size } = await openForRead(path);
  let computed = 0;
  let headerLen: number;
  let version: number;
  let header: unknown;
  let headerProblem: string | undefined;
  const table: SectionEntry[] = [];
  const payloads: Uint8Array[] = [];
  let dataEnd = 0;
  const footer = new Uint8Array(FOOTER_BYTES);
  const crcEnd = size - FOOTER_BYTES;
  /** Reads buf from `pos` on, checksumming chunk by chunk while the bytes are in cache. */
  const readSpan = async (buf: Uint8Array, pos: number): Promise<void> => {
    for (let off = 0; off < buf.byteLength; off += READ_CHUNK) {
      const part = buf.subarray(off, Math.min(buf.byteLength, off + READ_CHUNK));
      await readExactly(fh, path, part, pos + off);
      const at = pos + off;
      if (at < crcEnd) computed = crc32(part.subarray(0, Math.min(part.byteLength, crcEnd - at)), computed);
    }
  };
  /** Checksums [from, to) without keeping it. */
  const skipSpan = async (from: number, to: number): Promise<void> => {
    const scratch = new Uint8Array(Math.min(READ_CHUNK, Math.max(0, to - from)));
    for (let pos = from; pos < to; pos += scratch.byteLength) await readSpan(scratch.subarray(0, Math.min(scratch.byteLength, to - pos)), pos);
  };
  try {
    if (size === 0) throw bad(path, 'truncated (empty file)');

    const prefix = new Uint8Array(Math.min(size, PREFIX_BYTES));
    await readExactly(fh, path, prefix, 0);
    const magicSeen = new TextDecoder('latin1').decode(prefix.subarray(0, 8));
    if (!CONTAINER_MAGIC.startsWith(magicSeen)) throw bad(path, 'not a nitamono index file (bad magic)');
    if (size < PREFIX_BYTES) throw bad(path, `truncated (${size} bytes, shorter than the ${PREFIX_BYTES}-byte file header)`);
    const pdv = new DataView(prefix.buffer);
    version = pdv.getUint32(8, true);
    headerLen = pdv.getUint32(12, true);
    if (version === 0) throw bad(path, 'invalid format version 0 (file is corrupt)');
    if (version > maxVersion) {
      throw bad(path, `written by a newer nitamono (format version ${version}, this build reads up to ${maxVersion})`);
    }
    if (PREFIX_BYTES + headerLen + FOOTER_BYTES > size) {
      throw bad(path, `truncated (the header alone needs ${PREFIX_BYTES + headerLen + FOOTER_BYTES} bytes, the file has ${size})`);
    }

    const dataStart = align(PREFIX_BYTES + headerLen);
    const head = new Uint8Array(Math.min(dataStart, crcEnd));
    await readSpan(head, 0);
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLen)));
    } catch {
      headerProblem = 'header is not valid JSON';
    }
    const h = header as { kind?: unknown; meta?: unknown; sections?: unknown } | null;
    if (headerProblem === undefined) {
      if (h === null || typeof h !== 'object' || Array.isArray(h)) headerProblem = 'header is not a JSON object';
      else if (typeof h.kind !== 'string') headerProblem = 'header has no kind';
      else if (h.meta === null || typeof h.meta !== 'object' || Array.isArray(h.meta)) headerProblem = 'header has no meta object';
      else if (!Array.isArray(h.sections)) headerProblem = 'header has no section table';
    }
    dataEnd = dataStart;
    if (headerProblem === undefined) {
      const seen = new Set<string>();
      for (const s of h!.sections as unknown[]) {
        const e = s as Partial<SectionEntry> | null;
        if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || !isNonNegInt(e.offset) || !isNonNegInt(e.length)) {
          headerProblem = 'malformed section table';
          break;
        }
        if (seen.has(e.name) || e.name === '__proto__') {
          headerProblem = `section '${e.name}' appears twice or has a reserved name`;
          break;
        }
        seen.add(e.name);
        if (e.offset % SECTION_ALIGN !== 0 || e.offset < dataEnd) {
          headerProblem = `section '${e.name}' has an invalid offset ${e.offset}`;
          break;
        }
        if (e.offset + e.length > size - FOOTER_BYTES) {
          throw bad(path, `truncated (section '${e.name}' needs bytes up to ${e.offset + e.length + FOOTER_BYTES} including the footer, the file has ${size})`);
        }
        dataEnd = e.offset + e.length;
        table.push({ name: e.name, offset: e.offset, length: e.length, dtype: typeof e.dtype === 'string' ? e.dtype : 'bytes' });
      }
    }
    if (headerProblem !== undefined) {
      // only the checksum tells a damaged header from a file written wrong
      await skipSpan(head.byteLength, crcEnd);
    } else {
      if (dataEnd + FOOTER_BYTES > size) throw bad(path, `truncated (expected ${dataEnd + FOOTER_BYTES} bytes, the file has ${size})`);
      let pos = head.byteLength;
      for (const e of table) {
        await skipSpan(pos, e.offset);
        const payload = new Uint8Array(e.length);
        await readSpan(payload, e.offset);
        payloads.push(payload);
        pos = e.offset + e.length;
      }
      await skipSpan(pos, crcEnd);
    }
    await readExactly(fh, path, footer, crcEnd);
  } finally {
    await fh.close().catch(() => undefined);
  }

  const stored = new DataView(footer.buffer).getUint32(0, true);
  const endMarker = new TextDecoder('latin1').decode(footer.subarray(4));
  const checksumOk = endMarker === CONTAINER_END_MARKER && stored === computed;
  const corrupt = (problem: string): NitamonoError =>
    checksumOk ? bad(path, `${problem} (file is corrupt)`) : bad(path, 'checksum mismatch (file is corrupt)');
  if (headerProblem !== undefined) throw corrupt(headerProblem);
  const h = header as { kind: string; meta: Record<string, unknown> };
  if (dataEnd + FOOTER_BYTES < size) throw corrupt(`${size - dataEnd - FOOTER_BYTES} unexpected bytes after the data`);
  if (endMarker !== CONTAINER_END_MARKER) throw bad(path, 'bad end marker (file is corrupt or truncated)');
  if (stored !== computed) throw bad(path, 'checksum mismatch (file is corrupt)');

  if (wantKind !== undefined && h.kind !== wantKind) {
    throw bad(path, `holds a '${h.kind}' index, expected '${wantKind}'`);
  }

  const sections: Record<string, Uint8Array> = {};
  const dtypes: Record<string, string> = {};
  table.forEach((e, i) => {
    sections[e.name] = payloads[i]!;
    dtypes[e.name] = e.dtype;
  });
  return { kind: h.kind, version, meta: h.meta as Record<string, unknown>, sections, dtypes };
}
