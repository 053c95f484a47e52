/**
 * Every error the HTTP API returns has the shape `{ "error": { "code", "message" } }` and a
 * 4xx/5xx status. NitamonoError codes map to statuses here; fastify's and @fastify/multipart's
 * own errors (bad JSON, bad multipart, limits) are recognised by their codes, so a client never
 * sees a bare 500 for something it sent.
 */
import type { FastifyReply } from 'fastify';
import { type ErrorCode, NitamonoError } from '../errors.js';

/** Codes the API itself adds to NitamonoError's. */
export type ApiErrorCode =
  | ErrorCode
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'BUSY'
  | 'INTERNAL';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'INVALID_ARGUMENT', message);
export const notFound = (message: string) => new ApiError(404, 'NOT_FOUND', message);

/** HTTP status of each NitamonoError code. */
const STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  DIMENSION_MISMATCH: 400,
  NOT_FINITE: 400,
  NOT_TRAINED: 409,
  EMPTY_INDEX: 409,
  BAD_FILE: 500,
  UNSUPPORTED: 422,
  NOT_FOUND: 404,
  TOO_LARGE: 422,
  DECODE_FAILED: 422,
  IO: 500,
  // another process holds the collection's writer lease: try again later
  LOCKED: 409,
  // a service behind the collection (job queue, catalogue server) cannot be reached
  UNAVAILABLE: 503,
};

export function statusOfCode(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: unknown;
}

export interface ErrorContext {
  maxUploadBytes: number;
  /** Absolute folders whose names are removed from messages (no server paths in responses). */
  redact: string[];
}

function mb(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  const v = bytes / (1024 * 1024);
  return v >= 10 ? `${Math.round(v)} MB` : `${v.toFixed(1).replace(/\.0$/, '')} MB`;
}

function redact(message: string, ctx: ErrorContext): string {
  let m = message;
  for (const dir of ctx.redact) {
    if (!dir) continue;
    m = m
      .split(dir.endsWith('/') ? dir : `${dir}/`)
      .join('')
      .split(dir)
      .join('.');
  }
  return m;
}

/** Turns anything thrown in a handler into the status and body the client gets. */
export function toApiError(err: unknown, ctx: ErrorContext): ApiError & { internal?: boolean } {
  if (err instanceof ApiError) return err;
  if (err instanceof NitamonoError) {
    const status = statusOfCode(err.code);
    if (status >= 500) {
      const e = new ApiError(status, err.code, redact(err.message, ctx)) as ApiError & { internal?: boolean };
      e.internal = true;
      return e;
    }
    return new ApiError(status, err.code, redact(err.message, ctx));
  }
  const fe = (err ?? {}) as FastifyLikeError;
  switch (fe.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', `upload too large: the limit is ${mb(ctx.maxUploadBytes)} per image`, { connection: 'close' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'request body too large', { connection: 'close' });
    case 'FST_FILES_LIMIT':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'too many files: send one image per request', { connection: 'close' });
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError(413, 'PAYLOAD_TOO_LARGE', 'too many form fields', { connection: 'close' });
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new ApiError(400, 'BAD_REQUEST', 'malformed multipart request (expected multipart/form-data with a boundary)');
    case 'FST_MP_PREMATURE_CLOSE':
      return new ApiError(400, 'BAD_REQUEST', 'the request ended before the multipart data was complete');
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new ApiError(400, 'BAD_REQUEST', `malformed multipart field: ${fe.message ?? ''}`.trim());
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'BAD_REQUEST', `malformed JSON body: ${fe.message ?? 'cannot parse'}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type: send application/json or multipart/form-data');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'BAD_REQUEST', 'Content-Length does not match the body');
    default:
      break;
  }
  if (fe.validation) return new ApiError(400, 'INVALID_ARGUMENT', fe.message ?? 'invalid request');
  const message = err instanceof Error ? err.message : String(err);
  // busboy's parse errors are plain Errors without a status
  if (/multipart|boundary|unexpected end of form|part terminated|malformed part header/i.test(message)) {
    return new ApiError(400, 'BAD_REQUEST', `malformed multipart request: ${message}`);
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ApiErrorCode =
      fe.statusCode === 404
        ? 'NOT_FOUND'
        : fe.statusCode === 413
          ? 'PAYLOAD_TOO_LARGE'
          : fe.statusCode === 415
            ? 'UNSUPPORTED_MEDIA_TYPE'
            : fe.statusCode === 405
              ? 'METHOD_NOT_ALLOWED'
              : fe.statusCode === 403
                ? 'FORBIDDEN'
                : fe.statusCode === 401
                  ? 'UNAUTHORIZED'
                  : 'BAD_REQUEST';
    return new ApiError(fe.statusCode, code, redact(message, ctx));
  }
  const e = new ApiError(500, 'INTERNAL', 'internal server error') as ApiError & { internal?: boolean };
  e.internal = true;
  return e;
}

export function errorBody(e: ApiError): { error: { code: string; message: string } } {
  return { error: { code: e.code, message: e.message } };
}

/** Sends `e` as the error body, with the headers it carries (Retry-After, WWW-Authenticate, …). */
export function sendError(reply: FastifyReply, e: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  return reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e));
}
