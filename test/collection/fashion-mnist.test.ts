import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';

const root = new URL('../../../', import.meta.url).pathname;
const data = '/usr/share/datasets/fashion-mnist';

test('Fashion-MNIST as PNG folders, indexed and evaluated: raw pixels beat a 12-d colour histogram on greyscale clothes', async () => {
  assert.ok(existsSync(join(data, 't10k-images-idx3-ubyte.gz')), `${data}: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)`);
  const dir = mkdtempSync(join(tmpdir(), 'nitamono-fmnist-'));
  const images = join(dir, 'images'),
    coll = join(dir, 'c');
  const mk = spawnSync(process.execPath, [join(root, 'scripts/fashion-mnist-to-png.mjs'), '--out', images, '--limit', '30'], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const classes = readdirSync(images).sort();
  assert.equal(classes.length, 10);
  assert.ok(classes.includes('Ankle_boot') && classes.includes('T-shirt_top'));
  for (const c of classes) assert.equal(readdirSync(join(images, c)).length, 30);
  const meta = await sharp(join(images, classes[0]!, readdirSync(join(images, classes[0]!))[0]!)).metadata();
  assert.deepEqual([meta.width, meta.height], [28, 28]);

  const cli = join(root, 'dist/src/cli/main.js');
  const ix = spawnSync(process.execPath, [cli, 'index', images, '--collection', coll, '--features', 'color', '--json'], { encoding: 'utf8' });
  assert.equal(ix.status, 0, ix.stderr);
  const ev = spawnSync(process.execPath, [cli, 'eval', '--collection', coll, '--compare', 'pixels', '--json'], { encoding: 'utf8' });
  assert.equal(ev.status, 0, ev.stderr);
  const r = JSON.parse(ev.stdout);
  const color = r.features.color,
    pixels = r.features.pixels;
  for (const f of [color, pixels]) for (const key of ['precision_at_1', 'precision_at_10', 'map']) assert.ok(f[key] >= 0 && f[key] <= 1, key);
  // 10 classes: chance is 0.1. Raw pixels separate clothes shapes well; grey histograms barely.
  assert.ok(pixels.precision_at_1 > 0.6, `pixels P@1 ${pixels.precision_at_1}`);
  assert.ok(pixels.precision_at_1 > color.precision_at_1, 'pixels should beat colour on greyscale images');
});
