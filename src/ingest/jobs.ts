/**
 * Feature extraction as jobs. A job is one content (SHA-256) to bring into some feature spaces,
 * with the files that hold it; its key is content + spaces (kind and model version), so the same
 * work asked twice — a re-run after a crash, a queue that delivers twice — is the same job.
 *
 * `handleExtractionJob` is the idempotent per-image handler: content already stored in every
 * space is copied, never re-extracted; otherwise the image is read once and a row is written for
 * every file holding it. It returns the catalogue writes rather than committing them, so a
 * runner can commit many jobs in one unit of work (one fsync per batch, not per image).
 *
 * `JobRunner` is the seam for where jobs run: `InProcessJobRunner` (the default: this process's
 * worker threads through a FeatureExtractor) or the BullMQ queue (`BullJobRunner`, ./queue.ts,
 * whose workers commit on their own); the planner and the sync service do not change with it.
 */
import type { CatalogStore, CatalogWrite, FeatureSpace, NewImage } from '../catalog/types.js';
import { spaceKey } from '../catalog/types.js';
import type { ExtractedImage } from '../image/extract.js';

export interface JobFile {
  relpath: string;
  size: number;
  mtime_ms: number;
}

export interface ExtractionJob {
  key: string;
  sha256: string;
  /** Where to read the content: any file that holds it. */
  path: string;
  spaces: FeatureSpace[];
  /** Every file holding this content; each gets its own row. */
  files: JobFile[];
}

export function jobKey(sha256: string, spaces: readonly FeatureSpace[]): string {
  return `${sha256}/${spaces.map(spaceKey).sort().join('+')}`;
}

export function extractionJob(sha256: string, path: string, spaces: FeatureSpace[], files: JobFile[]): ExtractionJob {
  return { key: jobKey(sha256, spaces), sha256, path, spaces, files };
}

export type JobOutcome =
  | { status: 'extracted' }
  /** Another row already held this content in every space: vectors copied. */
  | { status: 'reused'; from: number }
  | { status: 'failed'; code: string; reason: string };

export interface JobResult {
  job: ExtractionJob;
  outcome: JobOutcome;
  /** What to commit for it (one put per file); empty when the runner's workers committed it themselves. */
  writes: CatalogWrite[];
}

/** Reads one image into the job's spaces; never throws for a bad file (ok: false instead). */
export type ExtractFn = (path: string) => Promise<ExtractedImage>;

export async function handleExtractionJob(job: ExtractionJob, deps: { store: CatalogStore; extract: ExtractFn }): Promise<JobResult> {
  const base = (f: JobFile): Pick<NewImage, 'relpath' | 'size' | 'mtime_ms' | 'sha256'> => ({
    relpath: f.relpath,
    size: f.size,
    mtime_ms: f.mtime_ms,
    sha256: job.sha256,
  });
  const stored = await deps.store.okBySha(job.sha256, job.spaces);
  if (stored) {
    const image = { status: 'ok' as const, width: stored.width, height: stored.height, format: stored.format };
    return {
      job,
      outcome: { status: 'reused', from: stored.id },
      writes: job.files.map((f) => ({ op: 'put', image: { ...base(f), ...image }, copyVectorsFrom: { id: stored.id, spaces: job.spaces } })),
    };
  }
  const r = await deps.extract(job.path);
  if (!r.ok) {
    // The decoder's messages start with the path; the row already has it.
    const reason = r.error.startsWith(`${r.path}: `) ? r.error.slice(r.path.length + 2) : r.error;
    return {
      job,
      outcome: { status: 'failed', code: r.code, reason },
      writes: job.files.map((f) => ({ op: 'put', image: { ...base(f), status: 'skipped', error_code: r.code, error_message: reason } })),
    };
  }
  const vectors = job.spaces.map((space) => {
    const v = r.features[space.kind as keyof typeof r.features];
    if (!v) throw new Error(`the extractor returned no ${space.kind} features for ${job.path}`);
    return { space, vector: v };
  });
  const image = { status: 'ok' as const, width: r.width, height: r.height, format: r.format };
  return {
    job,
    outcome: { status: 'extracted' },
    writes: job.files.map((f) => ({ op: 'put', image: { ...base(f), ...image }, vectors })),
  };
}

export interface JobRunner {
  /**
   * Runs the jobs and yields each result as it is ready (in any order). When `signal` aborts, it
   * stops starting jobs and ends after the ones in flight (or at once: their results are lost,
   * which is safe since nothing of them was committed — or, on a queue, the workers go on and
   * commit them).
   */
  run(jobs: readonly ExtractionJob[], signal?: AbortSignal): AsyncIterable<JobResult>;
}

/**
 * Jobs on this process's extractor worker threads, enough in flight to keep every worker busy.
 * Results come back in job order (a sliding window), so the same folder gets the same ids on
 * every run, whatever order the workers finish in.
 */
export class InProcessJobRunner implements JobRunner {
  constructor(
    private readonly store: CatalogStore,
    private readonly extract: ExtractFn,
    private readonly concurrency: number,
  ) {}

  async *run(jobs: readonly ExtractionJob[], signal?: AbortSignal): AsyncIterable<JobResult> {
    const window: Promise<JobResult>[] = [];
    let next = 0;
    const start = () => {
      const p = handleExtractionJob(jobs[next++]!, { store: this.store, extract: this.extract });
      p.catch(() => undefined); // observed when it reaches the head of the window
      window.push(p);
    };
    while (next < jobs.length && window.length < this.concurrency) start();
    const aborted = new Promise<'aborted'>((resolve) => signal?.addEventListener('abort', () => resolve('aborted'), { once: true }));
    while (window.length > 0) {
      if (signal?.aborted) return;
      const done = await Promise.race([window[0]!, aborted]);
      if (done === 'aborted') return;
      window.shift();
      // refill before handing the result over, so workers stay busy while the caller commits
      if (next < jobs.length && !signal?.aborted) start();
      yield done;
    }
  }
}
