/**
 * A private PostgreSQL 15 server for one test file, on a free loopback port, in a temporary
 * folder, with fsync off: `initdb` (trust auth, superuser `nitamono`) then `pg_ctl start`.
 * As root (CI, the development machines) the server runs as the `postgres` user, since
 * PostgreSQL refuses to run as root; its folder is made under /tmp, which that user can enter.
 * Stopped with `pg_ctl -m immediate` by `stop()`, and in any case when the process exits.
 *
 * Missing server binaries are an error, not a reason to skip: the tests that need the server
 * fail with a message saying what to install (`.ci/run` installs postgresql-15).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/** Where the server binaries are (Debian's postgresql-15); NITAMONO_PG_BIN overrides. */
export const PG_BIN = process.env.NITAMONO_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** The superuser initdb makes (trust authentication on loopback: no password). */
export const PG_USER = 'nitamono';

export interface PostgresServer {
  readonly port: number;
  /** The server's folder (data, log, socket). */
  readonly dir: string;
  /** postgres://nitamono@127.0.0.1:port/database (default: the `postgres` database). */
  url(database?: string, user?: string): string;
  /** Makes a database (a lowercase identifier) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** One statement on a fresh connection to `database`, as the superuser. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(database: string, sql: string, values?: unknown[]): Promise<R[]>;
  /** Stops the server at once and removes its folder. */
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], asPostgres: boolean): void {
  const [file, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  // cwd: a folder every user can enter (pg_ctl and initdb complain about an unreadable one)
  const r = spawnSync(file, argv, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${r.stderr || r.stdout}`);
}

function postgresIds(): { uid: number; gid: number } {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const u = id('-u');
  const g = id('-g');
  if (u.status !== 0 || g.status !== 0) {
    throw new Error(
      'there is no "postgres" user to run the test PostgreSQL server as (root may not run it): install postgresql-15 (apt-get install postgresql-15)',
    );
  }
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Starts a private server; throws, naming what is missing, when it cannot. */
export async function startPostgres(): Promise<PostgresServer> {
  for (const bin of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(join(PG_BIN, bin))) {
      throw new Error(
        `the PostgreSQL 15 server binaries are missing (no ${join(PG_BIN, bin)}); install them with "apt-get install postgresql-15" (.ci/run does), or point NITAMONO_PG_BIN at another bin folder`,
      );
    }
  }
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? postgresIds() : undefined;
  // never under /root: the postgres user could not enter it
  const base = asRoot || tmpdir().startsWith('/root') ? '/tmp' : tmpdir();
  const dir = mkdtempSync(join(base, 'nitamono-pg-'));
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const pgCtl = join(PG_BIN, 'pg_ctl');
  let started = false;
  const stopSync = () => {
    if (started) {
      started = false;
      try {
        run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => stopSync();
  const onSignal = (sig: NodeJS.Signals) => {
    stopSync();
    process.kill(process.pid, sig);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const unhook = () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  let port = 0;
  try {
    run(join(PG_BIN, 'initdb'), ['-D', data, '-U', PG_USER, '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'], asRoot);
    // a port found free may be taken before the server binds it: try a few
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      try {
        run(pgCtl, ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', opts, 'start'], asRoot);
        started = true;
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  } catch (err) {
    stopSync();
    unhook();
    throw err;
  }

  const url = (database = 'postgres', user = PG_USER) => `postgres://${user}@127.0.0.1:${port}/${database}`;
  const query = async <R extends pg.QueryResultRow>(database: string, sql: string, values: unknown[] = []): Promise<R[]> => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    port,
    dir,
    url,
    query,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await query('postgres', `CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      stopSync();
      unhook();
    },
  };
}
