/**
 * Strict parsing of request parameters. JSON bodies may carry numbers or numeric strings;
 * multipart fields and query strings are strings. Anything that is not exactly a valid value
 * is a 400 with a message naming the parameter.
 */
import { badRequest } from './errors.js';

export type Features = 'color' | 'deep';
export type Method = 'exact' | 'ivf';

export const MAX_K = 1000;
export const MAX_NPROBE = 1_000_000;
export const DEFAULT_K = 10;

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

export function parseFeatures(raw: unknown, available: readonly Features[]): Features {
  if (raw === undefined || raw === null || raw === '') {
    const first = available[0];
    if (!first) throw badRequest('this collection stores no features');
    return first;
  }
  if (typeof raw !== 'string') throw badRequest(`features must be "color" or "deep", got ${JSON.stringify(raw)}`);
  const v = raw.trim().toLowerCase();
  const f = v === 'colour' ? 'color' : v;
  if (f !== 'color' && f !== 'deep') throw badRequest(`features must be "color" or "deep", got ${JSON.stringify(raw)}`);
  if (!available.includes(f)) {
    throw badRequest(`this collection has no ${f} features (it stores: ${available.join(', ') || 'none'})`);
  }
  return f;
}

export function parseMethod(raw: unknown): Method {
  if (raw === undefined || raw === null || raw === '') return 'exact';
  if (typeof raw !== 'string') throw badRequest(`method must be "exact" or "ivf", got ${JSON.stringify(raw)}`);
  const v = raw.trim().toLowerCase();
  if (v === 'exact' || v === 'flat') return 'exact';
  if (v === 'ivf' || v === 'approximate') return 'ivf';
  throw badRequest(`method must be "exact" or "ivf", got ${JSON.stringify(raw)}`);
}

export interface SearchParams {
  k: number;
  features: Features;
  method: Method;
  nprobe: number | undefined;
  id: number | undefined;
}

/** Reads k, features, method, nprobe and id from a JSON body or multipart fields. */
export function parseSearchParams(
  fields: Record<string, unknown>,
  available: readonly Features[],
  opts: { defaultK?: number; maxK?: number } = {},
): SearchParams {
  const known = new Set(['id', 'k', 'features', 'method', 'nprobe', 'image']);
  for (const key of Object.keys(fields)) {
    if (!known.has(key)) throw badRequest(`unknown parameter "${key}" (expected id, k, features, method, nprobe, image)`);
  }
  const k = fields.k === undefined || fields.k === '' ? opts.defaultK ?? DEFAULT_K : parseIntParam('k', fields.k, 1, opts.maxK ?? MAX_K);
  const nprobe = fields.nprobe === undefined || fields.nprobe === '' ? undefined : parseIntParam('nprobe', fields.nprobe, 1, MAX_NPROBE);
  const id = fields.id === undefined || fields.id === '' ? undefined : parseIntParam('id', fields.id, 0, 0x7fffffff);
  return { k, features: parseFeatures(fields.features, available), method: parseMethod(fields.method), nprobe, id };
}

/** An image id from a URL segment: digits only, so nothing path-like ever reaches a lookup. */
export function parseIdSegment(raw: string): number {
  if (!/^\d{1,10}$/.test(raw)) throw badRequest(`image id must be a non-negative integer, got ${JSON.stringify(raw)}`);
  const v = Number(raw);
  if (v > 0x7fffffff) throw badRequest(`image id out of range: ${raw}`);
  return v;
}
