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
