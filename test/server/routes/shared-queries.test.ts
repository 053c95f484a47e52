/**
 * Uploaded queries kept by SHA-256 for shared links: a search by upload returns `query.ref`, the
 * same search by that ref gives the same answer (also on a server without --allow-write), the
 * thumbnail route shows the image, and an evicted or unknown ref is a 404 that says why.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { ApiError } from '../../../src/server/errors.js';
import { SharedQueries } from '../../../src/server/shared-queries.js';
import { client } from '../client.js';
import { makePng, useServer } from '../fixture.js';

describe('shared query images', () => {
  let dir = '';
  const s = useServer(40, {
    server: {
      get sharedQueries() {
        return { dir };
      },
    },
    fixture: {
      prepare: async (_root, base) => {
        dir = join(base, 'shared-queries');
      },
    },
  });
  const { json, upload } = client(s);

  test('a search by upload gives a ref; searching by the ref gives the same answer, evaluate takes it too', async () => {
    const png = await makePng(777, 48);
    const first = await upload('/api/search', png, { k: '5' });
    assert.equal(first.status, 200);
    const hex = createHash('sha256').update(png).digest('hex');
    assert.equal(first.body.query.ref, `sha256:${hex}`);
    assert.deepEqual(await readdir(dir), [hex], 'kept under its hash, outside the collection');
    const again = await json('/api/search', { query: first.body.query.ref, k: 5 });
    assert.equal(again.status, 200);
    assert.equal(again.body.query.ref, first.body.query.ref);
    assert.deepEqual(
      again.body.results.map((r: { id: number }) => r.id),
      first.body.results.map((r: { id: number }) => r.id),
    );
    assert.deepEqual(again.body.color_histogram, first.body.color_histogram);
    const ev = await json('/api/evaluate', { query: first.body.query.ref, k: 5 });
    assert.equal(ev.status, 200);
    const thumb = await fetch(`${s.srv.url}/api/queries/${first.body.query.ref}/thumbnail`);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    assert.equal((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).format, 'jpeg');
  });

  test('bad, unknown and conflicting refs are refused with a clear message', async () => {
    const unknown = `sha256:${'ab'.repeat(32)}`;
    const gone = await json('/api/search', { query: unknown, k: 5 });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'NOT_FOUND');
    assert.match(gone.body.error.message, /not kept by this server.*upload the image again/);
    assert.equal((await fetch(`${s.srv.url}/api/queries/${unknown}/thumbnail`)).status, 404);
    const bad = await json('/api/search', { query: 'sha256:xyz', k: 5 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /query must match/);
    assert.equal((await fetch(`${s.srv.url}/api/queries/..%2Fetc/thumbnail`)).status, 400);
    const both = await json('/api/search', { query: unknown, id: 1 });
    assert.equal(both.status, 400);
  });
});

test('SharedQueries keeps the most recently used images within its budget', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-shared-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SharedQueries('/unused', { dir, maxFiles: 2 });
  const a = await store.put(Buffer.from('image a'));
  const b = await store.put(Buffer.from('image b'));
  assert.equal(await store.put(Buffer.from('image a')), a, 'same bytes, same hash');
  // a was used last: c pushes b out
  await new Promise((r) => setTimeout(r, 20));
  await store.get(a);
  await new Promise((r) => setTimeout(r, 20));
  const c = await store.put(Buffer.from('image c'));
  assert.deepEqual((await store.get(a)).toString(), 'image a');
  assert.deepEqual((await store.get(c)).toString(), 'image c');
  await assert.rejects(store.get(b), (e: unknown) => e instanceof ApiError && e.status === 404 && /keeps the last 2 uploaded queries/.test(e.message));
  const bytes = new SharedQueries('/unused', { dir, maxBytes: 10 });
  const big = await bytes.put(Buffer.from('a bigger image than ten bytes'));
  assert.deepEqual(await readdir(dir), [big], 'the newest stays even when it alone passes the budget');
});
