/**
 * Walking an image folder.
 *
 * - Recursive; follows symbolic links to files and to folders, but visits every folder at most
 *   once (tracked by device:inode), so a link back to an ancestor (a loop) or a second link to a
 *   folder already seen is reported, not followed.
 * - Names starting with "." (hidden files and folders) are not entered, nor is the collection
 *   folder itself when it lies inside the scanned tree.
 * - Files are selected by extension, case-insensitively (IMAGE_EXTENSIONS). Other files are
 *   counted as "ignored" and never reported one by one: a photo folder is full of sidecars
 *   (.xmp, .txt, .json, .mov) that are not images. The list deliberately also holds formats
 *   the decoder may not read (bmp, heic, heif, jxl, ico): such files are tried and then
 *   reported as skipped with the reason, so the user learns why an "image" is missing instead
 *   of it vanishing silently.
 * - Paths are kept as JavaScript strings (UTF-8 names, spaces and any Unicode work); stored
 *   relative paths always use "/".
 */

import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';

export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg',
  'jpeg',
  'jpe',
  'jfif',
  'png',
  'webp',
  'gif',
  'tif',
  'tiff',
  'avif',
  'svg',
  // tried, usually reported as unsupported by the decoder:
  'bmp',
  'heic',
  'heif',
  'jxl',
  'ico',
]);

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).slice(1).toLowerCase());
}

export interface ScannedFile {
  /** Path relative to the root, "/"-separated. */
  relpath: string;
  abspath: string;
  size: number;
  mtimeMs: number;
}

export interface ScanIssue {
  /** Path relative to the root, "/"-separated. */
  path: string;
  code: 'SYMLINK_LOOP' | 'DUPLICATE_FOLDER' | 'BROKEN_SYMLINK' | 'UNREADABLE' | 'NOT_A_FILE';
  reason: string;
}

export interface ScanResult {
  files: ScannedFile[];
  issues: ScanIssue[];
  /** Regular files without an image extension. */
  ignored: number;
  /** Folders whose listing failed: rows under them must not be treated as deleted. */
  unreadableDirs: string[];
}

export function toRelpath(root: string, abs: string): string {
  const rel = relative(root, abs);
  return sep === '/' ? rel : rel.split(sep).join('/');
}

export async function scanFolder(root: string, opts: { excludeDirs?: string[]; onFile?: (count: number) => void } = {}): Promise<ScanResult> {
  const files: ScannedFile[] = [];
  const issues: ScanIssue[] = [];
  const unreadableDirs: string[] = [];
  let ignored = 0;
  const visited = new Map<string, string>(); // dev:ino → relpath of the first visit
  const exclude = new Set<string>();
  for (const d of opts.excludeDirs ?? []) {
    try {
      const s = await stat(d);
      exclude.add(`${s.dev}:${s.ino}`);
    } catch {
      // not there: nothing to exclude
    }
  }

  const rootStat = await stat(root);
  const key = (s: Stats) => `${s.dev}:${s.ino}`;

  async function walk(dir: string, dirStat: Stats, ancestors: Set<string>): Promise<void> {
    const dirKey = key(dirStat);
    visited.set(dirKey, toRelpath(root, dir) || '.');
    const chain = new Set(ancestors).add(dirKey);
    const names: { name: string; isLink: boolean; isDir: boolean; isFile: boolean }[] = [];
    try {
      const handle = await opendir(dir);
      for await (const ent of handle) {
        names.push({ name: ent.name, isLink: ent.isSymbolicLink(), isDir: ent.isDirectory(), isFile: ent.isFile() });
      }
    } catch (err) {
      const rel = toRelpath(root, dir) || '.';
      unreadableDirs.push(rel);
      issues.push({ path: rel, code: 'UNREADABLE', reason: `cannot list folder: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      return;
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of names) {
      if (ent.name.startsWith('.')) continue;
      const abs = join(dir, ent.name);
      const rel = toRelpath(root, abs);
      const image = isImageName(ent.name);
      let st: Stats;
      try {
        st = await stat(abs); // follows symlinks
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') {
          issues.push({ path: rel, code: 'SYMLINK_LOOP', reason: 'symbolic link loop (the link resolves to itself)' });
        } else if (ent.isLink && code === 'ENOENT') {
          if (image) issues.push({ path: rel, code: 'BROKEN_SYMLINK', reason: 'symbolic link to a file that does not exist' });
        } else if (image || ent.isDir) {
          issues.push({ path: rel, code: 'UNREADABLE', reason: `cannot stat: ${code ?? (err as Error).message}` });
          if (ent.isDir) unreadableDirs.push(rel);
        }
        continue;
      }
      if (st.isDirectory()) {
        const k = key(st);
        if (exclude.has(k)) continue;
        if (chain.has(k)) {
          issues.push({ path: rel, code: 'SYMLINK_LOOP', reason: `symbolic link loop: points back to "${visited.get(k)}", not followed` });
          continue;
        }
        if (visited.has(k)) {
          issues.push({ path: rel, code: 'DUPLICATE_FOLDER', reason: `folder already scanned as "${visited.get(k)}", not scanned twice` });
          continue;
        }
        await walk(abs, st, chain);
      } else if (st.isFile()) {
        if (!image) {
          ignored++;
          continue;
        }
        files.push({ relpath: rel, abspath: abs, size: st.size, mtimeMs: st.mtimeMs });
        opts.onFile?.(files.length);
      } else if (image) {
        issues.push({ path: rel, code: 'NOT_A_FILE', reason: 'not a regular file (device, socket or pipe)' });
      }
    }
  }

  await walk(root, rootStat, new Set());
  return { files, issues, ignored, unreadableDirs };
}

/** SHA-256 of a file's content, hex. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    const s = createReadStream(path, { highWaterMark: 1 << 20 });
    s.on('data', (chunk) => h.update(chunk));
    s.on('error', reject);
    s.on('end', () => resolve(h.digest('hex')));
  });
}

export function hashBuffer(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
