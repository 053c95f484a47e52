/**
 * Crash-safe file replacement: the data goes to a temporary file in the target's directory
 * (`.<name>.tmp-<pid>-<random>`), which is fsynced and then renamed over the target; the
 * directory is fsynced afterwards so the rename itself is durable. Readers therefore see either
 * the old file or the complete new one, never a half-written file. On any failure (including
 * an exception thrown by the chunk source) the temporary file is removed and the target is left
 * untouched.
 *
 * Chunks are written one by one, so an index of several hundred MB never has to exist twice in
 * memory. A chunk source may be a string (written as UTF-8), one Uint8Array, an array, a (sync or
 * async) iterable or a generator of ArrayBufferViews — the
 * container writer uses a generator that checksums each chunk as it goes.
 */

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NitamonoError, writeErrorCode, writeErrorHint } from '../errors.js';

export type ChunkSource = string | Uint8Array | readonly ArrayBufferView[] | Iterable<ArrayBufferView> | AsyncIterable<ArrayBufferView>;

/** Largest single write; keeps every call well below the 2 GiB per-call limit. */
const MAX_WRITE = 64 << 20;

function asBytes(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) {
    const len = Math.min(MAX_WRITE, bytes.byteLength - off);
    const { bytesWritten } = await fh.write(bytes, off, len);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    off += bytesWritten;
  }
}

function ioError(path: string, what: string, err: unknown): NitamonoError {
  if (err instanceof NitamonoError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT') {
    return new NitamonoError('NOT_FOUND', `${path}: ${what} failed: directory ${dirname(path)} does not exist`, { cause: err });
  }
  const named = writeErrorCode(code);
  const hint = writeErrorHint(named);
  return new NitamonoError(named, `${path}: ${what} failed: ${hint ? `${hint} (${msg})` : msg}`, { cause: err });
}

async function fsyncDir(dir: string): Promise<void> {
  let dh: FileHandle | undefined;
  try {
    dh = await open(dir, 'r');
    await dh.sync();
  } catch (err) {
    // Some platforms/filesystems (Windows, some network mounts) cannot open or fsync a
    // directory; the rename has still happened, so this is best effort.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'EACCES') throw err;
  } finally {
    await dh?.close().catch(() => undefined);
  }
}

/**
 * Atomically replaces `path` with the concatenation of `chunks`. Returns the bytes written.
 * Errors are NitamonoError 'NO_SPACE', 'READ_ONLY', 'IO' (or 'NOT_FOUND' when the directory does not exist); errors
 * thrown by the chunk source propagate unchanged.
 */
export async function writeFileAtomic(path: string, chunks: ChunkSource): Promise<number> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  /** Runs one filesystem step, turning its errno error into a NitamonoError naming `path`. */
  const fsStep = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw ioError(path, what, err);
    }
  };
  const fh = await fsStep('creating the temporary file', () => open(tmp, 'wx', 0o644));
  let closed = false;
  let total = 0;
  try {
    const put = async (view: ArrayBufferView): Promise<void> => {
      if (!ArrayBuffer.isView(view)) {
        throw new NitamonoError('INVALID_ARGUMENT', `writeFileAtomic(${path}): chunk is not an ArrayBufferView`);
      }
      const bytes = asBytes(view);
      await fsStep('write', () => writeAll(fh, bytes));
      total += bytes.byteLength;
    };
    if (typeof chunks === 'string') {
      await put(new TextEncoder().encode(chunks));
    } else if (ArrayBuffer.isView(chunks)) {
      await put(chunks);
    } else {
      // Errors thrown by the source itself propagate unchanged.
      for await (const chunk of chunks as Iterable<ArrayBufferView> | AsyncIterable<ArrayBufferView>) await put(chunk);
    }
    await fsStep('fsync', () => fh.sync());
    closed = true;
    await fsStep('close', () => fh.close());
    await fsStep('rename', () => rename(tmp, path));
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsStep('fsync of the directory', () => fsyncDir(dir));
  return total;
}
