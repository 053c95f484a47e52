/**
 * The HTTP API of a collection of cluster mode (`nitamono serve --catalog`): searches go to the
 * collection's shards through the coordinator (ClusterSearch); the server holds no index and no
 * collection folder. Read-only, API only for now: POST /api/search, the OpenAPI document and,
 * when reads need the token, the login URL. Uploads into the collection, image files and
 * thumbnails, statistics and the web page are the single-machine server's (./server.ts) — they
 * need the collection's folder of images to be served from this machine, which cluster mode
 * does not assume yet.
 *
 *   const search = await ClusterSearch.open('postgres://…', { collection: 'photos' });
 *   const app = createClusterServer({ search });
 *   await app.listen({ host: '127.0.0.1', port: 3000 });
 *
 * Same access rules, limits, error format and generated OpenAPI document as the single-machine
 * server (they share `buildApp`).
 */
import type { FastifyInstance } from 'fastify';
import type { ClusterSearch } from '../cluster/client.js';
import type { Credentials } from './access/credentials.js';
import type { ServerInfo } from './context.js';
import type { InputLimits } from './input.js';
import { clusterSearchRoutes } from './routes/cluster-search.js';
import { loginRoutes } from './routes/login.js';
import { openapiRoutes } from './routes/openapi.js';
import { buildApp, type CommonServerOptions } from './server.js';

export interface ClusterServerOptions extends Omit<CommonServerOptions, 'allowWrite'> {
  /** The collection's search (the caller opens and closes it). */
  search: ClusterSearch;
}

export type ClusterServerContext = {
  search: ClusterSearch;
  info: ServerInfo;
  limits: InputLimits;
  credentials: Credentials;
};

/** Builds the server (not yet listening). */
export function createClusterServer(opts: ClusterServerOptions): FastifyInstance {
  if ((opts as { allowWrite?: boolean }).allowWrite) throw new Error('a cluster-mode server is read-only: uploads and removals are not served yet');
  const { search, ...common } = opts;
  return buildApp<ClusterServerContext>({ ...common, allowWrite: false }, (info, credentials) => ({
    ctx: { search, info, limits: { maxUploadBytes: info.maxUploadBytes, maxPixels: info.maxPixels }, credentials },
    redact: search.settings.root ? [search.settings.root] : [],
    plugins: [clusterSearchRoutes, openapiRoutes, loginRoutes],
  }));
}
