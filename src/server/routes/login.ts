/**
 * GET /login?token=…: the URL nitamono serve prints when every route needs the token. A right
 * token starts a session (an HttpOnly, SameSite=Strict cookie) and redirects to the page, so the
 * token leaves the address bar and the page's own requests carry the cookie. Registered only
 * when reads need the token; hidden from the API document (it is for browsers).
 */
import type { FastifyPluginAsync } from 'fastify';
import { LOGIN_PATH } from '../access/read-guard.js';
import { sessionCookie } from '../access/sessions.js';
import type { ServerContext } from '../context.js';

const WRONG_TOKEN_HTML = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>nitamono: wrong token</title>
<h1>Wrong token</h1>
<p>Open the login URL exactly as <code>nitamono serve</code> printed it.</p>
</html>
`;

export const loginRoutes: FastifyPluginAsync<Pick<ServerContext, 'info' | 'credentials'>> = async (app, ctx) => {
  if (ctx.info.reads !== 'token') return;
  const { credentials } = ctx;
  app.get(LOGIN_PATH, { schema: { hide: true } }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const token = (req.query as Record<string, unknown>).token;
    if (typeof token === 'string' && credentials.matchesToken(token)) {
      reply.header('set-cookie', sessionCookie(credentials.sessions.start(), req.protocol === 'https'));
      return reply.redirect('/', 303);
    }
    // Already logged in (a bookmarked or reloaded login URL without its token): on to the page.
    if (token === undefined && credentials.sessions.has(req)) return reply.redirect('/', 303);
    return reply.code(401).type('text/html; charset=utf-8').send(WRONG_TOKEN_HTML);
  });
};
