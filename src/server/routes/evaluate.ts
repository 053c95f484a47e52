/** POST /api/evaluate: how faithful the inverted file's answer to one query is to exact search. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { costTable } from '../costs.js';
import { badRequest } from '../errors.js';
import { readInput } from '../input.js';
import { parseSearchParams, SEARCH_FIELDS } from '../params.js';
import { queryOf, uploadOf } from '../query.js';
import { errorResponses, queryBody, ref } from '../schemas.js';
import { QUERY_ERRORS } from './search.js';

const timing = {
  type: 'object',
  required: ['took_ms', 'distances_computed'],
  properties: { took_ms: { type: 'number' }, distances_computed: { type: 'integer' } },
};

const evaluationResponse = {
  description: 'Recall and timings',
  type: 'object',
  required: ['features', 'k', 'nprobe', 'nlist', 'n', 'dim', 'recall_at_1', 'recall_at_k', 'exact', 'ivf', 'speedup', 'cost'],
  properties: {
    features: { type: 'string', description: 'color, deep or the name of learned features' },
    k: { type: 'integer' },
    nprobe: { type: 'integer' },
    nlist: { type: 'integer' },
    n: { type: 'integer' },
    dim: { type: 'integer' },
    recall_at_1: { type: 'number', description: "1 if the inverted file's first result is the exact nearest neighbour (or ties with it)" },
    recall_at_k: { type: 'number', description: '|ivf top-k ∩ exact top-k| / k, equal-distance ties counted as found' },
    exact: timing,
    ivf: timing,
    speedup: { type: 'number', nullable: true, description: 'exact time / ivf time (null when the ivf search took no measurable time)' },
    cost: ref('Cost'),
  },
};

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export const evaluateRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, nlists, limits, sharedQueries } = ctx;

  app.post(
    '/api/evaluate',
    {
      schema: {
        summary: 'Recall@k of the inverted-file answer against exact search for one query, with both timings',
        description: 'The query and parameters are those of POST /api/search; method, if given, can only be ivf.',
        operationId: 'evaluate',
        body: queryBody(SEARCH_FIELDS),
        response: { 200: evaluationResponse, ...errorResponses(QUERY_ERRORS) },
      },
    },
    async (req) => {
      const { fields, upload } = await readInput(req, limits);
      const p = parseSearchParams(fields, collection.searchableFeatures);
      if (fields.method !== undefined && p.method !== 'ivf')
        throw badRequest('evaluate compares the inverted file with exact search; method can only be "ivf"');
      const query = await queryOf(collection, p.id, await uploadOf(sharedQueries, p, upload, limits.maxPixels));
      const ev = await collection.evaluateQuery(query, {
        k: p.k,
        features: p.features,
        ...(p.nprobe !== undefined ? { nprobe: p.nprobe } : {}),
        ...(p.filter ? { filter: p.filter } : {}),
      });
      nlists.remember(ev.features, ev.nlist);
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
        cost: costTable(ev.exact.n, ev.exact.dim, ev.nlist).collection,
      };
    },
  );
};
