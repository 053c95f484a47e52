/**
 * Runs the training of a learned head on a worker thread (./train-worker.ts), so a caller's
 * event loop (a server's) keeps answering while it runs; the inputs are copied to the worker
 * once, the weights come back transferred.
 */
import { Worker } from 'node:worker_threads';
import { NitamonoError } from '../errors.js';
import type { HeadLayer } from './project.js';

/** What the worker trains on and how. */
export interface TrainJob {
  /** Training rows (n×d) and their class indexes. */
  x: Float32Array;
  y: Int32Array;
  n: number;
  /** Validation rows (nVal×d): scored each epoch for early stopping, never trained on. */
  xVal: Float32Array;
  yVal: Int32Array;
  nVal: number;
  d: number;
  classes: number;
  /** Hidden layer widths (empty: a linear head). */
  hidden: number[];
  outDim: number;
  scale: number;
  margin: number;
  lr: number;
  batch: number;
  epochs: number;
  patience: number;
  seed: number;
}

export type TrainMessage =
  | { type: 'epoch'; epoch: number; loss: number; validation_map: number | null }
  | {
      type: 'done';
      layers: HeadLayer[];
      epochs_run: number;
      best_epoch: number;
      final_loss: number;
      validation_map: number | null;
      backend: string;
      took_ms: number;
    }
  | { type: 'error'; message: string };

export type TrainResult = Extract<TrainMessage, { type: 'done' }>;

export function trainHead(job: TrainJob, onEpoch: (m: Extract<TrainMessage, { type: 'epoch' }>) => void = () => {}): Promise<TrainResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./train-worker.js', import.meta.url), { workerData: job });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: TrainMessage) => {
      if (m.type === 'epoch') onEpoch(m);
      else if (m.type === 'done') finish(() => resolve(m));
      else finish(() => reject(new NitamonoError('UNSUPPORTED', `training failed: ${m.message}`)));
    });
    worker.on('error', (err) => finish(() => reject(new NitamonoError('UNSUPPORTED', `training failed: ${err.message}`, { cause: err }))));
    worker.on('exit', (code) => finish(() => reject(new NitamonoError('UNSUPPORTED', `the training thread stopped (exit code ${code})`))));
  });
}
