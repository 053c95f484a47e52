/**
 * The default deep model changed (mobilenetv2-mid → mobilenetv2-mid-gap3). A collection whose
 * collection.json says `deep_model: null` ("the default at the time") was indexed with
 * mobilenetv2-mid and must stay on it: stored vectors kept, queries extracted with the same
 * model. New collections record the model they use.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { featureSpace } from '../../src/collection/config.js';
import { DEFAULT_DEEP_MODEL, deepDim, LEGACY_DEEP_MODEL } from '../../src/image/deep.js';
import { removeDir, shape, tempDir } from './helpers.js';

test('an old collection (deep_model null, mobilenetv2-mid vectors) searches without re-extraction; a new one records the new default', async () => {
  const base = await tempDir();
  try {
    const root = join(base, 'images');
    await shape(join(root, 'a', 'circle.png'), 'circle', 'red', 'white', 96);
    await shape(join(root, 'a', 'circle2.png'), 'circle', '#e00010', 'white', 90);
    await shape(join(root, 'b', 'square.png'), 'square', 'blue', 'white', 96);
    const old = join(base, 'old');
    let c = await Collection.open(old, { create: true, root, features: ['deep'], deepModel: LEGACY_DEEP_MODEL, threads: 1 });
    let before: Float32Array | undefined;
    try {
      assert.equal((await c.update()).indexed, 3);
      before = await c.storedVector((await c.getImageByPath('a/circle.png'))!.id, 'deep');
    } finally {
      await c.close();
    }
    // what an older nitamono wrote: null = "the default"
    const cfgFile = join(old, 'collection.json');
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8'));
    cfg.deep_model = null;
    await writeFile(cfgFile, JSON.stringify(cfg));

    c = await Collection.open(old, { threads: 1 });
    try {
      assert.equal(c.config.deep_model, 'mobilenetv2-mid', 'null is pinned to the model of that time');
      assert.deepEqual(featureSpace(c.config, 'deep'), { kind: 'deep', model: 'mobilenetv2-mid' });
      const again = await c.update();
      assert.equal(again.indexed, 0, 'nothing re-extracted');
      assert.equal(again.unchanged, 3);
      const id = (await c.getImageByPath('a/circle.png'))!.id;
      assert.deepEqual(await c.storedVector(id, 'deep'), before, 'the stored vector is kept');
      // a query from outside the collection is extracted with mobilenetv2-mid: same space
      const outside = join(base, 'query.png');
      await copyFile(join(root, 'a', 'circle.png'), outside);
      const r = await c.search({ path: outside }, { k: 2 });
      assert.equal(r.dim, deepDim('mobilenetv2-mid'));
      assert.equal(r.results[0]!.path, 'a/circle.png');
      assert.ok(r.results[0]!.distance < 1e-6, `identical file at distance ${r.results[0]!.distance}`);
      assert.equal(r.results[1]!.path, 'a/circle2.png');
    } finally {
      await c.close();
    }

    const fresh = join(base, 'new');
    c = await Collection.open(fresh, { create: true, root, features: ['deep'], threads: 1 });
    try {
      await c.update();
      assert.equal(JSON.parse(await readFile(join(fresh, 'collection.json'), 'utf8')).deep_model, DEFAULT_DEEP_MODEL);
      assert.equal(DEFAULT_DEEP_MODEL, 'mobilenetv2-mid-gap3');
      const r = await c.search({ path: 'a/circle.png' }, { k: 2, excludeSelf: true });
      assert.equal(r.dim, 2240);
      assert.equal(r.results[0]!.path, 'a/circle2.png');
    } finally {
      await c.close();
    }
  } finally {
    await removeDir(base);
  }
});
