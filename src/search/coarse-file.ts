/**
 * The coarse quantizer of the inverted-file kinds, made from options and read from and written
 * to index files: exhaustive (meta has no `coarse`: the files of format version 1) or an HNSW
 * graph over the centroids (meta.coarse = { kind: 'hnsw', M, efConstruction, efSearch, entry,
 * maxLevel }, sections hnswLevels and hnswNeighbors).
 */
import type { MetricCode } from '../kernels/types.js';
import type { ContainerFile } from '../persist/container.js';
import { badFile } from '../persist/read.js';
import type { ArenaSlot } from './arenas.js';
import type { RegionSection } from './base.js';
import { CoarseQuantizer, HNSWQuantizer, type HNSWQuantizerOptions } from './quantizer.js';

/** The quantizer an inverted file asks for, in its main arena. */
export function makeQuantizer(
  main: ArenaSlot,
  d: number,
  metric: MetricCode,
  releaseLater: (ptr: number) => void,
  hnsw?: HNSWQuantizerOptions,
): CoarseQuantizer {
  return hnsw ? new HNSWQuantizer(main.arena, main.K, d, metric, releaseLater, hnsw) : new CoarseQuantizer(main.arena, main.K, d, metric, releaseLater);
}

/** The sections of the graph, if the quantizer has one (copies: the graph is small). */
export function coarseSections(q: CoarseQuantizer): Record<string, RegionSection> {
  if (!(q instanceof HNSWQuantizer)) return {};
  const g = q.graphArrays();
  if (!g) return {};
  return { hnswLevels: { region: 0, view: g.levels.slice() }, hnswNeighbors: { region: 0, view: g.neighbors.slice() } };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Reads meta.coarse: the options to make the quantizer with, and how to give it its centroids (and graph). */
export function readCoarse(
  path: string,
  meta: ContainerFile['meta'],
): {
  options?: HNSWQuantizerOptions;
  set(path: string, q: CoarseQuantizer, centroids: Float32Array, nlist: number, sections: ContainerFile['sections']): void;
} {
  const c = meta['coarse'] as Record<string, unknown> | undefined;
  if (c === undefined) return { set: (_p, q, centroids, nlist) => q.set(centroids, nlist) };
  if (c === null || typeof c !== 'object' || c['kind'] !== 'hnsw') throw badFile(path, `unknown coarse quantizer ${JSON.stringify(c)} in the header`);
  const { M, efConstruction, efSearch, entry, maxLevel } = c;
  if (![M, efConstruction, efSearch, entry, maxLevel].every(isInt)) throw badFile(path, `invalid HNSW parameters ${JSON.stringify(c)} in the header`);
  return {
    options: { M: M as number, efConstruction: efConstruction as number, efSearch: efSearch as number },
    set(path, q, centroids, nlist, sections) {
      const lv = sections['hnswLevels'],
        nb = sections['hnswNeighbors'];
      if (!lv || !nb || lv.byteLength % 4 !== 0 || nb.byteLength % 4 !== 0) throw badFile(path, 'the HNSW graph sections are missing');
      const problem = (q as HNSWQuantizer).setWithGraph(
        centroids,
        nlist,
        new Int32Array(lv.buffer, lv.byteOffset, lv.byteLength / 4),
        new Int32Array(nb.buffer, nb.byteOffset, nb.byteLength / 4),
        entry as number,
        maxLevel as number,
      );
      if (problem) throw badFile(path, `the HNSW graph is inconsistent: ${problem}`);
    },
  };
}
