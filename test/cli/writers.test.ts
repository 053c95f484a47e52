/**
 * Several writers on one collection: the second `nitamono index` waits for the first (or fails
 * with exit 2 under --no-wait, naming the holder), a lease left by a killed process is taken
 * over, and the result is every image exactly once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Collection } from '../../src/collection/collection.js';
import { catalogCount, heldRunner, noise, removeDir, runCli, tempDir } from '../collection/helpers.js';

const N = 40;

describe('concurrent writers', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = await tempDir('nitamono-writers-');
    root = join(base, 'images');
    for (let d = 0; d < 4; d++) {
      await mkdir(join(root, `d${d}`), { recursive: true });
      for (let i = 0; i < N / 4; i++) await noise(join(root, `d${d}`, `${i}.png`), d * 1000 + i, 96);
    }
  });
  after(async () => removeDir(base));

  test('a second index run waits for the first, or fails at once with --no-wait naming the holder', { timeout: 120_000 }, async () => {
    const col = join(base, 'col-a');
    // This process is the first writer: its extraction jobs wait until the test lets them go,
    // so the lease is held for exactly as long as the test needs.
    const { runner: held, release } = heldRunner();
    const c = await Collection.open(col, { create: true, root, command: 'the test writer' }, { jobRunner: held });
    try {
      const first = c.update();
      while (catalogCount(col) === 0 && catalogCount(col, 'writer') === 0) await new Promise((r) => setTimeout(r, 20));

      const refused = await runCli(['index', root, '--collection', col, '--no-wait', '--json']);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`another process is writing this collection: pid ${process.pid} on .*the test writer`));

      const waiting = runCli(['index', root, '--collection', col, '--json'], { timeoutMs: 110_000 });
      await new Promise((r) => setTimeout(r, 1500)); // the waiter is up and polling
      release();
      const report1 = await first;
      assert.equal(report1.images, N);
      const waiter = await waiting;
      assert.equal(waiter.code, 0, waiter.stderr);
      assert.match(waiter.stderr, new RegExp(`waiting for the other process writing this collection: pid ${process.pid}`));
      const report = JSON.parse(waiter.stdout);
      assert.equal(report.images, N);
      assert.equal(report.indexed, 0, 'the waiting run found everything done');
      assert.equal(catalogCount(col), N, 'every image exactly once');
    } finally {
      release();
      await c.close();
    }
  });

  test('a lease left by a killed process is taken over', { timeout: 60_000 }, async () => {
    const col = join(base, 'col-b');
    const first = await runCli(['index', join(root, 'd0'), '--collection', col, '--json']);
    assert.equal(first.code, 0, first.stderr);
    // a process that held the lease and was killed with SIGKILL (no chance to release it)
    const victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const pid = victim.pid!;
    victim.kill('SIGKILL');
    await new Promise((r) => victim.on('close', r));
    const db = new Database(join(col, 'catalog.sqlite'));
    db.prepare('INSERT INTO writer (id, token, pid, host, started_at, command, acquired_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run(
      'dead',
      pid,
      hostname(),
      Date.now() - 1000,
      'nitamono index (killed)',
      Date.now() - 1000,
    );
    db.close();
    const again = await runCli(['index', join(root, 'd0'), '--collection', col, '--no-wait', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const live = new Database(join(col, 'catalog.sqlite'), { readonly: true });
    const left = live.prepare('SELECT COUNT(*) AS n FROM writer').get() as { n: number };
    live.close();
    assert.equal(left.n, 0, 'released after the run');
  });
});
