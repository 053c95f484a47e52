/** GET /api/sweep: recall against search time of the inverted file at several nprobe values, and of other index kinds. */
import type { FastifyPluginAsync } from 'fastify';
import { SWEEP_KIND_NAMES } from '../../collection/index.js';
import type { ServerContext } from '../context.js';
import { costTable } from '../costs.js';
import { ApiError } from '../errors.js';
import { checkKnown, parseFeatureKind, parseIntOrDefault, parseSweepKinds, SWEEP_QUERY } from '../params.js';
import { errorResponses, objectOf, ref } from '../schemas.js';
import { runSweep, withKinds } from '../sweep.js';

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
    comparison: {
      type: 'object',
      description: 'With `kinds`: what the comparison of index kinds sampled and left out',
      required: ['train_vectors', 'train_max', 'time_budget_ms', 'skipped', 'took_ms'],
      properties: {
        train_vectors: {
          type: 'integer',
          description: 'Vectors the indexes built for the comparison were trained on (evenly spaced by id; 0 when none was built)',
        },
        train_max: { type: 'integer', description: 'The cap on training vectors' },
        time_budget_ms: { type: 'integer', description: 'Kinds and nprobe values beyond this budget are left out' },
        skipped: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'factory', 'reason'],
            properties: { name: { type: 'string' }, factory: { type: 'string' }, reason: { type: 'string' } },
          },
        },
        took_ms: { type: 'integer' },
      },
    },
    series: {
      type: 'array',
      description:
        "With `kinds`: one line per index kind, on this collection's vectors, with the same nlist, nprobe values, queries and exact ground truth as `points`. " +
        "Kinds other than the collection's own are built for the sweep and freed after it; recall uses true distances (read from the catalogue)",
      items: {
        type: 'object',
        required: ['name', 'label', 'factory', 'own', 'memory_bytes', 'refine_bytes', 'refine_factor', 'build_ms', 'trained_on', 'points', 'complete'],
        properties: {
          name: { type: 'string', enum: [...SWEEP_KIND_NAMES] },
          label: { type: 'string', description: "For a legend: 'IVF-Flat', 'IVF-SQ8', 'IVF-PQ16', 'IVF-PQ16 + re-rank'" },
          factory: { type: 'string', description: 'Faiss factory string' },
          own: { type: 'boolean', description: "The collection's own index (not built for the sweep)" },
          memory_bytes: { type: 'integer', description: 'RAM of the index' },
          refine_bytes: { type: 'integer', description: 'Full vectors re-ranking reads from the catalogue (disk); 0 without re-ranking' },
          refine_factor: { type: ['number', 'null'] },
          build_ms: { type: 'integer', description: "Training and adding (0 for the collection's own index)" },
          trained_on: { type: ['integer', 'null'] },
          complete: { type: 'boolean', description: 'False when the time budget ended the series before its last nprobe' },
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
        summary: 'nprobe sweep: mean recall@k and search time of the inverted file at several nprobe values (and, with kinds, of other index kinds)',
        description:
          "Uses a fixed, evenly spaced sample of the collection's images as queries; exact search is the ground truth. " +
          'Builds the inverted file if the collection has none yet. Cached until the collection changes. ' +
          "With `kinds`, also measures IVF-Flat, IVF-SQ8, IVF-PQ and IVF-PQ re-ranked from the catalogue on the collection's vectors (recall, time, RAM and disk bytes): " +
          'slower, as the kinds the collection does not hold are built for it (bounded by a cap on training vectors and a time budget, see `comparison`).',
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
      const kinds = parseSweepKinds(q.kinds);
      // cheap reads: stats() would also measure the collection folder
      const generation = await collection.generation();
      const { total: images } = await collection.listImages(0, 0);
      if (images === 0) throw new ApiError(409, 'EMPTY_INDEX', 'the collection has no images yet');
      // the comparison of kinds extends the plain sweep (cached on its own, as the page asks for it first)
      const plain = () => sweeps.get(kind, k, queries, generation, () => runSweep(collection, kind, k, queries, generation));
      const s =
        kinds.length === 0 ? await plain() : await sweeps.get(kind, k, queries, generation, async () => withKinds(collection, await plain(), kinds), kinds);
      nlists.remember(kind, s.nlist);
      return { ...s, costs: costTable(s.n, s.dim, s.nlist) };
    },
  );
};
