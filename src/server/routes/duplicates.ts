/**
 * GET /api/duplicates: groups of near-identical images and exact copies. The self-join runs on
 * worker threads (searchAsync); its answer is kept per (features, threshold, generation), so the
 * page asking again costs nothing until the collection changes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { DuplicateReport } from '../../collection/index.js';
import { checkDuplicateThreshold } from '../../collection/index.js';
import type { ServerContext } from '../context.js';
import { badRequest } from '../errors.js';
import { checkKnown, FEATURES, parseFeatureKind } from '../params.js';
import { errorResponses, imageUrls, objectOf } from '../schemas.js';

const THRESHOLD_SCHEMA = {
  type: 'number',
  minimum: 0,
  description: 'Largest squared L2 distance between two images of a group. Default: the calibrated one of the feature kind (required for uncalibrated kinds).',
};
const VERIFY_SCHEMA = { type: 'string', enum: ['true', 'false'], description: "'false' skips the pixel check of each pair (the check is on by default)" };
const QUERY_FIELDS = ['features', 'threshold', 'verify'];
/** Answers kept (features × threshold × generation), oldest dropped first. */
const CACHED = 4;

const duplicatesResponse = {
  description: 'Groups, exact copies first, then by max_distance',
  type: 'object',
  required: [
    'features',
    'model',
    'threshold',
    'threshold_source',
    'verified',
    'method',
    'neighbours',
    'n',
    'generation',
    'images_in_groups',
    'took_ms',
    'groups',
  ],
  properties: {
    features: { type: 'string' },
    model: { type: 'string', description: "The feature space's model version" },
    threshold: { type: 'number' },
    threshold_source: { type: 'string', enum: ['default', 'given'] },
    verified: { type: 'boolean', description: 'Every link was also checked on the pixels' },
    pixel_threshold: { type: 'number', description: 'When verified: the largest pixel distance of a link (grey levels)' },
    pixel_pairs: { type: 'integer', description: 'When verified: pairs of images compared on the pixels' },
    pixel_ms: { type: 'number', description: 'When verified: time of the pixel check' },
    pixel_prints: {
      type: 'object',
      description: "When verified: prints made from the files in this run, prints kept in the collection's cache, and why the cache could not be used, if so",
      properties: { made: { type: 'integer' }, kept: { type: 'integer' }, warning: { type: 'string' } },
    },
    method: { type: 'string', enum: ['exact', 'ivf'], description: 'exact: true nearest neighbours; ivf: the approximate index with a generous nprobe' },
    nprobe: { type: 'integer' },
    neighbours: { type: 'integer', description: 'Nearest neighbours examined per image' },
    candidate_pairs: { type: 'integer', description: 'Links the self-join found within the threshold' },
    n: { type: 'integer', description: 'Images searched' },
    generation: { type: 'integer', description: 'The state of the collection the answer reflects' },
    images_in_groups: { type: 'integer' },
    took_ms: { type: 'number', description: 'Time of the run that computed the answer (it is cached per state of the collection)' },
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['images', 'max_distance', 'exact'],
        properties: {
          images: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'path', 'exact_copy', 'thumbnail_url', 'file_url'],
              properties: {
                id: { type: 'integer' },
                path: { type: 'string', description: 'Relative to the collection folder' },
                exact_copy: { type: 'boolean', description: 'Another image of the group has the same content (SHA-256)' },
                thumbnail_url: { type: 'string' },
                file_url: { type: 'string' },
              },
            },
          },
          max_distance: { type: 'number', description: 'Largest squared L2 distance between two images of the group' },
          max_pixel_distance: { type: 'number', description: 'When verified: the largest pixel distance between two images of the group' },
          exact: { type: 'boolean', description: 'Every image has the same content: byte-identical copies' },
        },
      },
    },
  },
};

/** A query-string threshold: a decimal number ≥ 0. */
function parseThreshold(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'string' && /^\s*[+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n)) throw badRequest(`threshold must be a number ≥ 0 (a squared L2 distance, e.g. 0.05), got ${JSON.stringify(raw)}`);
  return checkDuplicateThreshold(n, 'threshold');
}

export const duplicatesRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection } = ctx;
  const answers = new Map<string, Promise<DuplicateReport>>();

  app.get(
    '/api/duplicates',
    {
      schema: {
        summary: 'Groups of near-identical images (resized, recompressed, slightly cropped, converted copies) and exact copies',
        description:
          "A k-NN self-join of the collection's index: each image's nearest neighbours within the threshold are linked, and groups are the connected sets of links and of files with the same content. Cached until the collection changes.",
        operationId: 'duplicates',
        querystring: objectOf({ features: FEATURES }, { closed: true, extra: { threshold: THRESHOLD_SCHEMA, verify: VERIFY_SCHEMA } }),
        response: { 200: duplicatesResponse, ...errorResponses({ 400: 'Bad parameter', 409: 'The collection is empty (EMPTY_INDEX)' }) },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      checkKnown(q, QUERY_FIELDS);
      const features = q.features === undefined || q.features === '' ? collection.defaultFeatures : parseFeatureKind(q.features, collection.searchableFeatures);
      const threshold = parseThreshold(q.threshold);
      if (q.verify !== undefined && q.verify !== 'true' && q.verify !== 'false')
        throw badRequest(`verify must be true or false, got ${JSON.stringify(q.verify)}`);
      const verify = q.verify !== 'false';
      const key = `${features}:${threshold ?? 'default'}:${verify}:${await collection.generation()}`;
      let p = answers.get(key);
      if (!p) {
        p = collection.findDuplicates({ features, verify, ...(threshold !== undefined ? { threshold } : {}) });
        answers.set(key, p);
        // a failure is not remembered: the next request tries again
        p.catch(() => answers.delete(key));
        if (answers.size > CACHED) answers.delete(answers.keys().next().value!);
      }
      const r = await p;
      return {
        ...r,
        groups: r.groups.map((g) => ({
          images: g.images.map((i) => ({ id: i.id, path: i.path, exact_copy: i.exact_copy, ...imageUrls(i.id) })),
          max_distance: g.max_distance,
          ...(g.max_pixel_distance !== undefined ? { max_pixel_distance: g.max_pixel_distance } : {}),
          exact: g.exact,
        })),
      };
    },
  );
};
