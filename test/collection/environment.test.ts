/**
 * When the machine refuses: a missing deep model, a read-only collection folder, a full disk.
 * Each gives a named error (exit 4; HTTP 503/507), writes nothing, and leaves what was stored
 * before searchable — and once the cause is gone, the same command finishes the job as if
 * nothing had happened.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Collection } from '../../src/collection/index.js';
import { freeKib, isRoot, mountTmpfs, readOnlyView } from '../mounts.js';
import { startServer } from '../server/fixture.js';
import { catalogCount, collectionSnapshot, noise, removeDir, runCli, tempDir } from './helpers.js';

const NO_MODEL = { NODE_OPTIONS: `--import=${fileURLToPath(new URL('../hooks/no-model.js', import.meta.url))}` };

/** Every file of a folder (but `except`) with its SHA-256: equal before and after means nothing was written. */
function fingerprint(dir: string, except: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (except.includes(name)) continue;
    if (statSync(p).isFile()) out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

async function images(dir: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await noise(join(dir, `${i}.png`), i + 1, 40);
}

function searchJson(col: string, image: string, extra: string[] = [], env?: NodeJS.ProcessEnv) {
  return runCli(['search', image, '--collection', col, '--k', '3', '--json', ...extra], env ? { env } : {});
}

describe('a missing deep model', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = await tempDir('nitamono-env-');
    root = join(base, 'images');
    await images(root, 0, 12);
  });
  after(async () => removeDir(base));

  test('adding deep features: MODEL_UNAVAILABLE, exit 4, the collection stays colour-only and searchable', async () => {
    const col = join(base, 'colour');
    assert.equal((await runCli(['index', root, '--collection', col])).code, 0);
    const before = { files: fingerprint(col, ['catalog.sqlite']), data: await collectionSnapshot(col) };
    const r = await runCli(['index', root, '--collection', col, '--features', 'color,deep'], { env: NO_MODEL });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /weights of deep model mobilenetv2-mid-gap3 cannot be loaded .*reinstall nitamono/);
    // the catalogue file itself records the writer lease taken and given back; its rows are the same
    assert.deepEqual({ files: fingerprint(col, ['catalog.sqlite']), data: await collectionSnapshot(col) }, before, 'collection.json unchanged');
    const s = await searchJson(col, join(root, '3.png'));
    assert.equal(s.code, 0, s.stderr);
    const j = JSON.parse(s.stdout);
    assert.equal(j.features, 'color');
    assert.match(j.results[0].path, /\/3\.png$/);
  });

  test('new images of a deep collection: nothing stored as skipped; stored vectors still answer', async () => {
    const col = join(base, 'deep');
    const more = join(base, 'more');
    await cp(root, more, { recursive: true });
    assert.equal((await runCli(['index', more, '--collection', col, '--features', 'color,deep'])).code, 0);
    const stored = await collectionSnapshot(col, ['color', 'deep']);
    await images(more, 12, 15);
    const r = await runCli(['index', more, '--collection', col], { env: NO_MODEL });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /deep model mobilenetv2-mid-gap3 cannot be loaded/);
    assert.doesNotMatch(r.stderr, /cannot load deep model .*cannot be loaded/, 'said once');
    // not a row for the new files: a skipped row would hide them from the next run
    assert.deepEqual((await collectionSnapshot(col, ['color', 'deep'])).rows, stored.rows);
    // an indexed image is searched with its stored vector: no model needed
    const s = await searchJson(col, join(more, '3.png'), ['--features', 'deep'], NO_MODEL);
    assert.equal(s.code, 0, s.stderr);
    assert.match(JSON.parse(s.stdout).results[0].path, /\/3\.png$/);
    // a new query image needs the model: named, exit 4
    const q = await searchJson(col, join(more, '13.png'), ['--features', 'deep'], NO_MODEL);
    assert.equal(q.code, 4, q.stderr);
    assert.match(q.stderr, /MODEL_UNAVAILABLE|cannot be loaded/);
    // the model back: the same command finishes the job
    const again = await runCli(['index', more, '--collection', col, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).images, 15);
  });
});

describe('a read-only collection folder', () => {
  let base: string;
  let root: string;
  let col: string;
  let view: { path: string; release(): void } | undefined;
  before(async () => {
    base = await tempDir('nitamono-ro-');
    root = join(base, 'images');
    col = join(base, 'col');
    await images(root, 0, 10);
    assert.equal((await runCli(['index', root, '--collection', col])).code, 0);
  });
  after(async () => {
    view?.release();
    await removeDir(base);
  });

  test('search works, index and uploads are READ_ONLY, not a byte changes', async () => {
    const before = fingerprint(col);
    view = readOnlyView(col, join(base, 'ro'));
    const s = await searchJson(view.path, join(root, '4.png'));
    assert.equal(s.code, 0, s.stderr);
    assert.match(JSON.parse(s.stdout).results[0].path, /\/4\.png$/);

    await images(root, 10, 12);
    const r = await runCli(['index', root, '--collection', view.path]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /cannot write .*catalog\.sqlite: the place is read-only/);

    // a server on it: searches answer, an upload is 503 READ_ONLY and leaves no file behind
    const collection = await Collection.open(view.path, { threads: 1 });
    const srv = await startServer({ collection, allowWrite: true });
    try {
      const found = await fetch(`${srv.url}/api/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 1, k: 2 }),
      });
      assert.equal(found.status, 200);
      const form = new FormData();
      form.append('image', new Blob([readFileSync(join(root, '10.png'))], { type: 'image/png' }), 'up.png');
      const up = await fetch(`${srv.url}/api/images`, { method: 'POST', body: form });
      const body = (await up.json()) as { error: { code: string; message: string } };
      assert.equal(up.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, 'READ_ONLY');
      assert.ok(!existsSync(join(root, 'uploads')) || readdirSync(join(root, 'uploads')).length === 0, 'no orphan upload file');
    } finally {
      await srv.close();
      await collection.close();
    }
    view.release();
    view = undefined;
    assert.deepEqual(fingerprint(col), before);
    // writable again: the same command adds the two new images
    const again = await runCli(['index', root, '--collection', col, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).images, 12);
  });
});

describe('a full disk', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, () => {
  let base: string;
  let root: string;
  let disk: { unmount(): void } | undefined;
  before(async () => {
    base = await tempDir('nitamono-full-');
    root = join(base, 'images');
    await images(root, 0, 60);
  });
  after(async () => {
    disk?.unmount();
    await removeDir(base);
  });

  test('NO_SPACE mid-run: exit 4, stored rows searchable; space back → equal to the same runs on a roomy disk', async () => {
    /** Indexes the first 20 images into `col`, then all 60 (`between` runs in the middle). */
    const twoRuns = async (name: string, col: string, between: () => Promise<void>) => {
      const dir = join(base, name);
      await cp(root, dir, { recursive: true });
      const later = Array.from({ length: 40 }, (_, i) => `${i + 20}.png`);
      for (const f of later) await rm(join(dir, f));
      assert.equal((await runCli(['index', dir, '--collection', col, '--features', 'color,deep', '--batch', '8'])).code, 0);
      for (const f of later) await cp(join(root, f), join(dir, f));
      await between();
      return dir;
    };
    const clean = join(base, 'clean');
    await twoRuns('a', clean, async () => {
      assert.equal((await runCli(['index', join(base, 'a'), '--collection', clean, '--batch', '8'])).code, 0);
    });
    const want = await collectionSnapshot(clean, ['color', 'deep']);

    const mnt = join(base, 'disk');
    disk = mountTmpfs(mnt, 8192);
    const col = join(mnt, 'col');
    const filler = join(mnt, 'filler');
    const dir = await twoRuns('b', col, async () => {
      // a few pages left: some batches of 40 deep vectors (7 KiB each) fit, not all
      writeFileSync(filler, Buffer.alloc(Math.max(0, freeKib(mnt) - 96) * 1024));
      const r = await runCli(['index', join(base, 'b'), '--collection', col, '--batch', '8']);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /the disk is full; free some space/);
    });
    const stored = catalogCount(col);
    assert.ok(stored >= 20 && stored < 60, `rows after the failure: ${stored}`);
    const s = await searchJson(col, join(dir, '5.png'), ['--features', 'deep']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(JSON.parse(s.stdout).results[0].path, /\/5\.png$/);

    await rm(filler);
    const again = await runCli(['index', dir, '--collection', col, '--batch', '8']);
    assert.equal(again.code, 0, again.stderr);
    const got = await collectionSnapshot(col, ['color', 'deep']);
    assert.deepEqual(got.rows, want.rows);
    assert.deepEqual(got.indexes, want.indexes);
  });
});
