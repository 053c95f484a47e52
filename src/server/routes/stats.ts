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

const nullableInt = { type: 'integer', nullable: true } as const;
const nullableNumber = { type: 'number', nullable: true } as const;

const tuningPoint = {
  type: 'object',
  required: ['nprobe', 'refine_factor', 'recall', 'cost'],
  properties: {
    nprobe: nullableInt,
    refine_factor: nullableNumber,
    recall: { type: 'number', description: '10-recall@10, ties counted, true distances' },
    cost: { type: 'number', description: 'Multiply-adds per query (re-ranking reads counted as distances)' },
  },
} as const;

const tuningFacts = {
  type: 'object',
  nullable: true,
  description: 'What --target-recall chose, measured on queries drawn from the collection against exact search (null: not tuned)',
  required: ['target_recall', 'k', 'queries', 'seed', 'nprobe', 'refine_factor', 'recall', 'reached', 'n', 'tried', 'took_ms'],
  properties: {
    target_recall: { type: 'number' },
    k: int,
    queries: int,
    seed: int,
    nprobe: nullableInt,
    refine_factor: nullableNumber,
    recall: { type: 'number', description: 'Measured at the choice' },
    reached: { type: 'boolean' },
    n: { type: 'integer', description: 'Vectors in the index when it was tuned' },
    tried: { type: 'array', items: tuningPoint },
    took_ms: int,
  },
} as const;

const indexFacts = {
  type: 'object',
  nullable: true,
  description: 'The primary index (null when there are no vectors yet)',
  required: [
    'kind',
    'factory',
    'size',
    'nlist',
    'list_sizes',
    'memory_bytes',
    'bytes_per_image',
    'refine_bytes',
    'raw_bytes',
    'file_bytes',
    'generation',
    'reason',
    'budget_bytes',
    'search_defaults',
    'tuning',
  ],
  properties: {
    kind: { type: 'string', enum: ['flat', 'ivf', 'sq8', 'pq', 'ivf-sq8', 'ivf-pq', 'fp16', 'ivf-fp16'] },
    factory: { type: 'string', description: "The index as a Faiss factory string ('Flat', 'IVF317,Flat', 'IVF317,PQ64,RFlat')" },
    codec: { type: 'string', description: 'PQ kinds: sub-quantizers, bits (4: fast scan), bytes a vector, of residuals or vectors' },
    size: int,
    nlist: { type: 'integer', nullable: true },
    list_sizes: {
      type: 'object',
      nullable: true,
      description: 'Vectors per list of an inverted file',
      required: ['min', 'max', 'mean', 'empty'],
      properties: { min: int, max: int, mean: { type: 'number' }, empty: int },
    },
    memory_bytes: { type: 'integer', description: 'RAM of the index: vectors or codes, ids, centroids, codebooks, tables' },
    bytes_per_image: { type: 'number', description: 'memory_bytes / size' },
    refine_bytes: { type: 'integer', description: 'Full vectors the index is re-ranked with, read from the catalogue on disk (0: not re-ranked)' },
    raw_bytes: { type: 'integer', description: 'size·D·4: the vectors as float32, for comparison' },
    file_bytes: int,
    generation: int,
    reason: { type: 'string', nullable: true, description: "Why this index (auto's rule, or the policy)" },
    budget_bytes: { type: 'integer', nullable: true, description: "This kind's share of the memory budget the index was planned under" },
    search_defaults: {
      type: 'object',
      description: 'What a search uses when it names none: the tuned values, else the defaults',
      required: ['nprobe', 'refine_factor'],
      properties: { nprobe: nullableInt, refine_factor: nullableNumber },
    },
    tuning: tuningFacts,
  },
};

const statsResponse = {
  description: 'Statistics',
  type: 'object',
  required: [
    'images',
    'skipped',
    'excluded',
    'generation',
    'index_policy',
    'memory_budget',
    'target_recall',
    'features',
    'default_features',
    'memory',
    'disk_bytes',
    'server',
  ],
  properties: {
    images: { type: 'integer', description: 'N, searchable images' },
    skipped: { type: 'integer', description: 'Files that could not be read as images' },
    excluded: { type: 'integer', description: 'Images removed from search' },
    generation: { type: 'integer', description: 'Changes with every change of the collection' },
    index_policy: { type: 'string', description: 'auto, flat, ivf, or a Faiss factory string (IVF1024,SQ8, IVF1024,PQ64,RFlat, …)' },
    memory_budget: { type: 'integer', nullable: true, description: 'Bytes of RAM the indexes may take under auto (null: half the available memory)' },
    target_recall: { type: 'number', nullable: true, description: 'The 10-recall@10 searches are tuned for (null: not tuned)' },
    features: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kind', 'dim', 'index', 'ivf_nlist', 'ivf_nlist_estimated', 'costs'],
        properties: {
          kind: { type: 'string', description: 'color, deep or the name of learned features' },
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
    default_features: { type: 'string', description: 'color, deep or the name of learned features' },
    memory: {
      type: 'object',
      required: ['index_bytes', 'refine_bytes', 'rss_bytes', 'heap_used_bytes'],
      properties: {
        index_bytes: { type: 'integer', description: 'RAM of the indexes' },
        refine_bytes: { type: 'integer', description: 'Full vectors re-ranking reads from the catalogue on disk (not RAM)' },
        rss_bytes: int,
        heap_used_bytes: int,
      },
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
    // an approximate primary (IVF, compressed) is the index method=ivf searches: its nlist (none for SQ8 and PQ without lists)
    if (f.index && f.index.kind !== 'flat') return { nlist: f.index.nlist, estimated: false };
    const known = nlists.known(f.kind);
    return known !== undefined ? { nlist: known, estimated: false } : { nlist: nlists.planned(n), estimated: true };
  };

  app.get(
    '/api/stats',
    {
      schema: {
        summary:
          "Collection facts: N, D per feature kind, index kind (factory string), nlist, memory (RAM, bytes per image, re-ranking vectors on disk), tuning, disk, the seed's cost table for this N and D",
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
        memory_budget: st.memory_budget,
        target_recall: st.target_recall,
        features: st.features.map((f) => {
          const { nlist, estimated } = ivfNlist(f, st.images);
          return { kind: f.kind, dim: f.dim, index: f.index, ivf_nlist: nlist, ivf_nlist_estimated: estimated, costs: costTable(st.images, f.dim, nlist) };
        }),
        default_features: collection.defaultFeatures,
        memory: {
          index_bytes: st.memory_bytes,
          refine_bytes: st.features.reduce((a, f) => a + (f.index?.refine_bytes ?? 0), 0),
          rss_bytes: mem.rss,
          heap_used_bytes: mem.heapUsed,
        },
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
