/**
 * JSON schemas shared by the routes, and builders for the request ones.
 *
 * Response schemas shape what is sent (fast-json-stringify writes only the listed properties, in
 * the listed order), so every field a handler returns must be listed here or in its route, in
 * the order the handler builds it. Request schemas describe the parameters for the OpenAPI
 * document; they are built from the same specs as the parsers (./params.ts), which do the
 * validating.
 */
import type { ChoiceSpec, IntSpec, ParamSpec, StringSpec } from './params.js';

/** A schema registered with `app.addSchema` is referred to by its $id. */
export const ref = (id: string) => ({ $ref: `${id}#` });

const ERROR = {
  $id: 'Error',
  description: 'Every error of the API: a 4xx/5xx status and this body',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          example: 'INVALID_ARGUMENT',
          description:
            'INVALID_ARGUMENT, BAD_REQUEST, NOT_FOUND, PAYLOAD_TOO_LARGE, TOO_LARGE, DECODE_FAILED, UNSUPPORTED_MEDIA_TYPE, UNAUTHORIZED, FORBIDDEN, EMPTY_INDEX, BUSY, INTERNAL, …',
        },
        message: { type: 'string' },
      },
    },
  },
} as const;

const COST = {
  $id: 'Cost',
  description: "The seed's cost model for this N and D (operations = multiply-adds), and the memory each index kind would take (bytes of RAM)",
  type: 'object',
  required: ['n', 'd', 'k_groups', 'exact', 'ivf', 'ivf_seed', 'ivf_optimal', 'ratio', 'memory_flat', 'memory_ivf', 'memory_ivf_sq8', 'memory_ivf_pq', 'pq_m'],
  properties: {
    n: { type: 'integer' },
    d: { type: 'integer' },
    k_groups: { type: 'integer', description: "K, the inverted file's number of lists" },
    exact: { type: 'number', description: 'N·D' },
    ivf: { type: 'number', description: 'D·(K + N/K)' },
    ivf_seed: { type: 'number', description: "D·√N (the seed's cost table)" },
    ivf_optimal: { type: 'number', description: '2·D·√N, D·(K + N/K) at K = √N' },
    ratio: { type: 'number', description: 'exact / ivf' },
    memory_flat: { type: 'number', description: 'Bytes of RAM of exact search: N float32 vectors (N·D·4) and their ids' },
    memory_ivf: { type: 'number', description: 'Bytes of RAM of an inverted file of float32 vectors: N·(D·4 + 4) + K centroids' },
    memory_ivf_sq8: { type: 'number', description: 'Bytes of RAM of an inverted file of 8-bit codes (SQ8): N·(D + 4) + K centroids' },
    memory_ivf_pq: {
      type: 'number',
      description: 'Bytes of RAM of an inverted file of PQ codes: N·(m + 4) + K centroids + codebooks (re-ranked with full vectors read from disk)',
    },
    pq_m: { type: 'integer', description: 'm of memory_ivf_pq: bytes of PQ code per vector' },
  },
} as const;

const COST_TABLE = {
  $id: 'CostTable',
  description: "This collection's row and the seed's table (N = 100, 10,000, 1,000,000) for the same D",
  type: 'object',
  required: ['collection', 'seed'],
  properties: {
    collection: ref('Cost'),
    seed: { type: 'array', items: ref('Cost') },
  },
} as const;

const urlProperties = {
  thumbnail_url: { type: 'string', description: 'GET it for a JPEG thumbnail' },
  file_url: { type: 'string', description: 'GET it for the original file' },
} as const;

const HIT = {
  $id: 'Hit',
  type: 'object',
  required: ['id', 'path', 'distance', 'thumbnail_url', 'file_url'],
  properties: {
    id: { type: 'integer' },
    path: { type: 'string', description: 'Relative to the collection folder' },
    distance: { type: 'number', description: 'Squared Euclidean distance (smaller = more similar)' },
    ...urlProperties,
  },
} as const;

const imageFacts = {
  id: { type: 'integer' },
  path: { type: 'string', description: 'Relative to the collection folder' },
  width: { type: 'integer', nullable: true },
  height: { type: 'integer', nullable: true },
} as const;

const IMAGE_SUMMARY = {
  $id: 'ImageSummary',
  description: 'An image of the collection, as listed',
  type: 'object',
  required: ['id', 'path', 'width', 'height', 'thumbnail_url', 'file_url'],
  properties: { ...imageFacts, ...urlProperties },
} as const;

const IMAGE = {
  $id: 'Image',
  description: 'An image of the collection',
  type: 'object',
  required: ['id', 'path', 'width', 'height', 'format', 'thumbnail_url', 'file_url'],
  properties: {
    ...imageFacts,
    format: { type: 'string', nullable: true, description: 'jpeg, png, webp, gif, tiff, avif or svg' },
    size: { type: 'integer', description: 'File size in bytes (GET /api/images/{id} only)' },
    ...urlProperties,
  },
} as const;

/** Registered on the server with addSchema; the OpenAPI document lists them as components. */
export const SHARED_SCHEMAS = [ERROR, COST, COST_TABLE, HIT, IMAGE_SUMMARY, IMAGE];

/** The URLs of an image's thumbnail and file, as every response naming an image carries them. */
export const imageUrls = (id: number) => ({ thumbnail_url: `/api/images/${id}/thumbnail`, file_url: `/api/images/${id}/file` });

/** Refusals of ./access/read-guard.ts, which every route can answer before its own checks. */
const ACCESS_ERRORS: Record<number, string> = {
  401: 'Off localhost (unless served --public): no token, as "Authorization: Bearer <token>" or the session cookie of the login URL',
  403: 'On localhost: the Host header is not a loopback name (DNS rebinding)',
};

/** Error responses: status → what causes it. Every route can also be refused access, or fail with a 500. */
export function errorResponses(causes: Record<number, string>): Record<number, { description: string; $ref: string }> {
  const all: Record<number, string> = { ...ACCESS_ERRORS };
  for (const [status, description] of Object.entries(causes)) {
    const s = Number(status);
    all[s] = all[s] ? `${description}; or ${all[s]}` : description;
  }
  all[500] = 'Internal error (details in the server log, none in the response)';
  const out: Record<number, { description: string; $ref: string }> = {};
  for (const [status, description] of Object.entries(all)) out[Number(status)] = { description, ...ref('Error') };
  return out;
}

function paramSchema(spec: ParamSpec): object {
  if (spec.type === 'text') return { type: 'string', maxLength: spec.maxLength, description: spec.description };
  return spec.type === 'int' ? intSchema(spec) : spec.type === 'choice' ? choiceSchema(spec) : stringSchema(spec);
}

function stringSchema(spec: StringSpec): object {
  return { type: 'string', pattern: spec.pattern, description: spec.description };
}

function intSchema(spec: IntSpec): object {
  return {
    type: 'integer',
    minimum: spec.min,
    maximum: spec.max,
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    description: spec.description,
  };
}

function choiceSchema(spec: ChoiceSpec): object {
  return { type: 'string', ...(spec.open ? { examples: [...spec.values] } : { enum: [...spec.values] }), description: spec.description };
}

/** An object schema of optional parameters; `closed`: others are refused (400). */
export function objectOf(specs: Record<string, ParamSpec>, opts: { closed: boolean; required?: string[]; extra?: Record<string, object> }): object {
  const properties: Record<string, object> = {};
  for (const [name, spec] of Object.entries(specs)) properties[name] = paramSchema(spec);
  Object.assign(properties, opts.extra ?? {});
  return {
    type: 'object',
    properties,
    ...(opts.required?.length ? { required: opts.required } : {}),
    ...(opts.closed ? { additionalProperties: false } : {}),
  };
}

/** The path parameter `id` of the image routes. */
export function idParams(spec: IntSpec): object {
  return { type: 'object', required: ['id'], properties: { id: intSchema(spec) } };
}

/**
 * The body of a search or an evaluation: JSON naming an image of the collection, or
 * multipart/form-data with the query image in the file field "image" and the other parameters
 * as text fields.
 */
export function queryBody(fields: Record<string, ParamSpec>): object {
  return {
    content: {
      'application/json': {
        schema: {
          ...objectOf(fields, { closed: true }),
          description: 'The query: id (an image of the collection) or query (an earlier upload). Integers may also be sent as strings of digits',
        },
      },
      'multipart/form-data': {
        schema: {
          ...objectOf(fields, { closed: true, extra: { image: { type: 'string', format: 'binary', description: 'The query image (instead of id)' } } }),
          description: 'The query image in the file field "image" (or an id), the other parameters as text fields',
        },
      },
    },
  };
}
