/**
 * The bytes of the images: thumbnails and original files. Only for ids of the catalogue whose
 * real path lies inside the collection's root; nothing is ever built from a user-given path.
 */
import { constants as fsc } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { Collection } from '../../collection/index.js';
import { makeThumbnail } from '../../image/decode.js';
import type { ServerContext } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { IMAGE_ID, parseIdSegment, parseIntParam } from '../params.js';
import { FILE_CSP } from '../protections.js';
import { errorResponses, idParams } from '../schemas.js';

export const THUMBNAIL_SIZES = [64, 128, 256, 512] as const;
export const DEFAULT_THUMBNAIL_SIZE = 256;

const CONTENT_TYPES: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
  avif: 'image/avif',
  svg: 'image/svg+xml',
};

const FILE_ERRORS = {
  400: 'Bad id',
  403: 'The file resolves outside the collection folder',
  404: 'Unknown id, or the file is missing',
};

export const binary = (type: string, description: string) => ({ description, content: { [type]: { schema: { type: 'string', format: 'binary' } } } });

function isInside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** A searchable image of the catalogue and its file, opened after checking it lies inside the root. */
async function openImageFile(collection: Collection, rootReal: string, rawId: string) {
  const id = parseIdSegment(rawId);
  const info = await collection.getImage(id);
  if (info?.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
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
  let fh: Awaited<ReturnType<typeof open>>;
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
}

export const imageFileRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, rootReal, thumbs, limits } = ctx;

  app.get(
    '/api/images/:id/thumbnail',
    {
      schema: {
        summary: 'A JPEG thumbnail of an image of the collection',
        operationId: 'thumbnail',
        params: idParams(IMAGE_ID),
        querystring: {
          type: 'object',
          properties: { size: { type: 'integer', enum: [...THUMBNAIL_SIZES], default: DEFAULT_THUMBNAIL_SIZE, description: 'Longest side in pixels' } },
        },
        response: {
          200: binary('image/jpeg', 'JPEG, cacheable (ETag)'),
          304: { description: 'Not modified (If-None-Match matched the ETag)', type: 'null' },
          ...errorResponses({ ...FILE_ERRORS, 400: 'Bad id or size', 422: 'The file cannot be decoded' }),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const size = q.size === undefined ? DEFAULT_THUMBNAIL_SIZE : parseIntParam('size', q.size, 1, 4096);
      if (!(THUMBNAIL_SIZES as readonly number[]).includes(size)) throw badRequest(`size must be one of ${THUMBNAIL_SIZES.join(', ')}`);
      const { id, fh } = await openImageFile(collection, rootReal, (req.params as { id: string }).id);
      const key = `${id}:${size}`;
      let buf = thumbs.get(key);
      try {
        if (!buf) {
          const bytes = await fh.readFile();
          buf = await makeThumbnail(bytes, size, { maxPixels: limits.maxPixels });
          thumbs.set(key, buf, buf.length);
        }
      } finally {
        await fh.close();
      }
      const etag = `"t${id}-${size}"`;
      reply.header('ETag', etag).header('Cache-Control', 'private, max-age=3600');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('image/jpeg').send(buf);
    },
  );

  app.get(
    '/api/images/:id/file',
    {
      schema: {
        summary: 'The original file of an image of the collection',
        description: 'Served with a sandboxing Content-Security-Policy (an SVG never runs scripts in this origin).',
        operationId: 'file',
        params: idParams(IMAGE_ID),
        response: { 200: binary('image/*', 'The file as stored'), ...errorResponses(FILE_ERRORS) },
      },
    },
    async (req, reply) => {
      const { info, fh, size } = await openImageFile(collection, rootReal, (req.params as { id: string }).id);
      const type = CONTENT_TYPES[info.format ?? ''] ?? 'application/octet-stream';
      const name = info.path.split('/').pop() ?? `image-${info.id}`;
      reply
        .header('Content-Type', type)
        .header('Content-Length', String(size))
        .header('Content-Disposition', contentDisposition(name))
        .header('Content-Security-Policy', FILE_CSP)
        .header('Cache-Control', 'private, max-age=3600');
      return reply.send(fh.createReadStream());
    },
  );
};
