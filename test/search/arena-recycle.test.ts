// Disposed indexes give their WebAssembly memory to the next ones (issue #9: a shared memory is
// freed only by a garbage collection nothing prompts, so a process that rebuilt indexes grew
// without bound), and never while a search, save or training still uses it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Collection } from '../../src/collection/collection.js';
import type { Arena } from '../../src/kernels/arena.js';
import { releaseSpareArenas } from '../../src/search/arenas.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import { uniformVectors } from '../../src/vectors/synthetic.js';
import { noise, removeDir, tempDir as tempFolder } from '../collection/helpers.js';
import { tempDir } from '../temp-dir.js';

const LOOP = fileURLToPath(new URL('./dispose-loop.js', import.meta.url));
const arenaOf = (index: FlatIndex | IVFIndex): Arena => (index as unknown as { arena: Arena }).arena;

describe('a process that builds, searches on the pool and disposes indexes', { timeout: 60_000 }, () => {
  test('keeps a flat RSS (before: +900 MB over these 24 rounds of 33 MB indexes)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=128', LOOP, '16000', '512', '24']);
    const { rss, indexBytes, spares } = JSON.parse(stdout) as { rss: number[]; indexBytes: number; spares: number };
    // Measured on the code before the fix: 140 MB after round 1, 1,041 MB after round 24, rising
    // every round. With recycling: at most +180 MB over the first rounds (the arenas of an index
    // and of k-means, and ordinary array buffers until their collection), then flat.
    const growth = Math.max(...rss) - rss[0]!;
    assert.ok(growth < 8 * indexBytes, `RSS grew by ${(growth / 1e6).toFixed(0)} MB: ${rss.map((r) => Math.round(r / 1e6)).join(', ')} MB`);
    // one memory for the index, one for its k-means scratch: reused round after round
    assert.ok(spares <= 2, `${spares} spare memories`);
  });
});

describe('recycling waits for what is in flight', { timeout: 30_000 }, () => {
  const d = 64;
  const data = uniformVectors(40_000, d, 3);
  const other = uniformVectors(40_000, d, 4);
  const queries = data.subarray(0, 200 * d);
  const dir = tempDir('nitamono-recycle-');
  after(() => dir.dispose());

  test('a search on the pool: the memory goes to the next index only once it has settled', async () => {
    releaseSpareArenas();
    const a = new FlatIndex(d);
    a.add(data);
    const want = a.search(queries, 10);
    const search = a.searchAsync(queries, 10, { threads: 2 });
    a.dispose();
    const b = new FlatIndex(d);
    b.add(other); // would overwrite a's rows if a's memory were handed out now
    assert.notEqual(arenaOf(b).memory, arenaOf(a).memory);
    const got = await search;
    assert.deepEqual(got.labels, want.labels);
    assert.deepEqual(got.distances, want.distances);
    const c = new FlatIndex(d);
    assert.equal(arenaOf(c).memory, arenaOf(a).memory, 'the settled search let the next index take the memory');
    c.add(other.subarray(0, 10 * d));
    assert.deepEqual(c.reconstruct(9), other.slice(9 * d, 10 * d), 'a recycled memory holds only what its new index wrote');
    assert.throws(() => a.reconstruct(0), /disposed/);
    b.dispose();
    c.dispose();
  });

  test('a save and a training in flight keep their memory too', async () => {
    releaseSpareArenas();
    const a = new FlatIndex(d);
    a.add(data);
    const want = a.search(queries, 10);
    const file = join(dir.path, 'a.index');
    const saving = a.save(file);
    a.dispose();
    const b = new FlatIndex(d);
    b.add(other);
    await saving;
    const back = await loadIndex(file);
    assert.deepEqual(back.search(queries, 10).labels, want.labels);
    back.dispose();
    b.dispose();

    const ivf = new IVFIndex(d, { nlist: 16 });
    const training = ivf.train(data, { iterations: 3, threads: 2 });
    ivf.dispose();
    const e = new FlatIndex(d);
    e.add(other);
    await training;
    assert.notEqual(arenaOf(e).memory, arenaOf(ivf).memory);
    assert.deepEqual(e.reconstruct(123), other.slice(123 * d, 124 * d), 'training wrote its centroids into its own arena only');
    e.dispose();
  });
});

describe('a collection whose index is rebuilt', { timeout: 60_000 }, () => {
  let base: string;
  before(async () => {
    base = await tempFolder('nitamono-rebuild-');
    for (let i = 0; i < 40; i++) await noise(join(base, 'images', `${i}.png`), i, 24);
  });
  after(() => removeDir(base));

  test('disposes the index it replaces', async () => {
    const c = await Collection.open(join(base, 'col'), { create: true, root: join(base, 'images') });
    try {
      await c.update({ index: 'ivf' });
      const old = await c.ivfIndex('color');
      assert.equal(old.kind, 'ivf');
      await c.update({ index: 'flat' });
      // retired indexes are disposed a turn later, once no search holds them
      await new Promise((resolve) => setImmediate(resolve));
      assert.throws(() => old.ids(), /disposed/);
    } finally {
      await c.close();
    }
  });
});
