// searchAsync on the shared scan pool when a worker thread dies under it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NitamonoError } from '../../src/errors.js';
import type { Arena } from '../../src/kernels/arena.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { ScanPool, sharedPool, type Task } from '../../src/search/pool.js';
import type { ListScannerName } from '../../src/search/scan.js';
import { clusteredVectors, uniformVectors } from '../../src/vectors/synthetic.js';

const arenaOf = (index: FlatIndex | IVFIndex): Arena => (index as unknown as { arena: Arena }).arena;

/** Starts a search big enough to still be running when the workers are stopped, and stops them. */
async function killedSearch(index: FlatIndex | IVFIndex, queries: Float32Array, params: { nprobe?: number }): Promise<void> {
  const search = index.searchAsync(queries, 10, { ...params, threads: 2 });
  for (const w of sharedPool().workers) void w.worker.terminate();
  await assert.rejects(search, /exited/);
}

// A pool that ignored the exit would leave these searches pending forever: the timeout makes that a failure.
describe('searchAsync when a worker thread dies', { timeout: 30_000 }, () => {
  test('flat: rejects instead of hanging, frees its query blocks, and the next search works', async () => {
    const d = 64;
    const index = new FlatIndex(d);
    try {
      index.add(uniformVectors(20000, d, 1));
      const queries = uniformVectors(256, d, 2);
      await index.searchAsync(queries.subarray(0, d), 1, { threads: 2 });
      const before = arenaOf(index).bytesInUse;
      await killedSearch(index, queries, {});
      assert.equal(arenaOf(index).bytesInUse, before);
      const r = await index.searchAsync(queries.subarray(0, 4 * d), 10, { threads: 2 });
      assert.deepEqual(r.labels, index.search(queries.subarray(0, 4 * d), 10).labels);
    } finally {
      index.dispose();
    }
  });

  test('ivf: its probe scratch is freed too', async () => {
    const d = 32;
    const { data } = clusteredVectors(20000, d, { clusters: 50, seed: 4 });
    const index = new IVFIndex(d, { nlist: 16 });
    try {
      await index.train(data, { threads: 1, iterations: 4 });
      index.add(data);
      const queries = data.subarray(0, 2000 * d);
      await index.searchAsync(queries.subarray(0, d), 1, { nprobe: 2, threads: 2 });
      const before = arenaOf(index).bytesInUse;
      await killedSearch(index, queries, { nprobe: 16 });
      assert.equal(arenaOf(index).bytesInUse, before);
      const r = await index.searchAsync(queries.subarray(0, 4 * d), 10, { nprobe: 4, threads: 2 });
      assert.deepEqual(r.labels, index.search(queries.subarray(0, 4 * d), 10, { nprobe: 4 }).labels);
    } finally {
      index.dispose();
    }
  });
});

describe('ScanPool', () => {
  test('threads must be a positive integer', () => {
    assert.throws(() => new ScanPool(0), /threads must be a positive integer, got 0/);
  });

  test('an error inside a worker keeps its NitamonoError code (the server answers 4xx, not 500)', async () => {
    const pool = new ScanPool(1);
    const index = new FlatIndex(4);
    try {
      index.add(uniformVectors(8, 4, 1));
      const zero = {
        metric: 0,
        d: 4,
        n: 0,
        codes: 0,
        codeSize: 16,
        ids: 0,
        nlist: 1,
        centroids: 0,
        listOffsets: 0,
        codecParams: 0,
        m: 0,
        byResidual: false,
        precomputed: 0,
      } as const;
      const task: Task = {
        op: 'ivf',
        coarse: null,
        parts: [{ ...zero, scanner: 'no-such-scanner' as ListScannerName }],
        block: { queries: 0, queryNorms: 0, heapsD: 0, heapsI: 0, sizes: 0, k: 1 },
        q0: 0,
        q1: 0,
        probes: null,
        ef: 0,
        scratch: 0,
        graphScratch: 0,
      };
      await assert.rejects(pool.run(arenaOf(index), [task]), (err: unknown) => {
        assert.ok(err instanceof NitamonoError, String(err));
        assert.equal(err.code, 'UNSUPPORTED');
        assert.match(err.message, /no list scanner 'no-such-scanner'/);
        return true;
      });
    } finally {
      index.dispose();
      await pool.close();
    }
  });
});
