/**
 * `nitamono serve`: the HTTP API and the web page over one collection.
 * Stops cleanly on SIGINT/SIGTERM: the server stops accepting, in-flight requests finish, the
 * collection saves its indexes and closes.
 */
import type { Command } from 'commander';
import { Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { DEFAULT_MAX_PIXELS } from '../../image/decode.js';
import { createServer, DEFAULT_MAX_UPLOAD_BYTES, isLoopbackHost, type ServerInfo } from '../../server/server.js';

interface ServeOptions {
  collection: string;
  host: string;
  port: string;
  allowWrite?: boolean;
  token?: string;
  public?: boolean;
  maxUploadMb: string;
  maxPixels: string;
}

function parsePort(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw invalid(`--port must be an integer from 0 to 65535, got "${v}"`);
  return Number(v);
}

function parsePositive(name: string, v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw invalid(`${name} must be a positive number, got "${v}"`);
  return n;
}

/**
 * How to get in, and the loud warning when anyone can. `shownHost` is where this machine can
 * reach the server: for a wildcard bind, other machines use its own name or address instead.
 */
function printAccess(info: ServerInfo, shownHost: string, port: number, opts: ServeOptions): void {
  const out = (line: string) => process.stdout.write(`nitamono: ${line}\n`);
  const elsewhere = shownHost === opts.host ? '' : ` (from other machines, put this machine's address in place of ${shownHost})`;
  if (info.reads === 'token') {
    const token = info.tokenGenerated ? info.token : '<your --token>';
    out(`every route needs the token; log in once in your browser at http://${shownHost}:${port}/login?token=${token}${elsewhere}`);
    out(`API clients send "Authorization: Bearer ${info.tokenGenerated ? info.token : '<token>'}"`);
  } else if (info.reads === 'public') {
    const bar = '!'.repeat(72);
    process.stderr.write(
      `${bar}\nnitamono: WARNING: --public: the whole collection — every image, its path and its file — can be\n` +
        `nitamono: browsed and downloaded by anyone who can reach ${opts.host} port ${port}, without a token.\n${bar}\n`,
    );
  } else if (opts.public) {
    out('--public changes nothing on a loopback address: only this machine can connect anyway');
  }
  if (info.allowWrite) {
    out('writes enabled (POST /api/images, DELETE /api/images/:id)');
    if (info.tokenRequired) {
      out(
        info.tokenGenerated
          ? `write token (send as "Authorization: Bearer <token>"): ${info.token}`
          : 'write routes need the --token given, as "Authorization: Bearer <token>"',
      );
    }
  }
}

/** The number of searchable images (listImages counts them once per catalogue generation). */
async function searchableCount(collection: Collection): Promise<number> {
  return (await collection.listImages(0, 0)).total;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the search API and web page for a collection')
    .option('-c, --collection <path>', 'collection folder', DEFAULT_COLLECTION_PATH)
    .option('--host <host>', 'address to bind (anything but localhost/127.0.0.1/::1 makes every route need the token, unless --public)', '127.0.0.1')
    .option('-p, --port <port>', 'port (0 = any free port)', '3000')
    .option('--allow-write', 'enable adding (POST /api/images) and removing (DELETE /api/images/:id) images')
    .option('--token <token>', 'the token: bearer header or login URL (generated and printed when bound off localhost)')
    .option('--public', 'bound off localhost: let anyone who can reach the address browse and download the collection (writes still need the token)')
    .option('--max-upload-mb <mb>', 'largest accepted upload in MB', String(DEFAULT_MAX_UPLOAD_BYTES / (1024 * 1024)))
    .option('--max-pixels <n>', 'largest accepted image in pixels', String(DEFAULT_MAX_PIXELS))
    .action(async (opts: ServeOptions) => {
      const port = parsePort(opts.port);
      const maxUploadBytes = Math.round(parsePositive('--max-upload-mb', opts.maxUploadMb) * 1024 * 1024);
      const maxPixels = Math.round(parsePositive('--max-pixels', opts.maxPixels));
      if (opts.token !== undefined && !/^[\x21-\x7e]{8,}$/.test(opts.token)) throw invalid('--token must be at least 8 printable characters without spaces');
      // An upload waits at most 30 s for an `index` run in another process, then gets 409 LOCKED.
      const collection = await Collection.open(opts.collection, { writerWait: 30_000, command: `nitamono serve (port ${port})` });
      let app: ReturnType<typeof createServer> | undefined;
      try {
        app = createServer({
          collection,
          allowWrite: opts.allowWrite === true,
          ...(opts.token !== undefined ? { token: opts.token } : {}),
          host: opts.host,
          public: opts.public === true,
          maxUploadBytes,
          maxPixels,
        });
        await app.listen({ host: opts.host, port });
      } catch (err) {
        await app?.close().catch(() => undefined);
        await collection.close().catch(() => undefined);
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw invalid(`port ${port} on ${opts.host} is already in use (try --port 0 or another port)`);
        if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') throw invalid(`cannot bind to ${opts.host}: no such local address`);
        throw err;
      }
      const addr = app.server.address();
      const actualPort = addr && typeof addr === 'object' ? addr.port : port;
      const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host;
      const info = app.nitamono;
      process.stdout.write(`nitamono: serving ${collection.root} (${await searchableCount(collection)} images) at http://${shownHost}:${actualPort}/\n`);
      if (!isLoopbackHost(opts.host)) process.stdout.write(`nitamono: bound to ${opts.host}: reachable from other machines\n`);
      printAccess(info, shownHost, actualPort, opts);

      // Build (or load) the inverted files in the background so the first IVF search is quick.
      void (async () => {
        for (const kind of collection.features) {
          if ((await searchableCount(collection)) === 0) break;
          await collection.ivfIndex(kind).catch(() => undefined);
        }
      })();

      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            process.stderr.write(`nitamono: ${signal} again, exiting now\n`);
            process.exit(130);
          }
          stopping = true;
          process.stderr.write(`nitamono: ${signal}, shutting down\n`);
          void (async () => {
            try {
              await app.close();
            } finally {
              await collection.close().catch((err) => process.stderr.write(`nitamono: closing the collection: ${(err as Error).message}\n`));
              resolve();
            }
          })();
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      });
      process.exit(0);
    });
}
