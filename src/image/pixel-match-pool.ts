/**
 * The pixel check of many image pairs on worker threads (pixel-match-worker.ts): pairs go in
 * batches, those sharing an image together. With a PrintCache, an image whose print is kept is
 * never decoded again, and the prints made are added to it (the caller saves it).
 *
 *   const m = new PixelMatcher(2);
 *   const d = await m.distances([['a.png', 'b.jpg'], …]); // NaN where an image cannot be read
 *   await m.close();
 */
import { NitamonoError } from '../errors.js';
import { WorkerPool } from '../util/worker-pool.js';
import { checkPositiveInt } from '../validate.js';
import type { PixelMatchReply, PixelMatchResult } from './pixel-match-worker.js';
import type { PrintCache } from './print-cache.js';

/** Pairs per task: enough that messaging is negligible, few enough to spread over the workers. */
const BATCH_PAIRS = 128;

/** An image of a pair: its file, and its SHA-256 (hex) when known, which keys its kept print. */
export type PixelImage = string | { path: string; sha256?: string | null };

export class PixelMatcher {
  private readonly pool: WorkerPool<PixelMatchResult>;
  /** Prints made from the files so far (not found in the cache). */
  printsMade = 0;

  constructor(
    readonly threads: number,
    private readonly cache?: PrintCache,
  ) {
    checkPositiveInt('threads', threads);
    this.pool = new WorkerPool<PixelMatchResult>({
      script: new URL('./pixel-match-worker.js', import.meta.url),
      reply: (m) => {
        const r = m as PixelMatchReply;
        if (typeof r?.id !== 'number') return undefined;
        return 'error' in r ? { id: r.id, error: new NitamonoError('IO', `pixel check: ${r.error}`) } : { id: r.id, result: r.result };
      },
    });
  }

  /** The pixel distance (pixel-match.ts) of each pair of images, in order; NaN where a file cannot be read or decoded. */
  async distances(pairs: readonly (readonly [PixelImage, PixelImage])[], onBatch?: (pairs: number) => void): Promise<Float32Array> {
    const out = new Float32Array(pairs.length);
    const pathOf = (im: PixelImage) => (typeof im === 'string' ? im : im.path);
    const keyOf = (im: PixelImage) => (typeof im !== 'string' && im.sha256 ? `sha:${im.sha256}` : `path:${pathOf(im)}`);
    // pairs of connected images side by side (each image's print and coarse windows are then made
    // or sent once, not once per batch it appears in), those sharing their first image together
    const parent = new Map<string, string>();
    const root = (k: string): string => {
      let r = k;
      while (parent.has(r)) r = parent.get(r)!;
      if (r !== k) parent.set(k, r);
      return r;
    };
    for (const [a, b] of pairs) {
      const ra = root(keyOf(a)),
        rb = root(keyOf(b));
      if (ra !== rb) parent.set(ra, rb);
    }
    const group = pairs.map((p) => root(keyOf(p[0])));
    const first = pairs.map((p) => pathOf(p[0]));
    const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    const order = [...pairs.keys()].sort((i, j) => cmp(group[i]!, group[j]!) || cmp(first[i]!, first[j]!) || i - j);
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      while (next < order.length) {
        const batch = order.slice(next, next + BATCH_PAIRS);
        next += batch.length;
        const index = new Map<string, number>();
        const images: PixelImage[] = [];
        const ids = new Int32Array(batch.length * 2);
        for (const [i, p] of batch.entries())
          for (const [side, im] of pairs[p]!.entries()) {
            const key = keyOf(im);
            if (!index.has(key)) {
              index.set(key, index.size);
              images.push(im);
            }
            ids[2 * i + side] = index.get(key)!;
          }
        const sha = (im: PixelImage) => (typeof im === 'string' ? undefined : (im.sha256 ?? undefined));
        // a kept print is copied out of the cache's buffer: posting a view would clone all of it
        const sent = images.map((im) => {
          const s = sha(im);
          const kept = s === undefined ? undefined : this.cache?.get(s);
          return kept ? kept.slice() : pathOf(im);
        });
        const r = await this.pool
          .at(w)
          .run({ images: sent, keys: [...index.keys()], pairs: ids }, [ids.buffer, ...sent.flatMap((x) => (typeof x === 'string' ? [] : [x.buffer]))]);
        r.made.forEach((print, i) => {
          if (!print) return;
          this.printsMade++;
          const s = sha(images[i]!);
          if (s !== undefined) this.cache?.set(s, print);
        });
        for (const [i, p] of batch.entries()) out[p] = r.distances[i]!;
        onBatch?.(batch.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.threads, Math.ceil(pairs.length / BATCH_PAIRS)) }, (_, w) => worker(w)));
    return out;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
