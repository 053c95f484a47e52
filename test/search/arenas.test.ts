// Indexes spread over several arenas (issue #9, item 3): with the arena cap lowered
// (NITAMONO_ARENA_BYTES) a few thousand rows fill many arenas, and every kind answers bit for
// bit as the same index in one arena — ids and distances — through add, remove, search,
// searchAsync, save and load (either way round).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { IVFPQIndex, IVFSQ8Index, PQIndex, SQ8Index } from '../../src/search/coded.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import type { SearchResult, VectorIndex } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { type TempDir, tempDir } from '../temp-dir.js';

const SMALL = 4 * 65536; // 256 KiB arenas: 32 KiB parts

/** Runs `fn` with indexes made under an arena cap of `bytes` (undefined: the default). */
async function withArenaBytes<T>(bytes: number | undefined, fn: () => T | Promise<T>): Promise<T> {
  const before = process.env['NITAMONO_ARENA_BYTES'];
  if (bytes === undefined) delete process.env['NITAMONO_ARENA_BYTES'];
  else process.env['NITAMONO_ARENA_BYTES'] = String(bytes);
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env['NITAMONO_ARENA_BYTES'];
    else process.env['NITAMONO_ARENA_BYTES'] = before;
  }
}

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function assertSame(a: SearchResult, b: SearchResult, what: string): void {
  assert.deepEqual(a.labels, b.labels, `${what}: ids`);
  assert.ok(bytes(a.distances).equals(bytes(b.distances)), `${what}: distances differ`);
}

type Trainable = VectorIndex & { train(v: Float32Array, o?: object): Promise<void> };
const d = 16;
const KINDS: Array<[string, () => VectorIndex]> = [
  ['flat', () => new FlatIndex(d)],
  ['flat ip', () => new FlatIndex(d, { metric: 'ip' })],
  ['ivf', () => new IVFIndex(d, { nlist: 16 })],
  ['ivf ip', () => new IVFIndex(d, { nlist: 16, metric: 'ip' })],
  ['sq8', () => new SQ8Index(d)],
  ['ivf-sq8', () => new IVFSQ8Index(d, { nlist: 16 })],
  ['ivf-sq8 ip', () => new IVFSQ8Index(d, { nlist: 16, metric: 'ip' })],
  ['pq', () => new PQIndex(d, { m: 8 })],
  // its precomputed table (nlist·m·256 floats) is copied into every arena: keep it small here
  ['ivf-pq', () => new IVFPQIndex(d, { nlist: 8, m: 4 })],
  ['ivf-pq ip', () => new IVFPQIndex(d, { nlist: 16, m: 8, metric: 'ip' })],
  ['ivf-pq, no precomputed table', () => new IVFPQIndex(d, { nlist: 16, m: 8, precomputedTable: false })],
];

const N = 12000;
const { data } = clusteredVectors(N + 60, d, { clusters: 24, seed: 3, spread: 0.4 });
const base = data.subarray(0, N * d);
const queries = data.slice(N * d);
const ids = Int32Array.from({ length: N }, (_, i) => 3 * i + 7);
const removed = ids.filter((_, i) => i < 9000 && (i % 7 === 3 || (i > 5000 && i < 5600)));

/** The same calls on an index: trained, added in uneven chunks, some removed, more added. */
async function fill(index: VectorIndex): Promise<void> {
  if (index.capabilities.trainable) await (index as Trainable).train(base.subarray(0, 4000 * d), { threads: 1, iterations: 4 });
  const cuts = [0, 1, 900, 4000, 4001, 9000];
  for (let c = 0; c + 1 < cuts.length; c++) index.add(base.subarray(cuts[c]! * d, cuts[c + 1]! * d), ids.subarray(cuts[c]!, cuts[c + 1]!));
  assert.equal(index.remove(removed), removed.length);
  index.add(base.subarray(9000 * d), ids.subarray(9000));
}

async function compare(one: VectorIndex, many: VectorIndex, what: string): Promise<void> {
  assert.equal(many.size, one.size, `${what}: size`);
  assert.deepEqual(new Set(many.ids()), new Set(one.ids()), `${what}: ids`);
  for (const id of [ids[0]!, ids[4999]!, ids[N - 1]!]) assert.ok(bytes(many.reconstruct(id)).equals(bytes(one.reconstruct(id))), `${what}: reconstruct ${id}`);
  const params = { nprobe: 5 };
  for (const nq of [3, 60]) {
    const q = queries.subarray(0, nq * d);
    const want = one.search(q, 10, params);
    assertSame(many.search(q, 10, params), want, `${what}: search of ${nq}`);
    assertSame(await many.searchAsync(q, 10, { ...params, threads: 2 }), want, `${what}: searchAsync of ${nq}`);
  }
  // more results than one arena holds rows of some lists
  assertSame(many.search(queries.subarray(0, 2 * d), 300, params), one.search(queries.subarray(0, 2 * d), 300, params), `${what}: k = 300`);
}

describe('an index over many arenas answers as one arena does', () => {
  let t: TempDir;
  after(() => t?.dispose());

  for (const [name, make] of KINDS) {
    test(name, async () => {
      t ??= tempDir('nitamono-arenas-');
      const one = make();
      const many = await withArenaBytes(SMALL, make);
      const loaded: VectorIndex[] = [];
      try {
        await fill(one);
        await withArenaBytes(SMALL, () => fill(many));
        const arenas = many.describe().arenas ?? 1;
        assert.ok(arenas >= 2, `${name}: ${arenas} arenas`);
        assert.equal(one.describe().arenas, undefined);
        assert.ok(many.memoryBytes >= one.memoryBytes, `${name}: memory is summed over the arenas`);
        if (name.startsWith('flat')) assert.equal(many.memoryBytes, one.memoryBytes);
        await compare(one, many, name);

        // a file of many parts loads into one arena and into many, and one part into many
        const fm = join(t.path, `${name}-many.index`),
          f1 = join(t.path, `${name}-one.index`);
        await many.save(fm);
        await one.save(f1);
        const back1 = await withArenaBytes(undefined, () => loadIndex(fm));
        const backMany = await withArenaBytes(SMALL, () => loadIndex(fm));
        const oneIntoMany = await withArenaBytes(SMALL, () => loadIndex(f1));
        loaded.push(back1, backMany, oneIntoMany);
        assert.equal(back1.describe().arenas, undefined);
        assert.ok((backMany.describe().arenas ?? 1) >= 2 && (oneIntoMany.describe().arenas ?? 1) >= 2);
        await compare(one, back1, `${name} saved from many arenas, loaded into one`);
        await compare(one, backMany, `${name} saved from many arenas, loaded into many`);
        await compare(one, oneIntoMany, `${name} saved from one arena, loaded into many`);
      } finally {
        for (const i of [one, many, ...loaded]) i.dispose();
      }
    });
  }
});
