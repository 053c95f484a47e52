/**
 * Who may read, over real HTTP on 127.0.0.1 (the Host header is forged where a test needs
 * another name; "off loopback" is the policy of a server told it is bound to 0.0.0.0):
 *
 * - on loopback every route kind refuses a Host that is not loopback (DNS rebinding);
 * - off loopback every route kind is 401 without credentials, 200 with the bearer token or
 *   the session cookie the login URL sets (attributes checked); a wrong token sets no cookie;
 * - --public opens reads, never writes, and changes nothing on loopback.
 *
 * `nitamono serve` printing the login URL and the public warning is in ./cli.test.ts.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerOptions } from '../../src/server/server.js';
import { type Fixture, makeFixture, makePng, type Running, startServer } from './fixture.js';
import { type RawResponse, raw } from './raw-http.js';

const TOKEN = 'correct-horse-battery-staple';
const PNG_SIGNATURE = '\x89PNG';

interface Route {
  kind: string;
  method: string;
  path: string;
  body?: unknown;
}

/** One of each kind of route: the page, its files, the JSON API, the image bytes, the API document. */
const ROUTES: Route[] = [
  { kind: 'page', method: 'GET', path: '/' },
  { kind: 'page with a query', method: 'GET', path: '/?id=3&k=12' },
  { kind: 'script', method: 'GET', path: '/app.js' },
  { kind: 'icon', method: 'GET', path: '/favicon.svg' },
  { kind: 'stats', method: 'GET', path: '/api/stats' },
  { kind: 'listing', method: 'GET', path: '/api/images?limit=5' },
  { kind: 'image facts', method: 'GET', path: '/api/images/1' },
  { kind: 'search', method: 'POST', path: '/api/search', body: { id: 1, k: 3 } },
  { kind: 'file', method: 'GET', path: '/api/images/1/file' },
  { kind: 'file (HEAD)', method: 'HEAD', path: '/api/images/1/file' },
  { kind: 'thumbnail', method: 'GET', path: '/api/images/1/thumbnail?size=64' },
  { kind: 'openapi', method: 'GET', path: '/api/openapi.json' },
];

const byKind = (kind: string): Route => ROUTES.find((r) => r.kind === kind)!;
const STATS = byKind('stats');
const FILE = byKind('file');

/** Paths no route has: refused like the others, not answered 404 (which would say what exists). */
const UNKNOWN: Route[] = [
  { kind: 'unknown api route', method: 'GET', path: '/api/nope' },
  { kind: 'unknown file', method: 'GET', path: '/nope.js' },
];

function send(url: string, r: Route, headers: Record<string, string> = {}): Promise<RawResponse> {
  if (r.body === undefined) return raw(url, r.method, r.path, headers);
  return raw(url, r.method, r.path, { 'content-type': 'application/json', ...headers }, Buffer.from(JSON.stringify(r.body)));
}

const portOf = (s: Running) => new URL(s.url).port;

function expectOk(res: RawResponse, r: Route, how: string): void {
  assert.equal(res.status, 200, `${r.kind} ${how}: ${res.status} ${res.body.slice(0, 200)}`);
}

/** A JSON error `{ error: { code, message } }` with this status and code, and nothing of the collection. */
function expectRefused(res: RawResponse, r: Route, status: number, code: string, how: string): { code: string; message: string } {
  const what = `${r.kind} ${how}`;
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 200)}`);
  assert.ok(!res.body.includes(PNG_SIGNATURE), `${what}: image bytes in the refusal`);
  if (r.method === 'HEAD') return { code, message: '' };
  assert.match(String(res.headers['content-type']), /^application\/json/, what);
  const body = JSON.parse(res.body);
  assert.equal(body.error?.code, code, `${what}: ${res.body}`);
  assert.equal(typeof body.error?.message, 'string', what);
  return body.error;
}

/** The one Set-Cookie of a response, as name, value and its attributes (lower-cased names). */
function parseSetCookie(res: RawResponse): { name: string; value: string; attrs: Map<string, string> } {
  const all = res.headers['set-cookie'] ?? [];
  assert.equal(all.length, 1, `one Set-Cookie: ${JSON.stringify(all)}`);
  const [pair, ...rest] = all[0]!.split(';').map((p) => p.trim());
  const eq = pair!.indexOf('=');
  const attrs = new Map<string, string>();
  for (const a of rest) {
    const i = a.indexOf('=');
    attrs.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? '' : a.slice(i + 1));
  }
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attrs };
}

describe('who may read', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture(20);
  });
  after(async () => {
    await fx?.cleanup();
  });

  /** A server over the fixture for the tests of the enclosing describe block. */
  function useServerOf(opts: Omit<ServerOptions, 'collection'>): () => Running {
    let srv: Running | undefined;
    before(async () => {
      srv = await startServer({ collection: fx.collection, ...opts });
    });
    after(async () => {
      await srv?.close();
    });
    return () => {
      if (!srv) throw new Error('server not started');
      return srv;
    };
  }

  describe('on loopback (the default)', () => {
    const srv = useServerOf({});

    test('addressed as localhost, 127.0.0.1 or [::1], with our port, another or none, every route answers', async () => {
      const port = portOf(srv());
      // localhost:8080 is what a browser sends through `ssh -L 8080:localhost:<port>`
      for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LocalHost', `[::1]:${port}`, '127.9.9.9', 'localhost:8080']) {
        for (const r of ROUTES) expectOk(await send(srv().url, r, { host }), r, `as ${host}`);
      }
    });

    test('a Host that is not loopback is refused on every route kind, naming the host', async () => {
      const port = portOf(srv());
      for (const host of [
        'evil.example',
        `evil.example:${port}`,
        `localhost.evil.example:${port}`,
        `192.168.1.20:${port}`,
        `[::2]:${port}`,
        `0.0.0.0:${port}`,
      ]) {
        for (const r of [...ROUTES, ...UNKNOWN]) {
          const e = expectRefused(await send(srv().url, r, { host }), r, 403, 'FORBIDDEN', `as ${host}`);
          if (r.method !== 'HEAD') assert.ok(e.message.includes(host.replace(/:\d+$/, '')), e.message);
        }
      }
    });

    test('there is no login on loopback', async () => {
      const res = await raw(srv().url, 'GET', `/login?token=${TOKEN}`);
      assert.equal(res.status, 404);
      assert.equal(res.headers['set-cookie'], undefined);
    });
  });

  describe('on loopback with a token given', () => {
    const srv = useServerOf({ token: TOKEN, allowWrite: true });

    test('the token does not lift the Host check, for reads or writes', async () => {
      const auth = { authorization: `Bearer ${TOKEN}`, host: 'evil.example' };
      expectRefused(await raw(srv().url, 'GET', '/api/images/1/file', auth), FILE, 403, 'FORBIDDEN', 'with the token');
      const del = { kind: 'delete', method: 'DELETE', path: '/api/images/1' };
      expectRefused(await send(srv().url, del, auth), del, 403, 'FORBIDDEN', 'with the token');
      assert.equal((await raw(srv().url, 'GET', '/api/images/1')).status, 200, 'the image is still there');
    });
  });

  describe('off loopback, without --public', () => {
    const srv = useServerOf({ host: '0.0.0.0', token: TOKEN, allowWrite: true });

    async function login(url: string, token = TOKEN): Promise<string> {
      const res = await raw(url, 'GET', `/login?token=${encodeURIComponent(token)}`);
      assert.equal(res.status, 303, res.body);
      const c = parseSetCookie(res);
      return `${c.name}=${c.value}`;
    }

    test('without credentials every route is 401, whatever the Host; the page says how to log in', async () => {
      for (const host of [undefined, 'evil.example', `127.0.0.1:${portOf(srv())}`]) {
        const headers: Record<string, string> = host ? { host } : {};
        for (const r of [...ROUTES, ...UNKNOWN]) {
          const res = await send(srv().url, r, headers);
          assert.match(String(res.headers['www-authenticate']), /^Bearer realm="nitamono"/, r.kind);
          if (r.kind.startsWith('page')) {
            assert.equal(res.status, 401, `${r.kind}: ${res.status}`);
            assert.match(String(res.headers['content-type']), /^text\/html/);
            assert.match(res.body, /\/login\?token=/);
            assert.match(res.body, /Authorization: Bearer/);
          } else {
            expectRefused(res, r, 401, 'UNAUTHORIZED', `without credentials, Host ${host}`);
          }
        }
      }
    });

    test('a wrong, altered or malformed token is 401', async () => {
      const wrong = [
        `Bearer ${'x'.repeat(TOKEN.length)}`,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer ${TOKEN.toUpperCase()}`,
        `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
        TOKEN,
        'Bearer',
      ];
      for (const authorization of wrong) {
        for (const r of [STATS, FILE]) expectRefused(await send(srv().url, r, { authorization }), r, 401, 'UNAUTHORIZED', authorization);
      }
    });

    test('the bearer token opens every route, whatever name the server is reached by', async () => {
      for (const host of [`127.0.0.1:${portOf(srv())}`, 'photos.lan:3000']) {
        for (const r of ROUTES) expectOk(await send(srv().url, r, { host, authorization: `Bearer ${TOKEN}` }), r, `with the bearer token as ${host}`);
      }
    });

    test('the login URL sets an HttpOnly, SameSite=Strict session cookie and redirects to the page', async () => {
      const res = await raw(srv().url, 'GET', `/login?token=${TOKEN}`);
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, '/');
      assert.equal(res.headers['cache-control'], 'no-store');
      const c = parseSetCookie(res);
      assert.equal(c.name, 'nitamono_session');
      assert.match(c.value, /^[A-Za-z0-9_-]{40,}$/);
      assert.ok(!c.value.includes(TOKEN), 'the cookie is a session id, not the token');
      assert.deepEqual([...c.attrs.keys()].sort(), ['httponly', 'path', 'samesite']);
      assert.equal(c.attrs.get('samesite'), 'Strict');
      assert.equal(c.attrs.get('path'), '/');
      // Then the cookie opens every route, as the page's own requests carry it.
      const cookie = `${c.name}=${c.value}`;
      for (const r of ROUTES) expectOk(await send(srv().url, r, { cookie }), r, 'with the session cookie');
      // Among other cookies too.
      expectOk(await send(srv().url, STATS, { cookie: `theme=dark; ${cookie}; x=1` }), STATS, 'among other cookies');
      // A login URL opened again without its token, already logged in, goes on to the page.
      const again = await raw(srv().url, 'GET', '/login', { cookie });
      assert.equal(again.status, 303);
      assert.equal(again.headers['set-cookie'], undefined);
    });

    test('each login is its own session; a made-up or altered session id is refused', async () => {
      const a = await login(srv().url);
      const b = await login(srv().url);
      assert.notEqual(a, b);
      for (const cookie of [a, b]) expectOk(await send(srv().url, STATS, { cookie }), STATS, 'with either session');
      const flip = (c: string) => c.slice(0, -1) + (c.endsWith('A') ? 'B' : 'A');
      for (const cookie of [flip(a), `${a}x`, `nitamono_session=${'A'.repeat(43)}`, `nitamono_session=${TOKEN}`, `other${a}`, 'nitamono_session=']) {
        expectRefused(await send(srv().url, FILE, { cookie }), FILE, 401, 'UNAUTHORIZED', `with cookie ${cookie}`);
      }
    });

    test('a wrong token in the login URL is 401 and sets no cookie', async () => {
      for (const q of [`?token=${TOKEN}x`, `?token=${TOKEN.slice(1)}`, '?token=', '', `?token=${TOKEN.toUpperCase()}`, `?token=nope&token=${TOKEN}`]) {
        const res = await raw(srv().url, 'GET', `/login${q}`);
        assert.equal(res.status, 401, `/login${q}: ${res.status}`);
        assert.equal(res.headers['set-cookie'], undefined, `/login${q} set a cookie`);
        assert.match(String(res.headers['content-type']), /^text\/html/);
      }
    });

    test('a session cookie reads but does not write: writes need the bearer token', async () => {
      const cookie = await login(srv().url);
      const fd = new FormData();
      fd.append('image', new Blob([new Uint8Array(await makePng(4711))], { type: 'image/png' }), 'new.png');
      const withCookie = await fetch(`${srv().url}/api/images`, { method: 'POST', body: fd, headers: { cookie } });
      assert.equal(withCookie.status, 401, await withCookie.text());
      const added = await fetch(`${srv().url}/api/images`, { method: 'POST', body: fd, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(added.status, 201, await added.clone().text());
      const { id } = (await added.json()) as { id: number };
      const del = { kind: 'delete', method: 'DELETE', path: `/api/images/${id}` };
      expectRefused(await send(srv().url, del, { cookie }), del, 401, 'UNAUTHORIZED', 'with the session cookie');
      assert.equal((await send(srv().url, del, { authorization: `Bearer ${TOKEN}` })).status, 200);
    });

    test('the API document declares the bearer token and the session cookie, and 401 on every route', async () => {
      const res = await raw(srv().url, 'GET', '/api/openapi.json', { authorization: `Bearer ${TOKEN}` });
      const doc = JSON.parse(res.body);
      assert.deepEqual(doc.components.securitySchemes.bearer, {
        type: 'http',
        scheme: 'bearer',
        description: doc.components.securitySchemes.bearer.description,
      });
      assert.equal(doc.components.securitySchemes.session.type, 'apiKey');
      assert.equal(doc.components.securitySchemes.session.in, 'cookie');
      assert.equal(doc.components.securitySchemes.session.name, 'nitamono_session');
      assert.deepEqual(doc.security, [{ bearer: [] }, { session: [] }]);
      assert.match(doc.info.description, /\/login\?token=/);
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>)) {
        for (const [method, op] of Object.entries(ops)) assert.ok('401' in op.responses, `${method} ${path} does not document 401`);
      }
      // Writes take the bearer token only.
      assert.deepEqual(doc.paths['/api/images/{id}'].delete.security, [{ bearer: [] }]);
    });

    test('a token is generated when none is given', async () => {
      const gen = await startServer({ collection: fx.collection, host: '0.0.0.0' });
      try {
        const info = gen.app.nitamono;
        assert.equal(info.reads, 'token');
        assert.equal(info.tokenGenerated, true);
        assert.ok((info.token ?? '').length >= 32);
        expectRefused(await send(gen.url, STATS), STATS, 401, 'UNAUTHORIZED', 'without credentials');
        expectOk(await send(gen.url, STATS, { authorization: `Bearer ${info.token}` }), STATS, 'with the generated token');
      } finally {
        await gen.close();
      }
    });
  });

  describe('--public', () => {
    const srv = useServerOf({ host: '0.0.0.0', public: true });

    test('reads are open to anyone, whatever the Host', async () => {
      assert.equal(srv().app.nitamono.reads, 'public');
      for (const host of [`127.0.0.1:${portOf(srv())}`, 'photos.lan']) {
        for (const r of ROUTES) expectOk(await send(srv().url, r, { host }), r, `without credentials as ${host}`);
      }
      const doc = JSON.parse((await raw(srv().url, 'GET', '/api/openapi.json')).body);
      assert.equal(doc.security, undefined, 'the document asks no credentials for reads');
    });

    test('writes stay refused, and there is nothing to log into', async () => {
      const del = { kind: 'delete', method: 'DELETE', path: '/api/images/1' };
      expectRefused(await send(srv().url, del), del, 403, 'FORBIDDEN', 'without --allow-write');
      const login = await raw(srv().url, 'GET', `/login?token=${TOKEN}`);
      assert.equal(login.status, 404);
      assert.equal(login.headers['set-cookie'], undefined);
    });

    test('with --allow-write, writes still need the bearer token', async () => {
      const w = await startServer({ collection: fx.collection, host: '0.0.0.0', public: true, allowWrite: true, token: TOKEN });
      try {
        assert.equal(w.app.nitamono.tokenRequired, true);
        const del = { kind: 'delete', method: 'DELETE', path: '/api/images/999999' };
        expectRefused(await send(w.url, del), del, 401, 'UNAUTHORIZED', 'without the token');
        expectRefused(await send(w.url, del, { authorization: `Bearer ${TOKEN}` }), del, 404, 'NOT_FOUND', 'with the token (past the guards)');
      } finally {
        await w.close();
      }
    });

    test('on loopback --public changes nothing: the Host check stays', async () => {
      const lo = await startServer({ collection: fx.collection, host: '127.0.0.1', public: true });
      try {
        assert.equal(lo.app.nitamono.reads, 'loopback');
        expectRefused(await send(lo.url, FILE, { host: 'evil.example' }), FILE, 403, 'FORBIDDEN', 'as evil.example');
        expectOk(await send(lo.url, FILE), FILE, 'as 127.0.0.1');
      } finally {
        await lo.close();
      }
    });
  });
});
