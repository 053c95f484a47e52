/**
 * Request parameters: each is specified once here (range, default, choices) and both the strict
 * parser and the route schemas (./schemas.ts, hence the OpenAPI document) are built from that
 * one spec, so what is documented is what is accepted.
 *
 * JSON bodies may carry numbers or numeric strings; multipart fields and query strings are
 * strings. Anything that is not exactly a valid value is a 400 with a message naming the
 * parameter — these messages are the API's contract, which is why the parsers, not the schema
 * validator, decide.
 */
import type { ImageFilter } from '../catalog/filter.js';
import { type FilterText, filterFromText } from '../collection/filter-text.js';
import {
  AUTO_FLAT_MAX,
  DEFAULT_NPROBE,
  type FeatureKind,
  parseFeatureKind as parseKindName,
  SWEEP_KIND_NAMES,
  type SweepKindName,
} from '../collection/index.js';
import { MAX_ID, MAX_K } from '../validate.js';
import { badRequest } from './errors.js';

export type Features = FeatureKind;
export type Method = 'exact' | 'ivf';

export { MAX_K };
export const MAX_NPROBE = 1_000_000;
export const DEFAULT_K = 10;

export interface IntSpec {
  type: 'int';
  min: number;
  max: number;
  /** Used when the parameter is absent (none: the parameter is optional without a default). */
  default?: number;
  description: string;
}

export interface ChoiceSpec<T extends string = string> {
  type: 'choice';
  values: readonly T[];
  description: string;
  /** Other values are accepted too (documented by the description): no enum in the schema. */
  open?: boolean;
}

/** A string that must match `pattern` whole. */
export interface StringSpec {
  type: 'string';
  pattern: string;
  description: string;
}

/** Free text (a folder, words, a date, a size), at most maxLength characters. */
export interface TextSpec {
  type: 'text';
  maxLength: number;
  description: string;
}

export type ParamSpec = IntSpec | ChoiceSpec | StringSpec | TextSpec;

const text = (description: string, maxLength = 1024): TextSpec => ({ type: 'text', maxLength, description });

/** The filter of a search (../catalog/filter.ts), as text fields: the CLI's --in, --name, … */
export const FILTER_FIELDS = {
  in: text('Only images under this folder (relative to the collection root)'),
  name: text(
    'Only images whose file or folder names hold every word (search by name: split at / _ - . camelCase and digits, prefixes; Japanese by characters)',
  ),
  ids: text('Only these image ids, comma-separated', 100_000),
  since: text('Only files modified on or after this date (YYYY-MM-DD, UTC, or an ISO date-time)', 64),
  until: text('Only files modified on or before this date (a bare day includes the whole day)', 64),
  min_size: text('Only files of at least this size (bytes, or 200KB, 5MB)', 32),
  max_size: text('Only files of at most this size', 32),
} as const;

const FILTER_NAMES: Record<keyof FilterText, string> = {
  in: 'in',
  name: 'name',
  ids: 'ids',
  since: 'since',
  until: 'until',
  minSize: 'min_size',
  maxSize: 'max_size',
};

/** The filter of request fields (JSON body, multipart fields or query string); undefined when none is given. */
export function parseFilterFields(fields: Record<string, unknown>): ImageFilter | undefined {
  const t: FilterText = {};
  for (const [key, name] of Object.entries(FILTER_NAMES) as [keyof FilterText, string][]) {
    const v = fields[name];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw badRequest(`${name} must be a string, got ${JSON.stringify(v)}`);
    const max = FILTER_FIELDS[name as keyof typeof FILTER_FIELDS].maxLength;
    if (v.length > max) throw badRequest(`${name} is longer than ${max} characters`);
    t[key] = v;
  }
  return filterFromText(t, FILTER_NAMES);
}

const int = (min: number, max: number, description: string): IntSpec => ({ type: 'int', min, max, description });
const intWithDefault = (min: number, max: number, description: string, dflt: number): IntSpec & { default: number } => ({
  type: 'int',
  min,
  max,
  description,
  default: dflt,
});

export const FEATURES: ChoiceSpec<Features> = {
  type: 'choice',
  values: ['color', 'deep'],
  open: true,
  description:
    'Feature kind: color ("colour" is accepted too), deep, or the name of learned features (nitamono learn --name). Default: the first kind the collection stores.',
};

export const METHOD: ChoiceSpec<Method> = {
  type: 'choice',
  values: ['exact', 'ivf'],
  description:
    'exact scans every vector (cost N·D; for a compressed index, the full vectors in the catalogue); ivf searches the approximate index: ' +
    'the nprobe nearest lists of the inverted file, or the compressed codes re-ranked as the index says ("flat" and "approximate" are accepted too). ' +
    `Default: the collection's index kind (exact below ${AUTO_FLAT_MAX.toLocaleString('en')} images unless indexed with --index ivf or a compressed kind).`,
};

/** The parameters of a search or an evaluation, in a JSON body or as multipart text fields. */
export const SEARCH_FIELDS = {
  id: int(0, MAX_ID, 'Id of an image of the collection to use as the query (instead of an uploaded image)'),
  k: intWithDefault(1, MAX_K, 'Results wanted', DEFAULT_K),
  features: FEATURES,
  method: METHOD,
  nprobe: int(1, MAX_NPROBE, `Inverted lists to scan (ivf); clamped to nlist. Default: the value --target-recall tuned, else ${DEFAULT_NPROBE}`),
  query: {
    type: 'string',
    pattern: '^sha256:[0-9a-f]{64}$',
    description:
      'An image uploaded as a query before, by the `query.sha256` its search returned (instead of an upload or an id): the server keeps recent query images for a while, so a search by upload can be shared as a link',
  } satisfies StringSpec,
  ...FILTER_FIELDS,
} as const;

/** GET /api/names: search by name. */
export const NAME_QUERY = {
  q: text('The words to find in file and folder names'),
  offset: intWithDefault(0, 1e9, 'Results to skip', 0),
  limit: intWithDefault(1, MAX_K, 'Results wanted', 50),
  ...FILTER_FIELDS,
} as const;

export const SWEEP_QUERY = {
  features: FEATURES,
  k: intWithDefault(1, 100, 'Neighbours per query (recall@k)', 10),
  queries: intWithDefault(1, 100, 'Images of the collection used as queries (evenly spaced by id)', 20),
  kinds: {
    type: 'string',
    pattern: `^(all|(${SWEEP_KIND_NAMES.join('|')})(,(${SWEEP_KIND_NAMES.join('|')}))*)$`,
    description:
      "Also compare index kinds on this collection's vectors (the response's `series`): all, or a comma-separated list of " +
      'flat (IVF-Flat), sq8 (IVF-SQ8), pq (IVF-PQ) and pq-rflat (IVF-PQ re-ranked from the catalogue). Default: none (no `series`)',
  } satisfies StringSpec,
} as const;

/** The index kinds `kinds` asks for (none when absent), in the order of SWEEP_KIND_NAMES. */
export function parseSweepKinds(raw: unknown): SweepKindName[] {
  if (blank(raw)) return [];
  const asked = parseStringParam('kinds', raw, SWEEP_QUERY.kinds).split(',');
  return SWEEP_KIND_NAMES.filter((k) => asked.includes('all') || asked.includes(k));
}

export const IMAGE_LIST_QUERY = {
  offset: intWithDefault(0, 1e9, 'Images to skip (in id order)', 0),
  limit: intWithDefault(1, 200, 'Images in the page', 24),
} as const;

export const IMAGE_ID = int(0, MAX_ID, 'Image id (from search results or GET /api/images); digits only');

/** A strictly positive integer (from a number or a string of digits) within [min, max]. */
export function parseIntParam(name: string, raw: unknown, min: number, max: number): number {
  let v: number;
  if (typeof raw === 'number') v = raw;
  else if (typeof raw === 'string' && /^\s*\+?\d{1,10}\s*$/.test(raw)) v = Number(raw.trim());
  else throw badRequest(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw badRequest(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** A query-string integer: its default when absent. */
export function parseIntOrDefault(name: string, spec: IntSpec & { default: number }, raw: unknown): number {
  return raw === undefined ? spec.default : parseIntParam(name, raw, spec.min, spec.max);
}

export function parseFeatureKind(raw: unknown, available: readonly Features[]): Features {
  if (raw === undefined || raw === null || raw === '') {
    const first = available[0];
    if (!first) throw badRequest('this collection stores no features');
    return first;
  }
  const shape = `features must be "color", "deep" or the name of learned features, got ${JSON.stringify(raw)}`;
  if (typeof raw !== 'string') throw badRequest(shape);
  let f: Features;
  try {
    f = parseKindName(raw);
  } catch {
    throw badRequest(shape);
  }
  if (!available.includes(f)) {
    throw badRequest(`this collection has no ${f} features (it stores: ${available.join(', ') || 'none'})`);
  }
  return f;
}

/** The method asked for, or undefined: then the collection's index kind decides. */
export function parseMethod(raw: unknown): Method | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw badRequest(`method must be "exact" or "ivf", got ${JSON.stringify(raw)}`);
  const v = raw.trim().toLowerCase();
  if (v === 'exact' || v === 'flat') return 'exact';
  if (v === 'ivf' || v === 'approximate') return 'ivf';
  throw badRequest(`method must be "exact" or "ivf", got ${JSON.stringify(raw)}`);
}

/** Refuses a parameter the route does not take, naming the ones it does. */
export function checkKnown(given: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw badRequest(`unknown parameter "${key}" (expected ${known.join(', ')})`);
  }
}

export interface SearchParams {
  k: number;
  features: Features;
  method: Method | undefined;
  nprobe: number | undefined;
  id: number | undefined;
  /** The SHA-256 (hex) of a query image uploaded before. */
  shared: string | undefined;
  filter: ImageFilter | undefined;
}

const blank = (v: unknown) => v === undefined || v === '';

/** Reads k, features, method, nprobe and id from a JSON body or multipart fields. */
export function parseSearchParams(fields: Record<string, unknown>, available: readonly Features[]): SearchParams {
  checkKnown(fields, [...Object.keys(SEARCH_FIELDS), 'image']);
  const { id, k, nprobe, query } = SEARCH_FIELDS;
  return {
    k: blank(fields.k) ? k.default : parseIntParam('k', fields.k, k.min, k.max),
    features: parseFeatureKind(fields.features, available),
    method: parseMethod(fields.method),
    nprobe: blank(fields.nprobe) ? undefined : parseIntParam('nprobe', fields.nprobe, nprobe.min, nprobe.max),
    id: blank(fields.id) ? undefined : parseIntParam('id', fields.id, id.min, id.max),
    shared: blank(fields.query) ? undefined : parseStringParam('query', fields.query, query).slice('sha256:'.length),
    filter: parseFilterFields(fields),
  };
}

function parseStringParam(name: string, raw: unknown, spec: StringSpec): string {
  if (typeof raw !== 'string' || !new RegExp(spec.pattern).test(raw)) {
    throw badRequest(`${name} must match ${spec.pattern}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** An image id from a URL segment: digits only, so nothing path-like ever reaches a lookup. */
export function parseIdSegment(raw: string): number {
  if (!/^\d{1,10}$/.test(raw)) throw badRequest(`image id must be a non-negative integer, got ${JSON.stringify(raw)}`);
  const v = Number(raw);
  if (v > IMAGE_ID.max) throw badRequest(`image id out of range: ${raw}`);
  return v;
}
