/** The web page: the files of ./web, served as they are (no bundler), left out of the API document. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';

/** The folder of the page's files: src/server/web, found from src/ or from dist/. */
export function webRootDir(): string {
  const candidates = [new URL('../web/', import.meta.url), new URL('../../../../src/server/web/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return fileURLToPath(candidates[candidates.length - 1]!);
}

export const staticRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  await app.register(fastifyStatic, {
    root: ctx.info.webRoot,
    prefix: '/',
    index: ['index.html'],
    wildcard: true,
    dotfiles: 'deny',
    cacheControl: true,
    maxAge: 0,
    etag: true,
    lastModified: true,
    schemaHide: true,
  });
};
