/**
 * Worker thread of the pixel check (pixel-match-pool.ts): makes the prints of a batch's images
 * that the caller does not have yet (decoding with sharp, on libuv's threads), compares the pairs
 * (pixel-match.ts, on this thread) and sends the new prints back to be kept, so the caller's
 * event loop only passes messages. Recent prints are kept here too, with the coarse windows
 * pixelDistance derives from them: the pairs of neighbouring batches share images.
 */
import { parentPort } from 'node:worker_threads';
import { decodePrint, encodePrint, type PixelPrint, pixelDistance, pixelPrint } from './pixel-match.js';

export interface PixelMatchTask {
  id: number;
  /** The images of the batch: an encoded print (encodePrint), or the file to make it from. */
  images: (string | Uint8Array)[];
  /** Per image, what identifies it across batches (its SHA-256, else its path). */
  keys: string[];
  /** Two indices into `images` per pair. */
  pairs: Int32Array;
}

export interface PixelMatchResult {
  /** Per pair, the distance, or NaN when either image could not be read. */
  distances: Float32Array;
  /** Per image given as a file, its encoded print (null when the file could not be read); null for the others. */
  made: (Uint8Array | null)[];
}

export type PixelMatchReply = { id: number; result: PixelMatchResult } | { id: number; error: string };

/** Prints kept across batches (each up to 0.5 MB with its coarse and compared windows). */
const KEPT = 128;
const kept = new Map<string, Promise<PixelPrint | undefined>>();

function printOf(key: string, image: string | Uint8Array, made: (Uint8Array | null)[], i: number): Promise<PixelPrint | undefined> {
  let p = kept.get(key);
  if (p) {
    // most recently used last
    kept.delete(key);
  } else if (typeof image === 'string') {
    p = pixelPrint(image).then(
      (print) => {
        made[i] = encodePrint(print);
        return print;
      },
      () => undefined,
    );
  } else {
    p = Promise.resolve(decodePrint(image));
  }
  kept.set(key, p);
  if (kept.size > KEPT) kept.delete(kept.keys().next().value!);
  return p;
}

async function run(task: PixelMatchTask): Promise<PixelMatchResult> {
  const made: (Uint8Array | null)[] = task.images.map(() => null);
  const prints = await Promise.all(task.images.map((image, i) => printOf(task.keys[i]!, image, made, i)));
  const distances = new Float32Array(task.pairs.length / 2);
  for (let i = 0; i < distances.length; i++) {
    const a = prints[task.pairs[2 * i]!],
      b = prints[task.pairs[2 * i + 1]!];
    distances[i] = a && b ? pixelDistance(a, b) : Number.NaN;
  }
  return { distances, made };
}

parentPort?.on('message', (task: PixelMatchTask) => {
  run(task).then(
    (result) =>
      parentPort!.postMessage({ id: task.id, result } satisfies PixelMatchReply, [
        result.distances.buffer as ArrayBuffer,
        ...result.made.flatMap((m) => (m ? [m.buffer as ArrayBuffer] : [])),
      ]),
    (err: unknown) => parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies PixelMatchReply),
  );
});
