/**
 * POST /api/search of `nitamono serve --catalog`: the k images most similar to an uploaded image
 * or to an image of the collection, searched by the collection's shards through the coordinator
 * (ClusterSearch). The request is the single-machine route's; the answer adds the coverage
 * (partitions that answered / partitions), the generations the shards answered at and each
 * shard's report, and has no image URLs (a cluster server serves no image files yet).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClusterQuery } from '../../cluster/client.js';
import type { ClusterServerContext } from '../cluster.js';
import { badRequest } from '../errors.js';
import { readInput } from '../input.js';
import { parseSearchParams, SEARCH_FIELDS } from '../params.js';
import { errorResponses, queryBody } from '../schemas.js';

const int = { type: 'integer' } as const;

const clusterSearchResponse = {
  description: 'Results, best first, merged from the shards that answered',
  type: 'object',
  required: [
    'mode',
    'took_ms',
    'extract_ms',
    'method',
    'features',
    'distances_computed',
    'n',
    'dim',
    'k',
    'query',
    'coverage',
    'generation',
    'shards',
    'results',
  ],
  properties: {
    mode: {
      type: 'string',
      enum: ['shards', 'local'],
      description: "'shards': merged from the shards that answered; 'local': no shard is registered, the server searched the whole collection itself",
    },
    took_ms: { type: 'number', description: "The coordinator's time: broadcast, wait, merge" },
    extract_ms: { type: 'number', description: 'Feature extraction of an uploaded query' },
    method: { type: 'string', enum: ['exact', 'ivf'] },
    features: { type: 'string', description: 'color, deep or the name of learned features' },
    distances_computed: int,
    n: { type: 'integer', description: 'Vectors in the partitions that answered' },
    dim: int,
    k: int,
    nprobe: int,
    nlist: int,
    query: {
      type: 'object',
      required: ['source'],
      properties: {
        source: { type: 'string', enum: ['indexed', 'extracted'] },
        id: int,
        path: { type: 'string' },
        filename: { type: 'string' },
        width: int,
        height: int,
      },
    },
    coverage: {
      type: 'object',
      required: ['shards', 'answered', 'ratio'],
      description: 'Partitions that answered within the deadline, of all partitions: below 1 the results lack the missing partitions',
      properties: { shards: int, answered: int, ratio: { type: 'number' } },
    },
    generation: {
      type: 'object',
      nullable: true,
      description: 'The lowest and highest catalogue generation the answering shards searched at',
      required: ['min', 'max'],
      properties: { min: int, max: int },
    },
    shards: {
      type: 'array',
      description: 'Per partition (empty in local mode)',
      items: {
        type: 'object',
        required: ['shard', 'of', 'status', 'tried'],
        properties: {
          shard: int,
          of: int,
          status: { type: 'string', enum: ['ok', 'error', 'timeout', 'missing'] },
          url: { type: 'string' },
          tried: int,
          took_ms: { type: 'number' },
          search_ms: { type: 'number' },
          shard_ms: { type: 'number' },
          generation: int,
          size: int,
          index: { type: 'string', enum: ['flat', 'ivf', 'empty'] },
          nprobe: int,
          nlist: int,
          distances_computed: int,
          error: { type: 'string' },
        },
      },
    },
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'path', 'distance'],
        properties: {
          id: int,
          path: { type: 'string', description: "Relative to the collection's image folder" },
          distance: { type: 'number', description: 'Squared Euclidean distance (smaller = more similar)' },
        },
      },
    },
    warnings: { type: 'array', items: { type: 'string' } },
  },
};

const CLUSTER_QUERY_ERRORS = {
  400: 'Bad parameter (k, nprobe, features, method, id), malformed JSON or multipart, or neither image nor id',
  404: 'Unknown image id',
  413: 'Upload or body larger than the server limit',
  415: 'Content-Type is neither application/json nor multipart/form-data',
  422: 'The upload is not a supported image (DECODE_FAILED) or has too many pixels (TOO_LARGE)',
  503: 'No shard answered (UNAVAILABLE), too many uploads at once (BUSY), or the deep model cannot be loaded (MODEL_UNAVAILABLE)',
};

export const clusterSearchRoutes: FastifyPluginAsync<ClusterServerContext> = async (app, ctx) => {
  const { search, limits } = ctx;

  app.post(
    '/api/search',
    {
      schema: {
        summary: "The k images most similar to a query image, from the collection's shards",
        operationId: 'search',
        body: queryBody(SEARCH_FIELDS),
        response: { 200: clusterSearchResponse, ...errorResponses(CLUSTER_QUERY_ERRORS) },
      },
    },
    async (req) => {
      const { fields, upload } = await readInput(req, limits);
      const p = parseSearchParams(fields, search.settings.features);
      if (p.shared !== undefined) throw badRequest('a cluster server keeps no uploaded query images: send the image itself (multipart field "image")');
      if (upload && p.id !== undefined) throw badRequest('give either an uploaded image or an id, not both');
      let query: ClusterQuery;
      if (upload) query = { buffer: upload.buffer, filename: upload.filename || 'upload' };
      else if (p.id !== undefined) query = { id: p.id };
      else throw badRequest('send an image (multipart field "image") or the id of an image of the collection ({ "id": 12 })');
      const r = await search.search(query, {
        k: p.k,
        features: p.features,
        ...(p.method === 'exact' ? { exact: true } : {}),
        ...(p.nprobe !== undefined ? { nprobe: p.nprobe } : {}),
        ...(p.filter ? { filter: p.filter } : {}),
      });
      return {
        mode: r.mode,
        took_ms: r.took_ms,
        extract_ms: r.extract_ms,
        method: r.method,
        features: r.features,
        distances_computed: r.distances_computed,
        n: r.n,
        dim: r.dim,
        k: r.k,
        ...(r.nprobe !== undefined ? { nprobe: r.nprobe } : {}),
        ...(r.nlist !== undefined ? { nlist: r.nlist } : {}),
        query: {
          source: r.query.source,
          ...(r.query.id !== undefined ? { id: r.query.id, path: r.query.path } : {}),
          ...(upload ? { filename: upload.filename, width: upload.width, height: upload.height } : {}),
        },
        coverage: r.coverage,
        generation: r.generation,
        shards: r.shards,
        results: r.results.map((h) => ({ id: h.id, path: h.path, distance: h.distance })),
        ...(r.warnings ? { warnings: r.warnings } : {}),
      };
    },
  );
};
