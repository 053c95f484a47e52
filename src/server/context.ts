/**
 * What the route plugins share: the collection, the limits, the caches that writes must
 * invalidate, the credentials and the write guard. createServer builds one per server and hands it to every
 * route plugin as its options, so nothing is module-global and two servers never share state.
 */
import type { onRequestAsyncHookHandler } from 'fastify';
import type { Collection } from '../collection/index.js';
import type { Credentials } from './access/credentials.js';
import type { AccessPolicy } from './access/policy.js';
import type { InputLimits } from './input.js';
import { ByteLru } from './lru.js';
import { NlistBook } from './nlist.js';
import { SharedQueries, type SharedQueriesOptions } from './shared-queries.js';
import { SweepCache } from './sweep.js';

/** Who may read and write (./access/policy.ts), and the limits. */
export interface ServerInfo extends AccessPolicy {
  maxUploadBytes: number;
  maxPixels: number;
  webRoot: string;
}

export type ServerContext = {
  collection: Collection;
  info: ServerInfo;
  limits: InputLimits;
  /** The collection's root with symlinks resolved: files are served only from inside it. */
  rootReal: string;
  /** JPEG thumbnails by `${id}:${size}`. */
  thumbs: ByteLru<Buffer>;
  sweeps: SweepCache;
  nlists: NlistBook;
  /** The token and the open sessions. */
  credentials: Credentials;
  /** onRequest hook of the routes that change the collection. */
  writeGuard: onRequestAsyncHookHandler;
  /** Uploaded query images, kept so a search by upload can be shared as a link. */
  sharedQueries: SharedQueries;
};

export const THUMBNAIL_CACHE_BYTES = 64 * 1024 * 1024;

export function createContext(
  collection: Collection,
  info: ServerInfo,
  rootReal: string,
  credentials: Credentials,
  writeGuard: onRequestAsyncHookHandler,
  sharedQueries: SharedQueriesOptions = {},
): ServerContext {
  return {
    collection,
    info,
    limits: { maxUploadBytes: info.maxUploadBytes, maxPixels: info.maxPixels },
    rootReal,
    thumbs: new ByteLru<Buffer>(THUMBNAIL_CACHE_BYTES),
    sweeps: new SweepCache(),
    nlists: new NlistBook(collection),
    credentials,
    writeGuard,
    sharedQueries: new SharedQueries(collection.path, sharedQueries),
  };
}
