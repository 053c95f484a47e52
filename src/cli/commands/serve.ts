/**
 * `nitamono serve`: the HTTP API and the web page over one collection.
 * Stops cleanly on SIGINT/SIGTERM: the server stops accepting, in-flight requests finish, the
 * collection saves its indexes and closes.
 *
 * With `--catalog postgres://…` (cluster mode): the search API over the collection's shards
 * (src/server/cluster.ts), read-only, without the web page.
 */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { ClusterSearch } from '../../cluster/client.js';
import { DEFAULT_DEADLINE_MS } from '../../cluster/coordinator.js';
import { Collection, DEFAULT_COLLECTION_PATH } from '../../collection/index.js';
import { invalid } from '../../errors.js';
import { DEFAULT_MAX_PIXELS } from '../../image/decode.js';
import { createClusterServer } from '../../server/cluster.js';
import { createServer, DEFAULT_MAX_UPLOAD_BYTES, isLoopbackHost, type ServerInfo } from '../../server/server.js';
import { clusterCollection, intAtLeast, shardToken, urlList } from '../options.js';

interface ServeOptions {
  collection?: string;
  catalog?: string;
  shards?: string[];
  deadlineMs?: number;
  shardToken?: string;
  local?: boolean;
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

/** Listens; turns a port in use or an unknown address into a usage error. Resolves to the port bound. */
async function listen(app: FastifyInstance, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw invalid(`port ${port} on ${host} is already in use (try --port 0 or another port)`);
    if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') throw invalid(`cannot bind to ${host}: no such local address`);
    throw err;
  }
  const addr = app.server.address();
  return addr && typeof addr === 'object' ? addr.port : port;
}

/** Serves until SIGINT/SIGTERM (a second one exits at once), closes the server, then `release`; exits 0. */
async function serveUntilStopped(app: FastifyInstance, release: () => Promise<void>): Promise<never> {
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
          await release().catch((err) => process.stderr.write(`nitamono: closing: ${(err as Error).message}\n`));
          resolve();
        }
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  process.exit(0);
}

const shownHostOf = (host: string) => (host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host);

/** The options both servers (a collection folder's, cluster mode's) take from the command line. */
interface CommonServerOptions {
  token?: string;
  host: string;
  public: boolean;
  maxUploadBytes: number;
  maxPixels: number;
}

/**
 * Makes the server and listens; if either fails, closes what it serves (`owner`) and throws.
 * Resolves to the server and the port bound.
 */
async function startServer(make: () => FastifyInstance, common: CommonServerOptions, port: number, owner: { close(): Promise<void> }) {
  try {
    const app = make();
    return { app, port: await listen(app, common.host, port) };
  } catch (err) {
    await owner.close().catch(() => undefined);
    throw err;
  }
}

/** The lines after what is served: reachable from other machines, and how to get in. */
function printReach(app: FastifyInstance, port: number, opts: ServeOptions): void {
  if (!isLoopbackHost(opts.host)) process.stdout.write(`nitamono: bound to ${opts.host}: reachable from other machines\n`);
  printAccess(app.nitamono, shownHostOf(opts.host), port, opts);
}

/** `serve --catalog`: the search API over the collection's shards. */
async function serveCluster(opts: ServeOptions, port: number, common: CommonServerOptions): Promise<void> {
  if (opts.allowWrite) throw invalid('--allow-write: a cluster-mode server is read-only for now; images are added with `nitamono index <folder> --catalog …`');
  const token = shardToken(opts);
  const search = await ClusterSearch.open(opts.catalog!, {
    collection: clusterCollection(opts),
    ...(opts.shards ? { shards: opts.shards } : {}),
    ...(opts.deadlineMs !== undefined ? { deadlineMs: opts.deadlineMs } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(opts.local === false ? { local: false } : {}),
  });
  const { app, port: actualPort } = await startServer(() => createClusterServer({ search, ...common }), common, port, search);
  const shownHost = shownHostOf(opts.host);
  const images = await search.store.okCount();
  process.stdout.write(
    `nitamono: serving collection ${JSON.stringify(search.store.collection)} of ${search.store.target} (${images} images; ${search.settings.features.join(' + ')} features) at http://${shownHost}:${actualPort}/\n`,
  );
  process.stdout.write('nitamono: cluster mode: the search API only (POST /api/search, /api/openapi.json); no web page, image files or uploads yet\n');
  // who answers: the shards, or (none registered) this process, whose index is loaded now rather than at the first search
  const who = opts.shards ? `the shards ${opts.shards.join(', ')}` : "the shards of the catalogue's registry, or this process itself while none is registered";
  process.stdout.write(`nitamono: searches are answered by ${who}\n`);
  void search.prepare().then(
    (mode) => {
      if (mode === 'local') process.stdout.write(`nitamono: no shard is registered: searching the whole collection in this process (loaded)\n`);
    },
    (err: Error) => process.stderr.write(`nitamono: ${err.message}\n`),
  );
  printReach(app, actualPort, opts);
  await serveUntilStopped(app, () => search.close());
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the search API and web page for a collection')
    .option('-c, --collection <path>', `collection folder (default ${DEFAULT_COLLECTION_PATH}); with --catalog, the collection's name (default "default")`)
    .option('--host <host>', 'address to bind (anything but localhost/127.0.0.1/::1 makes every route need the token, unless --public)', '127.0.0.1')
    .option('-p, --port <port>', 'port (0 = any free port)', '3000')
    .option('--allow-write', 'enable adding (POST /api/images) and removing (DELETE /api/images/:id) images')
    .option('--token <token>', 'the token: bearer header or login URL (generated and printed when bound off localhost)')
    .option('--public', 'bound off localhost: let anyone who can reach the address browse and download the collection (writes still need the token)')
    .option('--max-upload-mb <mb>', 'largest accepted upload in MB', String(DEFAULT_MAX_UPLOAD_BYTES / (1024 * 1024)))
    .option('--max-pixels <n>', 'largest accepted image in pixels', String(DEFAULT_MAX_PIXELS))
    .option(
      '--catalog <url>',
      'cluster mode: the shared catalogue (postgres://…); searches go to the shards of `nitamono shard`, or, with none registered, are answered here (API only, read-only)',
    )
    .option('--shards <urls>', "cluster mode: these shard URLs (comma-separated) instead of the catalogue's shard registry", urlList('shards'))
    .option('--deadline-ms <ms>', `cluster mode: wait at most this long for the shards (default ${DEFAULT_DEADLINE_MS})`, intAtLeast('deadline-ms'))
    .option('--no-local', 'cluster mode: when no shard is registered, answer 503 instead of loading the whole collection into this process')
    .option('--shard-token <token>', "cluster mode: the shards' bearer token (default $NITAMONO_SHARD_TOKEN)")
    .action(async (opts: ServeOptions) => {
      const port = parsePort(opts.port);
      const common: CommonServerOptions = {
        ...(opts.token !== undefined ? { token: opts.token } : {}),
        host: opts.host,
        public: opts.public === true,
        maxUploadBytes: Math.round(parsePositive('--max-upload-mb', opts.maxUploadMb) * 1024 * 1024),
        maxPixels: Math.round(parsePositive('--max-pixels', opts.maxPixels)),
      };
      if (opts.token !== undefined && !/^[\x21-\x7e]{8,}$/.test(opts.token)) throw invalid('--token must be at least 8 printable characters without spaces');
      if (opts.catalog !== undefined) return serveCluster(opts, port, common);
      if (opts.shards || opts.deadlineMs !== undefined || opts.local === false)
        throw invalid('--shards, --deadline-ms and --no-local need --catalog (cluster mode)');
      // An upload waits at most 30 s for an `index` run in another process, then gets 409 LOCKED.
      const collection = await Collection.open(opts.collection ?? DEFAULT_COLLECTION_PATH, { writerWait: 30_000, command: `nitamono serve (port ${port})` });
      const { app, port: actualPort } = await startServer(
        () => createServer({ collection, allowWrite: opts.allowWrite === true, ...common }),
        common,
        port,
        collection,
      );
      process.stdout.write(
        `nitamono: serving ${collection.root} (${await searchableCount(collection)} images) at http://${shownHostOf(opts.host)}:${actualPort}/\n`,
      );
      printReach(app, actualPort, opts);

      // Build (or load) the inverted files in the background so the first IVF search is quick.
      void (async () => {
        for (const kind of collection.features) {
          if ((await searchableCount(collection)) === 0) break;
          await collection.ivfIndex(kind).catch(() => undefined);
        }
      })();

      await serveUntilStopped(app, () => collection.close());
    });
}
