/**
 * HTTP API over real HTTP: a temp collection of generated images, createServer + listen on
 * port 0, fetch. One test per endpoint, plus the write routes and event-loop responsiveness.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { makeFixture, makePng, startServer, type Fixture, type Running } from './server-fixture.js';

const N = 300;
let fx: Fixture;
let srv: Running;

const json = async (path: string, body?: unknown) => {
  const res = await fetch(srv.url + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

const upload = async (path: string, png: Buffer, fields: Record<string, string> = {}, url = srv.url, headers: Record<string, string> = {}) => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'query.png');
  const res = await fetch(url + path, { method: 'POST', body: fd, headers });
  return { status: res.status, body: (await res.json()) as any };
};

before(async () => {
  fx = await makeFixture(N);
  srv = await startServer({ collection: fx.collection });
});

after(async () => {
  await srv?.close();
  await fx?.cleanup();
});

describe('GET /api/stats', () => {
  test('reports N, D, index kind, nlist, memory, disk and the cost table', async () => {
    const { status, body } = await json('/api/stats');
    assert.equal(status, 200);
    assert.equal(body.images, N);
    assert.equal(body.features.length, 1);
    const f = body.features[0];
    assert.equal(f.kind, 'color');
    assert.equal(f.dim, 12);
    assert.equal(f.index.kind, 'flat');
    assert.equal(f.ivf_nlist, Math.ceil(Math.sqrt(N)));
    assert.equal(f.costs.collection.exact, N * 12);
    assert.equal(f.costs.seed.length, 3);
    assert.ok(body.memory.index_bytes > 0 && body.memory.rss_bytes > 0);
    assert.ok(body.disk_bytes > 0);
    assert.equal(body.server.allow_write, false);
  });
});

describe('POST /api/search', () => {
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
    assert.deepEqual(all.body.results.map((r: any) => r.id), exact.body.results.map((r: any) => r.id));
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
    const png = await readFile(join(fx.root, ...rel.split('/')));
    const { status, body } = await upload('/api/search', png, { k: '3' });
    assert.equal(status, 200);
    assert.equal(body.results[0].id, 42);
    assert.ok(body.results[0].distance < 1e-3);
  });
});

describe('POST /api/evaluate', () => {
  test('recall@k of IVF against exact, with both timings', async () => {
    const { status, body } = await json('/api/evaluate', { id: 9, k: 10, nprobe: 1 });
    assert.equal(status, 200);
    assert.ok(body.recall_at_k >= 0 && body.recall_at_k <= 1);
    assert.ok(body.recall_at_1 === 0 || body.recall_at_1 === 1);
    assert.equal(body.exact.distances_computed, N);
    assert.ok(body.ivf.distances_computed < N);
    assert.ok(body.exact.took_ms >= 0 && body.ivf.took_ms >= 0);
    assert.equal(body.nprobe, 1);
    const full = await json('/api/evaluate', { id: 9, k: 10, nprobe: body.nlist });
    assert.equal(full.body.recall_at_k, 1);
  });
});

describe('GET /api/sweep', () => {
  test('recall grows to 1 as nprobe reaches nlist', async () => {
    const { status, body } = await json('/api/sweep?features=color&k=10&queries=10');
    assert.equal(status, 200);
    assert.equal(body.queries, 10);
    assert.ok(body.points.length >= 3);
    assert.equal(body.points[0].nprobe, 1);
    const last = body.points[body.points.length - 1];
    assert.equal(last.nprobe, body.nlist);
    assert.equal(last.recall_at_k, 1);
    for (let i = 1; i < body.points.length; i++) {
      assert.ok(body.points[i].nprobe > body.points[i - 1].nprobe);
      assert.ok(body.points[i].distances_computed >= body.points[i - 1].distances_computed);
    }
    assert.equal(body.exact.distances_computed, N);
    assert.equal(body.costs.collection.n, N);
  });
});

describe('images', () => {
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
    const res = await fetch(`${srv.url}/api/images/3/thumbnail?size=128`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    const buf = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(buf).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok(meta.width! <= 128 && meta.height! <= 128);
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${srv.url}/api/images/3/thumbnail?size=128`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('GET /api/images/:id/file returns the original bytes', async () => {
    const info = await json('/api/images/3');
    assert.equal(info.status, 200);
    const res = await fetch(`${srv.url}/api/images/3/file`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/);
    const got = Buffer.from(await res.arrayBuffer());
    const want = await readFile(join(fx.root, ...String(info.body.path).split('/')));
    assert.ok(got.equals(want));
  });
});

describe('GET /api/openapi.json', () => {
  test('describes every route', async () => {
    const { status, body } = await json('/api/openapi.json');
    assert.equal(status, 200);
    assert.match(body.openapi, /^3\./);
    for (const p of ['/api/search', '/api/evaluate', '/api/sweep', '/api/stats', '/api/images', '/api/images/{id}', '/api/images/{id}/thumbnail', '/api/images/{id}/file', '/api/openapi.json']) {
      assert.ok(body.paths[p], `missing ${p}`);
    }
    assert.ok(body.paths['/api/images'].post && body.paths['/api/images/{id}'].delete);
  });
});

describe('the page', () => {
  test('GET / serves the web page with a strict CSP, and its modules', async () => {
    const res = await fetch(srv.url + '/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    assert.match(html, /nitamono/);
    for (const f of ['app.js', 'api.js', 'charts.js', 'style.css']) {
      const r = await fetch(`${srv.url}/${f}`);
      assert.equal(r.status, 200, f);
    }
  });
});

describe('write routes (--allow-write, loopback)', () => {
  test('add an image, find it, remove it', async () => {
    const w = await startServer({ collection: fx.collection, allowWrite: true });
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

describe('event loop', () => {
  test('stays responsive while a large upload is processed and searches run', async () => {
    // A 5000×5000 PNG (25 MP, small on the wire): decoding it takes a while, off the event loop.
    const big = await sharp({ create: { width: 5000, height: 5000, channels: 3, background: { r: 200, g: 60, b: 40 } } }).png({ compressionLevel: 1 }).toBuffer();
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
        const r = await fetch(`${srv.url}/api/images/1`);
        await r.arrayBuffer();
        slowest = Math.max(slowest, performance.now() - s0);
        if (uploading && r.status === 200) answeredDuring++;
      }
      const res = await up;
      const uploadMs = performance.now() - t0;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const s of await Promise.all(searches)) assert.equal(s.status, 200);
      assert.ok(answeredDuring >= 1, `no request was answered during the ${uploadMs.toFixed(0)} ms upload`);
      assert.ok(slowest < 1000, `a small request took ${slowest.toFixed(0)} ms during the upload`);
      assert.ok(maxGap < 400, `a 5 ms timer was held up ${maxGap.toFixed(0)} ms`);
    } finally {
      clearInterval(timer);
    }
  });
});
