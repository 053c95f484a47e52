/**
 * Worker thread of the feature-extraction pipeline (see extract.ts). Each worker:
 *  - loads its own DeepEmbedder once, if deep features are wanted (tfjs-wasm is single-threaded,
 *    so one model per worker thread is how the CNN uses several cores);
 *  - keeps several sharp decodes in flight (sharp/libvips run on libuv's thread pool, so decodes
 *    proceed while this thread is busy in the CNN);
 *  - decodes each image once, to the feature size (shorter side 224: decodeFeatureImage; JPEG
 *    shrink-on-load makes that cheap), takes the colour histogram from it and stretches it to
 *    224×224 for the CNN;
 *  - runs the CNN on whatever decoded images are waiting, as one batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ErrorCode, NitamonoError } from '../errors.js';
import { colorHistogram } from './color.js';
import { decodeFeatureImage, resizeRgb } from './decode.js';
import { DEEP_INPUT_SIZE, DeepEmbedder, type DeepModel, MAX_DEEP_BATCH } from './deep.js';

export interface WorkerInit {
  color: boolean;
  colorBins: number;
  deep: DeepModel | null;
  maxPixels: number;
}

export type WorkerJob = { type: 'job'; id: number; path?: string; buf?: ArrayBuffer };

export type WorkerResult =
  | { type: 'result'; id: number; ok: true; width: number; height: number; format: string; color?: Float32Array; deep?: Float32Array }
  | { type: 'result'; id: number; ok: false; code: ErrorCode; error: string };

export type WorkerMessage = { type: 'ready' } | { type: 'fatal'; code: ErrorCode; error: string } | WorkerResult;

interface Decoded {
  id: number;
  width: number;
  height: number;
  format: string;
  color?: Float32Array;
  cnnInput?: Uint8Array;
}

const port = parentPort;
const init = workerData as WorkerInit;

function failure(id: number, err: unknown): WorkerResult {
  if (err instanceof NitamonoError) return { type: 'result', id, ok: false, code: err.code, error: err.message };
  const msg = err instanceof Error ? err.message : String(err);
  return { type: 'result', id, ok: false, code: 'DECODE_FAILED', error: msg };
}

function post(msg: WorkerMessage): void {
  const transfer: ArrayBuffer[] = [];
  if (msg.type === 'result' && msg.ok) {
    if (msg.color) transfer.push(msg.color.buffer as ArrayBuffer);
    if (msg.deep) transfer.push(msg.deep.buffer as ArrayBuffer);
  }
  port!.postMessage(msg, transfer);
}

async function decode(job: WorkerJob): Promise<Decoded> {
  const input = job.path ?? Buffer.from(job.buf!);
  const img = await decodeFeatureImage(input, { maxPixels: init.maxPixels });
  const out: Decoded = { id: job.id, width: img.originalWidth, height: img.originalHeight, format: img.format };
  if (init.color) out.color = colorHistogram(img.data, img.width, img.height, init.colorBins);
  if (init.deep) {
    out.cnnInput = (await resizeRgb(img.data, img.width, img.height, { width: DEEP_INPUT_SIZE, height: DEEP_INPUT_SIZE, fit: 'fill' })).data;
  }
  return out;
}

function success(d: Decoded, deep?: Float32Array): WorkerResult {
  const r: WorkerResult = { type: 'result', id: d.id, ok: true, width: d.width, height: d.height, format: d.format };
  if (d.color) r.color = d.color;
  if (deep) r.deep = deep;
  return r;
}

async function main(): Promise<void> {
  if (!port) throw new Error('extract-worker must run in a worker thread');
  let embedder: DeepEmbedder | undefined;
  if (init.deep) {
    try {
      embedder = await DeepEmbedder.create(init.deep);
    } catch (err) {
      const code: ErrorCode = err instanceof NitamonoError ? err.code : 'MODEL_UNAVAILABLE';
      const msg = err instanceof Error ? err.message : String(err);
      // said once: a message that already names the model is passed on as it is
      const error = msg.includes(`deep model ${init.deep}`) ? msg : `cannot load deep model ${init.deep}: ${msg}`;
      post({ type: 'fatal', code, error });
      return;
    }
  }

  // Decoded images waiting for the CNN, and whether the CNN loop is running.
  const waiting: Decoded[] = [];
  let running = false;

  const pump = async (): Promise<void> => {
    if (running || !embedder) return;
    running = true;
    try {
      while (waiting.length > 0) {
        // Let decodes that completed while the last batch ran deliver their images first.
        await new Promise<void>((r) => setImmediate(r));
        const batch = waiting.splice(0, MAX_DEEP_BATCH);
        try {
          const dim = embedder.dim;
          const v = await embedder.embed(batch.map((d) => d.cnnInput!));
          for (const [i, d] of batch.entries()) post(success(d, v.slice(i * dim, (i + 1) * dim)));
        } catch (err) {
          for (const d of batch) post(failure(d.id, err));
        }
      }
    } finally {
      running = false;
    }
  };

  port.on('message', (job: WorkerJob) => {
    if (job.type !== 'job') return;
    decode(job).then(
      (d) => {
        if (embedder) {
          waiting.push(d);
          void pump();
        } else {
          post(success(d));
        }
      },
      (err) => post(failure(job.id, err)),
    );
  });
  post({ type: 'ready' });
}

main().catch((err) => {
  port?.postMessage({ type: 'fatal', code: 'IO', error: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage);
});
