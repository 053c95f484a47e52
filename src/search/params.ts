/**
 * The validating parsers of search parameters. Each kind reads the parameters it knows and
 * ignores the others, so code holding an index of unknown kind can pass one set to any index
 * (nprobe to an exact index is simply not used, as before the kinds became a registry).
 */
import { invalid } from '../errors.js';
import { checkPositiveInt } from '../validate.js';
import { parseAllowed } from './subset.js';
import type { CodedSearchParams, FlatSearchParams, IVFSearchParams } from './types.js';

function fields(params: unknown): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params))
    throw invalid(`search parameters must be an object, got ${Array.isArray(params) ? 'an array' : typeof params}`);
  return params as Record<string, unknown>;
}

function positiveInt(p: Record<string, unknown>, name: string): number | undefined {
  const v = p[name];
  return v === undefined ? undefined : checkPositiveInt(name, v);
}

/** Parsed parameters hold `allowed` as sorted distinct ids. */
export type Parsed<P> = Omit<P, 'allowed'> & { allowed?: Int32Array };

export function parseFlatParams(params: unknown): Parsed<FlatSearchParams> {
  const p = fields(params);
  const out: Parsed<FlatSearchParams> = {};
  const threads = positiveInt(p, 'threads');
  if (threads !== undefined) out.threads = threads;
  const allowed = parseAllowed(p['allowed']);
  if (allowed) out.allowed = allowed;
  return out;
}

export function parseIVFParams(params: unknown): Parsed<IVFSearchParams> {
  const p = fields(params);
  const out: Parsed<IVFSearchParams> = parseFlatParams(p);
  const nprobe = positiveInt(p, 'nprobe');
  if (nprobe !== undefined) out.nprobe = nprobe;
  const ef = positiveInt(p, 'efSearch');
  if (ef !== undefined) out.efSearch = ef;
  return out;
}

/** The parameters of the compressed kinds: threads, nprobe, refineFactor (a finite number ≥ 1). */
export function parseCodedParams(params: unknown): Parsed<CodedSearchParams> {
  const p = fields(params);
  const out: Parsed<CodedSearchParams> = parseIVFParams(p);
  const f = p['refineFactor'];
  if (f !== undefined) {
    if (typeof f !== 'number' || !Number.isFinite(f) || f < 1)
      throw invalid(`refineFactor must be a number ≥ 1, got ${typeof f === 'string' ? `'${f}'` : String(f)}`);
    out.refineFactor = f;
  }
  return out;
}
