/**
 * A long `update()` gives the writer lease up between batches every few seconds, so a short
 * write of another process (an upload through `serve`) waits seconds, not the whole run — and
 * a file removed through that other writer meanwhile is not brought back by the run.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { inProcessRunner, type JobRunnerFactory } from '../../src/collection/sync.js';
import { YIELD_EVERY_MS } from '../../src/collection/writer.js';
import { noise, removeDir, tempDir } from './helpers.js';

/** In-process extraction, `ms` slower per job: an index run that lasts long enough to watch. */
function slowRunner(ms: number, onJob?: (relpath: string) => void): JobRunnerFactory {
  return (ctx, kinds) => {
    const inner = inProcessRunner(ctx, kinds);
    return {
      async *run(jobs, signal) {
        for await (const r of inner.run(jobs, signal)) {
          await new Promise((res) => setTimeout(res, ms));
          onJob?.(r.job.files[0]!.relpath);
          yield r;
        }
      },
    };
  };
}

let base: string;
before(async () => {
  base = await tempDir('nitamono-yield-');
});
after(async () => removeDir(base));

async function images(root: string): Promise<void> {
  for (let i = 0; i < 80; i++) await noise(join(root, `a${String(i).padStart(2, '0')}.png`), i + 1, 24);
}

test('an upload from another writer lands during a long index run, and an image it removes stays removed', { timeout: 120_000 }, async () => {
  const colPath = join(base, 'col');
  const root = join(base, 'images');
  // zz.png is indexed first; then its content changes and 80 images arrive, so the long run
  // re-extracts zz.png last
  await noise(join(root, 'zz.png'), 999, 24);
  const first = await Collection.open(colPath, { create: true, root, threads: 1 });
  await first.update();
  await first.close();
  const zz = await readFile(join(root, 'zz.png'));
  await noise(join(root, 'zz.png'), 1000, 24);
  await images(root);

  let reached = 0;
  const writer = await Collection.open(colPath, { threads: 1 }, { jobRunner: slowRunner(70, () => reached++) });
  const other = await Collection.open(colPath, { threads: 1, writerWait: 20_000, command: 'the upload' });
  try {
    const zzId = (await other.catalog.byRelpath('zz.png'))!.id;
    const t0 = performance.now();
    let runDone = false;
    const run = writer.update({ batchSize: 4 }).finally(() => {
      runDone = true;
    });
    while (reached < 2 && !runDone) await new Promise((r) => setTimeout(r, 20));
    // the other writer: an upload, and the removal of zz.png from the collection
    const added = await other.addImage(zz, 'uploaded.png');
    const removed = await other.removeImage(zzId);
    const waited = performance.now() - t0;
    assert.ok(removed);
    assert.ok(!runDone, 'the short writes were let in while the run was still going');
    assert.ok(waited < YIELD_EVERY_MS * 2 + 2000, `waited ${Math.round(waited)} ms`);
    const report = await run;
    assert.equal(report.interrupted, false);
    // every image of the folder, the upload, and not zz.png: removed (excluded) meanwhile, its
    // stale put was dropped
    assert.equal((await other.catalog.byRelpath('zz.png'))?.status, 'excluded');
    assert.ok(await other.catalog.byRelpath(added.path));
    assert.equal(await other.catalog.okCount(), 81);
  } finally {
    await writer.close();
    await other.close();
  }
});

test('without another writer the run never pauses for long (the same ids as one batch)', { timeout: 60_000 }, async () => {
  const root = join(base, 'images-2');
  await images(root);
  const a = await Collection.open(join(base, 'one-batch'), { create: true, root, threads: 1 });
  const b = await Collection.open(join(base, 'slow'), { create: true, root, threads: 1 }, { jobRunner: slowRunner(60) });
  try {
    await a.update({ batchSize: 1000 });
    await b.update({ batchSize: 4 });
    assert.deepEqual(await b.catalog.okRows(), await a.catalog.okRows());
  } finally {
    await a.close();
    await b.close();
  }
});
