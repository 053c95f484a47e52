/** A folder full of trouble: every bad file is skipped with its reason, good images still indexed. */

import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { tinyBmp } from '../png-craft.js';
import { noise, pngBomb, removeDir, runCli, solid, tempDir } from './helpers.js';

test('bad files are skipped with reasons; good images, odd names and loops are handled', async () => {
  const root = await tempDir();
  const col = join(root, '..', `${root.split('/').pop()}-col`);
  try {
    // Good images, including awkward names.
    await solid(join(root, 'good', 'red.png'), [255, 0, 0]);
    await solid(join(root, 'good', 'photo.jpg'), [0, 0, 255]);
    await solid(join(root, 'dir with space', 'ünïcödé 画像 file.png'), [0, 255, 0]);
    await solid(join(root, 'UPPER.PNG'), [255, 255, 0]);
    await noise(join(root, 'good', 'noise.webp.png'), 1);
    // Bad ones.
    await mkdir(join(root, 'bad'), { recursive: true });
    await writeFile(join(root, 'bad', 'zero.jpg'), Buffer.alloc(0));
    const jpg = await readFile(join(root, 'good', 'photo.jpg'));
    await writeFile(join(root, 'bad', 'truncated.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
    await noise(join(root, 'tmp-noise.png'), 7, 64);
    const png = await readFile(join(root, 'tmp-noise.png'));
    await writeFile(join(root, 'bad', 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
    await writeFile(join(root, 'tmp-noise.png'), png); // stays a good image
    await writeFile(join(root, 'bad', 'text.jpg'), 'this is not a JPEG, it is a text file\n'.repeat(20));
    await writeFile(join(root, 'bad', 'old.bmp'), tinyBmp(1, 1));
    await pngBomb(join(root, 'bad', 'bomb.png'));
    await symlink('.', join(root, 'bad', 'loop'));
    await symlink('self.png', join(root, 'bad', 'self.png')); // resolves to itself: ELOOP
    await symlink('missing.png', join(root, 'bad', 'dangling.png'));
    await symlink(join(root, 'good', 'red.png'), join(root, 'good', 'link-to-red.png'));
    await writeFile(join(root, 'good', 'readme.txt'), 'not an image');
    await writeFile(join(root, '.hidden.png'), 'hidden files are not looked at');

    const r = await runCli(['index', root, '--collection', col, '--json', '--threads', '2']);
    assert.equal(r.code, 3, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const key of ['indexed', 'unchanged', 'removed', 'skipped', 'took_ms']) assert.ok(key in j, key);
    const byName = new Map<string, { code: string; reason: string }>();
    for (const s of j.skipped) byName.set(String(s.path).split('/').pop()!, s);
    const expectCode = (name: string, code: string | RegExp) => {
      const s = byName.get(name);
      assert.ok(s, `${name} should be reported as skipped; got ${JSON.stringify(j.skipped)}`);
      assert.ok(typeof s.reason === 'string' && s.reason.length > 0);
      if (typeof code === 'string') assert.equal(s.code, code, `${name}: ${s.reason}`);
      else assert.match(s.code, code);
    };
    expectCode('zero.jpg', 'DECODE_FAILED');
    assert.match(byName.get('zero.jpg')!.reason, /empty/);
    expectCode('truncated.jpg', 'DECODE_FAILED');
    expectCode('truncated.png', 'DECODE_FAILED');
    expectCode('text.jpg', 'DECODE_FAILED');
    assert.match(byName.get('text.jpg')!.reason, /text/);
    expectCode('old.bmp', /DECODE_FAILED|UNSUPPORTED/);
    assert.match(byName.get('old.bmp')!.reason, /BMP/);
    expectCode('bomb.png', 'TOO_LARGE');
    expectCode('loop', 'SYMLINK_LOOP');
    expectCode('self.png', 'SYMLINK_LOOP');
    expectCode('dangling.png', 'BROKEN_SYMLINK');
    assert.equal(j.skipped.length, 9);
    // red, photo, ünïcödé, UPPER, noise, tmp-noise, link-to-red (a symlink to a file is followed).
    assert.equal(j.images, 7);
    assert.equal(j.reused, 1, 'link-to-red has the same content as red');
    assert.equal(j.ignored, 1);

    // Human output lists every skipped file with its reason; a re-run changes nothing.
    const again = await runCli(['index', root, '--collection', col]);
    assert.equal(again.code, 3);
    assert.match(again.stdout, /Skipped files:/);
    assert.match(again.stdout, /bomb\.png\s+TOO_LARGE/);
    assert.match(again.stdout, /unchanged:\s+13/);

    // The odd path is searchable by its name.
    const c = await Collection.open(col);
    try {
      const s = await c.search({ path: join(root, 'dir with space', 'ünïcödé 画像 file.png') }, { k: 1 });
      assert.equal(s.query.source, 'indexed');
      assert.equal(s.results[0]!.path, 'dir with space/ünïcödé 画像 file.png');
    } finally {
      await c.close();
    }
  } finally {
    await removeDir(root);
    await removeDir(col);
  }
});
