/** The filter options of `search` (--in, --name, --ids, --since/--until, --min-size/--max-size). */
import type { Command } from 'commander';
import type { ImageFilter } from '../catalog/filter.js';
import { type FilterText, filterFromText } from '../collection/filter-text.js';

export interface FilterCliOptions {
  in?: string[];
  name?: string;
  ids?: string;
  since?: string;
  until?: string;
  minSize?: string;
  maxSize?: string;
}

const NAMES: Record<keyof FilterText, string> = {
  in: '--in',
  name: '--name',
  ids: '--ids',
  since: '--since',
  until: '--until',
  minSize: '--min-size',
  maxSize: '--max-size',
};

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--in <folder>', 'only images under this folder (relative to the collection root; repeat for several)', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option('--name <words>', 'only images whose file or folder names hold every word; without an image: list them (search by name)')
    .option('--ids <ids>', 'only these image ids (comma-separated)')
    .option('--since <date>', 'only files modified on or after this date (YYYY-MM-DD, UTC, or an ISO date-time)')
    .option('--until <date>', 'only files modified on or before this date (a bare day includes the whole day)')
    .option('--min-size <size>', 'only files of at least this size (bytes, or 200KB, 5MB)')
    .option('--max-size <size>', 'only files of at most this size');
}

export function cliFilter(o: FilterCliOptions): ImageFilter | undefined {
  const t: FilterText = {};
  if (o.in) t.in = o.in;
  if (o.name !== undefined) t.name = o.name;
  if (o.ids !== undefined) t.ids = o.ids;
  if (o.since !== undefined) t.since = o.since;
  if (o.until !== undefined) t.until = o.until;
  if (o.minSize !== undefined) t.minSize = o.minSize;
  if (o.maxSize !== undefined) t.maxSize = o.maxSize;
  return filterFromText(t, NAMES);
}
