/** GET /api/sweep: recall against search time of the inverted file at several nprobe values. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { costTable } from '../costs.js';
import { ApiError } from '../errors.js';
import { checkKnown, parseFeatureKind, parseIntOrDefault, SWEEP_QUERY } from '../params.js';
import { errorResponses, objectOf, ref } from '../schemas.js';
import { runSweep } from '../sweep.js';

const timing = {
  mean_ms: { type: 'number' },
  p50_ms: { type: 'number', description: 'Median' },
  distances_computed: { type: 'integer', description: 'Mean per query' },
};

const sweepResponse = {
  description: 'Sweep points, nprobe ascending',
  type: 'object',
  required: ['features', 'k', 'n', 'dim', 'nlist', 'queries', 'generation', 'exact', 'points', 'took_ms', 'costs'],
  properties: {
    features: { type: 'string', description: 'color, deep or the name of learned features' },
    k: { type: 'integer' },
    n: { type: 'integer' },
    dim: { type: 'integer' },
    nlist: { type: 'integer' },
    queries: { type: 'integer', description: 'Queries actually run' },
    generation: { type: 'integer', description: 'The state of the collection the sweep measured' },
    exact: { type: 'object', required: Object.keys(timing), properties: timing },
    points: {
      type: 'array',
      items: {
        type: 'object',
        required: ['nprobe', 'recall_at_k', 'recall_at_1', ...Object.keys(timing)],
        properties: {
          nprobe: { type: 'integer' },
          recall_at_k: { type: 'number', description: 'Mean over the queries' },
          recall_at_1: { type: 'number', description: 'Mean over the queries' },
          ...timing,
        },
      },
    },
    took_ms: { type: 'integer', description: 'Time the sweep took (it is run once per state of the collection)' },
    costs: ref('CostTable'),
  },
};

export const sweepRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, sweeps, nlists } = ctx;

  app.get(
    '/api/sweep',
    {
      schema: {
        summary: 'nprobe sweep: mean recall@k and search time of the inverted file at several nprobe values',
        description:
          "Uses a fixed, evenly spaced sample of the collection's images as queries; exact search is the ground truth. " +
          'Builds the inverted file if the collection has none yet. Cached until the collection changes.',
        operationId: 'sweep',
        querystring: objectOf(SWEEP_QUERY, { closed: true }),
        response: { 200: sweepResponse, ...errorResponses({ 400: 'Bad parameter', 409: 'The collection is empty (EMPTY_INDEX)' }) },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      checkKnown(q, Object.keys(SWEEP_QUERY));
      const kind = parseFeatureKind(q.features, collection.searchableFeatures);
      const k = parseIntOrDefault('k', SWEEP_QUERY.k, q.k);
      const queries = parseIntOrDefault('queries', SWEEP_QUERY.queries, q.queries);
      // cheap reads: stats() would also measure the collection folder
      const generation = await collection.generation();
      const { total: images } = await collection.listImages(0, 0);
      if (images === 0) throw new ApiError(409, 'EMPTY_INDEX', 'the collection has no images yet');
      const s = await sweeps.get(kind, k, queries, generation, () => runSweep(collection, kind, k, queries, generation));
      nlists.remember(kind, s.nlist);
      return { ...s, costs: costTable(s.n, s.dim, s.nlist) };
    },
  );
};
