/**
 * One FeatureExtractor (worker threads, one model each) per set of kinds, started on first use
 * and kept for the collection's lifetime: indexing, uploads and query images share them.
 */
import { type ErrorCode, NitamonoError } from '../errors.js';
import type { DeepModel } from '../image/deep.js';
import { FeatureExtractor } from '../image/extract.js';
import { type CollectionConfig, type FeatureKind, sortKinds } from './config.js';

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
