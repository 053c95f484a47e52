/**
 * `nitamono shard --catalog postgres://… --features color --shard i/S`: serves partition i of S of
 * a collection's feature space over HTTP, for the coordinator of `nitamono search --catalog`.
 * Loads its partition from the catalogue, follows the collection as it changes, announces itself
 * in the catalogue's shard registry. Stops cleanly on SIGINT/SIGTERM (withdraws from the
 * registry, lets in-flight searches finish).
 */
import type { Command } from 'commander';
import { PostgresCatalogStore } from '../../catalog/postgres.js';
import { formatPartition, parseShardSpec } from '../../cluster/partition.js';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_POLL_MS, ShardServer } from '../../cluster/shard.js';
import type { FeatureKind } from '../../collection/config.js';
import { invalid } from '../../errors.js';
import { clusterCollection, intAtLeast, shardToken } from '../options.js';

interface ShardCliOptions {
  catalog: string;
  collection?: string;
  features: string;
  shard: string;
  host: string;
  port: string;
  advertise?: string;
  register: boolean;
  heartbeatMs?: number;
  pollMs?: number;
  threads?: number;
  shardToken?: string;
}

function parsePort(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw invalid(`--port must be an integer from 0 to 65535, got "${v}"`);
  return Number(v);
}

function featureKind(v: string): FeatureKind {
  const k = v.trim().toLowerCase();
  if (k === 'color' || k === 'colour') return 'color';
  if (k === 'deep') return 'deep';
  throw invalid(`--features for a shard is one of color or deep, got '${v}'`);
}

async function shardCommand(o: ShardCliOptions): Promise<void> {
  const partition = parseShardSpec(o.shard);
  const features = featureKind(o.features);
  const port = parsePort(o.port);
  const token = shardToken(o);
  if (o.advertise !== undefined && !/^https?:\/\/[^/\s]+/.test(o.advertise)) throw invalid(`--advertise must be an http:// URL, got '${o.advertise}'`);
  const store = await PostgresCatalogStore.open(o.catalog, { collection: clusterCollection(o) });
  const log = (m: string) => process.stderr.write(`nitamono: ${m}\n`);
  let server: ShardServer;
  try {
    server = await ShardServer.start({
      store,
      features,
      partition,
      host: o.host,
      port,
      ...(o.advertise !== undefined ? { advertise: o.advertise } : {}),
      register: o.register,
      ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
      ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(token !== undefined ? { token } : {}),
      log,
    });
  } catch (err) {
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw invalid(`port ${port} on ${o.host} is already in use (try --port 0 or another port)`);
    if (code === 'EADDRNOTAVAIL') throw invalid(`cannot bind to ${o.host}: no such local address`);
    throw err;
  }
  const name = `shard ${formatPartition(partition)} of collection ${JSON.stringify(store.collection)} (${features}) in ${store.target}`;
  process.stdout.write(`nitamono: ${name} listening at ${server.url}/\n`);
  if (token === undefined && !/^(127\.|localhost$|::1$|\[::1\]$)/.test(o.host)) {
    log(`warning: bound to ${o.host} without a token: anyone who can reach it can query the partition (set NITAMONO_SHARD_TOKEN)`);
  }
  void server.ready().then(() => {
    const h = server.health();
    process.stdout.write(`nitamono: ready: ${h.size} vectors (${h.index}${h.nlist ? `, nlist ${h.nlist}` : ''}) at generation ${h.generation}\n`);
  });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log(`${signal} again, exiting now`);
        process.exit(130);
      }
      stopping = true;
      log(`${signal}, shutting down`);
      void (async () => {
        try {
          await server.close();
        } finally {
          await store.close().catch(() => undefined);
          resolve();
        }
      })();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  process.exit(0);
}

export function registerShardCommand(program: Command): void {
  program
    .command('shard')
    .description('cluster mode: serve one partition (i/S) of a collection in a PostgreSQL catalogue to the coordinator of `search --catalog`')
    .requiredOption('--catalog <url>', 'the shared catalogue: postgres://user:password@host:port/database')
    .option('--collection <name>', 'the collection inside the database (default "default")')
    .requiredOption('--features <kind>', 'color or deep: the feature space this shard serves')
    .requiredOption('--shard <i/S>', 'serve partition i of S (counting from 0): the ids whose hash is i modulo S')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('-p, --port <port>', 'port (0 = any free port; coordinators find it in the registry)', '0')
    .option('--advertise <url>', 'the URL coordinators use (default http://host:port)')
    .option('--no-register', 'do not announce this shard in the catalogue (coordinators then need --shards URL,…)')
    .option('--heartbeat-ms <ms>', `registry heartbeat (default ${DEFAULT_HEARTBEAT_MS})`, intAtLeast('heartbeat-ms', 10))
    .option('--poll-ms <ms>', `periodic check of the catalogue, besides its change notifications (default ${DEFAULT_POLL_MS})`, intAtLeast('poll-ms', 10))
    .option('--threads <t>', 'worker threads per search (default: all cores)', intAtLeast('threads'))
    .option('--shard-token <token>', 'require this bearer token on every request (default $NITAMONO_SHARD_TOKEN)')
    .action(shardCommand);
}
