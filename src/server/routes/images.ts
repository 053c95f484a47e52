/**
 * The images of the collection as JSON: list, facts of one, and — behind the write guard — add
 * and remove.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { readInput } from '../input.js';
import { checkKnown, IMAGE_ID, IMAGE_LIST_QUERY, parseIdSegment, parseIntOrDefault } from '../params.js';
import { errorResponses, idParams, imageUrls, objectOf, ref } from '../schemas.js';

const WRITE_ERRORS = {
  401: 'Missing or wrong bearer token (a session cookie is not enough to write)',
  403: 'Writes disabled (no --allow-write), or a cross-origin request',
  409: 'Another process is writing the collection (LOCKED); the message names it',
  503: 'The collection cannot be written here (READ_ONLY), or the deep model cannot be loaded (MODEL_UNAVAILABLE); searching still works',
  507: 'The disk is full (NO_SPACE); nothing of this request was stored',
};

export const imageRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, limits, thumbs, sweeps, writeGuard } = ctx;
  // The bearer token when this server requires it to write, else nothing (writes may still be off).
  const writeSecurity: Record<string, string[]>[] = ctx.info.tokenRequired ? [{ bearer: [] }] : [{}];

  app.get(
    '/api/images',
    {
      schema: {
        summary: 'Searchable images, by id',
        operationId: 'listImages',
        querystring: objectOf(IMAGE_LIST_QUERY, { closed: true }),
        response: {
          200: {
            description: 'A page of images',
            type: 'object',
            required: ['total', 'offset', 'limit', 'images'],
            properties: {
              total: { type: 'integer', description: 'Searchable images in all' },
              offset: { type: 'integer' },
              limit: { type: 'integer' },
              images: { type: 'array', items: ref('ImageSummary') },
            },
          },
          ...errorResponses({ 400: 'Bad parameter' }),
        },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      checkKnown(q, Object.keys(IMAGE_LIST_QUERY));
      const offset = parseIntOrDefault('offset', IMAGE_LIST_QUERY.offset, q.offset);
      const limit = parseIntOrDefault('limit', IMAGE_LIST_QUERY.limit, q.limit);
      const { total, images } = await collection.listImages(offset, limit);
      return { total, offset, limit, images: images.map((r) => ({ id: r.id, path: r.path, width: r.width, height: r.height, ...imageUrls(r.id) })) };
    },
  );

  app.get(
    '/api/images/:id',
    {
      schema: {
        summary: "One image's facts",
        operationId: 'getImage',
        params: idParams(IMAGE_ID),
        response: { 200: { description: 'The image', ...ref('Image') }, ...errorResponses({ 400: 'The id is not an integer', 404: 'Unknown id' }) },
      },
    },
    async (req) => {
      const id = parseIdSegment((req.params as { id: string }).id);
      const info = await collection.getImage(id);
      if (info?.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
      return { id, path: info.path, width: info.width, height: info.height, format: info.format, size: info.size, ...imageUrls(id) };
    },
  );

  app.post(
    '/api/images',
    {
      onRequest: writeGuard,
      schema: {
        summary: 'Add an image to the collection (needs --allow-write; off localhost also the bearer token)',
        description: 'The file is written under uploads/ in the collection folder, its features extracted and added to the index.',
        operationId: 'addImage',
        security: writeSecurity,
        consumes: ['multipart/form-data'],
        body: {
          type: 'object',
          required: ['image'],
          additionalProperties: false,
          properties: { image: { type: 'string', format: 'binary', description: 'The image file' } },
        },
        response: {
          201: { description: 'Added', ...ref('Image') },
          ...errorResponses({
            400: 'Not multipart, no image, or another field',
            ...WRITE_ERRORS,
            413: 'Upload larger than the server limit',
            415: 'Content-Type is not multipart/form-data',
            422: 'Not a supported image, or too many pixels',
            503: `Too many uploads being processed at once (BUSY); or ${WRITE_ERRORS[503]}`,
          }),
        },
      },
    },
    async (req, reply) => {
      if (!req.isMultipart()) throw badRequest('send the image as multipart/form-data in the field "image"');
      const { fields, upload } = await readInput(req, limits);
      const extra = Object.keys(fields);
      if (extra.length) throw badRequest(`unexpected field "${extra[0]}" (only the file field "image")`);
      if (!upload) throw badRequest('no image: send the file in the multipart field "image"');
      const info = await collection.addImage(upload.buffer, upload.filename || 'upload');
      sweeps.clear();
      return reply.code(201).send({ id: info.id, path: info.path, width: info.width, height: info.height, format: info.format, ...imageUrls(info.id) });
    },
  );

  app.delete(
    '/api/images/:id',
    {
      onRequest: writeGuard,
      schema: {
        summary: 'Remove an image from search (needs --allow-write; off localhost also the bearer token)',
        description: 'A file under uploads/ is deleted; any other file stays on disk and is excluded from search (a re-index does not bring it back).',
        operationId: 'removeImage',
        security: writeSecurity,
        params: idParams(IMAGE_ID),
        response: {
          200: {
            description: 'Removed',
            type: 'object',
            required: ['id', 'removed'],
            properties: { id: { type: 'integer' }, removed: { type: 'boolean', enum: [true] } },
          },
          ...errorResponses({ 400: 'The id is not an integer', ...WRITE_ERRORS, 404: 'Unknown id', 415: 'A body of a type the server does not read' }),
        },
      },
    },
    async (req) => {
      const id = parseIdSegment((req.params as { id: string }).id);
      const info = await collection.getImage(id);
      if (info?.status !== 'ok') throw notFound(`no image with id ${id} in this collection`);
      const removed = await collection.removeImage(id);
      if (!removed) throw notFound(`no image with id ${id} in this collection`);
      thumbs.deletePrefix(`${id}:`);
      sweeps.clear();
      return { id, removed: true };
    },
  );
};
