/**
 * A private Redis for a test file: `redis-server` on a free loopback port, no persistence, its
 * own temporary folder; ready once it answers PING; stopped by pid; killed at process exit if a
 * test forgot. A machine without redis-server FAILS the tests that need it (never skips):
 * `apt-get install redis-server` (.ci/run does).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its working folder (and log file). */
  readonly dir: string;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the folder. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHook = false;

function killAllAtExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const s of live) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // gone already
      }
      rmSync(s.dir, { recursive: true, force: true });
    }
  });
}

/** The redis-server binary, or an error that says how to install it. */
export function redisServerBinary(): string {
  const bin = process.env.NITAMONO_REDIS_SERVER ?? 'redis-server';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `redis-server is not installed (running '${bin} --version' failed: ${r.error?.message ?? r.stderr}); ` +
        'the queue tests need a real Redis: apt-get install redis-server (or set NITAMONO_REDIS_SERVER)',
    );
  }
  return bin;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a Redis answers PING on this port. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
  });
}

export async function startRedis(opts: { readyTimeoutMs?: number } = {}): Promise<RedisServer> {
  const bin = redisServerBinary();
  killAllAtExit();
  let lastError = '';
  // a port found free can be taken before redis binds it: try again on another
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'nitamono-redis-'));
    const log = join(dir, 'redis.log');
    const child = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
        '--dir',
        dir,
        '--logfile',
        log,
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    const entry = { child, dir };
    live.add(entry);
    let exited = false;
    const exit = new Promise<void>((resolve) => {
      child.on('exit', () => {
        exited = true;
        resolve();
      });
      child.on('error', (e) => {
        lastError = e.message;
        exited = true;
        resolve();
      });
    });
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
    while (!exited && Date.now() < deadline) {
      if (await ping(port)) {
        const stop = async (graceMs = 2000) => {
          if (!exited) {
            process.kill(child.pid!, 'SIGTERM');
            const t = setTimeout(() => {
              if (!exited) process.kill(child.pid!, 'SIGKILL');
            }, graceMs);
            await exit;
            clearTimeout(t);
          }
          live.delete(entry);
          rmSync(dir, { recursive: true, force: true });
        };
        return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, dir, stop };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited) child.kill('SIGKILL');
    await exit;
    try {
      lastError = readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n') || lastError;
    } catch {
      // no log written
    }
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`redis-server did not start: ${lastError || 'no answer to PING'}`);
}
