/** The image routes over real HTTP: listing, facts, thumbnails, files, and the write routes. */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { client } from '../client.js';
import { makePng, startServer, useServer } from '../fixture.js';

const N = 300;

describe('images', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('GET /api/images lists searchable images', async () => {
    const { status, body } = await json('/api/images?offset=10&limit=5');
    assert.equal(status, 200);
    assert.equal(body.total, N);
    assert.equal(body.images.length, 5);
    assert.equal(body.images[0].thumbnail_url, `/api/images/${body.images[0].id}/thumbnail`);
    // The response shape is unchanged: these keys in this order, ids ascending, root-relative paths.
    assert.deepEqual(body, { total: N, offset: 10, limit: 5, images: body.images });
    for (const img of body.images) {
      assert.deepEqual(Object.keys(img), ['id', 'path', 'width', 'height', 'thumbnail_url', 'file_url']);
      assert.equal(img.file_url, `/api/images/${img.id}/file`);
      assert.ok(!img.path.startsWith('/') && img.width > 0 && img.height > 0, JSON.stringify(img));
    }
    for (let i = 1; i < body.images.length; i++) assert.ok(body.images[i].id > body.images[i - 1].id);
    const first = await json('/api/images?limit=15');
    assert.deepEqual(first.body.images.slice(10), body.images);
    const past = await json(`/api/images?offset=${N}`);
    assert.deepEqual(past.body, { total: N, offset: N, limit: 24, images: [] });
  });

  test('GET /api/images/:id/thumbnail is a JPEG within the size, with an ETag', async () => {
    const res = await fetch(`${s.srv.url}/api/images/3/thumbnail?size=128`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const buf = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(buf).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok(meta.width! <= 128 && meta.height! <= 128);
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${s.srv.url}/api/images/3/thumbnail?size=128`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('GET /api/images/:id/file returns the original bytes', async () => {
    const info = await json('/api/images/3');
    assert.equal(info.status, 200);
    const res = await fetch(`${s.srv.url}/api/images/3/file`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/);
    const got = Buffer.from(await res.arrayBuffer());
    const want = await readFile(join(s.fx.root, ...String(info.body.path).split('/')));
    assert.ok(got.equals(want));
  });
});

describe('write routes (--allow-write, loopback)', () => {
  const s = useServer(40);
  const { upload } = client(s);

  test('add an image, find it, remove it', async () => {
    const w = await startServer({ collection: s.fx.collection, allowWrite: true });
    try {
      const png = await makePng(12345, 40);
      const added = await upload('/api/images', png, {}, w.url);
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const id = added.body.id as number;
      assert.match(added.body.path, /^uploads\//);
      const found = await fetch(`${w.url}/api/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, k: 1 }) });
      assert.equal(((await found.json()) as any).results[0].id, id);
      const del = await fetch(`${w.url}/api/images/${id}`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      assert.deepEqual(await del.json(), { id, removed: true });
      const gone = await fetch(`${w.url}/api/images/${id}/thumbnail`);
      assert.equal(gone.status, 404);
      const again = await fetch(`${w.url}/api/images/${id}`, { method: 'DELETE' });
      assert.equal(again.status, 404);
    } finally {
      await w.close();
    }
  });
});
