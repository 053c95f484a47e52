/**
 * One FeatureExtractor (worker threads, one model each) per set of kinds, started on first use
 * and kept for the collection's lifetime: indexing, uploads and query images share them.
 */
import type { FeatureSpace } from '../catalog/types.js';
import { type ErrorCode, NitamonoError } from '../errors.js';
import { type DeepModel, isDeepModel } from '../image/deep.js';
import { FeatureExtractor } from '../image/extract.js';
import type { ExtractFn } from '../ingest/jobs.js';
import { type CollectionConfig, type ExtractedKind, type FeatureKind, sortKinds } from './config.js';

const KNOWN_CODES: readonly ErrorCode[] = ['BAD_FILE', 'UNSUPPORTED', 'TOO_LARGE', 'DECODE_FAILED', 'IO', 'NOT_FOUND', 'INVALID_ARGUMENT'];

/** The error code of a failed extraction, as a NitamonoError code. */
export function extractionErrorCode(code: string | undefined): ErrorCode {
  return KNOWN_CODES.includes(code as ErrorCode) ? (code as ErrorCode) : 'DECODE_FAILED';
}

export class ExtractorCache {
  private readonly byKinds = new Map<string, FeatureExtractor>();

  constructor(
    private readonly config: () => CollectionConfig,
    private readonly threads: number,
  ) {}

  get(kinds: readonly FeatureKind[]): FeatureExtractor {
    const sorted = sortKinds(kinds);
    const key = sorted.join('+');
    let ex = this.byKinds.get(key);
    if (!ex) {
      const cfg = this.config();
      ex = new FeatureExtractor({
        kinds: sorted,
        colorBins: cfg.color_bins,
        ...(cfg.deep_model ? { deepModel: cfg.deep_model as DeepModel } : {}),
        threads: this.threads,
      });
      this.byKinds.set(key, ex);
    }
    return ex;
  }

  /** Extracts one image into `kinds`; throws NitamonoError (named after `label`) for a bad image. */
  async extractOne(input: string | Buffer, kinds: readonly FeatureKind[], label: string) {
    const r = await this.get(kinds).extract(input);
    if (!r.ok) throw new NitamonoError(extractionErrorCode(r.code), `${label}: ${r.error}`);
    return r;
  }

  async close(): Promise<void> {
    for (const ex of this.byKinds.values()) await Promise.resolve(ex.close()).catch(() => undefined);
    this.byKinds.clear();
  }
}

/** The extractor settings that produce these feature spaces (the inverse of `featureSpace`). */
export function extractorSettings(spaces: readonly FeatureSpace[]): { kinds: ExtractedKind[]; colorBins?: number; deepModel?: DeepModel } {
  const out: { kinds: ExtractedKind[]; colorBins?: number; deepModel?: DeepModel } = { kinds: [] };
  for (const s of spaces) {
    if (out.kinds.includes(s.kind as ExtractedKind)) throw new NitamonoError('UNSUPPORTED', `feature space ${s.kind} is asked twice`);
    if (s.kind === 'color') {
      const m = /^rgb-hist-([1-9][0-9]?)$/.exec(s.model);
      if (!m) throw new NitamonoError('UNSUPPORTED', `unknown colour feature model '${s.model}'`);
      out.colorBins = Number(m[1]);
    } else if (s.kind === 'deep') {
      if (!isDeepModel(s.model)) throw new NitamonoError('UNSUPPORTED', `unknown deep feature model '${s.model}'`);
      out.deepModel = s.model;
    } else {
      throw new NitamonoError('UNSUPPORTED', `unknown feature kind '${String((s as { kind: unknown }).kind)}'`);
    }
    out.kinds.push(s.kind === 'color' ? 'color' : 'deep');
  }
  if (out.kinds.length === 0) throw new NitamonoError('UNSUPPORTED', 'a job asks for no feature space');
  out.kinds = sortKinds(out.kinds);
  return out;
}

/**
 * FeatureExtractors by feature spaces (kind and model version) rather than by a collection's
 * config: a queue worker serves whatever spaces its jobs ask for. Started on first use, kept
 * until close().
 */
export class SpaceExtractors {
  private readonly bySpaces = new Map<string, FeatureExtractor>();
  private closed = false;

  constructor(private readonly threads: number) {}

  get(spaces: readonly FeatureSpace[]): FeatureExtractor {
    if (this.closed) throw new NitamonoError('INVALID_ARGUMENT', 'the extractors were closed');
    const settings = extractorSettings(spaces);
    const key = JSON.stringify(settings);
    let ex = this.bySpaces.get(key);
    if (!ex) {
      ex = new FeatureExtractor({ ...settings, threads: this.threads });
      this.bySpaces.set(key, ex);
    }
    return ex;
  }

  /** The extract function of these spaces (throws NitamonoError UNSUPPORTED for an unknown space). */
  extractFn(spaces: readonly FeatureSpace[]): ExtractFn {
    const ex = this.get(spaces);
    return (path) => ex.extract(path);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ex of this.bySpaces.values()) await Promise.resolve(ex.close()).catch(() => undefined);
    this.bySpaces.clear();
  }
}
