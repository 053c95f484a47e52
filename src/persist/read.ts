/**
 * Reading binary files the way every nitamono reader needs: errors that name the file and say
 * what is wrong with it (NOT_FOUND, IO, BAD_FILE), exact positional reads in bounded chunks,
 * and a refusal on big-endian hosts, since all nitamono formats are little-endian.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { NitamonoError } from '../errors.js';

/** Largest single read: well below the 2 GiB per-call limit, small enough to checksum while cached. */
export const READ_CHUNK = 8 << 20;

/** BAD_FILE with the message "<path>: <problem>". */
export function badFile(path: string, problem: string): NitamonoError {
  return new NitamonoError('BAD_FILE', `${path}: ${problem}`);
}

/** `what` names the files, e.g. 'vector files'. */
export function requireLittleEndian(path: string, what: string): void {
  if (endianness() !== 'LE') {
    throw new NitamonoError('UNSUPPORTED', `${path}: ${what} are little-endian and this host is big-endian`);
  }
}

/** Opens a regular file for reading and returns its size. The caller closes the handle. */
export async function openForRead(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NitamonoError('NOT_FOUND', `${path}: no such file`, { cause: err });
    throw new NitamonoError('IO', `${path}: cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw badFile(path, 'is a directory, not a file');
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** Fills `buf` from byte `position` of the file; a file that ends early is reported as truncated. */
export async function readExactly(fh: FileHandle, path: string, buf: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < buf.byteLength) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, off, Math.min(READ_CHUNK, buf.byteLength - off), position + off));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw badFile(path, 'is a directory, not a file');
      throw new NitamonoError('IO', `${path}: read failed: ${(err as Error).message}`, { cause: err });
    }
    if (bytesRead === 0) throw badFile(path, `truncated (file shrank while reading, at byte ${position + off})`);
    off += bytesRead;
  }
}
