/** POST /api/search: the k images most similar to an uploaded image or to an image of the collection. */
import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import { costTable } from '../costs.js';
import { readInput } from '../input.js';
import { parseSearchParams, SEARCH_FIELDS } from '../params.js';
import { HISTOGRAM_BINS, QueryHistograms, queryOf, uploadOf } from '../query.js';
import { errorResponses, imageUrls, queryBody, ref } from '../schemas.js';

export const QUERY_ERRORS = {
  400: 'Bad parameter (k, nprobe, features, method, id, query, a filter field), malformed JSON or multipart, or no query or more than one',
  404: 'Unknown image id, or a query hash this server no longer keeps',
  409: 'The collection has no vectors of this kind yet (EMPTY_INDEX)',
  413: 'Upload or body larger than the server limit',
  415: 'Content-Type is neither application/json nor multipart/form-data',
  422: 'The upload is not a supported image (DECODE_FAILED) or has too many pixels (TOO_LARGE)',
  503: 'Too many uploads being processed at once (BUSY); retry after the Retry-After seconds; or the deep model cannot be loaded (MODEL_UNAVAILABLE)',
};

const searchResponse = {
  description: 'Results, best first',
  type: 'object',
  required: ['took_ms', 'extract_ms', 'method', 'features', 'distances_computed', 'n', 'dim', 'k', 'query', 'cost', 'results'],
  properties: {
    took_ms: { type: 'number' },
    extract_ms: { type: 'number', description: 'Feature extraction of an uploaded query' },
    method: { type: 'string', enum: ['exact', 'ivf'], description: 'The method used (when none was asked for: the index kind of the collection)' },
    features: { type: 'string', description: 'color, deep or the name of learned features' },
    distances_computed: { type: 'integer' },
    n: { type: 'integer', description: 'N, searchable images' },
    dim: { type: 'integer', description: 'D, numbers per vector' },
    k: { type: 'integer' },
    nprobe: { type: 'integer', description: 'Lists scanned (ivf)' },
    nlist: { type: 'integer', description: 'Lists of the inverted file (when not yet built: the number it will have)' },
    refine_factor: { type: 'number', description: 'Indexes re-ranked from the catalogue: refine_factor·k candidates were re-scored exactly' },
    index: { type: 'string', description: "The index searched, as a Faiss factory string ('Flat', 'IVF317,PQ64,RFlat', …)" },
    filtered: {
      type: 'integer',
      description: 'A filtered search (in, name, ids, since, until, min_size, max_size): the images that pass the filter, among which it searched',
    },
    query: {
      type: 'object',
      required: ['source'],
      properties: {
        source: { type: 'string', enum: ['indexed', 'extracted'] },
        id: { type: 'integer', description: 'A query by id: the image' },
        path: { type: 'string' },
        thumbnail_url: { type: 'string' },
        file_url: { type: 'string' },
        filename: { type: 'string', description: 'An uploaded query: its name and size' },
        ref: {
          type: 'string',
          description:
            'An uploaded query: "sha256:<hex>", to send as `query` to search with the same image again (a shareable link); absent if it could not be kept',
        },
        width: { type: 'integer' },
        height: { type: 'integer' },
      },
    },
    cost: ref('Cost'),
    color_histogram: {
      type: 'object',
      description: "The query's colour histogram, 4 bins per channel (R, G, B): the seed's 12 numbers. Only for colour features.",
      required: ['bins', 'channels', 'values'],
      properties: { bins: { type: 'integer' }, channels: { type: 'array', items: { type: 'string' } }, values: { type: 'array', items: { type: 'number' } } },
    },
    results: { type: 'array', items: ref('Hit') },
    warnings: { type: 'array', items: { type: 'string' } },
  },
};

export const searchRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, nlists, limits, sharedQueries } = ctx;
  const histograms = new QueryHistograms(collection, limits.maxPixels);

  app.post(
    '/api/search',
    {
      schema: {
        summary: 'The k images most similar to a query image',
        operationId: 'search',
        body: queryBody(SEARCH_FIELDS),
        response: { 200: searchResponse, ...errorResponses(QUERY_ERRORS) },
      },
    },
    async (req) => {
      const { fields, upload: given } = await readInput(req, limits);
      const p = parseSearchParams(fields, collection.searchableFeatures);
      const upload = await uploadOf(sharedQueries, p, given, limits.maxPixels);
      const query = await queryOf(collection, p.id, upload);
      const [res, histogram] = await Promise.all([
        collection.search(query, {
          k: p.k,
          features: p.features,
          ...(p.method !== undefined ? { method: p.method } : {}),
          ...(p.nprobe !== undefined ? { nprobe: p.nprobe } : {}),
          ...(p.filter ? { filter: p.filter } : {}),
        }),
        p.features === 'color' ? histograms.of(p.id, upload) : undefined,
      ]);
      nlists.remember(res.features, res.nlist);
      // Kept once the search succeeded, so only images that are queries get a link; a full temp
      // folder costs the link, not the answer.
      const ref = p.shared ?? (given ? await sharedQueries.put(given.buffer).catch(() => undefined) : undefined);
      const warnings = [...(res.warnings ?? [])];
      if (res.method === 'ivf' && p.nprobe !== undefined && res.nprobe !== undefined && p.nprobe > res.nprobe) {
        warnings.push(`nprobe ${p.nprobe} is more than the ${res.nlist ?? res.nprobe} lists of the inverted file; used ${res.nprobe}`);
      }
      const nlist = res.nlist ?? nlists.forCost(res.features, res.n);
      return {
        took_ms: res.took_ms,
        extract_ms: res.extract_ms,
        method: res.method,
        features: res.features,
        distances_computed: res.distances_computed,
        n: res.n,
        dim: res.dim,
        k: p.k,
        ...(res.nprobe !== undefined ? { nprobe: res.nprobe } : {}),
        ...(nlist ? { nlist } : {}),
        ...(res.refine_factor !== undefined ? { refine_factor: res.refine_factor } : {}),
        ...(res.index !== undefined ? { index: res.index } : {}),
        ...(res.filtered !== undefined ? { filtered: res.filtered } : {}),
        query: {
          source: res.query.source,
          ...(res.query.id !== undefined ? { id: res.query.id, path: res.query.path, ...imageUrls(res.query.id) } : {}),
          ...(upload ? { filename: upload.filename, width: upload.width, height: upload.height } : {}),
          ...(ref !== undefined ? { ref: `sha256:${ref}` } : {}),
        },
        cost: costTable(res.n, res.dim, nlist).collection,
        ...(histogram ? { color_histogram: { bins: HISTOGRAM_BINS, channels: ['r', 'g', 'b'], values: histogram } } : {}),
        results: res.results.map((r) => ({ id: r.id, path: r.path, distance: r.distance, ...imageUrls(r.id) })),
        ...(warnings.length ? { warnings } : {}),
      };
    },
  );
};
