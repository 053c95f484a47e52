/**
 * A seeded fuzz over every route: malformed paths and query strings, random and truncated
 * bodies, deeply nested and oversized JSON, wrong content types, broken multipart, invalid
 * UTF-8, long headers. Every answer must be a 2xx (where the input happens to be valid) or a
 * 4xx — never a 5xx, never a dropped connection — and the server must still answer afterwards
 * with its memory back near where it started.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rng } from '../../src/util/random.js';
import { makePng, useServer } from './fixture.js';
import { raw } from './raw-http.js';

const REQUESTS = 2500;

describe('seeded HTTP fuzz', () => {
  const s = useServer(24, { server: { allowWrite: true, maxUploadBytes: 256 * 1024 } });

  test(`${REQUESTS} hostile requests: no 5xx, no crash, memory back to baseline`, { timeout: 240_000 }, async () => {
    const rand = rng(8);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const png = await makePng(3);
    const ids = ['1', '2', '0', '-1', '99999999999999999999', '1.5', 'abc', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%00', '1%20OR%201=1', '%C3%BC', '%FF%FE'];
    const paths = [
      '/',
      '/index.html',
      '/app.js',
      '/style.css',
      '/api/stats',
      '/api/openapi.json',
      '/api/images',
      '/api/images/:id',
      '/api/images/:id/thumbnail',
      '/api/images/:id/file',
      '/api/search',
      '/api/evaluate',
      '/api/sweep',
      '/login',
      '/api/nope',
      '/../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '//api//images',
    ];
    const params = ['k', 'features', 'method', 'nprobe', 'id', 'offset', 'limit', 'size', 'queries', 'token', 'x'];
    const values = ['1', '0', '-3', '1e309', 'NaN', '', 'deep', 'color', 'ivf', 'exact', '%5B%5D', '%7B%7D', '%ZZ', 'a'.repeat(5000), '%C0%AF'];
    const contentTypes = [
      'application/json',
      'multipart/form-data; boundary=xyz',
      'multipart/form-data',
      'text/plain',
      'application/octet-stream',
      'image/png',
      'application/json; charset=utf-16',
      '',
    ];
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    const bodies = (): Buffer => {
      switch (Math.floor(rand() * 9)) {
        case 0:
          return bytes(Math.floor(rand() * 4096));
        case 1:
          return Buffer.from(nested(1 + Math.floor(rand() * 20000)));
        case 2:
          return Buffer.from(
            JSON.stringify({ id: pick(ids), k: pick(values), method: pick(values), nprobe: pick(values), x: 'y'.repeat(Math.floor(rand() * 300_000)) }),
          );
        case 3:
          return Buffer.from(`{"id": ${pick(['1', '"1"', 'null', 'true', '{}', '[1]', '1e999'])}, "k": ${pick(['5', '"5"', '-1', '1000000'])}`);
        case 4:
          return Buffer.concat([
            Buffer.from('--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'),
            png.subarray(0, Math.floor(rand() * png.length)),
            Buffer.from(rand() < 0.5 ? '\r\n--xyz--\r\n' : ''),
          ]);
        case 5:
          return Buffer.concat([Buffer.from('--xyz\r\nContent-Disposition: form-data; name="'), bytes(40), Buffer.from('"\r\n\r\nv\r\n--xyz--\r\n')]);
        case 6:
          return Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]);
        case 7:
          return Buffer.alloc(0);
        default:
          return Buffer.from(JSON.stringify({ id: 1, k: 3 }));
      }
    };
    const base = process.memoryUsage().rss;
    const statuses = new Map<number, number>();
    let previous = '';
    for (let i = 0; i < REQUESTS; i++) {
      const method = pick(['GET', 'GET', 'POST', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS']);
      let path = pick(paths).replace(':id', pick(ids));
      if (rand() < 0.6) {
        const q = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => `${pick(params)}=${pick(values)}`).join('&');
        path += `?${q}`;
      }
      // one connection per request: a keep-alive socket the server closed after an early answer
      // would fail the next request on the client side, which says nothing about the server
      const headers: Record<string, string> = { connection: 'close' };
      const ct = pick(contentTypes);
      if (ct) headers['content-type'] = ct;
      if (rand() < 0.1) headers['x-filler'] = 'f'.repeat(Math.floor(rand() * 12_000));
      if (rand() < 0.1) headers.origin = pick(['http://evil.example', 'null', 'http://127.0.0.1:1']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : bodies();
      let status: number;
      try {
        status = (await raw(s.srv.url, method, path, headers, body)).status;
      } catch (err) {
        assert.fail(
          `${method} ${path.slice(0, 120)} (${ct}, ${body?.length ?? 0} bytes): the connection failed (${(err as Error).message}); request ${i}, after ${previous}`,
        );
      }
      previous = `${method} ${path.slice(0, 80)} (${ct}, ${body?.length ?? 0} bytes, ${Object.keys(headers).join('+')}) → ${status}`;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(status >= 200 && status < 500, `${method} ${path.slice(0, 120)} (${ct}) answered ${status}`);
    }
    const alive = await raw(s.srv.url, 'GET', '/api/stats');
    assert.equal(alive.status, 200, 'the server still answers');
    (globalThis as { gc?: () => void }).gc?.();
    const grown = process.memoryUsage().rss - base;
    assert.ok(grown < 256 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1048576)} MiB over the fuzz`);
    assert.ok(statuses.size > 3, `a spread of answers: ${JSON.stringify([...statuses])}`);
  });
});
