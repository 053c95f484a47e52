/**
 * Worker thread of the pixel check (pixel-match-pool.ts): decodes the images of a batch of pairs
 * (sharp, on libuv's threads) and compares them (pixel-match.ts, on this thread), so the caller's
 * event loop only passes messages. Recent prints are kept: the pairs of a batch share images.
 */
import { parentPort } from 'node:worker_threads';
import { type PixelPrint, pixelDistance, pixelPrint } from './pixel-match.js';

export interface PixelMatchTask {
  id: number;
  /** The images of the batch. */
  paths: string[];
  /** Two indices into `paths` per pair. */
  pairs: Int32Array;
}

/** Per pair, the distance, or NaN when either image could not be read. */
export type PixelMatchReply = { id: number; result: Float32Array } | { id: number; error: string };

/** Prints kept across batches (each about 0.3 MB with its coarse windows). */
const KEPT = 128;
const kept = new Map<string, Promise<PixelPrint | undefined>>();

function printOf(path: string): Promise<PixelPrint | undefined> {
  let p = kept.get(path);
  if (p) {
    // most recently used last
    kept.delete(path);
  } else {
    p = pixelPrint(path).catch(() => undefined);
  }
  kept.set(path, p);
  if (kept.size > KEPT) kept.delete(kept.keys().next().value!);
  return p;
}

async function run(task: PixelMatchTask): Promise<Float32Array> {
  const prints = await Promise.all(task.paths.map(printOf));
  const out = new Float32Array(task.pairs.length / 2);
  for (let i = 0; i < out.length; i++) {
    const a = prints[task.pairs[2 * i]!],
      b = prints[task.pairs[2 * i + 1]!];
    out[i] = a && b ? pixelDistance(a, b) : Number.NaN;
  }
  return out;
}

parentPort?.on('message', (task: PixelMatchTask) => {
  run(task).then(
    (result) => parentPort!.postMessage({ id: task.id, result } satisfies PixelMatchReply, [result.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies PixelMatchReply),
  );
});
