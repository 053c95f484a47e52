/**
 * The pixel check of many image pairs on worker threads (pixel-match-worker.ts): pairs go in
 * batches, those sharing an image together, so each worker decodes an image once per batch.
 *
 *   const m = new PixelMatcher(2);
 *   const d = await m.distances([['a.png', 'b.jpg'], …]); // NaN where an image cannot be read
 *   await m.close();
 */
import { NitamonoError } from '../errors.js';
import { WorkerPool } from '../util/worker-pool.js';
import { checkPositiveInt } from '../validate.js';
import type { PixelMatchReply } from './pixel-match-worker.js';

/** Pairs per task: enough that messaging is negligible, few enough to spread over the workers. */
const BATCH_PAIRS = 128;

export class PixelMatcher {
  private readonly pool: WorkerPool<Float32Array>;

  constructor(readonly threads: number) {
    checkPositiveInt('threads', threads);
    this.pool = new WorkerPool<Float32Array>({
      script: new URL('./pixel-match-worker.js', import.meta.url),
      reply: (m) => {
        const r = m as PixelMatchReply;
        if (typeof r?.id !== 'number') return undefined;
        return 'error' in r ? { id: r.id, error: new NitamonoError('IO', `pixel check: ${r.error}`) } : { id: r.id, result: r.result };
      },
    });
  }

  /** The pixel distance (pixel-match.ts) of each pair of files, in order; NaN where a file cannot be read or decoded. */
  async distances(pairs: readonly (readonly [string, string])[], onBatch?: (pairs: number) => void): Promise<Float32Array> {
    const out = new Float32Array(pairs.length);
    // pairs that share their first image side by side, then cut into batches
    const order = [...pairs.keys()].sort((i, j) => (pairs[i]![0] < pairs[j]![0] ? -1 : pairs[i]![0] > pairs[j]![0] ? 1 : i - j));
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      while (next < order.length) {
        const batch = order.slice(next, next + BATCH_PAIRS);
        next += batch.length;
        const index = new Map<string, number>();
        const ids = new Int32Array(batch.length * 2);
        for (const [i, p] of batch.entries())
          for (const [side, path] of pairs[p]!.entries()) {
            if (!index.has(path)) index.set(path, index.size);
            ids[2 * i + side] = index.get(path)!;
          }
        const d = await this.pool.at(w).run({ paths: [...index.keys()], pairs: ids }, [ids.buffer]);
        for (const [i, p] of batch.entries()) out[p] = d[i]!;
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
