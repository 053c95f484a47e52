/**
 * Crash at any moment: `nitamono index` is killed with SIGKILL at seeded points spread over a
 * whole run (scanning, hashing, extraction, catalogue commits, index file writes), then run
 * again to completion. Every time, the catalogue and the index file must equal those of a
 * clean, uninterrupted build: the same ids for the same paths, the same vectors bit for bit,
 * the same search results.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rng } from '../../src/util/random.js';
import { CLI, type CollectionSnapshot, collectionSnapshot, noise, removeDir, runCli, tempDir } from './helpers.js';

const KILLS = 20;

describe('crash at any moment', () => {
  let base: string;
  let root: string;
  let clean: CollectionSnapshot;
  let cleanMs: number;
  before(async () => {
    base = await tempDir('nitamono-crash-');
    root = join(base, 'images');
    for (let i = 0; i < 90; i++) await noise(join(root, `f${i % 4}`, `${i}.png`), i + 1, 64);
    const t0 = performance.now();
    const r = await runCli(['index', root, '--collection', join(base, 'clean'), '--threads', '1', '--batch', '8', '--json']);
    cleanMs = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    clean = await collectionSnapshot(join(base, 'clean'));
  });
  after(async () => removeDir(base));

  test(`SIGKILL at ${KILLS} seeded points, then a re-run: equal to a clean build`, { timeout: 300_000 }, async () => {
    const rand = rng(2026);
    for (let k = 0; k < KILLS; k++) {
      const col = join(base, `crash-${k}`);
      // spread over the whole run, process start included
      const at = Math.floor(((k + rand()) / KILLS) * cleanMs);
      const child = spawn(process.execPath, [CLI, 'index', root, '--collection', col, '--threads', '1', '--batch', '8', '--json'], {
        stdio: 'ignore',
        env: { ...process.env, NITAMONO_NO_PROGRESS: '1' },
      });
      const exited = new Promise<void>((r) => child.on('close', () => r()));
      const timer = setTimeout(() => child.kill('SIGKILL'), at);
      await exited;
      clearTimeout(timer);
      const resumed = await runCli(['index', root, '--collection', col, '--threads', '1', '--batch', '8', '--json']);
      assert.equal(resumed.code, 0, `kill at ${at} ms: ${resumed.stderr}`);
      const got = await collectionSnapshot(col);
      assert.deepEqual(got.rows, clean.rows, `catalogue after a kill at ${at} ms of ${Math.round(cleanMs)}`);
      assert.deepEqual(got.indexes, clean.indexes, `index file after a kill at ${at} ms`);
    }
  });
});
