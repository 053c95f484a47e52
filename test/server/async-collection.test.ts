/**
 * The server treats every Collection method as possibly asynchronous and uses only its public
 * API: served a collection whose lookups answer with promises (as an asynchronous catalogue
 * will) and whose `catalog` cannot be touched, every route still works.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Collection } from '../../src/collection/index.js';
import { makePng, startServer, useServer } from './fixture.js';

/** Methods that answer synchronously today; the proxy makes them answer on a later turn. */
const MADE_ASYNC = new Set(['getImage', 'getImageByPath', 'listImages', 'absolutePath', 'vectors']);

function asynchronous(collection: Collection): Collection {
  return new Proxy(collection, {
    get(target, prop) {
      if (prop === 'catalog') throw new Error('the server used collection.catalog');
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return MADE_ASYNC.has(String(prop)) ? new Promise((resolve) => setImmediate(() => resolve(r))) : r;
      };
    },
  });
}

describe('an asynchronous collection', () => {
  const s = useServer(40);

  test('every route answers as with a synchronous one', async () => {
    const w = await startServer({ collection: asynchronous(s.fx.collection), allowWrite: true });
    try {
      const get = async (path: string) => {
        const res = await fetch(w.url + path);
        assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
        return res;
      };
      const post = async (path: string, body: unknown) => {
        const res = await fetch(w.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
        return (await res.json()) as any;
      };
      const stats = (await (await get('/api/stats')).json()) as any;
      assert.equal(stats.images, 40);
      const list = (await (await get('/api/images?limit=3')).json()) as any;
      assert.equal(list.total, 40);
      const id = list.images[1].id as number;
      assert.equal(((await (await get(`/api/images/${id}`)).json()) as any).id, id);
      await get(`/api/images/${id}/thumbnail?size=64`);
      await get(`/api/images/${id}/file`);
      const search = await post('/api/search', { id, k: 3 });
      assert.equal(search.results[0].id, id);
      assert.equal(search.color_histogram.values.length, 12);
      assert.equal((await post('/api/evaluate', { id, k: 3 })).k, 3);
      const sweep = (await (await get('/api/sweep?k=3&queries=4')).json()) as any;
      assert.equal(sweep.queries, 4);

      const fd = new FormData();
      fd.append('image', new Blob([new Uint8Array(await makePng(5, 32))], { type: 'image/png' }), 'new.png');
      const added = await fetch(`${w.url}/api/images`, { method: 'POST', body: fd });
      assert.equal(added.status, 201, await added.clone().text());
      const addedId = ((await added.json()) as any).id as number;
      const del = await fetch(`${w.url}/api/images/${addedId}`, { method: 'DELETE' });
      assert.equal(del.status, 200, await del.clone().text());
      const gone = await fetch(`${w.url}/api/images/${addedId}`);
      assert.equal(gone.status, 404);
    } finally {
      await w.close();
    }
  });
});
