/**
 * `nitamono serve` as a process: prints its URL, answers, and exits 0 on SIGTERM and SIGINT
 * after closing the server and the collection. Off loopback with --allow-write it prints a token.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Fixture, makeFixture } from './fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts `nitamono serve` on the collection at `collectionPath` and resolves once it prints its URL. */
function serve(collectionPath: string, args: string[]): Promise<{ child: ChildProcess; url: string; out: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--collection', collectionPath, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NITAMONO_NO_PROGRESS: '1' },
  });
  let stdout = '';
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout} ${stderr}`)), 20_000);
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = /at (http:\/\/\S+)\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        // give the remaining lines (token) a moment to arrive
        setTimeout(() => resolve({ child, url: m[1]!.replace(/\/$/, ''), out: () => stdout, exit }), 100);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stdout} ${stderr}`));
    });
  });
}

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

  test('bad options are usage errors (exit 2)', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--collection', fx.collectionPath, '--port', '99999'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /--port/);
  });
});
