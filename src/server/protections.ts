/**
 * Server-wide hooks: security headers on every response, and a bound on the uploads processed
 * at the same time (each may hold up to maxUploadBytes in memory).
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, onSendHookHandler } from 'fastify';
import { ApiError, sendError } from './errors.js';

export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Originals may be SVG: served sandboxed, so a script inside one never runs in our origin. */
export const FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

export const securityHeaders: onSendHookHandler = async (req, reply, payload) => {
  reply.header('X-Content-Type-Options', 'nosniff');
  reply.header('Referrer-Policy', 'no-referrer');
  reply.header('X-Frame-Options', 'DENY');
  reply.header('Cross-Origin-Resource-Policy', 'same-origin');
  if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', PAGE_CSP);
  if (req.url.startsWith('/api/') && !reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
  return payload;
};

/** Refuses multipart POSTs beyond `max` in flight with 503 BUSY (Retry-After: 1). */
export function uploadLimiter(max: number): onRequestAsyncHookHandler {
  let inFlight = 0;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'POST' || !/^multipart\//i.test(req.headers['content-type'] ?? '')) return undefined;
    if (inFlight >= max) {
      reply.header('Retry-After', '1');
      return sendError(reply, new ApiError(503, 'BUSY', `busy: ${max} uploads are being processed, try again in a moment`, { connection: 'close' }));
    }
    inFlight++;
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        inFlight--;
      }
    };
    reply.raw.once('close', release);
    reply.raw.once('finish', release);
    return undefined;
  };
}
