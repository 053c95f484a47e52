/**
 * A search filter given as text — CLI options, HTTP query parameters — turned into the
 * library's ImageFilter (../catalog/filter.ts), with errors naming the option as its front end spells it.
 */
import { checkImageFilter, type ImageFilter } from '../catalog/filter.js';
import { invalid } from '../errors.js';
import { parseMemorySize } from './auto-index.js';

/** A filter as text (CLI options, HTTP query parameters): each field optional. */
export interface FilterText {
  in?: string | string[];
  name?: string;
  /** Ids, comma-separated. */
  ids?: string;
  /** Dates: YYYY-MM-DD (a UTC day: since its start, until its end) or an ISO date-time. */
  since?: string;
  until?: string;
  /** Sizes: bytes, or 200k, 5MB, … (parseMemorySize) */
  minSize?: string;
  maxSize?: string;
}

const DAY_MS = 86_400_000;

/** A date bound in ms since the epoch; `end`: a bare day means its last millisecond. */
export function parseDateBound(text: string, what: string, end: boolean): number {
  const t = text.trim();
  const day = /^\d{4}-\d{2}-\d{2}$/.test(t);
  const ms = Date.parse(day ? `${t}T00:00:00Z` : t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t) || !Number.isFinite(ms)) throw invalid(`${what} must be a date (YYYY-MM-DD, UTC) or an ISO date-time, got '${text}'`);
  return day && end ? ms + DAY_MS - 1 : ms;
}

/** The filter of text options; undefined when none is given. Throws INVALID_ARGUMENT naming the option. */
export function filterFromText(t: FilterText, names: Record<keyof FilterText, string>): ImageFilter | undefined {
  const f: ImageFilter = {};
  const folders = (Array.isArray(t.in) ? t.in : t.in !== undefined ? [t.in] : []).filter((x) => x !== '');
  if (folders.length) f.in = folders;
  if (t.name !== undefined && t.name.trim() !== '') f.name = t.name;
  if (t.ids !== undefined) {
    f.ids = t.ids
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((x) => {
        if (!/^\d+$/.test(x)) throw invalid(`${names.ids} must be image ids separated by commas, got '${x}'`);
        return Number(x);
      });
  }
  if (t.since !== undefined || t.until !== undefined) {
    f.mtime = {};
    if (t.since !== undefined) f.mtime.min = parseDateBound(t.since, names.since, false);
    if (t.until !== undefined) f.mtime.max = parseDateBound(t.until, names.until, true);
  }
  if (t.minSize !== undefined || t.maxSize !== undefined) {
    f.size = {};
    if (t.minSize !== undefined) f.size.min = parseMemorySize(t.minSize, names.minSize);
    if (t.maxSize !== undefined) f.size.max = parseMemorySize(t.maxSize, names.maxSize);
  }
  if (Object.keys(f).length === 0) return undefined;
  // the same checks as the library's (min above max, '..')
  checkImageFilter(f);
  return f;
}
