/**
 * The HTTP API and web page of nitamono (`nitamono serve`).
 *
 *   const app = await createServer({ collection });
 *   await app.listen({ host: '127.0.0.1', port: 3000 });
 *
 * Every route is described in ./openapi.ts (served at /api/openapi.json). Searches and feature
 * extraction go through the collection's worker-thread APIs, thumbnails through sharp (libuv
 * pool), so the event loop only moves bytes. Files are served only for ids of the catalogue whose
 * real path lies inside the collection's root; nothing is ever built from a user-given path.
 * Write routes are off unless `allowWrite`; off loopback (or with a token given) they need
 * `Authorization: Bearer <token>`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { realpathSync } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { Collection, SearchResponse } from '../collection/index.js';
import type { FeatureKind } from '../collection/index.js';
import { colorHistogram } from '../image/color.js';
import { DEFAULT_MAX_PIXELS, decodeImage, makeThumbnail } from '../image/decode.js';
import { ApiError, badRequest, errorBody, notFound, toApiError, type ErrorContext } from './errors.js';
import { readInput, type Upload } from './input.js';
import { ByteLru } from './lru.js';
import { buildOpenApi } from './openapi.js';
import { MAX_K, parseFeatures, parseIdSegment, parseIntParam, parseSearchParams, type SearchParams } from './params.js';
import { costTable } from './costs.js';
import { runSweep, type SweepResult } from './sweep.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
export const THUMBNAIL_SIZES = [64, 128, 256, 512] as const;
export const DEFAULT_THUMBNAIL_SIZE = 256;
/** The seed's histogram: 4 bins per channel. */
export const HISTOGRAM_BINS = 4;

export interface ServerOptions {
  collection: Collection;
  /** Enable POST /api/images and DELETE /api/images/:id (default false). */
  allowWrite?: boolean;
  /** Bearer token for the write routes; generated when needed and not given. */
  token?: string;
  /**
   * The address the server will be bound to (default 127.0.0.1). Anything but localhost,
   * 127.0.0.0/8 or ::1 makes the write routes require the token.
   */
  host?: string;
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
}

export interface ServerInfo {
  allowWrite: boolean;
  /** Whether the write routes need the bearer token. */
  tokenRequired: boolean;
  /** The token, when one is in force (given or generated). */
  token: string | undefined;
  /** Whether the token was generated here (the CLI prints it then). */
  tokenGenerated: boolean;
  maxUploadBytes: number;
  maxPixels: number;
  webRoot: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    nitamono: ServerInfo;
  }
}

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The folder of the page's files: next to this module in src/, or src/server/web from dist/. */
export function webRootDir(): string {
  const candidates = [new URL('./web/', import.meta.url), new URL('../../../src/server/web/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return fileURLToPath(candidates[candidates.length - 1]!);
}

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

const CONTENT_TYPES: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  svg: 'image/svg+xml',
};

const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Originals may be SVG: served sandboxed, so a script inside one never runs in our origin. */
const FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * Builds the server (not yet listening): `const app = createServer({ collection }); await app.listen(…)`.
 * Plugins load on `ready()` / `listen()`.
 */
export function createServer(opts: ServerOptions): FastifyInstance {
  const collection = opts.collection;
  const maxUploadBytes = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!Number.isInteger(maxUploadBytes) || maxUploadBytes < 1) throw new Error(`maxUploadBytes must be a positive integer, got ${maxUploadBytes}`);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isFinite(maxPixels) && maxPixels > 0)) throw new Error(`maxPixels must be a positive number, got ${maxPixels}`);
  const maxConcurrentUploads = opts.maxConcurrentUploads ?? 8;
  if (!Number.isInteger(maxConcurrentUploads) || maxConcurrentUploads < 1) throw new Error(`maxConcurrentUploads must be a positive integer, got ${maxConcurrentUploads}`);
  let uploadsInFlight = 0;
  const allowWrite = opts.allowWrite === true;
  const loopback = isLoopbackHost(opts.host);
  const tokenRequired = allowWrite && (!loopback || (opts.token !== undefined && opts.token !== ''));
  let token = opts.token || undefined;
  let tokenGenerated = false;
  if (tokenRequired && !token) {
    token = randomBytes(24).toString('base64url');
    tokenGenerated = true;
  }
  const tokenBytes = token ? Buffer.from(token, 'utf8') : undefined;
  const webRoot = webRootDir();
  let rootReal: string;
  try {
    rootReal = realpathSync(collection.root);
  } catch {
    rootReal = collection.root;
  }
  const errorCtx: ErrorContext = { maxUploadBytes, redact: [...new Set([rootReal, collection.root, collection.path])] };
  const thumbs = new ByteLru<Buffer>(64 * 1024 * 1024);
  const sweeps = new Map<string, Promise<SweepResult>>();
  const internalError =
    opts.onInternalError ??
    ((err: unknown, req: FastifyRequest) => {
      process.stderr.write(`nitamono serve: ${req.method} ${req.url}: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
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
  app.decorate('nitamono', { allowWrite, tokenRequired, token, tokenGenerated, maxUploadBytes, maxPixels, webRoot } satisfies ServerInfo);

  // JSON and multipart only: text/plain bodies are refused with 415 rather than parsed as strings.
  app.removeContentTypeParser('text/plain');
  app.register(fastifyMultipart, { limits: { fileSize: maxUploadBytes, files: 1 } });

  // ------------------------------------------------------------------ errors and headers

  const sendError = (reply: FastifyReply, e: ApiError) => {
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e));
  };

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

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', PAGE_CSP);
    const url = req.url;
    if (url.startsWith('/api/') && !reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  // Bounded memory: at most maxConcurrentUploads multipart bodies are read and processed at once.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'POST' || !/^multipart\//i.test(req.headers['content-type'] ?? '')) return;
    if (uploadsInFlight >= maxConcurrentUploads) {
      reply.header('Retry-After', '1');
      return sendError(reply, new ApiError(503, 'BUSY', `busy: ${maxConcurrentUploads} uploads are being processed, try again in a moment`, { connection: 'close' }));
    }
    uploadsInFlight++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        uploadsInFlight--;
      }
    };
    reply.raw.once('close', release);
    reply.raw.once('finish', release);
    return undefined;
  });

  // ------------------------------------------------------------------ helpers

  const features = (): FeatureKind[] => collection.features;

  const urls = (id: number) => ({ thumbnail_url: `/api/images/${id}/thumbnail`, file_url: `/api/images/${id}/file` });

  /** The query's colour histogram (4 bins per channel, the seed's 12 numbers). */
  const histogramOf = async (p: SearchParams, upload: Upload | undefined): Promise<number[] | undefined> => {
    if (p.features !== 'color') return undefined;
    if (p.id !== undefined && collection.config.color_bins === HISTOGRAM_BINS) {
      const v = await collection.storedVector(p.id, 'color');
      if (v) return Array.from(v, round4);
    }
    let input: Buffer | string | undefined = upload?.buffer;
    if (!input && p.id !== undefined) {
      const img = await collection.getImage(p.id);
      if (!img || img.status !== 'ok') return undefined;
      input = img.absolute_path;
    }
    if (!input) return undefined;
    try {
      const d = await decodeImage(input, { maxPixels, resize: { width: 256, height: 256, fit: 'inside' } });
      return Array.from(colorHistogram(d.data, d.width, d.height, HISTOGRAM_BINS), round4);
    } catch {
      return undefined; // the search itself reports a bad image
    }
  };

  const queryOf = async (p: SearchParams, upload: Upload | undefined) => {
    if (upload && p.id !== undefined) throw badRequest('give either an uploaded image or an id, not both');
    if (upload) return { buffer: upload.buffer, filename: upload.filename || 'upload' };
    if (p.id !== undefined) {
      const img = await collection.getImage(p.id);
      if (!img || img.status !== 'ok') throw notFound(`no image with id ${p.id} in this collection`);
      return { id: p.id };
    }
    throw badRequest('send an image (multipart field "image") or the id of an image of the collection ({ "id": 12 })');
  };

  const shapeResults = (res: SearchResponse) =>
    res.results.map((r) => ({ id: r.id, path: r.path, distance: r.distance, ...urls(r.id) }));

  const costFor = (n: number, d: number, nlist: number | null | undefined) => costTable(n, d, nlist ?? null).collection;

  /** Last nlist seen per kind: the cost figures of a search never wait for an IVF to be built. */
  const knownNlist = new Map<FeatureKind, number>();

  /** nlist of the inverted file for `kind` (built on first use when the collection is flat). */
  const ivfNlist = async (kind: FeatureKind): Promise<number | null> => {
    if ((await collection.catalog.okCount()) === 0) return null;
    const ivf = await collection.ivfIndex(kind);
    const nlist = typeof ivf.nlist === 'number' && ivf.nlist > 0 ? ivf.nlist : null;
    if (nlist) knownNlist.set(kind, nlist);
    return nlist;
  };

  /** nlist for the cost model of a search: the IVF's if known, else what it would be (⌈√N⌉ or the configured one). */
  const nlistForCost = (kind: FeatureKind, n: number): number =>
    knownNlist.get(kind) ?? Math.max(1, Math.min(n, collection.config.nlist ?? Math.ceil(Math.sqrt(Math.max(1, n)))));

  // ------------------------------------------------------------------ write protection

  const checkWrite = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!allowWrite) {
      return sendError(reply, new ApiError(403, 'FORBIDDEN', 'this server is read-only: start it with --allow-write to add or remove images'));
    }
    // Browsers send Origin on cross-site POST/DELETE: refuse requests made by other sites' pages.
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin !== undefined) {
      let originHost: string | undefined;
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = undefined;
      }
      if (!originHost || originHost !== host) {
        return sendError(reply, new ApiError(403, 'FORBIDDEN', 'cross-origin write requests are refused'));
      }
    }
    if (tokenRequired && tokenBytes) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const given = m ? Buffer.from(m[1]!, 'utf8') : undefined;
      const ok = given !== undefined && given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
      if (!ok) {
        return sendError(
          reply,
          new ApiError(401, 'UNAUTHORIZED', given ? 'wrong token' : 'this route needs "Authorization: Bearer <token>" (the token printed by nitamono serve)', {
            'www-authenticate': 'Bearer realm="nitamono"',
          }),
        );
      }
    } else if (loopback && host !== undefined) {
      // Bound to loopback without a token: only accept loopback Host names (no DNS rebinding).
      const name = host.replace(/:\d+$/, '');
      if (!isLoopbackHost(name)) return sendError(reply, new ApiError(403, 'FORBIDDEN', `write requests must address the server as localhost, not ${name}`));
    }
    return undefined;
  };

  // ------------------------------------------------------------------ API: search, evaluate, sweep, stats

  const inputLimits = { maxUploadBytes, maxPixels };

  app.post('/api/search', async (req) => {
    const { fields, upload } = await readInput(req, inputLimits);
    const p = parseSearchParams(fields, features());
    const query = await queryOf(p, upload);
    const [res, histogram] = await Promise.all([
      collection.search(query, { k: p.k, features: p.features, method: p.method, ...(p.nprobe !== undefined ? { nprobe: p.nprobe } : {}) }),
      histogramOf(p, upload),
    ]);
    if (res.nlist) knownNlist.set(res.features, res.nlist);
    const warnings = [...(res.warnings ?? [])];
    if (p.method === 'ivf' && p.nprobe !== undefined && res.nprobe !== undefined && p.nprobe > res.nprobe) {
      warnings.push(`nprobe ${p.nprobe} is more than the ${res.nlist ?? res.nprobe} lists of the inverted file; used ${res.nprobe}`);
    }
    const nlist = res.nlist ?? nlistForCost(res.features, res.n);
    return {
      took_ms: res.took_ms,
      extract_ms: res.extract_ms,
      method: res.method,
      features: res.features,
      distances_computed: res.distances_computed,
      n: res.n,
      dim: res.dim,
      k: p.k,
      ...(res.nprobe !== undefined ? { nprobe: res.nprobe } : {}),
      ...(nlist ? { nlist } : {}),
      query: {
        source: res.query.source,
        ...(res.query.id !== undefined ? { id: res.query.id, path: res.query.path, ...urls(res.query.id) } : {}),
        ...(upload ? { filename: upload.filename, width: upload.width, height: upload.height } : {}),
      },
      cost: costFor(res.n, res.dim, nlist),
      ...(histogram ? { color_histogram: { bins: HISTOGRAM_BINS, channels: ['r', 'g', 'b'], values: histogram } } : {}),
      results: shapeResults(res),
      ...(warnings.length ? { warnings } : {}),
    };
  });

  app.post('/api/evaluate', async (req) => {
    const { fields, upload } = await readInput(req, inputLimits);
    const p = parseSearchParams(fields, features());
    if (fields.method !== undefined && p.method !== 'ivf') throw badRequest('evaluate compares the inverted file with exact search; method can only be "ivf"');
    const query = await queryOf(p, upload);
    const ev = await collection.evaluateQuery(query, { k: p.k, features: p.features, ...(p.nprobe !== undefined ? { nprobe: p.nprobe } : {}) });
    const speedup = ev.ivf.took_ms > 0 ? ev.exact.took_ms / ev.ivf.took_ms : null;
    return {
      features: ev.features,
      k: ev.k,
      nprobe: ev.nprobe,
      nlist: ev.nlist,
      n: ev.exact.n,
      dim: ev.exact.dim,
      recall_at_1: ev.recall_at_1,
      recall_at_k: ev.recall_at_k,
      exact: { took_ms: ev.exact.took_ms, distances_computed: ev.exact.distances_computed },
      ivf: { took_ms: ev.ivf.took_ms, distances_computed: ev.ivf.distances_computed },
      speedup: speedup === null ? null : round3(speedup),
      cost: costFor(ev.exact.n, ev.exact.dim, ev.nlist),
    };
  });

  app.get('/api/sweep', async (req) => {
    const q = req.query as Record<string, unknown>;
    for (const key of Object.keys(q)) {
      if (!['features', 'k', 'queries'].includes(key)) throw badRequest(`unknown parameter "${key}" (expected features, k, queries)`);
    }
    const kind = parseFeatures(q.features, features());
    const k = q.k === undefined ? 10 : parseIntParam('k', q.k, 1, 100);
    const queries = q.queries === undefined ? 20 : parseIntParam('queries', q.queries, 1, 100);
    if ((await collection.catalog.okCount()) === 0) throw new ApiError(409, 'EMPTY_INDEX', 'the collection has no images yet');
    const key = `${kind}:${k}:${queries}:${await collection.generation()}`;
    let run = sweeps.get(key);
    if (!run) {
      run = runSweep(collection, kind, k, queries);
      sweeps.set(key, run);
      run.catch(() => sweeps.delete(key));
      if (sweeps.size > 16) sweeps.delete(sweeps.keys().next().value!);
    }
    const s = await run;
    return { ...s, costs: costTable(s.n, s.dim, s.nlist) };
  });

  app.get('/api/stats', async () => {
    const st = await collection.stats();
    const kinds = await Promise.all(
      st.features.map(async (f) => {
        const nlist = st.images > 0 ? await ivfNlist(f.kind).catch(() => null) : null;
        return {
          kind: f.kind,
          dim: f.dim,
          index: f.index,
          ivf_nlist: nlist,
          costs: costTable(st.images, f.dim, nlist),
        };
      }),
    );
    const mem = process.memoryUsage();
    return {
      images: st.images,
      skipped: st.skipped,
      excluded: st.excluded,
      generation: st.generation,
      index_policy: st.index_policy,
      features: kinds,
      default_features: collection.defaultFeatures,
      memory: { index_bytes: st.memory_bytes, rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
      disk_bytes: st.disk_bytes,
      server: { allow_write: allowWrite, token_required: tokenRequired, max_upload_bytes: maxUploadBytes, max_pixels: maxPixels, max_k: MAX_K },
    };
  });

  app.get('/api/openapi.json', async () => buildOpenApi({ maxUploadBytes, maxPixels }));

  // ------------------------------------------------------------------ API: images

  /** An image of the catalogue (searchable) and its file's real path, checked to be inside the root. */
  const imageFile = async (rawId: string) => {
    const id = parseIdSegment(rawId);
    const info = await collection.getImage(id);
    if (!info || info.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
    let real: string;
    try {
      real = await realpath(info.absolute_path);
    } catch {
      throw notFound(`the file of image ${id} (${info.path}) is missing`);
    }
    if (!isInside(rootReal, real)) {
      throw new ApiError(403, 'FORBIDDEN', `image ${id} (${info.path}) resolves outside the collection folder and is not served`);
    }
    // O_NOFOLLOW: the resolved path must still be the file itself, not a link swapped in meanwhile.
    let fh;
    try {
      fh = await open(real, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch {
      throw notFound(`the file of image ${id} (${info.path}) cannot be opened`);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw notFound(`image ${id} (${info.path}) is not a regular file`);
    }
    return { id, info, fh, size: st.size };
  };

  app.get('/api/images', async (req) => {
    const q = req.query as Record<string, unknown>;
    for (const key of Object.keys(q)) if (!['offset', 'limit'].includes(key)) throw badRequest(`unknown parameter "${key}" (expected offset, limit)`);
    const offset = q.offset === undefined ? 0 : parseIntParam('offset', q.offset, 0, 1e9);
    const limit = q.limit === undefined ? 24 : parseIntParam('limit', q.limit, 1, 200);
    const { total, images } = await collection.listImages(offset, limit);
    return { total, offset, limit, images: images.map((r) => ({ id: r.id, path: r.path, width: r.width, height: r.height, ...urls(r.id) })) };
  });

  app.get('/api/images/:id', async (req) => {
    const id = parseIdSegment((req.params as { id: string }).id);
    const info = await collection.getImage(id);
    if (!info || info.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
    return { id, path: info.path, width: info.width, height: info.height, format: info.format, size: info.size, ...urls(id) };
  });

  app.get('/api/images/:id/thumbnail', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const size = q.size === undefined ? DEFAULT_THUMBNAIL_SIZE : parseIntParam('size', q.size, 1, 4096);
    if (!(THUMBNAIL_SIZES as readonly number[]).includes(size)) throw badRequest(`size must be one of ${THUMBNAIL_SIZES.join(', ')}`);
    const { id, fh } = await imageFile((req.params as { id: string }).id);
    const key = `${id}:${size}`;
    let buf = thumbs.get(key);
    try {
      if (!buf) {
        const bytes = await fh.readFile();
        buf = await makeThumbnail(bytes, size, { maxPixels });
        thumbs.set(key, buf, buf.length);
      }
    } finally {
      await fh.close();
    }
    const etag = `"t${id}-${size}"`;
    reply.header('ETag', etag).header('Cache-Control', 'private, max-age=3600');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('image/jpeg').send(buf);
  });

  app.get('/api/images/:id/file', async (req, reply) => {
    const { info, fh, size } = await imageFile((req.params as { id: string }).id);
    const type = CONTENT_TYPES[info.format ?? ''] ?? 'application/octet-stream';
    const name = info.path.split('/').pop() ?? `image-${info.id}`;
    reply
      .header('Content-Type', type)
      .header('Content-Length', String(size))
      .header('Content-Disposition', contentDisposition(name))
      .header('Content-Security-Policy', FILE_CSP)
      .header('Cache-Control', 'private, max-age=3600');
    const stream = fh.createReadStream();
    return reply.send(stream);
  });

  app.post('/api/images', { onRequest: checkWrite }, async (req, reply) => {
    if (!req.isMultipart()) throw badRequest('send the image as multipart/form-data in the field "image"');
    const { fields, upload } = await readInput(req, inputLimits);
    const extra = Object.keys(fields);
    if (extra.length) throw badRequest(`unexpected field "${extra[0]}" (only the file field "image")`);
    if (!upload) throw badRequest('no image: send the file in the multipart field "image"');
    const info = await collection.addImage(upload.buffer, upload.filename || 'upload');
    sweeps.clear();
    return reply.code(201).send({ id: info.id, path: info.path, width: info.width, height: info.height, format: info.format, ...urls(info.id) });
  });

  app.delete('/api/images/:id', { onRequest: checkWrite }, async (req) => {
    const id = parseIdSegment((req.params as { id: string }).id);
    const info = await collection.getImage(id);
    if (!info || info.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
    const removed = await collection.removeImage(id);
    if (!removed) throw notFound(`no image with id ${id} in this collection`);
    thumbs.deletePrefix(`${id}:`);
    sweeps.clear();
    return { id, removed: true };
  });

  // ------------------------------------------------------------------ the page

  app.register(fastifyStatic, {
    root: webRoot,
    prefix: '/',
    index: ['index.html'],
    wildcard: true,
    dotfiles: 'deny',
    cacheControl: true,
    maxAge: 0,
    etag: true,
    lastModified: true,
  });

  return app;
}
