/**
 * Who may change the collection (POST /api/images, DELETE /api/images/:id): nobody unless the
 * server was started with allowWrite; never a page of another site; when the token is required
 * (off loopback, or a token was given) only requests carrying `Authorization: Bearer <token>` —
 * a session cookie is not enough, so writing stays a deliberate act of an API client.
 * Every request has already passed ./read-guard.ts (the Host check on loopback).
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError, sendError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { isSameOrigin } from './hosts.js';
import type { AccessPolicy } from './policy.js';
import { BEARER_CHALLENGE } from './read-guard.js';
import { bearerOf } from './tokens.js';

export function writeGuard(policy: AccessPolicy, credentials: Credentials): onRequestAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!policy.allowWrite) {
      return sendError(reply, new ApiError(403, 'FORBIDDEN', 'this server is read-only: start it with --allow-write to add or remove images'));
    }
    // Browsers send Origin on cross-site POST/DELETE: refuse requests made by other sites' pages.
    const origin = req.headers.origin;
    if (origin !== undefined && !isSameOrigin(origin, req.headers.host)) {
      return sendError(reply, new ApiError(403, 'FORBIDDEN', 'cross-origin write requests are refused'));
    }
    if (policy.tokenRequired && !credentials.hasBearer(req)) {
      const message = bearerOf(req) !== undefined ? 'wrong token' : 'this route needs "Authorization: Bearer <token>" (the token printed by nitamono serve)';
      return sendError(reply, new ApiError(401, 'UNAUTHORIZED', message, BEARER_CHALLENGE));
    }
    return undefined;
  };
}
