/** What proves a request knows the token: the bearer header (API clients) or a session cookie (the page). */
import type { FastifyRequest } from 'fastify';
import { Sessions } from './sessions.js';
import { bearerOf, tokenMatcher } from './tokens.js';

export class Credentials {
  readonly sessions = new Sessions();
  /** Whether a string is the token (never, when the server has none). */
  readonly matchesToken: (given: string | undefined) => boolean;

  constructor(token: string | undefined) {
    this.matchesToken = token ? tokenMatcher(token) : () => false;
  }

  /** The request's bearer header carries the token. */
  hasBearer(req: FastifyRequest): boolean {
    return this.matchesToken(bearerOf(req));
  }

  /** The bearer header or an open session's cookie. */
  authenticated(req: FastifyRequest): boolean {
    return this.hasBearer(req) || this.sessions.has(req);
  }
}
