/**
 * Uploaded query images kept for a while, content-addressed by SHA-256, so a search by upload can
 * be shared as a link (`?query=sha256:…`) and reopened. They live in a bounded folder under the
 * system's temporary directory, one per collection — never in the catalogue or among the indexed
 * images, and a read-only server (no --allow-write) keeps them too, since they change nothing of
 * the collection. The oldest-used go first once the folder passes its byte or file budget.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notFound } from './errors.js';

export const SHARED_QUERY_MAX_BYTES = 256 * 1024 * 1024;
export const SHARED_QUERY_MAX_FILES = 1000;

const HEX = /^[0-9a-f]{64}$/;

export interface SharedQueriesOptions {
  /** Where the images go (default: <tmp>/nitamono-queries/<hash of the collection folder>). */
  dir?: string;
  maxBytes?: number;
  maxFiles?: number;
}

export function sharedQueriesDir(collectionPath: string): string {
  return join(tmpdir(), 'nitamono-queries', createHash('sha256').update(collectionPath).digest('hex').slice(0, 16));
}

export class SharedQueries {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxFiles: number;

  constructor(collectionPath: string, opts: SharedQueriesOptions = {}) {
    this.dir = opts.dir ?? sharedQueriesDir(collectionPath);
    this.maxBytes = opts.maxBytes ?? SHARED_QUERY_MAX_BYTES;
    this.maxFiles = opts.maxFiles ?? SHARED_QUERY_MAX_FILES;
  }

  /** Keeps `image` and returns its SHA-256 (hex). Storing the same bytes again only refreshes them. */
  async put(image: Buffer): Promise<string> {
    const hex = createHash('sha256').update(image).digest('hex');
    const file = join(this.dir, hex);
    const now = new Date();
    try {
      await utimes(file, now, now);
      return hex;
    } catch {
      // not kept yet
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Written aside and renamed, so a reader never sees half an image under its hash.
    const tmp = `${file}.${process.pid}.${Date.now()}.part`;
    await writeFile(tmp, image, { mode: 0o600 });
    await rename(tmp, file);
    await this.evict(hex);
    return hex;
  }

  /** The image stored under `hex`; NOT_FOUND (404) saying why when it is not (or no longer) kept. */
  async get(hex: string): Promise<Buffer> {
    if (!HEX.test(hex)) throw notFound(`no query image sha256:${hex}`);
    const file = join(this.dir, hex);
    try {
      const buf = await readFile(file);
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return buf;
    } catch {
      throw notFound(
        `the query image sha256:${hex.slice(0, 12)}… is not kept by this server (it keeps the last ${this.maxFiles} uploaded queries, up to ${Math.round(this.maxBytes / (1024 * 1024))} MB, and forgets the oldest): upload the image again`,
      );
    }
  }

  /** Drops the least recently used images beyond the budgets, never `keep`. */
  private async evict(keep: string): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => HEX.test(n));
    const files: Array<{ name: string; size: number; used: number }> = [];
    for (const name of names) {
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (st) files.push({ name, size: st.size, used: st.mtimeMs });
    }
    files.sort((a, b) => a.used - b.used || (a.name < b.name ? -1 : 1));
    let bytes = files.reduce((s, f) => s + f.size, 0);
    let count = files.length;
    for (const f of files) {
      if (bytes <= this.maxBytes && count <= this.maxFiles) break;
      if (f.name === keep) continue;
      await rm(join(this.dir, f.name), { force: true });
      bytes -= f.size;
      count--;
    }
  }
}
