/**
 * Search by name (../catalog/names.ts): the images whose file and folder names hold the words
 * asked, ranked by the catalogue. The offline form of "search by words": no text–image model
 * is installable offline, so words match names, not pixels.
 */
import { checkImageFilter } from '../catalog/filter.js';
import { parseNameQuery } from '../catalog/names.js';
import { invalid } from '../errors.js';
import { checkK, MAX_K } from '../validate.js';
import type { CollectionContext } from './context.js';
import { rootRelative } from './search.js';
import type { NameSearchOptions, NameSearchResponse } from './types.js';

export async function searchByName(ctx: CollectionContext, words: string, opts: NameSearchOptions = {}): Promise<NameSearchResponse> {
  if (typeof words !== 'string') throw invalid(`name words must be a string, got ${typeof words}`);
  const query = parseNameQuery(words);
  if (!query) throw invalid('name search needs at least one word (got an empty query)');
  const limit = checkK(opts.limit ?? 50, { max: MAX_K });
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw invalid(`offset must be a non-negative integer, got ${String(offset)}`);
  const filter = checkImageFilter(rootRelative(opts.filter, ctx.config.root));
  const r = await ctx.store.searchNames(query, { limit, offset, ...(filter ? { filter } : {}) });
  return {
    query: 'words' in query ? { words: query.words.map((w) => w.join('')) } : { literal: query.literal },
    total: r.total,
    results: r.hits.map((h) => ({ id: h.id, path: h.relpath, absolute_path: ctx.paths.absolute(h.relpath) })),
  };
}
