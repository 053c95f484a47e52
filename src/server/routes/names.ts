/** GET /api/names: search by name — the images whose file and folder names hold the words asked. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { checkKnown, NAME_QUERY, parseFilterFields, parseIntOrDefault } from '../params.js';
import { errorResponses, imageUrls, objectOf } from '../schemas.js';

export const nameRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection } = ctx;

  app.get(
    '/api/names',
    {
      schema: {
        summary: 'Search by name: images whose file and folder names hold every word, best first',
        description:
          'Words are split at / _ - . camelCase and digits and match name tokens by prefix; Japanese and other scripts without spaces match by characters. ' +
          'Quotes, *, -, parentheses, NEAR, AND… are plain text. A query without letters or digits matches the path as text. ' +
          'The filter fields of POST /api/search narrow it further. (No text–image model runs offline: words match names, not pixels.)',
        operationId: 'searchNames',
        querystring: objectOf(NAME_QUERY, { closed: true, required: ['q'] }),
        response: {
          200: {
            description: 'Matching images, best first',
            type: 'object',
            required: ['total', 'offset', 'limit', 'query', 'results'],
            properties: {
              total: { type: 'integer', description: 'Images matching in all' },
              offset: { type: 'integer' },
              limit: { type: 'integer' },
              query: {
                type: 'object',
                description: 'The words looked for, or the literal text',
                properties: { words: { type: 'array', items: { type: 'string' } }, literal: { type: 'string' } },
              },
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['id', 'path'],
                  properties: { id: { type: 'integer' }, path: { type: 'string' }, thumbnail_url: { type: 'string' }, file_url: { type: 'string' } },
                },
              },
            },
          },
          ...errorResponses({ 400: 'Bad parameter (q empty, limit, offset, a filter field)' }),
        },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      checkKnown(q, Object.keys(NAME_QUERY));
      if (typeof q.q !== 'string' || q.q.trim() === '') throw badRequest('q must hold the words to search for');
      if (q.q.length > NAME_QUERY.q.maxLength) throw badRequest(`q is longer than ${NAME_QUERY.q.maxLength} characters`);
      const offset = parseIntOrDefault('offset', NAME_QUERY.offset, q.offset);
      const limit = parseIntOrDefault('limit', NAME_QUERY.limit, q.limit);
      const filter = parseFilterFields(q);
      const r = await collection.searchNames(q.q, { limit, offset, ...(filter ? { filter } : {}) });
      return { total: r.total, offset, limit, query: r.query, results: r.results.map((h) => ({ id: h.id, path: h.path, ...imageUrls(h.id) })) };
    },
  );
};
