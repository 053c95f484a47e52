// OPQ off the calling thread: training on a worker of its own keeps the event loop turning and
// learns the same matrix as on the calling thread; rotations on the pool (training vectors,
// searchAsync's queries) give the same rows, so sync and async search agree exactly.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IVFPQIndex, PQIndex } from '../../src/search/coded.js';
import { OPQMatrix } from '../../src/search/opq.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { whileTicking } from '../ticking.js';

describe('OPQ training on a worker thread', () => {
  const d = 64,
    m = 8,
    n = 2000;
  const { data } = clusteredVectors(n, d, { seed: 3, clusters: 16 });

  test('the event loop keeps ticking while it trains, and the matrix and objective equal the calling-thread training', async () => {
    const here = new OPQMatrix(d, m, { niter: 4 });
    const away = new OPQMatrix(d, m, { niter: 4 });
    const sync = await whileTicking(() => here.train(data, n, { threads: 1 }));
    const worker = await whileTicking(() => away.trainOnWorker(data, n, { threads: 1 }));
    // the probe sees blocking: on the calling thread the loop waits for most of the training
    assert.ok(sync.maxGap > sync.ms / 2, `calling thread: longest gap ${sync.maxGap.toFixed(0)} ms of ${sync.ms.toFixed(0)} ms`);
    assert.ok(worker.ticks >= 20, `worker: ${worker.ticks} ticks in ${worker.ms.toFixed(0)} ms`);
    assert.ok(worker.maxGap < worker.ms / 5, `worker: longest gap ${worker.maxGap.toFixed(0)} ms of ${worker.ms.toFixed(0)} ms`);
    assert.deepEqual(away.getMatrix(), here.getMatrix());
    assert.deepEqual(worker.result.objective, sync.result.objective);
    assert.equal(worker.result.trainedOn, n);
  });

  test('sampling happens before the worker: the same rows as on the calling thread; bad input is a clear error', async () => {
    const o = { niter: 2, maxTrainPoints: 600 };
    const here = new OPQMatrix(d, m, o);
    const away = new OPQMatrix(d, m, o);
    const a = await here.train(data, n, { threads: 1 });
    const b = await away.trainOnWorker(data, n, { threads: 2 });
    assert.equal(b.trainedOn, 600);
    assert.deepEqual(b.objective, a.objective);
    assert.deepEqual(away.getMatrix(), here.getMatrix());
    // the caller's array is copied, not transferred away
    assert.equal(data.length, n * d);
    await assert.rejects(away.trainOnWorker(data, 100), expectError('INVALID_ARGUMENT', /at least 256 vectors/));
    const bad = data.slice(0, 300 * d);
    bad[5] = Number.NaN;
    await assert.rejects(away.trainOnWorker(bad), expectError('NOT_FINITE', /OPQ training vectors/));
  });

  test('applyOnWorkers equals apply bit for bit across block and thread boundaries', async () => {
    const opq = new OPQMatrix(d, m, { niter: 1 });
    await opq.train(data, n, { threads: 1 });
    const rows = 2500; // more than two kernel blocks of 1024 rows, split over two workers
    const x = clusteredVectors(rows, d, { seed: 9 }).data;
    assert.deepEqual(await opq.applyOnWorkers(x, rows, 2), opq.apply(x, rows));
    await assert.rejects(new OPQMatrix(d, m).applyOnWorkers(x, rows), expectError('NOT_TRAINED', /OPQ rotation/));
  });
});

describe('OPQ indexes: async search rotates on the pool', () => {
  const d = 64,
    n = 1500,
    nq = 40,
    k = 10;
  const { data } = clusteredVectors(n + nq, d, { seed: 21, clusters: 12 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);

  test('searchAsync equals search (labels and distances) for a batch whose rotation goes to the workers, and for one query', async () => {
    for (const index of [new IVFPQIndex(d, { m: 8, nlist: 8, opq: { niter: 2 } }), new PQIndex(d, { m: 8, opq: { niter: 2 } })]) {
      try {
        await index.train(base, { threads: 2, iterations: 5 });
        index.add(base);
        for (const q of [queries, queries.subarray(0, d)]) {
          const sync = index.search(q, k, { nprobe: 3 });
          const async = await index.searchAsync(q, k, { nprobe: 3, threads: 2 });
          assert.deepEqual(async.labels, sync.labels, index.kind);
          assert.deepEqual(async.distances, sync.distances, index.kind);
        }
        await assert.rejects(index.searchAsync(queries.subarray(1), k), expectError('DIMENSION_MISMATCH', /queries/));
      } finally {
        index.dispose();
      }
    }
  });
});
