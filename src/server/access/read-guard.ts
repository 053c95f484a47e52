/**
 * The first hook of every request — page, static files, every /api route, image files, the
 * OpenAPI document, unknown paths alike: on loopback it refuses Host names that are not
 * loopback (DNS rebinding); off loopback, unless public, it refuses requests without the token
 * or a session. Write routes then also pass ./write-guard.ts.
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { ApiError, sendError } from '../errors.js';
import type { Credentials } from './credentials.js';
import { hostHeaderName, isLoopbackHostHeader } from './hosts.js';
import type { ReadAccess } from './policy.js';
import { bearerOf } from './tokens.js';

/** Where the token is traded for a session cookie; open, since it checks the token itself. */
export const LOGIN_PATH = '/login';

export const BEARER_CHALLENGE = { 'www-authenticate': 'Bearer realm="nitamono"' };

/** What a browser opening the page without a session is shown (the API's clients get JSON). */
const LOGIN_NEEDED_HTML = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>nitamono: log in</title>
<h1>This nitamono server needs a login</h1>
<p>Open the login URL that <code>nitamono serve</code> printed when it started
(<code>http://…${LOGIN_PATH}?token=…</code>) in this browser.
API clients send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</html>
`;

/** The page itself, as a browser navigates to it (any query string). */
function isPage(req: FastifyRequest): boolean {
  const path = req.url.split('?')[0];
  return (req.method === 'GET' || req.method === 'HEAD') && (path === '/' || path === '/index.html');
}

function refuseHost(reply: FastifyReply, header: string): FastifyReply {
  return sendError(
    reply,
    new ApiError(403, 'FORBIDDEN', `this server answers only to localhost, 127.0.0.1 or [::1]; the request was addressed to ${hostHeaderName(header)}`),
  );
}

function needLogin(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isPage(req)) {
    return reply.code(401).headers(BEARER_CHALLENGE).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(LOGIN_NEEDED_HTML);
  }
  const message =
    bearerOf(req) !== undefined
      ? 'wrong token'
      : 'this server needs the token: send "Authorization: Bearer <token>", or open the login URL nitamono serve printed';
  return sendError(reply, new ApiError(401, 'UNAUTHORIZED', message, BEARER_CHALLENGE));
}

export function readGuard(reads: ReadAccess, credentials: Credentials): onRequestAsyncHookHandler {
  return async (req, reply) => {
    switch (reads) {
      case 'loopback': {
        const host = req.headers.host;
        if (!isLoopbackHostHeader(host)) return refuseHost(reply, host ?? '');
        return undefined;
      }
      case 'token':
        if (req.routeOptions.url === LOGIN_PATH || credentials.authenticated(req)) return undefined;
        return needLogin(req, reply);
      case 'public':
        return undefined;
    }
  };
}
