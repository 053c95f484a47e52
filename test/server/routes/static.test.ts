/** The web page's files over real HTTP. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useServer } from '../fixture.js';

const N = 20;

describe('the page', () => {
  const s = useServer(N);

  test('GET / serves the web page with a strict CSP, and its modules', async () => {
    const res = await fetch(`${s.srv.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    assert.match(html, /nitamono/);
    for (const f of ['app.js', 'api.js', 'charts.js', 'style.css']) {
      const r = await fetch(`${s.srv.url}/${f}`);
      assert.equal(r.status, 200, f);
    }
  });
});
