/**
 * POST /api/search over real HTTP: by id and by upload, exact and inverted file, and the event
 * loop staying responsive while uploads are processed.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { client } from '../client.js';
import { makePng, useServer } from '../fixture.js';

const N = 300;

describe('POST /api/search', () => {
  const s = useServer(N);
  const { json, upload } = client(s);

  test('by id (JSON): the image itself first at distance 0, thumbnails, histogram', async () => {
    const { status, body } = await json('/api/search', { id: 5, k: 7 });
    assert.equal(status, 200);
    assert.equal(body.method, 'exact');
    assert.equal(body.features, 'color');
    assert.equal(body.n, N);
    assert.equal(body.dim, 12);
    assert.equal(body.distances_computed, N);
    assert.equal(body.results.length, 7);
    assert.equal(body.results[0].id, 5);
    assert.equal(body.results[0].distance, 0);
    for (let i = 1; i < body.results.length; i++) assert.ok(body.results[i].distance >= body.results[i - 1].distance);
    assert.equal(body.results[1].thumbnail_url, `/api/images/${body.results[1].id}/thumbnail`);
    assert.equal(typeof body.results[1].path, 'string');
    assert.ok(typeof body.took_ms === 'number');
    const h = body.color_histogram;
    assert.equal(h.bins, 4);
    assert.equal(h.values.length, 12);
    for (let c = 0; c < 3; c++) {
      const sum = h.values.slice(c * 4, c * 4 + 4).reduce((a: number, b: number) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-3, `channel ${c} sums to ${sum}`);
    }
  });

  test('ivf computes fewer distances than exact, and nprobe = nlist finds the exact answer', async () => {
    const exact = await json('/api/search', { id: 17, k: 10, method: 'exact' });
    const ivf1 = await json('/api/search', { id: 17, k: 10, method: 'ivf', nprobe: 1 });
    assert.equal(ivf1.status, 200);
    assert.equal(ivf1.body.method, 'ivf');
    assert.equal(ivf1.body.nprobe, 1);
    assert.ok(ivf1.body.distances_computed < exact.body.distances_computed, `${ivf1.body.distances_computed} < ${exact.body.distances_computed}`);
    const nlist = ivf1.body.nlist;
    const all = await json('/api/search', { id: 17, k: 10, method: 'ivf', nprobe: nlist });
    assert.deepEqual(
      all.body.results.map((r: any) => r.id),
      exact.body.results.map((r: any) => r.id),
    );
    // numeric strings are accepted in JSON too
    const s = await json('/api/search', { id: '17', k: '3', method: 'ivf', nprobe: '2' });
    assert.equal(s.status, 200);
    assert.equal(s.body.results.length, 3);
  });

  test('nprobe above nlist is clamped with a warning; k above N returns N results', async () => {
    const { status, body } = await json('/api/search', { id: 2, k: 1000, method: 'ivf', nprobe: 999999 });
    assert.equal(status, 200);
    assert.equal(body.nprobe, body.nlist);
    assert.equal(body.results.length, N);
    assert.ok(Array.isArray(body.warnings) && body.warnings.length > 0, JSON.stringify(body.warnings));
  });

  test('by upload (multipart)', async () => {
    const png = await makePng(99);
    const { status, body } = await upload('/api/search', png, { k: '5', method: 'ivf', nprobe: '3' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.results.length, 5);
    assert.equal(body.query.source, 'extracted');
    assert.equal(body.query.width, 48);
    assert.equal(body.color_histogram.values.length, 12);
    assert.equal(body.nprobe, 3);
  });

  test('an indexed file uploaded again is found at distance ~0', async () => {
    const rel = (await json('/api/search', { id: 42, k: 1 })).body.results[0].path as string;
    const png = await readFile(join(s.fx.root, ...rel.split('/')));
    const { status, body } = await upload('/api/search', png, { k: '3' });
    assert.equal(status, 200);
    assert.equal(body.results[0].id, 42);
    assert.ok(body.results[0].distance < 1e-3);
  });
});

describe('POST /api/search: the colour histogram of the query', () => {
  // Larger than the feature decode (shorter side 224), so a histogram of any other decode differs.
  const s = useServer(12, { fixture: { size: 300 } });
  const { json, upload } = client(s);

  test('the colour histogram is the vector the search compares, for a query by id as by upload', async () => {
    const byId = await json('/api/search', { id: 7, k: 2 });
    const png = await readFile(join(s.fx.root, ...String(byId.body.query.path).split('/')));
    const byUpload = await upload('/api/search', png, { k: '2' });
    assert.deepEqual(byUpload.body.color_histogram, byId.body.color_histogram);
    // Its squared distance to a result's histogram is the distance the search reported.
    const hit = byId.body.results[1];
    const other = (await json('/api/search', { id: hit.id, k: 1 })).body.color_histogram.values as number[];
    const d = (byId.body.color_histogram.values as number[]).reduce((sum, v, i) => sum + (v - other[i]!) ** 2, 0);
    assert.ok(Math.abs(d - hit.distance) < 1e-3, `${d} vs ${hit.distance}`);
  });
});

describe('POST /api/search on a collection indexed as an inverted file', () => {
  const n = 60;
  const s = useServer(n, { fixture: { index: 'ivf' } });
  const { json } = client(s);

  test("without a method, the collection's index kind is used", async () => {
    const { status, body } = await json('/api/search', { id: 3, k: 5 });
    assert.equal(status, 200);
    assert.equal(body.method, 'ivf');
    assert.equal(body.nlist, Math.ceil(Math.sqrt(n)));
    assert.ok(body.nprobe >= 1 && body.nprobe <= body.nlist);
    // nprobe beyond nlist is clamped with a warning whether the method was given or not.
    const wide = await json('/api/search', { id: 3, k: 5, nprobe: 999 });
    assert.equal(wide.body.method, 'ivf');
    assert.equal(wide.body.nprobe, wide.body.nlist);
    assert.ok(wide.body.warnings?.length > 0, JSON.stringify(wide.body));
  });

  test('method "exact" still scans every vector', async () => {
    const { status, body } = await json('/api/search', { id: 3, k: 5, method: 'exact' });
    assert.equal(status, 200);
    assert.equal(body.method, 'exact');
    assert.ok(body.distances_computed >= n);
  });
});

describe('event loop', () => {
  const s = useServer(N);
  const { json, upload } = client(s);

  test('stays responsive while a large upload is processed and searches run', async () => {
    // A 5000×5000 PNG (25 MP, small on the wire): decoding it takes a while, off the event loop.
    const big = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: { r: 200, g: 60, b: 40 } } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    try {
      let uploading = true;
      const t0 = performance.now();
      const up = upload('/api/search', big, { k: '5' }).finally(() => {
        uploading = false;
      });
      const searches = Array.from({ length: 20 }, (_, i) => json('/api/search', { id: (i % N) + 1, k: 10 }));
      // Small requests keep being answered while the upload is read, decoded and searched.
      let answeredDuring = 0;
      let slowest = 0;
      while (uploading) {
        const s0 = performance.now();
        const r = await fetch(`${s.srv.url}/api/images/1`);
        await r.arrayBuffer();
        slowest = Math.max(slowest, performance.now() - s0);
        if (uploading && r.status === 200) answeredDuring++;
      }
      const res = await up;
      const uploadMs = performance.now() - t0;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const r of await Promise.all(searches)) assert.equal(r.status, 200);
      assert.ok(answeredDuring >= 1, `no request was answered during the ${uploadMs.toFixed(0)} ms upload`);
      assert.ok(slowest < 1000, `a small request took ${slowest.toFixed(0)} ms during the upload`);
      assert.ok(maxGap < 400, `a 5 ms timer was held up ${maxGap.toFixed(0)} ms`);
    } finally {
      clearInterval(timer);
    }
  });
});
