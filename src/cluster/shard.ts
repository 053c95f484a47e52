/**
 * A shard process's server: partition i/S of one feature space of a collection in the shared
 * catalogue, searched over HTTP.
 *
 *   const shard = await ShardServer.start({ store, features: 'color', partition: { index: 0, count: 3 }, port: 0 });
 *   await shard.ready();
 *
 * - It listens at once and loads its partition in the background: GET /health answers 503
 *   `starting` until the index is loaded, then 200 `ready`.
 * - It follows the collection's generation: a LISTEN/NOTIFY subscription (`onChange`) wakes it
 *   after every commit, and a periodic check (`pollMs`) covers a lost notification, a lost
 *   connection and a new version of the shared centroids, which no commit announces.
 * - It announces itself in the catalogue's shard registry every `heartbeatMs` (partition, URL,
 *   generation, readiness), so coordinators find it without a list of URLs; a clean stop
 *   withdraws the entry, a killed process's entry goes stale and is ignored.
 * - POST /search takes a batch of query vectors (base64 little-endian float32), k, nprobe, and
 *   answers ids, distances, the generation it answered at, timings and distances computed.
 *   Large scans go to worker threads (searchAsync), so health checks are answered meanwhile.
 *
 * When a token is given, every request needs `Authorization: Bearer <token>` (coordinators
 * send it); without one, bind the shard where only coordinators can reach it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ClusterCatalogStore, FeatureSpace, Partition } from '../catalog/types.js';
import type { FeatureKind } from '../collection/config.js';
import { invalid, NitamonoError } from '../errors.js';
import { bearerOf, tokenMatcher } from '../server/access/tokens.js';
import { ApiError, notFound, sendError, toApiError } from '../server/errors.js';
import { MAX_K } from '../validate.js';
import { checkPartition, formatPartition } from './partition.js';
import { PartitionIndex } from './partition-index.js';
import { clusterSpace, readClusterSettings } from './settings.js';
import { base64ToF32, f32ToBase64, i32ToBase64, type ShardHealth, type ShardSearchReply, type ShardSearchRequest } from './wire.js';

export const DEFAULT_HEARTBEAT_MS = 2000;
export const DEFAULT_POLL_MS = 2000;
/** The most queries of one request. */
export const MAX_SHARD_BATCH = 4096;
/** Request bodies up to this size (a batch of MAX_SHARD_BATCH 1,280-d queries is 28 MB in base64). */
const BODY_LIMIT = 64 * 1024 * 1024;
const DEFAULT_WAIT_MS = 1000;
const MAX_WAIT_MS = 60_000;

export interface ShardServerOptions {
  store: ClusterCatalogStore;
  /** The feature kind this shard serves (its space's model comes from the collection's settings). */
  features: FeatureKind;
  partition: Partition;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** The URL coordinators use (default http://host:port; for a wildcard bind, this machine's name). */
  advertise?: string;
  /** Announce in the catalogue's shard registry (default true). */
  register?: boolean;
  heartbeatMs?: number;
  /** The periodic check of the catalogue's generation and shared centroids (default 2000 ms). */
  pollMs?: number;
  /** Required as a bearer token on every request when given. */
  token?: string;
  /** Worker threads per search (default: all cores). */
  threads?: number;
  /** Told about loads, deltas and failures to follow the catalogue (default: nothing). */
  log?: (message: string) => void;
}

const int = { type: 'integer' } as const;
const shardSchema = { type: 'object', required: ['index', 'count'], properties: { index: int, count: int } } as const;

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const HEALTH_SCHEMA = {
  type: 'object',
  required: [
    'status',
    'shard',
    'collection',
    'features',
    'model',
    'generation',
    'size',
    'dim',
    'index',
    'nlist',
    'quantizer_version',
    'node',
    'url',
    'uptime_ms',
  ],
  properties: {
    status: { type: 'string', enum: ['ready', 'starting'] },
    shard: shardSchema,
    collection: { type: 'string' },
    features: { type: 'string', description: 'color, deep or the name of learned features' },
    model: { type: 'string', nullable: true },
    generation: { type: 'integer', description: 'The catalogue generation the index reflects (-1 before the first load)' },
    size: { type: 'integer', description: 'Vectors in this partition' },
    dim: { type: 'integer', nullable: true },
    index: { type: 'string', nullable: true, enum: ['flat', 'ivf', 'empty', null] },
    nlist: { type: 'integer', nullable: true },
    quantizer_version: { type: 'integer', description: 'The shared centroids version of an IVF index (0: none)' },
    node: { type: 'string' },
    url: { type: 'string' },
    uptime_ms: { type: 'number' },
    message: { type: 'string' },
  },
} as const;

const SEARCH_BODY = {
  type: 'object',
  required: ['queries', 'dim', 'k'],
  additionalProperties: false,
  properties: {
    queries: { type: 'string', description: 'nq×dim float32, little-endian, base64' },
    dim: { type: 'integer', minimum: 1, maximum: 65536 },
    k: { type: 'integer', minimum: 1, maximum: MAX_K },
    nprobe: { type: 'integer', minimum: 1 },
    exact: { type: 'boolean' },
    min_generation: { type: 'integer', minimum: 0 },
    wait_ms: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS },
  },
} as const;

const SEARCH_REPLY = {
  type: 'object',
  required: ['shard', 'generation', 'size', 'dim', 'nq', 'k', 'index', 'labels', 'distances', 'distances_computed', 'search_ms', 'took_ms'],
  properties: {
    shard: shardSchema,
    generation: int,
    size: int,
    dim: int,
    nq: int,
    k: int,
    index: { type: 'string', enum: ['flat', 'ivf', 'empty'] },
    nprobe: int,
    nlist: int,
    quantizer_version: int,
    labels: { type: 'string', description: 'nq×k int32 ids, little-endian, base64; -1 pads' },
    distances: { type: 'string', description: 'nq×k float32 squared L2 distances, little-endian, base64; NaN pads' },
    distances_computed: int,
    search_ms: { type: 'number' },
    took_ms: { type: 'number' },
    warnings: { type: 'array', items: { type: 'string' } },
  },
} as const;

const errors = (causes: Record<number, string>) => Object.fromEntries(Object.entries(causes).map(([s, description]) => [s, { description, ...ERROR_SCHEMA }]));

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function defaultUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export class ShardServer {
  readonly partition: Partition;
  readonly features: FeatureKind;
  /** This process in the registry. */
  readonly node: string;
  private readonly app: FastifyInstance;
  private readonly started = Date.now();
  private space: FeatureSpace | undefined;
  private index: PartitionIndex | undefined;
  private message: string | undefined = 'reading the collection settings';
  private advertised = '';
  private readyPromise: Promise<void>;
  private readyResolve!: () => void;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private announcing: Promise<void> = Promise.resolve();

  private constructor(private readonly o: ShardServerOptions) {
    this.partition = checkPartition(o.partition);
    if (o.features !== 'color' && o.features !== 'deep') throw invalid(`features must be color or deep, got ${JSON.stringify(o.features)}`);
    this.features = o.features;
    this.node = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.readyPromise = new Promise((r) => {
      this.readyResolve = r;
    });
    this.app = this.buildApp();
  }

  /** Listens, then loads and follows the partition in the background (see ready()). */
  static async start(o: ShardServerOptions): Promise<ShardServer> {
    for (const [name, v] of [
      ['heartbeatMs', o.heartbeatMs],
      ['pollMs', o.pollMs],
    ] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v >= 10)) throw invalid(`${name} must be at least 10 ms, got ${v}`);
    }
    const s = new ShardServer(o);
    const host = o.host ?? '127.0.0.1';
    await s.app.listen({ host, port: o.port ?? 0 });
    const addr = s.app.server.address();
    const port = addr && typeof addr === 'object' ? addr.port : (o.port ?? 0);
    s.advertised = (o.advertise ?? defaultUrl(host, port)).replace(/\/+$/, '');
    void s.run();
    return s;
  }

  /** Where coordinators reach it. */
  get url(): string {
    return this.advertised;
  }

  /** Resolves once the partition is loaded and searchable. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  health(): ShardHealth {
    const idx = this.index;
    const ready = idx?.ready === true;
    const message = !ready ? this.message : idx.error ? `following the catalogue failed (serving generation ${idx.generation}): ${idx.error}` : undefined;
    return {
      status: ready ? 'ready' : 'starting',
      shard: { ...this.partition },
      collection: this.o.store.collection,
      features: this.features,
      model: this.space?.model ?? null,
      generation: idx?.generation ?? -1,
      size: idx?.size ?? 0,
      dim: idx?.dim ?? null,
      index: idx?.ready ? idx.kind : null,
      nlist: idx?.nlist ?? null,
      quantizer_version: idx?.quantizerVersion ?? 0,
      node: this.node,
      url: this.advertised,
      uptime_ms: Date.now() - this.started,
      ...(message ? { message } : {}),
    };
  }

  private log(message: string): void {
    this.o.log?.(message);
  }

  /** Settings → space → first load → following and heartbeats; retried until it works or the server closes. */
  private async run(): Promise<void> {
    const pollMs = this.o.pollMs ?? DEFAULT_POLL_MS;
    const { store } = this.o;
    // 1. the collection's settings name the space (colour bins, deep model)
    while (!this.closed && !this.space) {
      try {
        const settings = await readClusterSettings(store);
        if (settings) {
          if (!settings.features.includes(this.features)) {
            this.message = `collection ${store.collection} has no ${this.features} features (it has ${settings.features.join(', ')}); waiting for them`;
          } else {
            this.space = clusterSpace(settings, this.features);
            break;
          }
        } else {
          this.message = `collection ${store.collection} has no settings yet (nothing indexed): waiting`;
        }
      } catch (err) {
        this.message = `cannot read the collection settings: ${(err as Error).message}`;
      }
      await this.sleep(pollMs);
    }
    if (this.closed || !this.space) return;
    const space = this.space;
    const index = new PartitionIndex({
      store,
      space,
      partition: this.partition,
      ...(this.o.threads !== undefined ? { threads: this.o.threads } : {}),
      onEvent: (m) => this.log(m),
    });
    this.index = index;
    this.message = `loading partition ${formatPartition(this.partition)} of ${space.kind}:${space.model}`;
    if (this.o.register !== false) {
      this.beat();
      this.every(this.o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, this.beat);
    }

    // 2. subscribe before the first load, so no commit between the load and the subscription is missed
    if (store.onChange) {
      try {
        this.unsubscribe = await store.onChange(() => {
          index.refresh().catch(() => undefined);
        });
      } catch (err) {
        this.log(`no change notifications (${(err as Error).message}); checking every ${pollMs} ms`);
      }
    }
    while (!this.closed && !index.ready) {
      try {
        await index.refresh();
      } catch (err) {
        this.message = `loading partition ${formatPartition(this.partition)} failed, retrying: ${(err as Error).message}`;
        this.log(this.message);
        await this.sleep(pollMs);
      }
    }
    if (this.closed) return;
    this.message = undefined;
    this.readyResolve();
    if (this.o.register !== false) this.beat();
    this.every(pollMs, () => {
      index.refresh().then(
        () => this.problem('follow', undefined),
        (err) => this.problem('follow', `following the catalogue failed (still serving generation ${index.generation}): ${(err as Error).message}`),
      );
    });
  }

  /** Announces now (one announcement at a time: a slow database never piles them up). */
  private readonly beat = (): void => {
    this.announcing = this.announcing.then(() => this.announce()).catch(() => undefined);
  };

  private async announce(): Promise<void> {
    if (this.closed || !this.space) return;
    const idx = this.index;
    try {
      await this.o.store.announceShard({
        node: this.node,
        space: this.space,
        partition: this.partition,
        url: this.advertised,
        generation: idx?.generation ?? -1,
        ready: idx?.ready === true,
        size: idx?.size ?? 0,
        started_at: this.started,
      });
      this.problem('announce', undefined);
    } catch (err) {
      this.problem('announce', `announcing in the shard registry failed: ${(err as Error).message}`);
    }
  }

  /** Logs a failure when it starts or changes, and its end: not once per poll while the database is down. */
  private problem(what: string, message: string | undefined): void {
    const before = this.problems.get(what);
    if (message === before) return;
    if (message === undefined) {
      this.problems.delete(what);
      this.log(`${what === 'follow' ? 'following the catalogue' : 'announcing in the shard registry'} works again`);
    } else {
      this.problems.set(what, message);
      this.log(message);
    }
  }
  private readonly problems = new Map<string, string>();

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      t.unref();
    });
  }

  private buildApp(): FastifyInstance {
    const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, return503OnClosing: true, onProtoPoisoning: 'error', onConstructorPoisoning: 'error' });
    const matches = this.o.token !== undefined ? tokenMatcher(this.o.token) : undefined;
    if (matches) {
      app.addHook('onRequest', async (req, reply) => {
        if (!matches(bearerOf(req))) {
          reply.header('www-authenticate', 'Bearer realm="nitamono-shard"');
          return sendError(reply, new ApiError(401, 'UNAUTHORIZED', 'this shard needs its token as "Authorization: Bearer <token>"'));
        }
        return undefined;
      });
    }
    const ctx = { maxUploadBytes: BODY_LIMIT, redact: [] };
    app.setErrorHandler((err, req, reply) => {
      const e = toApiError(err, ctx);
      if (e.status >= 500 && e.code !== 'UNAVAILABLE') this.log(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return sendError(reply, e);
    });
    app.setNotFoundHandler((req, reply) => sendError(reply, notFound(`no route ${req.method} ${req.url.split('?')[0]}`)));

    app.get(
      '/health',
      {
        schema: {
          summary: 'Readiness and facts of this shard: 200 when its partition is loaded, 503 while it starts',
          response: { 200: HEALTH_SCHEMA, 503: HEALTH_SCHEMA, ...errors({ 401: 'A token is required' }) },
        },
      },
      async (_req, reply) => {
        const h = this.health();
        return reply.code(h.status === 'ready' ? 200 : 503).send(h);
      },
    );

    app.post<{ Body: ShardSearchRequest }>(
      '/search',
      {
        schema: {
          summary: 'The k nearest vectors of this partition to each query of a batch',
          body: SEARCH_BODY,
          response: {
            200: SEARCH_REPLY,
            ...errors({
              400: 'Bad body (INVALID_ARGUMENT), queries of another dimension (DIMENSION_MISMATCH) or holding NaN/∞ (NOT_FINITE)',
              401: 'A token is required',
              413: 'Body larger than the limit',
              503: 'The partition is still loading (UNAVAILABLE)',
            }),
          },
        },
      },
      async (req) => {
        const t0 = performance.now();
        const idx = this.index;
        if (!idx?.ready) throw new NitamonoError('UNAVAILABLE', `shard ${formatPartition(this.partition)} is still loading: ${this.message ?? 'starting'}`);
        const b = req.body;
        const queries = base64ToF32(b.queries, 'queries');
        const nq = queries.length / b.dim;
        if (!Number.isInteger(nq) || nq < 1) throw invalid(`queries hold ${queries.length} numbers, not a whole number (≥ 1) of ${b.dim}-d vectors`);
        if (nq > MAX_SHARD_BATCH) throw invalid(`at most ${MAX_SHARD_BATCH} queries per request, got ${nq}`);
        if (b.min_generation !== undefined && idx.generation < b.min_generation) {
          await idx.waitForGeneration(b.min_generation, b.wait_ms ?? DEFAULT_WAIT_MS);
        }
        const r = await idx.search(queries, b.dim, b.k, { ...(b.nprobe !== undefined ? { nprobe: b.nprobe } : {}), ...(b.exact ? { exact: true } : {}) });
        const reply: ShardSearchReply = {
          shard: { ...this.partition },
          generation: r.generation,
          size: r.size,
          dim: b.dim,
          nq: r.nq,
          k: r.k,
          index: r.index,
          ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
          ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
          ...(r.quantizerVersion !== undefined ? { quantizer_version: r.quantizerVersion } : {}),
          labels: i32ToBase64(r.labels),
          distances: f32ToBase64(r.distances),
          distances_computed: r.distancesComputed,
          search_ms: round3(r.searchMs),
          took_ms: round3(performance.now() - t0),
          ...(r.warnings.length ? { warnings: r.warnings } : {}),
        };
        return reply;
      },
    );
    return app;
  }

  /** Stops following, withdraws from the registry, closes the server (in-flight requests finish), frees the index. The store is the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
    await this.announcing;
    if (this.o.register !== false && this.space) await this.o.store.withdrawShard(this.node).catch(() => undefined);
    await this.app.close();
    this.index?.close();
  }
}
