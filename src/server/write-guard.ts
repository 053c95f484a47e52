/**
 * Who may change the collection (POST /api/images, DELETE /api/images/:id): nobody unless the
 * server was started with allowWrite; never a page of another site; off loopback (or when a
 * token was given) only requests carrying `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError, sendError } from './errors.js';

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export interface WritePolicy {
  allowWrite: boolean;
  /** Bound to a loopback address. */
  loopback: boolean;
  tokenRequired: boolean;
  token: string | undefined;
}

export function writeGuard(policy: WritePolicy): onRequestAsyncHookHandler {
  const tokenBytes = policy.token ? Buffer.from(policy.token, 'utf8') : undefined;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!policy.allowWrite) {
      return sendError(reply, new ApiError(403, 'FORBIDDEN', 'this server is read-only: start it with --allow-write to add or remove images'));
    }
    // Browsers send Origin on cross-site POST/DELETE: refuse requests made by other sites' pages.
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin !== undefined) {
      let originHost: string | undefined;
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = undefined;
      }
      if (!originHost || originHost !== host) {
        return sendError(reply, new ApiError(403, 'FORBIDDEN', 'cross-origin write requests are refused'));
      }
    }
    if (policy.tokenRequired && tokenBytes) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const given = m ? Buffer.from(m[1]!, 'utf8') : undefined;
      const ok = given !== undefined && given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
      if (!ok) {
        return sendError(
          reply,
          new ApiError(401, 'UNAUTHORIZED', given ? 'wrong token' : 'this route needs "Authorization: Bearer <token>" (the token printed by nitamono serve)', {
            'www-authenticate': 'Bearer realm="nitamono"',
          }),
        );
      }
    } else if (policy.loopback && host !== undefined) {
      // Bound to loopback without a token: only accept loopback Host names (no DNS rebinding).
      const name = host.replace(/:\d+$/, '');
      if (!isLoopbackHost(name)) return sendError(reply, new ApiError(403, 'FORBIDDEN', `write requests must address the server as localhost, not ${name}`));
    }
    return undefined;
  };
}
