/**
 * Which images a filtered search may return: the filter a caller gives (folders, ids, date and
 * size ranges, name words), checked and normalised once here, then turned into each backend's
 * SQL (sqlite.ts, postgres.ts) that resolves it to ids.
 */
import { invalid } from '../errors.js';
import { type NameQuery, parseNameQuery } from './names.js';

/** A closed range; either end may be left open. */
export interface Range {
  min?: number;
  max?: number;
}

export interface ImageFilter {
  /** Folders relative to the collection root ('trips/2019'); an image is in one when its path is under it. Several: any of them. */
  in?: string | string[];
  /** Image ids. */
  ids?: readonly number[];
  /** File modification time, ms since the epoch, inclusive. */
  mtime?: Range;
  /** File size in bytes, inclusive. */
  size?: Range;
  /** Words that must all occur in the path's file and folder names (./names.ts). */
  name?: string;
}

/** A checked filter: folders without surrounding slashes (none meaning the whole collection is not kept), ids sorted. */
export interface CheckedFilter {
  folders?: string[];
  ids?: number[];
  mtime?: Range;
  size?: Range;
  name?: NameQuery;
  /** The name words as given (for messages). */
  nameText?: string;
}

function checkRange(what: string, r: unknown): Range | undefined {
  if (r === undefined) return undefined;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalid(`${what} must be an object { min?, max? }`);
  const out: Range = {};
  for (const end of ['min', 'max'] as const) {
    const v = (r as Record<string, unknown>)[end];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${what}.${end} must be a finite number, got ${JSON.stringify(v)}`);
    out[end] = v;
  }
  if (out.min !== undefined && out.max !== undefined && out.min > out.max) throw invalid(`${what}: min (${out.min}) is above max (${out.max})`);
  return out.min === undefined && out.max === undefined ? undefined : out;
}

/** A folder as stored paths start: no './', no leading or trailing '/', no '..'; '' for the root. */
export function normaliseFolder(folder: unknown): string {
  if (typeof folder !== 'string') throw invalid(`a folder must be a string, got ${typeof folder}`);
  const parts = folder
    .replaceAll('\\', '/')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`folder '${folder}' goes outside the collection ('..'); give it relative to the collection root`);
  return parts.join('/');
}

/** Checks and normalises a filter; undefined when it restricts nothing. Throws INVALID_ARGUMENT naming the bad field. */
export function checkImageFilter(filter: unknown): CheckedFilter | undefined {
  if (filter === undefined || filter === null) return undefined;
  if (typeof filter !== 'object' || Array.isArray(filter)) throw invalid('filter must be an object { in?, ids?, mtime?, size?, name? }');
  const f = filter as Record<string, unknown>;
  for (const key of Object.keys(f))
    if (!['in', 'ids', 'mtime', 'size', 'name'].includes(key)) throw invalid(`unknown filter field '${key}' (in, ids, mtime, size, name)`);
  const out: CheckedFilter = {};
  if (f['in'] !== undefined) {
    const list = Array.isArray(f['in']) ? f['in'] : [f['in']];
    const folders = list.map(normaliseFolder);
    // the root holds everything: no restriction
    if (!folders.includes('')) out.folders = [...new Set(folders)];
  }
  if (f['ids'] !== undefined) {
    const ids = f['ids'];
    if (!Array.isArray(ids)) throw invalid('filter ids must be an array of image ids');
    for (const id of ids)
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0x7fffffff)
        throw invalid(`filter ids must be non-negative integers, got ${JSON.stringify(id)}`);
    out.ids = [...new Set(ids as number[])].sort((a, b) => a - b);
  }
  const mtime = checkRange('mtime', f['mtime']);
  if (mtime) out.mtime = mtime;
  const size = checkRange('size', f['size']);
  if (size) out.size = size;
  if (f['name'] !== undefined) {
    if (typeof f['name'] !== 'string') throw invalid(`filter name must be a string of words, got ${typeof f['name']}`);
    const q = parseNameQuery(f['name']);
    if (q) {
      out.name = q;
      out.nameText = f['name'];
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** The byte range of paths under `folder`: [folder + '/', folder + '0') ('0' follows '/' in byte order). */
export function folderRange(folder: string): [string, string] {
  return [`${folder}/`, `${folder}0`];
}

/** One image a name search found. */
export interface NameHit {
  id: number;
  relpath: string;
}
