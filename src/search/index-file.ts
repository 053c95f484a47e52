/**
 * What the index files of the built-in kinds share: the header fields every one has and the
 * vectors/ids sections, checked against each other. A file that disagrees with itself is
 * BAD_FILE naming the path, never a crash or an index that silently holds less.
 */

import type { ContainerFile } from '../persist/container.js';
import { badFile } from '../persist/read.js';
import { METRICS } from '../validate.js';
import type { Metric } from './types.js';

export interface RowsMeta {
  metric: Metric;
  dim: number;
  count: number;
  nextId: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The fields of `meta` every built-in kind writes: metric, dim, count, nextId. */
export function rowsMeta(path: string, meta: ContainerFile['meta']): RowsMeta {
  const { metric, dim, count, nextId } = meta;
  if (!METRICS.includes(metric as Metric)) throw badFile(path, `unknown metric ${JSON.stringify(metric)} in the header`);
  if (!isCount(dim) || dim === 0) throw badFile(path, `invalid dimension ${JSON.stringify(dim)} in the header`);
  if (!isCount(count)) throw badFile(path, `invalid vector count ${JSON.stringify(count)} in the header`);
  return { metric: metric as Metric, dim, count, nextId: isCount(nextId) ? nextId : 0 };
}

/** Typed views of the vectors and ids sections, with their sizes checked against the header. */
export function rowSections(path: string, s: ContainerFile['sections'], dim: number, count: number): { vectors: Float32Array; ids: Int32Array } {
  const v = s['vectors'],
    i = s['ids'];
  if (!v || !i || v.byteLength !== count * dim * 4 || i.byteLength !== count * 4) {
    throw badFile(path, `vector or id section does not match the header (${count} vectors of dimension ${dim})`);
  }
  return {
    vectors: new Float32Array(v.buffer, v.byteOffset, count * dim),
    ids: new Int32Array(i.buffer, i.byteOffset, count),
  };
}
