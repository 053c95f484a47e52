/**
 * An upload while another writer holds the collection: it waits (up to the server's writer
 * wait), then is answered 409 LOCKED naming the holder; once the writer is done, uploads work.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Collection } from '../../src/collection/collection.js';
import { heldRunner } from '../collection/helpers.js';
import { makeFixture, makePng, startServer } from './fixture.js';
import { serve } from './serve-process.js';

describe('uploads while another writer holds the collection', () => {
  test('409 LOCKED naming the holder, then 201 once it is done', { timeout: 60_000 }, async () => {
    const fx = await makeFixture(12);
    // the server's own collection object: a short writer wait so the test is quick
    const served = await Collection.open(fx.collectionPath, { writerWait: 300 });
    const srv = await startServer({ collection: served, allowWrite: true });
    const { runner: held, release } = heldRunner();
    // another writer (as another process would be): an update that holds the lease until released
    const other = await Collection.open(fx.collectionPath, { command: 'the other writer' }, { jobRunner: held });
    try {
      const upload = async (seed: number) => {
        const fd = new FormData();
        fd.append('image', new Blob([new Uint8Array(await makePng(seed))], { type: 'image/png' }), `u${seed}.png`);
        return fetch(`${srv.url}/api/images`, { method: 'POST', body: fd });
      };
      await writeFile(join(fx.root, 'new-one.png'), await makePng(1));
      const writing = other.update(); // finds the new file and stops at the gate, holding the lease
      await new Promise((r) => setTimeout(r, 300));
      const refused = await upload(7);
      assert.equal(refused.status, 409);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'LOCKED');
      assert.match(body.error.message, new RegExp(`pid ${process.pid} .*the other writer`));
      release();
      await writing;
      const ok = await upload(8);
      assert.equal(ok.status, 201, await ok.text());
    } finally {
      release();
      await other.close();
      await srv.close();
      await served.close();
      await fx.cleanup();
    }
  });
});

describe('two `serve --allow-write` processes on one collection', () => {
  test("uploads through both at once all land, once each, and each server finds the other's", { timeout: 120_000 }, async () => {
    const fx = await makeFixture(20);
    await fx.collection.close(); // the server processes open it themselves
    const a = await serve(fx.collectionPath, ['--allow-write']);
    const b = await serve(fx.collectionPath, ['--allow-write']);
    try {
      const upload = async (url: string, seed: number) => {
        const fd = new FormData();
        fd.append('image', new Blob([new Uint8Array(await makePng(seed))], { type: 'image/png' }), `u${seed}.png`);
        const r = await fetch(`${url}/api/images`, { method: 'POST', body: fd });
        const body = (await r.json()) as { id: number; path: string };
        assert.equal(r.status, 201, JSON.stringify(body));
        return { ...body, via: url };
      };
      const added = await Promise.all(Array.from({ length: 16 }, (_, i) => upload(i % 2 ? a.url : b.url, 1000 + i)));
      const ids = added.map((x) => x.id);
      assert.equal(new Set(ids).size, 16, `distinct ids: ${ids}`);
      assert.equal(new Set(added.map((x) => x.path)).size, 16, 'distinct files');
      for (const srv of [a, b]) {
        const list = (await (await fetch(`${srv.url}/api/images?limit=100`)).json()) as { total: number };
        assert.equal(list.total, 36, `${srv.url} sees every image`);
      }
      // each server answers a search by an id the other one added
      for (const x of added) {
        const other = x.via === a.url ? b.url : a.url;
        const r = await fetch(`${other}/api/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: x.id, k: 1 }),
        });
        assert.equal(r.status, 200);
        assert.equal(((await r.json()) as { results: { id: number }[] }).results[0]!.id, x.id);
      }
      assert.doesNotMatch(a.err() + b.err(), /error/i);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await Promise.all([a.exit, b.exit]);
      await fx.cleanup();
    }
  });
});
