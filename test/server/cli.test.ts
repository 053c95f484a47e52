/**
 * `nitamono serve` as a process: prints its URL, answers, and exits 0 on SIGTERM and SIGINT
 * after closing the server and the collection. On loopback it refuses foreign Host names; off
 * loopback it prints the login URL (and with --allow-write the write token), or with --public
 * a loud warning.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { type Fixture, makeFixture } from './fixture.js';
import { raw } from './raw-http.js';
import { MAIN, serve } from './serve-process.js';

describe('nitamono serve as a process', () => {
  let fx: Fixture;

  before(async () => {
    fx = await makeFixture(30);
    await fx.collection.close(); // the server process opens it itself
  });

  after(async () => {
    await fx?.cleanup();
  });

  test('serve prints its URL, answers, and stops cleanly on SIGTERM', async () => {
    const s = await serve(fx.collectionPath, []);
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${s.url}/api/stats`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as any).images, 30);
    // a page of another site rebound to 127.0.0.1 still names its own host
    for (const path of ['/', '/api/images/1/file']) assert.equal((await raw(s.url, 'GET', path, { host: 'evil.example' })).status, 403, path);
    assert.doesNotMatch(s.out() + s.err(), /login|WARNING/);
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0);
  });

  test('serve stops cleanly on SIGINT', async () => {
    const s = await serve(fx.collectionPath, []);
    assert.equal((await fetch(`${s.url}/`)).status, 200);
    s.child.kill('SIGINT');
    assert.equal(await s.exit, 0);
  });

  test('bound off loopback with --allow-write it prints a generated token that the write routes need', async () => {
    const s = await serve(fx.collectionPath, ['--host', '0.0.0.0', '--allow-write']);
    try {
      const m = /write token.*: (\S+)\n/.exec(s.out());
      assert.ok(m, s.out());
      const port = new URL(s.url).port;
      const del = await fetch(`http://127.0.0.1:${port}/api/images/1`, { method: 'DELETE' });
      assert.equal(del.status, 401);
      const ok = await fetch(`http://127.0.0.1:${port}/api/images/1`, { method: 'DELETE', headers: { authorization: `Bearer ${m[1]}` } });
      assert.equal(ok.status, 200);
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    }
  });

  test('bound off loopback it prints a login URL whose cookie opens the page; without it every route is 401', async () => {
    const s = await serve(fx.collectionPath, ['--host', '0.0.0.0']);
    try {
      const m = /log in once in your browser at (http:\/\/\S+\/login\?token=(\S+))[ \n]/.exec(s.out());
      assert.ok(m, s.out());
      assert.match(s.out(), /from other machines, put this machine's address in place of 127\.0\.0\.1/);
      const port = new URL(s.url).port;
      const local = `http://127.0.0.1:${port}`;
      assert.equal(new URL(m[1]!).port, port);
      for (const path of ['/', '/app.js', '/api/stats', '/api/images/2/file']) assert.equal((await raw(local, 'GET', path)).status, 401, path);
      const login = await raw(local, 'GET', `/login?token=${m[2]}`);
      assert.equal(login.status, 303);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      for (const path of ['/', '/app.js', '/api/stats', '/api/images/2/file']) assert.equal((await raw(local, 'GET', path, { cookie })).status, 200, path);
      assert.equal((await raw(local, 'GET', '/api/stats', { authorization: `Bearer ${m[2]}` })).status, 200);
      assert.doesNotMatch(s.err(), /WARNING/);
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    }
  });

  test('--public off loopback warns loudly that anyone can read, and serves reads without a token', async () => {
    const s = await serve(fx.collectionPath, ['--host', '0.0.0.0', '--public']);
    try {
      assert.match(
        s.err(),
        /WARNING: --public: the whole collection .* can be\n.*browsed and downloaded by anyone who can reach 0\.0\.0\.0 port \d+, without a token/,
      );
      assert.doesNotMatch(s.out(), /login/);
      const local = `http://127.0.0.1:${new URL(s.url).port}`;
      for (const path of ['/', '/api/stats', '/api/images/2/file']) assert.equal((await raw(local, 'GET', path)).status, 200, path);
      assert.equal((await raw(local, 'DELETE', '/api/images/1')).status, 403);
    } finally {
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    }
  });

  test('bad options are usage errors (exit 2)', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--collection', fx.collectionPath, '--port', '99999'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /--port/);
  });
});
