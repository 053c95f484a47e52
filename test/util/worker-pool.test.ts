import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Reply, WorkerPool, type WorkerPoolOptions } from '../../src/util/worker-pool.js';

const script = new URL('./fixtures/task-worker.js', import.meta.url);

function reply(m: unknown): Reply<number> | undefined {
  const r = m as { id?: unknown; result?: number; error?: string };
  if (typeof r?.id !== 'number') return undefined;
  return r.error !== undefined ? { id: r.id, error: new Error(r.error) } : { id: r.id, result: r.result! };
}

function pool(extra: Partial<WorkerPoolOptions<number>> = {}): WorkerPool<number> {
  return new WorkerPool<number>({ script, reply, ...extra });
}

describe('WorkerPool: tasks and replies', () => {
  test('each reply reaches the task that asked; an error rejects only its own task', async () => {
    const p = pool();
    try {
      const w = p.at(0);
      const [a, b, c] = await Promise.allSettled([w.run({ op: 'echo', value: 1 }), w.run({ op: 'fail', value: 2 }), w.run({ op: 'echo', value: 3 })]);
      assert.deepEqual(a, { status: 'fulfilled', value: 1 });
      assert.equal(b.status, 'rejected');
      assert.match((b as PromiseRejectedResult).reason.message, /failed on 2/);
      assert.deepEqual(c, { status: 'fulfilled', value: 3 });
      assert.equal(w.inflight, 0);
    } finally {
      await p.close();
    }
  });
});

// A pool that ignored exit or error would leave these tasks pending forever: the timeout makes that a failure.
describe('WorkerPool: a worker that dies', { timeout: 20_000 }, () => {
  test('exit rejects every task it owed, calls onExit, and the next use gets a new worker', async () => {
    const exits: Error[] = [];
    const p = pool({ onExit: (_w, err) => exits.push(err) });
    try {
      const w = p.at(0);
      const hanging = w.run({ op: 'hang' });
      const dying = w.run({ op: 'exit' });
      await assert.rejects(hanging, /exited with code 3/);
      await assert.rejects(dying, /exited with code 3/);
      assert.equal(exits.length, 1);
      assert.equal(w.isAlive, false);
      assert.equal(p.workers.length, 0);
      await assert.rejects(w.run({ op: 'echo', value: 1 }), /has exited/);
      const fresh = p.at(0);
      assert.notEqual(fresh, w);
      assert.equal(await fresh.run({ op: 'echo', value: 7 }), 7);
    } finally {
      await p.close();
    }
  });

  test('an uncaught error in the worker rejects its tasks with that error', async () => {
    const p = pool();
    try {
      const w = p.at(0);
      const hanging = w.run({ op: 'hang' });
      await assert.rejects(w.run({ op: 'throw' }), /thrown in the worker/);
      await assert.rejects(hanging, /thrown in the worker/);
      assert.equal(p.workers.length, 0);
    } finally {
      await p.close();
    }
  });

  test('a worker that dies before it is ready rejects its ready promise', async () => {
    // the fixture says it is ready only when workerData asks it to
    const p = pool({ isReadyMessage: (m) => (m as { ready?: boolean }).ready === true, workerData: () => ({ ready: false }) });
    try {
      const w = p.at(0);
      assert.equal(w.isReady, false);
      void w.run({ op: 'exit' }).catch(() => {});
      await assert.rejects(w.ready, /exited with code 3/);
    } finally {
      await p.close();
    }
  });
});

describe('WorkerPool: readiness and closing', () => {
  test('a worker that must prepare is ready once it says so; other messages go to onMessage', async () => {
    const seen: unknown[] = [];
    const p = pool({
      isReadyMessage: (m) => (m as { ready?: boolean }).ready === true,
      workerData: () => ({ ready: true }),
      onMessage: (_w, m) => seen.push(m),
    });
    try {
      const w = p.at(0);
      await w.ready;
      assert.equal(w.isReady, true);
      assert.equal(await w.run({ op: 'echo', value: 4 }), 4);
      assert.deepEqual(seen, []);
    } finally {
      await p.close();
    }
  });

  test('close() rejects unanswered tasks with its reason, without onExit; the pool refuses new workers', async () => {
    const exits: Error[] = [];
    const p = pool({ onExit: (_w, err) => exits.push(err) });
    const hanging = assert.rejects(p.at(0).run({ op: 'hang' }), /shutting down/);
    await p.close(new Error('shutting down'));
    await hanging;
    assert.deepEqual(exits, []);
    assert.throws(() => p.at(0), /closed/);
  });
});
