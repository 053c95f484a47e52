/**
 * Parallel feature extraction: a pool of worker_threads (extract-worker.ts), each decoding images
 * with sharp and — for deep features — running its own tfjs-wasm MobileNetV2. The calling thread
 * only passes messages, so a web server can call `extract` for uploads and stay responsive.
 *
 *   const fx = new FeatureExtractor({ kinds: ['color', 'deep'] });
 *   for await (const r of fx.extractMany(paths)) { if (r.ok) … else console.warn(r.code, r.error) }
 *   await fx.close();
 *
 * A bad file never throws: it comes back as `{ ok: false, code, error }` (codes from errors.ts:
 * NOT_FOUND, IO, DECODE_FAILED, TOO_LARGE). Only a model that cannot load, or use after close(),
 * rejects.
 */
import { availableParallelism } from 'node:os';
import { type ErrorCode, invalid, NitamonoError } from '../errors.js';
import { type PooledWorker, WorkerPool } from '../util/worker-pool.js';
import { checkInt, checkOneOf, checkPositiveInt } from '../validate.js';
import { colorDim, DEFAULT_COLOR_BINS } from './color.js';
import { BUFFER_NAME, DEFAULT_MAX_PIXELS } from './decode.js';
import { DEFAULT_DEEP_MODEL, type DeepModel, deepDim, isDeepModel } from './deep.js';
import type { WorkerInit, WorkerMessage, WorkerResult } from './extract-worker.js';

export type FeatureKind = 'color' | 'deep';

const FEATURE_KINDS: readonly FeatureKind[] = ['color', 'deep'];

export type ExtractedImage =
  | {
      /** The path as given, or '<buffer>'. */
      path: string;
      ok: true;
      /** Size as displayed (EXIF orientation applied), before any resizing. */
      width: number;
      height: number;
      format: string;
      features: { color?: Float32Array; deep?: Float32Array };
    }
  | { path: string; ok: false; code: ErrorCode; error: string };

export interface FeatureExtractorOptions {
  kinds: FeatureKind[];
  /** Bins per channel of the colour histogram (default 4 → 12-d). */
  colorBins?: number;
  deepModel?: DeepModel;
  /** Worker threads (default os.availableParallelism()). */
  threads?: number;
  /** Per-image pixel limit (default 100 MP). */
  maxPixels?: number;
  /** Jobs handed to one worker at a time (default 8 colour-only, 16 with deep features). */
  inflightPerWorker?: number;
}

interface Job {
  path: string;
  input: string | Buffer;
  attempts: number;
  resolve: (r: ExtractedImage) => void;
  reject: (e: Error) => void;
}

type Slot = PooledWorker<WorkerResult>;

/** A job whose worker died is retried once on a fresh worker; a second death fails it. */
const MAX_ATTEMPTS = 2;

const closedError = () => new NitamonoError('INVALID_ARGUMENT', 'FeatureExtractor was closed');

export class FeatureExtractor {
  readonly kinds: readonly FeatureKind[];
  readonly dims: { color?: number; deep?: number };
  readonly colorBins: number;
  readonly deepModel: DeepModel | undefined;
  readonly threads: number;
  private readonly maxPixels: number;
  private readonly inflight: number;
  private readonly init: WorkerInit;
  private readonly pool: WorkerPool<WorkerResult>;
  private queue: Job[] = [];
  private closed = false;
  private fatal: NitamonoError | undefined;
  private started: Promise<void> | undefined;

  constructor(opts: FeatureExtractorOptions) {
    if (!opts || !Array.isArray(opts.kinds) || opts.kinds.length === 0) throw invalid("FeatureExtractor needs kinds: ['color'], ['deep'] or both");
    for (const k of opts.kinds) checkOneOf('feature kind', k, FEATURE_KINDS);
    this.kinds = [...new Set(opts.kinds)];
    const color = this.kinds.includes('color');
    const deep = this.kinds.includes('deep');
    this.colorBins = opts.colorBins ?? DEFAULT_COLOR_BINS;
    const deepModel = opts.deepModel ?? DEFAULT_DEEP_MODEL;
    if (!isDeepModel(deepModel)) throw invalid(`unknown deep model '${String(deepModel)}'`);
    this.deepModel = deep ? deepModel : undefined;
    this.dims = {};
    if (color) this.dims.color = colorDim(this.colorBins);
    if (deep) this.dims.deep = deepDim(deepModel);
    this.threads = checkInt('threads', opts.threads ?? availableParallelism(), { min: 1, max: 256 });
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    if (!(Number.isFinite(this.maxPixels) && this.maxPixels >= 0)) throw invalid(`maxPixels must be a non-negative number, got ${opts.maxPixels}`);
    this.inflight = checkPositiveInt('inflightPerWorker', opts.inflightPerWorker ?? (deep ? 16 : 8));
    this.init = { color, colorBins: this.colorBins, deep: deep ? deepModel : null, maxPixels: this.maxPixels };
    this.pool = new WorkerPool<WorkerResult>({
      script: new URL('./extract-worker.js', import.meta.url),
      // read at each spawn: a replacement worker gets the same settings
      workerData: () => this.init,
      reply: (m) => ((m as WorkerMessage).type === 'result' ? { id: (m as WorkerResult).id, result: m as WorkerResult } : undefined),
      isReadyMessage: (m) => (m as WorkerMessage).type === 'ready',
      onMessage: (_slot, m) => {
        const msg = m as WorkerMessage;
        if (msg.type === 'fatal') this.failAll(new NitamonoError(msg.code, msg.error));
      },
      onExit: (slot, err) => this.workerDied(slot, err),
      refWhileBusy: false,
    });
  }

  /** The live workers (what a test or a debugger looks at). */
  private get slots(): readonly Slot[] {
    return this.pool.workers;
  }

  /** Starts the workers (and loads the model in each) now rather than on first use. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new NitamonoError('INVALID_ARGUMENT', 'FeatureExtractor is closed'));
    if (!this.started) {
      for (let i = 0; i < this.threads; i++) this.spawn();
      this.started = Promise.all(this.slots.map((s) => s.ready)).then(() => undefined);
      this.started.catch(() => {});
    }
    return this.started;
  }

  private spawn(): void {
    const slot = this.pool.spawn();
    slot.ready.then(
      () => this.dispatch(),
      () => {},
    );
  }

  /** A worker died on its own; its jobs come back through `orphaned`. */
  private workerDied(slot: Slot, err: Error): void {
    if (this.closed || this.fatal) return;
    if (!slot.isReady) {
      // It died while starting (cannot load its module or model): respawning would loop.
      this.failAll(new NitamonoError('IO', `extraction worker failed to start: ${err.message}`, { cause: err }));
      return;
    }
    this.spawn();
    this.refresh();
  }

  /** A job whose worker died: retried on another worker, up to MAX_ATTEMPTS in all. */
  private orphaned(job: Job, err: Error): void {
    if (this.closed) {
      job.reject(closedError());
      return;
    }
    if (this.fatal) {
      job.reject(this.fatal);
      return;
    }
    job.attempts++;
    if (job.attempts >= MAX_ATTEMPTS) {
      job.resolve({ path: job.path, ok: false, code: 'DECODE_FAILED', error: `${job.path}: the extraction worker crashed on this image (${err.message})` });
    } else {
      this.queue.unshift(job);
    }
    this.dispatch();
  }

  /** The pool cannot work (a worker cannot start or load its model): reject everything, stop workers. */
  private failAll(err: NitamonoError): void {
    if (this.fatal) return;
    this.fatal = err;
    const queued = this.queue;
    this.queue = [];
    // jobs in flight reject through `orphaned`, which sees `fatal`
    void this.pool.close(err);
    for (const j of queued) j.reject(err);
  }

  private complete(job: Job, m: WorkerResult): void {
    if (m.ok) {
      const features: { color?: Float32Array; deep?: Float32Array } = {};
      if (m.color) features.color = m.color;
      if (m.deep) features.deep = m.deep;
      job.resolve({ path: job.path, ok: true, width: m.width, height: m.height, format: m.format, features });
    } else {
      job.resolve({ path: job.path, ok: false, code: m.code, error: m.error });
    }
    this.dispatch();
  }

  /**
   * Idle workers are unref'd, so a program that forgets close() can still exit; workers with
   * work (or a caller waiting on one) keep the event loop alive.
   */
  private refresh(): void {
    // A worker still starting counts as busy: whoever awaits start() must not see the loop exit.
    const busy = this.queue.length > 0 || this.slots.some((s) => !s.isReady || s.inflight > 0);
    for (const s of this.slots) {
      if (busy) s.worker.ref();
      else s.worker.unref();
    }
  }

  /** Hands queued jobs to the least-loaded ready workers, up to `inflight` each. */
  private dispatch(): void {
    this.drain();
    this.refresh();
  }

  private drain(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (!s.isReady || s.inflight >= this.inflight) continue;
        if (!best || s.inflight < best.inflight) best = s;
      }
      if (!best) return;
      const job = this.queue.shift()!;
      let sent: Promise<WorkerResult>;
      if (typeof job.input === 'string') {
        sent = best.run({ type: 'job', path: job.input });
      } else {
        // Copy so the caller's Buffer stays usable, then transfer the copy.
        const copy = new Uint8Array(job.input.byteLength);
        copy.set(job.input);
        sent = best.run({ type: 'job', buf: copy.buffer }, [copy.buffer]);
      }
      sent.then(
        (m) => this.complete(job, m),
        (err: Error) => this.orphaned(job, err),
      );
    }
  }

  private submit(input: string | Buffer): Promise<ExtractedImage> {
    if (this.closed) return Promise.reject(new NitamonoError('INVALID_ARGUMENT', 'FeatureExtractor is closed'));
    if (this.fatal) return Promise.reject(this.fatal);
    const path = typeof input === 'string' ? input : BUFFER_NAME;
    if (typeof input !== 'string' && !Buffer.isBuffer(input)) {
      return Promise.reject(invalid('extract expects a file path or a Buffer'));
    }
    return new Promise<ExtractedImage>((resolve, reject) => {
      this.queue.push({ path, input, attempts: 0, resolve, reject });
      this.start().then(
        () => this.dispatch(),
        (err) => {
          if (!this.fatal) this.failAll(err instanceof NitamonoError ? err : new NitamonoError('IO', String(err?.message ?? err)));
        },
      );
      this.dispatch();
    });
  }

  /** Extracts the features of one image (file path or Buffer). Resolves `ok: false` for a bad image. */
  extract(input: string | Buffer): Promise<ExtractedImage> {
    return this.submit(input);
  }

  /**
   * Extracts many files, yielding results in completion order (not input order). Never throws
   * for a bad file. Keeps only a bounded window of jobs queued, so millions of paths are fine.
   * Breaking out of the loop stops submitting; jobs already in flight finish and are dropped.
   */
  async *extractMany(paths: string[], opts: { onProgress?: (done: number, total: number) => void } = {}): AsyncIterable<ExtractedImage> {
    if (!Array.isArray(paths)) throw invalid('extractMany expects an array of paths');
    const total = paths.length;
    if (total === 0) return;
    const window = Math.max(4, this.threads * this.inflight * 2);
    const ready: ExtractedImage[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    let next = 0;
    let pending = 0;
    let done = 0;
    const feed = () => {
      while (!failure && next < total && pending < window) {
        const p = paths[next++]!;
        pending++;
        this.submit(p).then(
          (r) => {
            pending--;
            ready.push(r);
            wake?.();
          },
          (err: Error) => {
            pending--;
            failure ??= err;
            wake?.();
          },
        );
      }
    };
    feed();
    while (done < total) {
      if (ready.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const r = ready.shift()!;
      done++;
      feed();
      opts.onProgress?.(done, total);
      yield r;
    }
  }

  /** Terminates the workers. Pending extractions reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const queued = this.queue;
    this.queue = [];
    for (const j of queued) j.reject(closedError());
    await this.pool.close(closedError());
  }
}
