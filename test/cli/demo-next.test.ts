/**
 * `npm run demo` ends with "Next:" commands. Started the way the README says (npm, no `npm link`)
 * from another folder, each printed command must run as printed, in that folder's shell.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `serve`'s line until it says where it listens, then asks it for /api/stats. */
async function serveOnce(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ images: number }> {
  const child = spawn('bash', ['-c', line], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((ok, fail) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`serve said nothing useful in 30 s: ${out}`)), 30_000);
      const read = (b: Buffer) => {
        out += b.toString();
        const m = /at (http:\/\/\S+?)\/?\s/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(m[1]!);
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.on('exit', (code) => fail(new Error(`serve exited ${code}: ${out}`)));
    });
    const res = await fetch(`${url}/api/stats`);
    assert.equal(res.status, 200);
    return (await res.json()) as { images: number };
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
  }
}

test('the demo\'s "Next:" commands run as printed after npm run demo, without npm link', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'nitamono-demo-next-'));
  try {
    const home = join(work, 'home');
    await mkdir(join(home, 'Pictures'), { recursive: true });
    const red = sharp({ create: { width: 80, height: 60, channels: 3, background: '#c0302a' } });
    await red
      .clone()
      .jpeg()
      .toFile(join(home, 'Pictures', 'some-photo.jpg'));
    await red
      .clone()
      .png()
      .toFile(join(home, 'Pictures', 'same-red.png'));
    await sharp({ create: { width: 80, height: 60, channels: 3, background: '#2a40c0' } })
      .png()
      .toFile(join(home, 'Pictures', 'blue.png'));
    // a clean environment: no npm script of an outer `npm test` leaks into the demo's
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'INIT_CWD'));
    env.HOME = home;
    const demo = spawnSync('npm', ['--prefix', REPO, 'run', '--silent', 'demo', '--', '--no-deep', '--collection', join(work, 'demo')], {
      cwd: work,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(demo.status, 0, demo.stderr);
    const next = demo.stdout.split('\nNext:\n')[1];
    assert.ok(next, `no "Next:" in ${demo.stdout}`);
    const lines = next
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.equal(lines.length, 5, lines.join('\n'));
    assert.ok(
      lines.every((l) => !/^nitamono /.test(l)),
      'without npm link there is no nitamono on PATH',
    );
    for (const line of lines) {
      if (/ serve /.test(line)) {
        // tests never take a fixed port: the printed line, asked for any free one
        const stats = await serveOnce(`${line} --port 0`, work, env);
        assert.equal(stats.images, 303);
        continue;
      }
      const r = spawnSync('bash', ['-c', line], { cwd: work, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, `${line}\n${r.stdout}\n${r.stderr}`);
      if (/search ~\/Pictures\/some-photo\.jpg$/.test(line)) assert.match(r.stdout, /same-red\.png/);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
