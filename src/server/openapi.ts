/** The OpenAPI 3.0 description of the HTTP API, served at GET /api/openapi.json. */

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const queryBodies = (what: string) => ({
  required: true,
  content: {
    'application/json': {
      schema: { $ref: '#/components/schemas/QueryById' },
      example: { id: 12, k: 10, features: 'color', method: 'ivf', nprobe: 4 },
    },
    'multipart/form-data': {
      schema: { $ref: '#/components/schemas/QueryByUpload' },
      encoding: { image: { contentType: 'image/*' } },
    },
  },
  description: `${what}: JSON with the id of an image of the collection, or multipart/form-data with the query image in the file field "image" (other parameters as text fields).`,
});

const searchErrors = {
  '400': errorResponse('Bad parameter (k, nprobe, features, method, id), malformed JSON or multipart, or neither image nor id'),
  '404': errorResponse('Unknown image id'),
  '413': errorResponse('Upload larger than the server limit'),
  '415': errorResponse('Content-Type is neither application/json nor multipart/form-data'),
  '422': errorResponse('The upload is not a supported image (DECODE_FAILED) or has too many pixels (TOO_LARGE)'),
  '503': errorResponse('Too many uploads being processed at once (BUSY); retry after the Retry-After seconds'),
};

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Image id (from search results or GET /api/images); digits only.',
  schema: { type: 'integer', minimum: 0 },
};

export function buildOpenApi(limits: { maxUploadBytes: number; maxPixels: number }): object {
  return {
    openapi: '3.0.3',
    info: {
      title: 'nitamono',
      version: '0.1.0',
      description:
        'Image similarity search (似たもの): colour-histogram or deep features, exact search (cost N·D) or an inverted file ' +
        `(cost ≈ D·(K + N/K), K ≈ √N). Uploads up to ${limits.maxUploadBytes} bytes and ${limits.maxPixels} pixels. ` +
        'Every error is `{ "error": { "code", "message" } }` with a 4xx/5xx status.',
    },
    servers: [{ url: '/' }],
    paths: {
      '/api/search': {
        post: {
          summary: 'The k images most similar to a query image',
          operationId: 'search',
          requestBody: queryBodies('The query'),
          responses: {
            '200': { description: 'Results, best first', content: { 'application/json': { schema: { $ref: '#/components/schemas/SearchResponse' } } } },
            ...searchErrors,
          },
        },
      },
      '/api/evaluate': {
        post: {
          summary: 'Recall@k of the inverted-file answer against exact search for one query, with both timings',
          operationId: 'evaluate',
          requestBody: queryBodies('The query (method is always ivf; nprobe as for search)'),
          responses: {
            '200': { description: 'Recall and timings', content: { 'application/json': { schema: { $ref: '#/components/schemas/Evaluation' } } } },
            ...searchErrors,
          },
        },
      },
      '/api/sweep': {
        get: {
          summary: 'nprobe sweep: mean recall@k and search time of the inverted file at several nprobe values',
          description: 'Uses a fixed, evenly spaced sample of the collection\'s images as queries; exact search is the ground truth. Cached until the collection changes.',
          operationId: 'sweep',
          parameters: [
            { name: 'features', in: 'query', schema: { type: 'string', enum: ['color', 'deep'] } },
            { name: 'k', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } },
            { name: 'queries', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          ],
          responses: {
            '200': { description: 'Sweep points', content: { 'application/json': { schema: { $ref: '#/components/schemas/Sweep' } } } },
            '400': errorResponse('Bad parameter'),
            '409': errorResponse('The collection is empty'),
          },
        },
      },
      '/api/stats': {
        get: {
          summary: 'Collection facts: N, D per feature kind, index kind, nlist, memory, disk, the seed\'s cost table for this N and D',
          operationId: 'stats',
          responses: { '200': { description: 'Statistics', content: { 'application/json': { schema: { $ref: '#/components/schemas/Stats' } } } } },
        },
      },
      '/api/images': {
        get: {
          summary: 'Searchable images, by id',
          operationId: 'listImages',
          parameters: [
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 24 } },
          ],
          responses: {
            '200': { description: 'A page of images', content: { 'application/json': { schema: { $ref: '#/components/schemas/ImageList' } } } },
            '400': errorResponse('Bad parameter'),
          },
        },
        post: {
          summary: 'Add an image to the collection (needs --allow-write; off localhost also the bearer token)',
          operationId: 'addImage',
          security: [{}, { bearer: [] }],
          requestBody: {
            required: true,
            content: { 'multipart/form-data': { schema: { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } } } },
          },
          responses: {
            '201': { description: 'Added', content: { 'application/json': { schema: { $ref: '#/components/schemas/Image' } } } },
            '400': errorResponse('Malformed multipart or no image'),
            '401': errorResponse('Missing or wrong bearer token'),
            '403': errorResponse('Writes disabled (no --allow-write) or a cross-origin request'),
            '413': errorResponse('Upload larger than the server limit'),
            '422': errorResponse('Not a supported image, or too many pixels'),
            '503': errorResponse('Too many uploads being processed at once (BUSY)'),
          },
        },
      },
      '/api/images/{id}': {
        get: {
          summary: 'One image\'s facts',
          operationId: 'getImage',
          parameters: [idParam],
          responses: {
            '200': { description: 'The image', content: { 'application/json': { schema: { $ref: '#/components/schemas/Image' } } } },
            '400': errorResponse('The id is not an integer'),
            '404': errorResponse('Unknown id'),
          },
        },
        delete: {
          summary: 'Remove an image from search (needs --allow-write; off localhost also the bearer token)',
          operationId: 'removeImage',
          security: [{}, { bearer: [] }],
          parameters: [idParam],
          responses: {
            '200': { description: 'Removed', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'integer' }, removed: { type: 'boolean' } } } } } },
            '400': errorResponse('The id is not an integer'),
            '401': errorResponse('Missing or wrong bearer token'),
            '403': errorResponse('Writes disabled (no --allow-write) or a cross-origin request'),
            '404': errorResponse('Unknown id'),
          },
        },
      },
      '/api/images/{id}/thumbnail': {
        get: {
          summary: 'A JPEG thumbnail of an image of the collection',
          operationId: 'thumbnail',
          parameters: [idParam, { name: 'size', in: 'query', schema: { type: 'integer', enum: [64, 128, 256, 512], default: 256 } }],
          responses: {
            '200': { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
            '304': { description: 'Not modified (ETag)' },
            '400': errorResponse('Bad id or size'),
            '403': errorResponse('The file resolves outside the collection folder'),
            '404': errorResponse('Unknown id or missing file'),
            '422': errorResponse('The file cannot be decoded'),
          },
        },
      },
      '/api/images/{id}/file': {
        get: {
          summary: 'The original file of an image of the collection',
          operationId: 'file',
          parameters: [idParam],
          responses: {
            '200': { description: 'The file as stored', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
            '400': errorResponse('Bad id'),
            '403': errorResponse('The file resolves outside the collection folder'),
            '404': errorResponse('Unknown id or missing file'),
          },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', operationId: 'openapi', responses: { '200': { description: 'OpenAPI 3 JSON' } } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Token from --token, or the one nitamono serve generates and prints' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', example: 'INVALID_ARGUMENT', description: 'INVALID_ARGUMENT, BAD_REQUEST, NOT_FOUND, PAYLOAD_TOO_LARGE, TOO_LARGE, DECODE_FAILED, UNSUPPORTED_MEDIA_TYPE, UNAUTHORIZED, FORBIDDEN, EMPTY_INDEX, BUSY, INTERNAL, …' },
                message: { type: 'string' },
              },
            },
          },
        },
        SearchParams: {
          type: 'object',
          properties: {
            k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
            features: { type: 'string', enum: ['color', 'deep'], description: 'Default: the first kind the collection stores' },
            method: { type: 'string', enum: ['exact', 'ivf'], default: 'exact' },
            nprobe: { type: 'integer', minimum: 1, description: 'Inverted lists to scan (ivf); clamped to nlist' },
          },
        },
        QueryById: { allOf: [{ $ref: '#/components/schemas/SearchParams' }, { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 0 } } }] },
        QueryByUpload: {
          allOf: [{ $ref: '#/components/schemas/SearchParams' }, { type: 'object', required: ['image'], properties: { image: { type: 'string', format: 'binary' } } }],
        },
        Hit: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            path: { type: 'string', description: 'Relative to the collection folder' },
            distance: { type: 'number', description: 'Squared Euclidean distance (smaller = more similar)' },
            thumbnail_url: { type: 'string' },
            file_url: { type: 'string' },
          },
        },
        Cost: {
          type: 'object',
          description: "The seed's cost model for this N and D",
          properties: {
            n: { type: 'integer' },
            d: { type: 'integer' },
            k_groups: { type: 'integer', description: 'K, the inverted file\'s number of lists' },
            exact: { type: 'number', description: 'N·D' },
            ivf: { type: 'number', description: 'D·(K + N/K)' },
            ivf_seed: { type: 'number', description: 'D·√N (the seed\'s cost table)' },
            ivf_optimal: { type: 'number', description: '2·D·√N, D·(K + N/K) at K = √N' },
            ratio: { type: 'number' },
          },
        },
        SearchResponse: {
          type: 'object',
          properties: {
            took_ms: { type: 'number' },
            extract_ms: { type: 'number', description: 'Feature extraction of an uploaded query' },
            method: { type: 'string', enum: ['exact', 'ivf'] },
            features: { type: 'string', enum: ['color', 'deep'] },
            distances_computed: { type: 'integer' },
            n: { type: 'integer' },
            dim: { type: 'integer' },
            k: { type: 'integer' },
            nprobe: { type: 'integer' },
            nlist: { type: 'integer' },
            query: { type: 'object' },
            cost: { $ref: '#/components/schemas/Cost' },
            color_histogram: {
              type: 'object',
              description: 'The query\'s colour histogram, 4 bins per channel (R, G, B): the seed\'s 12 numbers. Only for colour features.',
              properties: { bins: { type: 'integer' }, channels: { type: 'array', items: { type: 'string' } }, values: { type: 'array', items: { type: 'number' } } },
            },
            results: { type: 'array', items: { $ref: '#/components/schemas/Hit' } },
            warnings: { type: 'array', items: { type: 'string' } },
          },
        },
        Evaluation: {
          type: 'object',
          properties: {
            features: { type: 'string' },
            k: { type: 'integer' },
            nprobe: { type: 'integer' },
            nlist: { type: 'integer' },
            recall_at_1: { type: 'number' },
            recall_at_k: { type: 'number' },
            exact: { type: 'object', properties: { took_ms: { type: 'number' }, distances_computed: { type: 'integer' } } },
            ivf: { type: 'object', properties: { took_ms: { type: 'number' }, distances_computed: { type: 'integer' } } },
            speedup: { type: 'number', nullable: true },
            cost: { $ref: '#/components/schemas/Cost' },
          },
        },
        Sweep: {
          type: 'object',
          properties: {
            features: { type: 'string' },
            k: { type: 'integer' },
            n: { type: 'integer' },
            dim: { type: 'integer' },
            nlist: { type: 'integer' },
            queries: { type: 'integer' },
            exact: { type: 'object', properties: { mean_ms: { type: 'number' }, p50_ms: { type: 'number' }, distances_computed: { type: 'number' } } },
            points: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  nprobe: { type: 'integer' },
                  recall_at_k: { type: 'number' },
                  recall_at_1: { type: 'number' },
                  mean_ms: { type: 'number' },
                  p50_ms: { type: 'number' },
                  distances_computed: { type: 'number' },
                },
              },
            },
            costs: { type: 'object', properties: { collection: { $ref: '#/components/schemas/Cost' }, seed: { type: 'array', items: { $ref: '#/components/schemas/Cost' } } } },
          },
        },
        Stats: {
          type: 'object',
          properties: {
            images: { type: 'integer', description: 'N, searchable images' },
            skipped: { type: 'integer' },
            excluded: { type: 'integer' },
            features: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  kind: { type: 'string' },
                  dim: { type: 'integer', description: 'D' },
                  index: { type: 'object', nullable: true, description: 'Primary index: kind (flat|ivf), size, nlist, list sizes, memory and file bytes' },
                  ivf_nlist: { type: 'integer', nullable: true, description: 'Lists of the inverted file used by method=ivf' },
                  costs: { type: 'object' },
                },
              },
            },
            memory: { type: 'object', properties: { index_bytes: { type: 'integer' }, rss_bytes: { type: 'integer' }, heap_used_bytes: { type: 'integer' } } },
            disk_bytes: { type: 'integer' },
            server: { type: 'object' },
          },
        },
        Image: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            path: { type: 'string' },
            width: { type: 'integer', nullable: true },
            height: { type: 'integer', nullable: true },
            format: { type: 'string', nullable: true },
            thumbnail_url: { type: 'string' },
            file_url: { type: 'string' },
          },
        },
        ImageList: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            offset: { type: 'integer' },
            limit: { type: 'integer' },
            images: { type: 'array', items: { $ref: '#/components/schemas/Image' } },
          },
        },
      },
    },
  };
}
