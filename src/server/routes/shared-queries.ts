/** GET /api/queries/:ref/thumbnail: what an uploaded query looked like, for a shared link's page. */
import type { FastifyPluginAsync } from 'fastify';
import { makeThumbnail } from '../../image/decode.js';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { SEARCH_FIELDS } from '../params.js';
import { errorResponses } from '../schemas.js';
import { binary } from './image-files.js';

export const sharedQueryRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { sharedQueries, limits } = ctx;
  const spec = SEARCH_FIELDS.query;
  app.get(
    '/api/queries/:ref/thumbnail',
    {
      schema: {
        summary: 'A JPEG thumbnail (512 px) of a query image uploaded before',
        description: 'ref is the `query.ref` a search by upload returned ("sha256:<hex>").',
        operationId: 'queryThumbnail',
        params: { type: 'object', required: ['ref'], properties: { ref: { type: 'string', pattern: spec.pattern } } },
        response: {
          200: binary('image/jpeg', 'JPEG, cacheable: the hash names the content'),
          ...errorResponses({ 400: 'Not a query hash', 404: 'This server does not (or no longer) keep that image' }),
        },
      },
    },
    async (req, reply) => {
      const ref = (req.params as { ref: string }).ref;
      if (!new RegExp(spec.pattern).test(ref)) throw badRequest(`a query hash is sha256: and 64 hex digits, got ${JSON.stringify(ref)}`);
      const image = await sharedQueries.get(ref.slice('sha256:'.length));
      const thumb = await makeThumbnail(image, 512, { maxPixels: limits.maxPixels });
      reply.header('Cache-Control', 'private, max-age=3600');
      return reply.type('image/jpeg').send(thumb);
    },
  );
};
