/**
 * The HTTP API and web page of nitamono (`nitamono serve`).
 *
 *   const app = createServer({ collection });
 *   await app.listen({ host: '127.0.0.1', port: 3000 });
 *
 * Each group of routes is a fastify plugin under ./routes, with JSON schemas from which
 * GET /api/openapi.json is generated. Searches and feature extraction go through the collection's
 * worker-thread APIs, thumbnails through sharp (libuv pool), so the event loop only moves bytes.
 * Who may read and write is decided once (./access/policy.ts): on loopback every request must
 * name a loopback Host; elsewhere every request needs the token (bearer header or the login
 * URL's session cookie) unless `public`; writes are off unless `allowWrite`.
 */
import { realpathSync } from 'node:fs';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyPluginOptions, type FastifyRequest } from 'fastify';
import type { Collection } from '../collection/index.js';
import { ENVIRONMENT_CODES, NitamonoError } from '../errors.js';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { Credentials } from './access/credentials.js';
import { type AccessPolicy, accessPolicy } from './access/policy.js';
import { readGuard } from './access/read-guard.js';
import { writeGuard } from './access/write-guard.js';
import { createContext, type ServerContext, type ServerInfo } from './context.js';
import { type ErrorContext, notFound, sendError, toApiError } from './errors.js';
import type { InputLimits } from './input.js';
import { securityHeaders, uploadLimiter } from './protections.js';
import { duplicatesRoutes } from './routes/duplicates.js';
import { evaluateRoutes } from './routes/evaluate.js';
import { imageFileRoutes } from './routes/image-files.js';
import { imageRoutes } from './routes/images.js';
import { loginRoutes } from './routes/login.js';
import { nameRoutes } from './routes/names.js';
import { openapiRoutes, swaggerOptions } from './routes/openapi.js';
import { searchRoutes } from './routes/search.js';
import { sharedQueryRoutes } from './routes/shared-queries.js';
import { staticRoutes, webRootDir } from './routes/static.js';
import { statsRoutes } from './routes/stats.js';
import { sweepRoutes } from './routes/sweep.js';
import { SHARED_SCHEMAS } from './schemas.js';
import type { SharedQueriesOptions } from './shared-queries.js';

export { isLoopbackHost } from './access/hosts.js';
export type { ReadAccess } from './access/policy.js';
export type { ServerInfo } from './context.js';
export { HISTOGRAM_BINS } from './query.js';
export { DEFAULT_THUMBNAIL_SIZE, THUMBNAIL_SIZES } from './routes/image-files.js';
export { webRootDir } from './routes/static.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export interface ServerOptions {
  collection: Collection;
  /** Enable POST /api/images and DELETE /api/images/:id (default false). */
  allowWrite?: boolean;
  /** The token (bearer header, login URL); generated when needed and not given. */
  token?: string;
  /**
   * The address the server will be bound to (default 127.0.0.1). On localhost, 127.0.0.0/8 or
   * ::1 every request must name a loopback Host; on any other address every route needs the
   * token (reads not with `public`; writes always).
   */
  host?: string;
  /** Off loopback, serve reads to anyone without the token (writes still need it). */
  public?: boolean;
  /** Largest accepted upload (default 20 MB) → 413 above. */
  maxUploadBytes?: number;
  /** Largest accepted image in pixels, checked from the header (default 100 MP) → 422 above. */
  maxPixels?: number;
  /** fastify logger option (default off). */
  logger?: boolean | object;
  /** Uploads processed at the same time (each may hold up to maxUploadBytes); more → 503. Default 8. */
  maxConcurrentUploads?: number;
  /** Called for every 5xx with the underlying error (default: written to stderr). */
  onInternalError?: (err: unknown, req: FastifyRequest) => void;
  /** Where uploaded query images are kept for shared links, and how many (./shared-queries.ts). */
  sharedQueries?: SharedQueriesOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    nitamono: ServerInfo;
  }
}

/** Every route of the server, each group a plugin given the shared ServerContext. */
const ROUTE_PLUGINS: readonly FastifyPluginAsync<ServerContext>[] = [
  searchRoutes,
  sharedQueryRoutes,
  nameRoutes,
  evaluateRoutes,
  sweepRoutes,
  duplicatesRoutes,
  statsRoutes,
  imageRoutes,
  imageFileRoutes,
  openapiRoutes,
  loginRoutes,
  staticRoutes,
];

function positiveInteger(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  return v;
}

function realRoot(collection: Collection): string {
  try {
    return realpathSync(collection.root);
  } catch {
    return collection.root;
  }
}

/**
 * Builds the server (not yet listening): `const app = createServer({ collection }); await app.listen(…)`.
 * Plugins load on `ready()` / `listen()`.
 */
export function createServer(opts: ServerOptions): FastifyInstance {
  const collection = opts.collection;
  return buildApp(opts, (info, credentials, policy) => {
    const rootReal = realRoot(collection);
    return {
      ctx: createContext(collection, info, rootReal, credentials, writeGuard(policy, credentials), opts.sharedQueries),
      redact: [rootReal, collection.root, collection.path],
      plugins: ROUTE_PLUGINS,
    };
  });
}

/** The options of every nitamono server, whatever it serves. */
export type CommonServerOptions = Omit<ServerOptions, 'collection'>;

/** What a kind of server adds to the common base: its routes, the context they share, and the paths its errors never show. */
export interface ServerParts<C extends FastifyPluginOptions> {
  ctx: C;
  redact: string[];
  plugins: readonly FastifyPluginAsync<C>[];
}

/**
 * The base every nitamono server shares — access policy and guards, input parsers and limits,
 * the OpenAPI document, the error format, security headers — with the routes of `parts`.
 */
export function buildApp<C extends FastifyPluginOptions>(
  opts: CommonServerOptions,
  parts: (info: ServerInfo, credentials: Credentials, policy: AccessPolicy) => ServerParts<C>,
): FastifyInstance {
  const maxUploadBytes = positiveInteger('maxUploadBytes', opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isFinite(maxPixels) && maxPixels > 0)) throw new Error(`maxPixels must be a positive number, got ${maxPixels}`);
  const maxConcurrentUploads = positiveInteger('maxConcurrentUploads', opts.maxConcurrentUploads ?? 8);
  const policy = accessPolicy(opts);
  const credentials = new Credentials(policy.token);
  const info: ServerInfo = { ...policy, maxUploadBytes, maxPixels, webRoot: webRootDir() };
  const { ctx, redact, plugins } = parts(info, credentials, policy);
  const limits: InputLimits = { maxUploadBytes, maxPixels };
  const errorCtx: ErrorContext = { maxUploadBytes, redact: [...new Set(redact)] };
  const internalError =
    opts.onInternalError ??
    ((err: unknown, req: FastifyRequest) => {
      // a refusal of the machine (disk full, read-only) is for the operator to fix: its message says all
      const said = err instanceof NitamonoError && ENVIRONMENT_CODES.includes(err.code) ? `${err.code}: ${err.message}` : undefined;
      process.stderr.write(`nitamono serve: ${req.method} ${req.url}: ${said ?? (err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    });

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 64 * 1024,
    requestTimeout: 120_000,
    // Only the JSON we parse ourselves; keep prototype poisoning out.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
  });
  app.decorate('nitamono', info);
  // First of all hooks, on every route and on unknown paths: nothing is answered, not even a
  // 404, to a request that may not read.
  app.addHook('onRequest', readGuard(policy.reads, credentials));

  // The parsers of ./params.ts validate requests: their messages are the API's error contract,
  // and multipart fields never reach a schema validator anyway. Request schemas (built from the
  // same specs) document the parameters; a validator here would only coerce and reword.
  app.setValidatorCompiler(() => () => true);

  // JSON and multipart only: text/plain bodies are refused with 415 rather than parsed as strings.
  app.removeContentTypeParser('text/plain');
  app.register(fastifyMultipart, { limits: { fileSize: maxUploadBytes, files: 1 } });

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.register(fastifySwagger, swaggerOptions(limits, policy.reads));

  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err, errorCtx);
    if ((e as { internal?: boolean }).internal || e.status >= 500) internalError(err, req);
    return sendError(reply, e);
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path.startsWith('/api/')) return sendError(reply, notFound(`no route ${req.method} ${path}`));
    return sendError(reply, notFound(`not found: ${path}`));
  });

  app.addHook('onSend', securityHeaders);
  app.addHook('onRequest', uploadLimiter(maxConcurrentUploads));

  for (const plugin of plugins) app.register(plugin, ctx);
  return app;
}
