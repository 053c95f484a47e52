// Files written by nitamono before the index kinds became a registry (format version 1) must
// keep loading and answering the same: these fixtures were saved by that build, and the
// expected answers below are what it returned for them.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

const queries = new Float32Array([
  -1.8910434246063232, -1.0785475969314575, -0.8197429180145264, -0.01077540684491396, 0.6161612272262573, -0.793817937374115, -1.1920750141143799,
  -1.0196987390518188, 0.40311697125434875, 0.7798134684562683, 0.3265351951122284, -0.7232950925827026,
]);

describe('format version 1 files load unchanged', () => {
  test('flat (l2, custom ids, two removed)', async () => {
    const idx = await loadIndex(fixture('flat-v1.index'));
    try {
      assert.ok(idx instanceof FlatIndex);
      assert.equal(idx.size, 58);
      assert.equal(idx.dim, 4);
      assert.equal(idx.has(103), false);
      const r = idx.search(queries, 5);
      assert.deepEqual(Array.from(r.labels), [100, 184, 169, 208, 202, 181, 220, 112, 235, 157, 259, 229, 238, 142, 124]);
      const want = [
        0, 0.08970149606466293, 0.14547604322433472, 0.16342562437057495, 0.1673429161310196, 0.1286671757698059, 0.1611170619726181, 0.2071692943572998,
        0.3172267973423004, 0.3227437734603882, 0.13730250298976898, 0.16243676841259003, 0.26791685819625854, 0.28078603744506836, 0.3038792312145233,
      ];
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(r.distances[i]! - want[i]!) < 1e-6, `distance ${i}`);
    } finally {
      idx.dispose();
    }
  });

  test('ivf (ip, nlist 4, one removed)', async () => {
    const idx = await loadIndex(fixture('ivf-v1.index'));
    try {
      assert.ok(idx instanceof IVFIndex);
      assert.equal(idx.nlist, 4);
      assert.equal(idx.metric, 'ip');
      assert.deepEqual(Array.from(idx.listSizes()), [21, 7, 14, 17]);
      const r = idx.search(queries, 5, { nprobe: 2 });
      assert.deepEqual(Array.from(r.labels), [241, 262, 166, 214, 160, 181, 115, 112, 220, 277, 196, 106, 139, 238, 259]);
      assert.equal(r.distancesComputed, 120);
      const want = [
        7.132137775421143, 6.705132484436035, 6.3844523429870605, 6.349083423614502, 6.020763397216797, 4.058088779449463, 3.963749408721924, 3.864470958709717,
        3.8259119987487793, 3.8015379905700684, 1.4148598909378052, 1.4003934860229492, 1.3859161138534546, 1.340356469154358, 1.2395823001861572,
      ];
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(r.distances[i]! - want[i]!) < 1e-5, `distance ${i}`);
    } finally {
      idx.dispose();
    }
  });

  test('untrained ivf keeps its requested nlist and trains later', async () => {
    const idx = await loadIndex(fixture('ivf-untrained-v1.index'));
    try {
      assert.ok(idx instanceof IVFIndex);
      assert.equal(idx.isTrained, false);
      assert.equal(idx.size, 0);
      const pts = new Float32Array(7 * 4 * 10).map((_, i) => Math.sin(i));
      await idx.train(pts, { threads: 1 });
      assert.equal(idx.nlist, 7);
    } finally {
      idx.dispose();
    }
  });
});

describe('saving writes format version 1 byte for byte', () => {
  for (const name of ['flat-v1.index', 'ivf-v1.index', 'ivf-untrained-v1.index']) {
    test(`${name}: load then save gives the same bytes`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'nitamono-compat-'));
      const idx = await loadIndex(fixture(name));
      try {
        await idx.save(join(dir, name));
        assert.deepEqual(readFileSync(join(dir, name)), readFileSync(fixture(name)));
      } finally {
        idx.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
