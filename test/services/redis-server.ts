/**
 * A private Redis for a test file: `redis-server` on a free loopback port, its own temporary
 * folder, no persistence (or an append-only file, as a production queue should have:
 * `appendOnly`); ready once it answers PING; stopped by pid; restarted on the same port and
 * folder by `restart()` (a crash with SIGKILL, or a clean stop); killed at process exit if a
 * test forgot. A machine without redis-server FAILS the tests that need it (never skips):
 * `apt-get install redis-server` (.ci/run does).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export { freePort };

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The current process (a restart makes another). */
  readonly pid: number;
  /** Its working folder (log file, and the append-only file with `appendOnly`). */
  readonly dir: string;
  /**
   * Stops the server — SIGKILL (a crash: no shutdown save) or, with `kill: false`, SIGTERM —
   * waits `downMs` (default 0), then starts it again on the same port and folder; resolves once
   * it answers PING. Without `appendOnly` it comes back empty.
   */
  restart(opts?: { kill?: boolean; downMs?: number }): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; removes the folder. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartRedisOptions {
  readyTimeoutMs?: number;
  /** Keep the data in an append-only file, fsynced at every write (`--appendonly yes --appendfsync always`): jobs survive a restart. */
  appendOnly?: boolean;
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

/** One redis-server process on `port` in `dir`; resolves once it answers PING, or with the reason it did not. */
async function launch(
  bin: string,
  port: number,
  dir: string,
  opts: StartRedisOptions,
): Promise<{ entry: { child: ChildProcess; dir: string }; exit: Promise<void> } | { error: string }> {
  const log = join(dir, 'redis.log');
  const persistence = opts.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...persistence,
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
  let lastError = '';
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
    if (await ping(port)) return { entry, exit };
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!exited) child.kill('SIGKILL');
  await exit;
  live.delete(entry);
  try {
    lastError = readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n') || lastError;
  } catch {
    // no log written
  }
  return { error: lastError || 'no answer to PING' };
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = redisServerBinary();
  killAllAtExit();
  let lastError = '';
  // a port found free can be taken before redis binds it: try again on another
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'nitamono-redis-'));
    const first = await launch(bin, port, dir, opts);
    if ('error' in first) {
      lastError = first.error;
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    let current = first;
    let stopped = false;
    const halt = async (signal: NodeJS.Signals, graceMs: number) => {
      const { entry, exit } = current;
      if (entry.child.exitCode === null && entry.child.signalCode === null) {
        process.kill(entry.child.pid!, signal);
        const t = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(t);
      }
      live.delete(entry);
    };
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      dir,
      get pid() {
        return current.entry.child.pid!;
      },
      async restart({ kill = true, downMs = 0 } = {}) {
        if (stopped) throw new Error('this Redis was stopped');
        await halt(kill ? 'SIGKILL' : 'SIGTERM', 5000);
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        const again = await launch(bin, port, dir, opts);
        if ('error' in again) throw new Error(`redis-server did not start again on port ${port}: ${again.error}`);
        current = again;
      },
      async stop(graceMs = 2000) {
        stopped = true;
        await halt('SIGTERM', graceMs);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`redis-server did not start: ${lastError || 'no answer to PING'}`);
}
