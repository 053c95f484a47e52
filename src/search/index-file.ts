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

/**
 * The name of a section of part p: the name itself for part 0, `name.p` after it. Files of
 * indexes held in one part are thus the files of format version 1.
 */
export function partName(name: string, p: number): string {
  return p === 0 ? name : `${name}.${p}`;
}

/** How many parts the rows of a file are in (meta.parts, default 1). */
export function partCount(path: string, meta: ContainerFile['meta']): number {
  const p = meta['parts'];
  if (p === undefined) return 1;
  if (!isCount(p) || p < 1) throw badFile(path, `invalid part count ${JSON.stringify(p)} in the header`);
  return p;
}

/**
 * Typed views of the vectors and ids sections of each part, with their sizes checked against
 * the header (the parts' rows add up to `count`).
 */
export function rowSections(path: string, s: ContainerFile['sections'], dim: number, count: number, parts = 1): { vectors: Float32Array[]; ids: Int32Array[] } {
  const out = { vectors: [] as Float32Array[], ids: [] as Int32Array[] };
  let total = 0;
  for (let p = 0; p < parts; p++) {
    const v = s[partName('vectors', p)],
      i = s[partName('ids', p)];
    const n = i ? i.byteLength / 4 : -1;
    if (!v || !i || !Number.isInteger(n) || v.byteLength !== n * dim * 4) {
      throw badFile(path, `vector or id section ${p === 0 ? '' : `of part ${p} `}does not match the header (${count} vectors of dimension ${dim})`);
    }
    total += n;
    out.vectors.push(new Float32Array(v.buffer, v.byteOffset, n * dim));
    out.ids.push(new Int32Array(i.buffer, i.byteOffset, n));
  }
  if (total !== count) throw badFile(path, `vector or id section does not match the header (${count} vectors of dimension ${dim})`);
  return out;
}
