// addAsync: the per-vector work of adding to inverted-file and coded indexes (rotation, list
// assignment, encoding) on the worker pool gives the same lists, codes and ids as add() — the
// saved files are equal byte for byte — while the event loop keeps turning.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { IVFPQIndex, IVFSQ8Index, PQIndex } from '../../src/search/coded.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import type { VectorIndex } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { tempDir } from '../temp-dir.js';
import { whileTicking } from '../ticking.js';

type Trainable = VectorIndex & {
  train(v: Float32Array, o?: object): Promise<void>;
  addAsync(v: Float32Array, ids?: ArrayLike<number>, o?: object): Promise<void>;
  save(path: string): Promise<void>;
  dispose(): void;
};

const dir = tempDir('nitamono-add-async-');
after(() => dir.dispose());

describe('addAsync equals add', () => {
  const d = 32,
    nlist = 16;
  const train = clusteredVectors(2000, d, { seed: 5, clusters: 24 }).data;
  // more than one unit of rows (16,384 at this d) and a partial last unit, over two workers
  const n = 17_000;
  const add = clusteredVectors(n, d, { seed: 6, clusters: 24 }).data;
  const queries = clusteredVectors(20, d, { seed: 7, clusters: 24 }).data;
  const ids = Int32Array.from({ length: n }, (_, i) => 3 * i + 1);
  const hnsw = { M: 8, efSearch: 16 };
  const kinds: Array<[string, () => Trainable]> = [
    ['IVF-Flat', () => new IVFIndex(d, { nlist }) as Trainable],
    ['IVF-Flat, HNSW coarse', () => new IVFIndex(d, { nlist, hnsw }) as Trainable],
    ['IVF-SQ8', () => new IVFSQ8Index(d, { nlist }) as Trainable],
    ['IVF-SQ8, HNSW coarse', () => new IVFSQ8Index(d, { nlist, hnsw }) as Trainable],
    ['IVF-PQ', () => new IVFPQIndex(d, { nlist, m: 8 }) as Trainable],
    ['IVF-PQ, HNSW coarse', () => new IVFPQIndex(d, { nlist, m: 8, hnsw }) as Trainable],
    ['OPQ + IVF-PQ', () => new IVFPQIndex(d, { nlist, m: 8, opq: { niter: 2 } }) as Trainable],
    ['OPQ + IVF-PQ, HNSW coarse', () => new IVFPQIndex(d, { nlist, m: 8, opq: { niter: 2 }, hnsw }) as Trainable],
    ['OPQ + PQ (flat)', () => new PQIndex(d, { m: 8, opq: { niter: 2 } }) as Trainable],
  ];
  for (const [name, make] of kinds) {
    test(name, async () => {
      const here = make();
      let away: Trainable | undefined;
      try {
        await here.train(train, { seed: 11, iterations: 4, threads: 2 });
        // the same trained state, without training twice
        const empty = join(dir.path, `${name}-trained.idx`);
        await here.save(empty);
        away = (await loadIndex(empty)) as Trainable;
        here.add(add, ids);
        await away.addAsync(add, ids, { threads: 2 });
        assert.equal(away.size, n);
        assert.deepEqual(away.ids(), here.ids());
        const a = join(dir.path, `${name}-sync.idx`),
          b = join(dir.path, `${name}-async.idx`);
        await here.save(a);
        await away.save(b);
        // lists, codes, ids and offsets, byte for byte
        assert.ok(readFileSync(a).equals(readFileSync(b)), 'the saved indexes differ');
        const p = { nprobe: 4 };
        assert.deepEqual(await away.searchAsync(queries, 10, p), here.search(queries, 10, p));
        // a further add appends after what addAsync stored, as after add()
        here.add(add.subarray(0, 5 * d));
        await away.addAsync(add.subarray(0, 5 * d));
        assert.deepEqual(away.ids(), here.ids());
      } finally {
        here.dispose();
        away?.dispose();
      }
    });
  }

  test('overlapping addAsync calls take distinct automatic ids; bad input and untrained indexes are clear errors', async () => {
    const idx = new IVFSQ8Index(d, { nlist }) as unknown as Trainable;
    try {
      await assert.rejects(idx.addAsync(add.subarray(0, d)), expectError('NOT_TRAINED', /not trained/));
      await idx.train(train, { seed: 11, iterations: 2 });
      await Promise.all([idx.addAsync(add.subarray(0, 100 * d)), idx.addAsync(add.subarray(100 * d, 300 * d))]);
      const got = Array.from(idx.ids()).sort((x, y) => x - y);
      assert.deepEqual(
        got,
        Array.from({ length: 300 }, (_, i) => i),
      );
      const bad = add.slice(0, 4 * d);
      bad[d + 3] = Number.NaN;
      await assert.rejects(idx.addAsync(bad), expectError('NOT_FINITE', /vectors to add/));
      await assert.rejects(idx.addAsync(add.subarray(0, d), [5]), expectError('INVALID_ARGUMENT', /id 5 is already in the index/));
      assert.equal(idx.size, 300);
    } finally {
      idx.dispose();
    }
  });
});

describe('addAsync keeps the event loop turning', () => {
  test('a 5 ms timer ticks through a large IVF-PQ addAsync, not through add()', async () => {
    const d = 128,
      n = 60_000;
    const train = clusteredVectors(3000, d, { seed: 1, clusters: 64 }).data;
    const add = clusteredVectors(n, d, { seed: 2, clusters: 64 }).data;
    const make = () => new IVFPQIndex(d, { nlist: 64, m: 16 });
    const here = make(),
      away = make();
    try {
      for (const idx of [here, away]) await idx.train(train, { seed: 3, iterations: 2, threads: 2 });
      const sync = await whileTicking(async () => here.add(add));
      const worker = await whileTicking(() => away.addAsync(add, undefined, { threads: 2 }));
      assert.ok(
        sync.ticks <= 1 && sync.maxGap > sync.ms / 2,
        `add(): ${sync.ticks} ticks, longest gap ${sync.maxGap.toFixed(0)} ms of ${sync.ms.toFixed(0)} ms`,
      );
      // on average a tick every 25 ms at most; the longest gap allows for a loaded machine's scheduling
      assert.ok(worker.ticks >= worker.ms / 25, `addAsync: ${worker.ticks} ticks in ${worker.ms.toFixed(0)} ms`);
      assert.ok(worker.maxGap < sync.ms / 2, `addAsync: longest gap ${worker.maxGap.toFixed(0)} ms; add() took ${sync.ms.toFixed(0)} ms`);
      assert.deepEqual(away.listSizes(), here.listSizes());
    } finally {
      here.dispose();
      away.dispose();
    }
  });
});
