/**
 * Bad input and security over real HTTP: path traversal (.., %2e%2e, absolute paths, raw
 * unnormalised request lines), a symlink inside the image folder pointing outside the root,
 * upload and pixel limits, non-images, unknown ids, bad parameters, malformed JSON and
 * multipart, and the write routes' protection (--allow-write, bearer token off loopback,
 * cross-origin and DNS-rebinding refusals). Every error must be a JSON `{ error: { code,
 * message } }` with a 4xx, never a 500, and the server must keep answering.
 */

import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { assemblePng } from '../png-craft.js';
import { makePng, type ServerHandle, startServer, useServer } from './fixture.js';
import { raw } from './raw-http.js';

/** Where every fixture's folders are: no error message may name a path under it. */
const FIXTURE_DIRS = join(tmpdir(), 'nitamono-server-');

/** A tiny PNG whose header claims width × height pixels (a decompression bomb's header). */
function bombPng(width: number, height: number): Buffer {
  return assemblePng(width, height, 8, 2, deflateSync(Buffer.alloc(1024))); // 8-bit RGB
}

async function expectError(res: Response | { status: number; body: string }, status: number | number[], code?: string | RegExp): Promise<any> {
  const statuses = Array.isArray(status) ? status : [status];
  const text = res instanceof Response ? await res.text() : res.body;
  assert.ok(statuses.includes(res.status), `expected ${statuses.join('/')} got ${res.status}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(typeof body.error?.code, 'string', text);
  assert.equal(typeof body.error?.message, 'string', text);
  if (typeof code === 'string') assert.equal(body.error.code, code, text);
  else if (code) assert.match(body.error.code, code, text);
  assert.ok(!text.includes(FIXTURE_DIRS), `message leaks the server path: ${text}`);
  return body;
}

const postJson = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const postFile = (
  url: string,
  path: string,
  data: Buffer,
  name: string,
  type: string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
) => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('image', new Blob([new Uint8Array(data)], { type }), name);
  return fetch(url + path, { method: 'POST', body: fd, headers });
};

const limits = { maxUploadBytes: 64 * 1024 };

/** A file and a folder outside the root, linked from inside it. */
async function linkOutside(root: string, base: string): Promise<void> {
  const outside = join(base, 'outside');
  await mkdir(join(outside, 'folder'), { recursive: true });
  await writeFile(join(outside, 'secret.png'), await makePng(777));
  await writeFile(join(outside, 'folder', 'other.png'), await makePng(778));
  await symlink(join(outside, 'secret.png'), join(root, 'link-out.png'));
  await symlink(join(outside, 'folder'), join(root, 'linked-folder'));
}

/** The last test of a block: whatever it sent, its server keeps answering. */
function stillAnswers(s: ServerHandle): void {
  test('after all of that the server still answers', async () => {
    const r = await fetch(`${s.srv.url}/api/stats`);
    assert.equal(r.status, 200);
  });
}

describe('paths', () => {
  const s = useServer(60, { fixture: { prepare: linkOutside }, server: limits });
  let outsideId = 0;
  let outsideDirId = 0;
  before(async () => {
    outsideId = (await s.fx.collection.getImageByPath('link-out.png'))?.id ?? 0;
    outsideDirId = (await s.fx.collection.getImageByPath('linked-folder/other.png'))?.id ?? 0;
  });

  test('the symlinked files were indexed (precondition)', () => {
    assert.ok(outsideId > 0, 'link-out.png indexed');
    assert.ok(outsideDirId > 0, 'linked-folder/other.png indexed');
  });

  test('a symlink inside the image folder pointing outside the root is refused (file and thumbnail)', async () => {
    for (const id of [outsideId, outsideDirId]) {
      await expectError(await fetch(`${s.srv.url}/api/images/${id}/file`), 403, 'FORBIDDEN');
      await expectError(await fetch(`${s.srv.url}/api/images/${id}/thumbnail`), 403, 'FORBIDDEN');
    }
  });

  test('.. and %2e%2e and encoded slashes in the id are refused', async () => {
    const targets = [
      '/api/images/../../../../etc/passwd',
      '/api/images/..%2f..%2f..%2fetc%2fpasswd/file',
      '/api/images/%2e%2e/file',
      '/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd/file',
      '/api/images/%2e%2e/%2e%2e/etc/passwd',
      '/api/images/1/../../../../etc/passwd',
      '/api/images/..%5c..%5cetc%5cpasswd/file',
      '/api/images/1%2f..%2f2/file',
      '/api/images/%2Fetc%2Fpasswd/file',
      '/api/images//etc/passwd/file',
      '/api/images/1.5/file',
      '/api/images/-1/file',
      '/api/images/0x10/thumbnail',
    ];
    for (const t of targets) {
      const r = await raw(s.srv.url, 'GET', t);
      assert.ok(!r.body.includes('root:'), `${t} leaked /etc/passwd`);
      await expectError(r, [400, 403, 404]);
    }
  });

  test('absolute paths and traversal through the static files are refused', async () => {
    const targets = [
      '/../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e%2f%2e%2e%2fpackage.json',
      '/../../../package.json',
      '/..%2f..%2f..%2fpackage.json',
      '//etc/passwd',
      '/etc/passwd',
      '/.%2e/.%2e/.%2e/package.json',
    ];
    for (const t of targets) {
      const r = await raw(s.srv.url, 'GET', t);
      assert.ok(!r.body.includes('root:') && !r.body.includes('"devDependencies"'), `${t} leaked a file`);
      await expectError(r, [400, 403, 404]);
    }
  });

  test('unknown ids are 404', async () => {
    for (const p of ['/api/images/999999/file', '/api/images/999999/thumbnail', '/api/images/999999']) {
      await expectError(await fetch(s.srv.url + p), 404, 'NOT_FOUND');
    }
    await expectError(await postJson(s.srv.url, '/api/search', { id: 999999 }), 404, 'NOT_FOUND');
    await expectError(await postJson(s.srv.url, '/api/evaluate', { id: 999999 }), 404, 'NOT_FOUND');
  });

  test('unknown routes are JSON 404s', async () => {
    await expectError(await fetch(`${s.srv.url}/api/nope`), 404, 'NOT_FOUND');
    await expectError(await fetch(`${s.srv.url}/no-such-file.js`), 404, 'NOT_FOUND');
  });

  stillAnswers(s);
});

describe('uploads', () => {
  const s = useServer(60, { server: limits });

  test('an upload over the limit is 413 with a clear message', async () => {
    const big = Buffer.concat([await makePng(1), Buffer.alloc(100 * 1024, 7)]);
    const body = await expectError(await postFile(s.srv.url, '/api/search', big, 'big.png', 'image/png'), 413, 'PAYLOAD_TOO_LARGE');
    assert.match(body.error.message, /too large.*64 KB/);
  });

  test('the default limit is 20 MB: a 21 MB upload is 413 and the server keeps going', async () => {
    const d = await startServer({ collection: s.fx.collection });
    try {
      const big = Buffer.concat([await makePng(2), Buffer.alloc(21 * 1024 * 1024, 1)]);
      const body = await expectError(await postFile(d.url, '/api/search', big, 'big.png', 'image/png'), 413, 'PAYLOAD_TOO_LARGE');
      assert.match(body.error.message, /20 MB/);
      assert.equal((await fetch(`${d.url}/api/stats`)).status, 200);
    } finally {
      await d.close();
    }
  });

  test('uploads beyond the concurrency limit get 503 BUSY, and the server recovers', async () => {
    const d = await startServer({ collection: s.fx.collection, maxConcurrentUploads: 1 });
    try {
      const sharp = (await import('sharp')).default;
      const big = await sharp({ create: { width: 4000, height: 4000, channels: 3, background: { r: 10, g: 120, b: 200 } } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      const all = await Promise.all([0, 1, 2].map(() => postFile(d.url, '/api/search', big, 'big.png', 'image/png')));
      const statuses = all.map((r) => r.status).sort();
      assert.ok(statuses.includes(200), statuses.join(','));
      const busy = all.filter((r) => r.status === 503);
      assert.ok(busy.length >= 1, statuses.join(','));
      await expectError(busy[0]!, 503, 'BUSY');
      assert.equal(busy[0]!.headers.get('retry-after'), '1');
      for (const r of all) if (r.status === 200) await r.arrayBuffer();
      const again = await postFile(d.url, '/api/search', await makePng(11), 'q.png', 'image/png');
      assert.equal(again.status, 200);
    } finally {
      await d.close();
    }
  });

  test('a pixel bomb is 422 TOO_LARGE (from the header, before decoding)', async () => {
    const bomb = bombPng(30000, 30000);
    assert.ok(bomb.length < 4096);
    const t0 = performance.now();
    const body = await expectError(await postFile(s.srv.url, '/api/search', bomb, 'bomb.png', 'image/png'), 422, 'TOO_LARGE');
    assert.match(body.error.message, /900 MP/);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('the pixel limit is configurable', async () => {
    const small = await startServer({ collection: s.fx.collection, maxPixels: 1000 });
    try {
      await expectError(await postFile(small.url, '/api/search', await makePng(3, 48), 'q.png', 'image/png'), 422, 'TOO_LARGE');
    } finally {
      await small.close();
    }
  });

  test('a text file, an empty file and a truncated PNG are 422', async () => {
    await expectError(
      await postFile(s.srv.url, '/api/search', Buffer.from('hello, this is not an image\n'.repeat(20)), 'notes.txt', 'text/plain'),
      422,
      'DECODE_FAILED',
    );
    await expectError(
      await postFile(s.srv.url, '/api/search', Buffer.from('<html><script>alert(1)</script></html>'), 'x.png', 'image/png'),
      422,
      'DECODE_FAILED',
    );
    await expectError(await postFile(s.srv.url, '/api/search', Buffer.alloc(0), 'empty.png', 'image/png'), 422, 'DECODE_FAILED');
    const png = await makePng(4, 64);
    await expectError(await postFile(s.srv.url, '/api/search', png.subarray(0, Math.floor(png.length / 2)), 'half.png', 'image/png'), 422, 'DECODE_FAILED');
  });

  test('a file in the wrong field, two files, or image as text are 400/413', async () => {
    const png = await makePng(5);
    const fd = new FormData();
    fd.append('photo', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'q.png');
    await expectError(await fetch(`${s.srv.url}/api/search`, { method: 'POST', body: fd }), 400);
    const two = new FormData();
    two.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'a.png');
    two.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'b.png');
    await expectError(await fetch(`${s.srv.url}/api/search`, { method: 'POST', body: two }), [400, 413]);
    const text = new FormData();
    text.append('image', 'not a file');
    await expectError(await fetch(`${s.srv.url}/api/search`, { method: 'POST', body: text }), 400);
  });

  stillAnswers(s);
});

describe('parameters', () => {
  const s = useServer(60, { server: limits });

  test('bad k, nprobe, features, method and id are 400', async () => {
    const bad: unknown[] = [
      { id: 1, k: 0 },
      { id: 1, k: -1 },
      { id: 1, k: 1001 },
      { id: 1, k: 1.5 },
      { id: 1, k: 'abc' },
      { id: 1, k: '10abc' },
      { id: 1, k: null },
      { id: 1, k: [3] },
      { id: 1, nprobe: 0 },
      { id: 1, nprobe: -2 },
      { id: 1, nprobe: 'x' },
      { id: 1, nprobe: 2.5, method: 'ivf' },
      { id: 1, features: 'smell' },
      { id: 1, features: 'deep' },
      { id: 1, method: 'guess' },
      { id: 'abc' },
      { id: -3 },
      { id: 1.5 },
      { id: 1, extra: true },
      {},
    ];
    for (const b of bad) {
      const body = await expectError(await postJson(s.srv.url, '/api/search', b), 400);
      assert.ok(body.error.message.length > 5);
    }
    // the same rules for multipart fields
    const png = await makePng(6);
    await expectError(await postFile(s.srv.url, '/api/search', png, 'q.png', 'image/png', { k: '0' }), 400);
    await expectError(await postFile(s.srv.url, '/api/search', png, 'q.png', 'image/png', { nprobe: 'many' }), 400);
    // and for the sweep and the listing
    await expectError(await fetch(`${s.srv.url}/api/sweep?k=0`), 400);
    await expectError(await fetch(`${s.srv.url}/api/sweep?features=deep`), 400);
    await expectError(await fetch(`${s.srv.url}/api/images?limit=100000`), 400);
    await expectError(await fetch(`${s.srv.url}/api/images/1/thumbnail?size=13`), 400);
  });

  test('malformed JSON, a JSON array, and an unsupported content type', async () => {
    await expectError(await postJson(s.srv.url, '/api/search', '{"id": 1,'), 400, 'BAD_REQUEST');
    await expectError(await postJson(s.srv.url, '/api/search', '[1,2]'), 400);
    await expectError(await postJson(s.srv.url, '/api/search', ''), 400);
    await expectError(await postJson(s.srv.url, '/api/search', '{"__proto__": {"k": 5}, "id": 1}'), 400);
    await expectError(await fetch(`${s.srv.url}/api/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'id=1' }), 415);
    await expectError(await fetch(`${s.srv.url}/api/search`, { method: 'POST' }), [400, 415]);
  });

  test('malformed multipart is 400', async () => {
    const cases: { ct: string; body: Buffer }[] = [
      { ct: 'multipart/form-data; boundary=XyZ', body: Buffer.from('this is not multipart at all') },
      {
        ct: 'multipart/form-data; boundary=XyZ',
        body: Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG trunc'),
      },
      { ct: 'multipart/form-data', body: Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="k"\r\n\r\n5\r\n--XyZ--\r\n') },
      { ct: 'multipart/form-data; boundary=XyZ', body: Buffer.from('--XyZ\r\nbroken header line\r\n\r\nvalue\r\n--XyZ--\r\n') },
    ];
    for (const c of cases) {
      const r = await raw(s.srv.url, 'POST', '/api/search', { 'content-type': c.ct }, c.body);
      await expectError(r, 400);
    }
  });

  stillAnswers(s);
});

describe('write protection', () => {
  const s = useServer(60, { server: limits });

  test('write routes are 403 without --allow-write', async () => {
    const png = await makePng(8);
    await expectError(await postFile(s.srv.url, '/api/images', png, 'a.png', 'image/png'), 403, 'FORBIDDEN');
    await expectError(await fetch(`${s.srv.url}/api/images/1`, { method: 'DELETE' }), 403, 'FORBIDDEN');
  });

  test('off loopback the token is required (401 without or with a wrong one)', async () => {
    const w = await startServer({ collection: s.fx.collection, allowWrite: true, host: '0.0.0.0', token: 'correct-horse-battery' });
    try {
      assert.equal(w.app.nitamono.tokenRequired, true);
      const png = await makePng(9);
      await expectError(await postFile(w.url, '/api/images', png, 'a.png', 'image/png'), 401, 'UNAUTHORIZED');
      await expectError(
        await postFile(w.url, '/api/images', png, 'a.png', 'image/png', {}, { authorization: 'Bearer wrong-token-value' }),
        401,
        'UNAUTHORIZED',
      );
      await expectError(await postFile(w.url, '/api/images', png, 'a.png', 'image/png', {}, { authorization: 'Basic Y29ycmVjdC1ob3JzZQ==' }), 401);
      await expectError(await fetch(`${w.url}/api/images/1`, { method: 'DELETE' }), 401, 'UNAUTHORIZED');
      // with the token
      const ok = await postFile(w.url, '/api/images', png, 'a.png', 'image/png', {}, { authorization: 'Bearer correct-horse-battery' });
      assert.equal(ok.status, 201, await ok.clone().text());
      const id = ((await ok.json()) as any).id as number;
      const del = await fetch(`${w.url}/api/images/${id}`, { method: 'DELETE', headers: { authorization: 'Bearer correct-horse-battery' } });
      assert.equal(del.status, 200);
      // off loopback reads need the token too (./access.test.ts)
      await expectError(await fetch(`${w.url}/api/stats`), 401, 'UNAUTHORIZED');
      assert.equal((await fetch(`${w.url}/api/stats`, { headers: { authorization: 'Bearer correct-horse-battery' } })).status, 200);
    } finally {
      await w.close();
    }
  });

  test('off loopback without --token a token is generated', async () => {
    const w = await startServer({ collection: s.fx.collection, allowWrite: true, host: '::' });
    try {
      assert.equal(w.app.nitamono.tokenRequired, true);
      assert.equal(w.app.nitamono.tokenGenerated, true);
      assert.ok((w.app.nitamono.token ?? '').length >= 24);
      await expectError(await fetch(`${w.url}/api/images/1`, { method: 'DELETE' }), 401);
    } finally {
      await w.close();
    }
  });

  test('cross-origin writes and foreign Host names are refused', async () => {
    const w = await startServer({ collection: s.fx.collection, allowWrite: true });
    try {
      const png = await makePng(10);
      await expectError(await postFile(w.url, '/api/images', png, 'a.png', 'image/png', {}, { origin: 'http://evil.example' }), 403, 'FORBIDDEN');
      const port = new URL(w.url).port;
      const r = await raw(w.url, 'DELETE', '/api/images/1', { host: `evil.example:${port}` });
      await expectError(r, 403, 'FORBIDDEN');
      // the image is still there
      assert.equal((await fetch(`${w.url}/api/images/1`)).status, 200);
    } finally {
      await w.close();
    }
  });

  stillAnswers(s);
});
