/**
 * GET /api/stats: facts about the collection and the server. Reading them never changes
 * anything: an inverted file the collection has not built yet is reported by the nlist it would
 * get, flagged as an estimate, rather than built.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { KindStats } from '../../collection/index.js';
import type { ServerContext } from '../context.js';
import { costTable } from '../costs.js';
import { MAX_K } from '../params.js';
import { errorResponses, ref } from '../schemas.js';

const int = { type: 'integer' } as const;

const indexFacts = {
  type: 'object',
  nullable: true,
  description: 'The primary index (null when there are no vectors yet)',
  required: ['kind', 'size', 'nlist', 'list_sizes', 'memory_bytes', 'file_bytes', 'generation'],
  properties: {
    kind: { type: 'string', enum: ['flat', 'ivf'] },
    size: int,
    nlist: { type: 'integer', nullable: true },
    list_sizes: {
      type: 'object',
      nullable: true,
      description: 'Vectors per list of an inverted file',
      required: ['min', 'max', 'mean', 'empty'],
      properties: { min: int, max: int, mean: { type: 'number' }, empty: int },
    },
    memory_bytes: int,
    file_bytes: int,
    generation: int,
  },
};

const statsResponse = {
  description: 'Statistics',
  type: 'object',
  required: ['images', 'skipped', 'excluded', 'generation', 'index_policy', 'features', 'default_features', 'memory', 'disk_bytes', 'server'],
  properties: {
    images: { type: 'integer', description: 'N, searchable images' },
    skipped: { type: 'integer', description: 'Files that could not be read as images' },
    excluded: { type: 'integer', description: 'Images removed from search' },
    generation: { type: 'integer', description: 'Changes with every change of the collection' },
    index_policy: { type: 'string', enum: ['auto', 'flat', 'ivf'] },
    features: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kind', 'dim', 'index', 'ivf_nlist', 'ivf_nlist_estimated', 'costs'],
        properties: {
          kind: { type: 'string', enum: ['color', 'deep'] },
          dim: { type: 'integer', description: 'D' },
          index: indexFacts,
          ivf_nlist: { type: 'integer', nullable: true, description: 'Lists of the inverted file used by method=ivf (null for an empty collection)' },
          ivf_nlist_estimated: {
            type: 'boolean',
            description: 'true when no inverted file has been seen yet: ivf_nlist is then the number one would be built with (configured, or ⌈√N⌉)',
          },
          costs: ref('CostTable'),
        },
      },
    },
    default_features: { type: 'string', enum: ['color', 'deep'] },
    memory: {
      type: 'object',
      required: ['index_bytes', 'rss_bytes', 'heap_used_bytes'],
      properties: { index_bytes: int, rss_bytes: int, heap_used_bytes: int },
    },
    disk_bytes: { type: 'integer', description: 'Size of the collection folder' },
    server: {
      type: 'object',
      required: ['allow_write', 'token_required', 'max_upload_bytes', 'max_pixels', 'max_k'],
      properties: { allow_write: { type: 'boolean' }, token_required: { type: 'boolean' }, max_upload_bytes: int, max_pixels: int, max_k: int },
    },
  },
};

export const statsRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const { collection, nlists, info } = ctx;

  /** The inverted file's nlist: the primary's when it is one, else the last one searched, else the planned one. */
  const ivfNlist = (f: KindStats, n: number): { nlist: number | null; estimated: boolean } => {
    if (n === 0) return { nlist: null, estimated: false };
    const known = f.index?.kind === 'ivf' && f.index.nlist ? f.index.nlist : nlists.known(f.kind);
    return known !== undefined ? { nlist: known, estimated: false } : { nlist: nlists.planned(n), estimated: true };
  };

  app.get(
    '/api/stats',
    {
      schema: {
        summary: "Collection facts: N, D per feature kind, index kind, nlist, memory, disk, the seed's cost table for this N and D",
        operationId: 'stats',
        response: { 200: statsResponse, ...errorResponses({}) },
      },
    },
    async () => {
      const st = await collection.stats();
      const mem = process.memoryUsage();
      return {
        images: st.images,
        skipped: st.skipped,
        excluded: st.excluded,
        generation: st.generation,
        index_policy: st.index_policy,
        features: st.features.map((f) => {
          const { nlist, estimated } = ivfNlist(f, st.images);
          return { kind: f.kind, dim: f.dim, index: f.index, ivf_nlist: nlist, ivf_nlist_estimated: estimated, costs: costTable(st.images, f.dim, nlist) };
        }),
        default_features: collection.defaultFeatures,
        memory: { index_bytes: st.memory_bytes, rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
        disk_bytes: st.disk_bytes,
        server: {
          allow_write: info.allowWrite,
          token_required: info.tokenRequired,
          max_upload_bytes: info.maxUploadBytes,
          max_pixels: info.maxPixels,
          max_k: MAX_K,
        },
      };
    },
  );
};
