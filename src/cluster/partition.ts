/**
 * Which shard owns an image: partition i of S holds the ids whose hash is i modulo S.
 *
 * The hash is MurmurHash3's 32-bit finaliser (fmix32), a bijection on 32-bit integers whose
 * every output bit depends on every input bit. Ids are given sequentially (per collection, in
 * commit order, a batch of images at a time), so `id % S` would put each batch's consecutive
 * images in round-robin and any regularity of the id stream straight into the partitions; mixed
 * first, consecutive ids land independently and every shard gets ≈ N/S of any range of ids.
 *
 * The same function exists in SQL (`nitamono.shard_of`, postgres-migrations.ts version 2) so
 * that a shard reads only its partition from the catalogue; a test checks they agree. Changing
 * it changes every partition: it is part of the catalogue's format, never edit it.
 */
import type { Partition } from '../catalog/types.js';
import { invalid } from '../errors.js';

export type { Partition };

/** The most shards a collection can be split into. */
export const MAX_SHARDS = 4096;

/** MurmurHash3's fmix32 of a 32-bit integer, as an unsigned number. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The shard (0 … count−1) that owns image `id`. */
export function shardOf(id: number, count: number): number {
  return fmix32(id) % count;
}

export function inPartition(id: number, p: Partition): boolean {
  return shardOf(id, p.count) === p.index;
}

/** Checks a partition: integers with 0 ≤ index < count ≤ MAX_SHARDS. */
export function checkPartition(p: Partition, what = 'shard'): Partition {
  const ok =
    p !== null &&
    typeof p === 'object' &&
    Number.isInteger(p.count) &&
    p.count >= 1 &&
    p.count <= MAX_SHARDS &&
    Number.isInteger(p.index) &&
    p.index >= 0 &&
    p.index < p.count;
  if (!ok) throw invalid(`${what} must be i/S with 0 ≤ i < S ≤ ${MAX_SHARDS}, got ${JSON.stringify(p)}`);
  return { index: p.index, count: p.count };
}

/** "i/S" (as `--shard` takes it) → the partition; INVALID_ARGUMENT naming the option otherwise. */
export function parseShardSpec(v: string, name = '--shard'): Partition {
  const m = /^\s*(\d{1,5})\s*\/\s*(\d{1,5})\s*$/.exec(String(v));
  if (!m) throw invalid(`${name} must be i/S (this process serves partition i of S, counting from 0), got '${v}'`);
  const p = { index: Number(m[1]), count: Number(m[2]) };
  if (p.count < 1 || p.count > MAX_SHARDS || p.index >= p.count) {
    throw invalid(`${name} ${p.index}/${p.count}: S must be 1 to ${MAX_SHARDS} and i from 0 to S−1`);
  }
  return p;
}

export function formatPartition(p: Partition): string {
  return `${p.index}/${p.count}`;
}

/** The rows of (ids, vectors) that belong to partition `p`, in their order. */
export function selectPartition(ids: Int32Array, vectors: Float32Array, dim: number, p: Partition): { ids: Int32Array; vectors: Float32Array } {
  const keep: number[] = [];
  for (let i = 0; i < ids.length; i++) if (inPartition(ids[i]!, p)) keep.push(i);
  const outIds = new Int32Array(keep.length);
  const outVectors = new Float32Array(keep.length * dim);
  keep.forEach((src, j) => {
    outIds[j] = ids[src]!;
    outVectors.set(vectors.subarray(src * dim, (src + 1) * dim), j * dim);
  });
  return { ids: outIds, vectors: outVectors };
}
