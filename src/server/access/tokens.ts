/** The server's secret token: generated when none is given, compared in constant time. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** 24 random bytes: guessing is hopeless, so no rate limit is needed. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token of `Authorization: Bearer <token>`, or undefined when the header is absent or of another scheme. */
export function bearerOf(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m ? m[1] : undefined;
}

/**
 * Whether `given` is the token. Constant time in the token's content (timingSafeEqual), so
 * response times do not reveal how many leading characters a guess got right; only a wrong
 * length is refused early, and the length is no secret.
 */
export function tokenMatcher(token: string): (given: string | undefined) => boolean {
  const expected = Buffer.from(token, 'utf8');
  return (given) => {
    if (given === undefined) return false;
    const g = Buffer.from(given, 'utf8');
    return g.length === expected.length && timingSafeEqual(g, expected);
  };
}
