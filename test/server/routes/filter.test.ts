/** Filtered search and search by name over real HTTP: POST /api/search with filter fields, GET /api/names. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

// 300 images in folders g000, g001, g002 (img-00000.png … img-00299.png)
describe('filtered search and search by name over HTTP', () => {
  const s = useServer(300);
  const { json } = client(s);

  test('POST /api/search with in: the k nearest inside the folder, as the unfiltered ranking orders them', async () => {
    const all = await json('/api/search', { id: 5, k: 300, method: 'exact' });
    const f = await json('/api/search', { id: 5, k: 10, in: 'g001' });
    assert.equal(f.status, 200, JSON.stringify(f.body));
    assert.equal(f.body.filtered, 100);
    const want = all.body.results.filter((r: { path: string }) => r.path.startsWith('g001/')).slice(0, 10);
    assert.deepEqual(
      f.body.results.map((r: { id: number }) => r.id),
      want.map((r: { id: number }) => r.id),
    );
    // ivf too, with the name and id filters combined
    const g = await json('/api/search', { id: 5, k: 5, method: 'ivf', nprobe: 1, name: 'img 0015', ids: '150,151,152,153,154,155,156,157,158,159,7' });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.equal(g.body.results.length, 5, 'k results from a subset of 10 even with one probe');
    for (const r of g.body.results) assert.match(r.path, /^g001\/img-0015\d\.png$/);
  });

  test('bad filter fields are 400s naming the field; a multipart search takes them as text fields', async () => {
    for (const [body, field] of [
      [{ id: 1, since: 'yesterday' }, 'since'],
      [{ id: 1, min_size: '5MB', max_size: '1KB' }, 'size'],
      [{ id: 1, ids: '1,x' }, 'ids'],
      [{ id: 1, in: '../etc' }, 'outside'],
      [{ id: 1, in: 3 }, 'in'],
    ] as const) {
      const r = await json('/api/search', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, new RegExp(field));
    }
    const form = new FormData();
    form.set('id', '5');
    form.set('in', 'g002');
    form.set('k', '3');
    const res = await fetch(`${s.srv.url}/api/search`, { method: 'POST', body: form });
    const body = (await res.json()) as { results: { path: string }[] };
    assert.equal(res.status, 200);
    for (const r of body.results) assert.match(r.path, /^g002\//);
  });

  test('GET /api/names: words, paging, a folder filter; odd characters are text, never a 500', async () => {
    const r = await json('/api/names?q=img%2000150');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.results.map((h: { path: string }) => h.path),
      ['g001/img-00150.png'],
    );
    assert.equal(r.body.results[0].thumbnail_url, `/api/images/${r.body.results[0].id}/thumbnail`);
    const page = await json('/api/names?q=img&limit=5&offset=5&in=g002');
    assert.equal(page.body.total, 100);
    assert.equal(page.body.results.length, 5);
    for (const h of page.body.results) assert.match(h.path, /^g002\//);
    for (const q of ['"', '(', 'NEAR(a b)', 'img AND', '*', '-img', 'a:b', '🐱', '海辺', "'; --"]) {
      const res = await json(`/api/names?q=${encodeURIComponent(q)}`);
      assert.equal(res.status, 200, `${q}: ${JSON.stringify(res.body)}`);
    }
    assert.equal((await json('/api/names?q=%20')).status, 400);
    assert.equal((await json('/api/names?q=img&bogus=1')).status, 400);
  });
});
