/**
 * Browser sessions: the login URL trades the token for a random session id kept in an HttpOnly,
 * SameSite=Strict cookie, so the token leaves the address bar and the page's own requests are
 * authenticated without the page's script ever holding a secret.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'nitamono_session';

/** Beyond this many logins the oldest session ends: memory stays bounded whoever keeps logging in. */
const MAX_SESSIONS = 1000;

/** The value of cookie `name` in a Cookie header (the first one when repeated). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The cookie of a session. No Max-Age: it ends with the browser session, as the server's
 * memory of it ends with the process. `Secure` only when served over https, where it keeps the
 * cookie off plain http; over http a browser would refuse to store it at all.
 */
export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

/** Open sessions of one server, in memory. */
export class Sessions {
  // Keyed by a hash of the id, so how long a lookup takes says nothing about the ids we hold.
  private readonly open = new Set<string>();

  private static key(id: string): string {
    return createHash('sha256').update(id).digest('base64url');
  }

  /** Starts a session and returns its id (32 random bytes). */
  start(): string {
    const id = randomBytes(32).toString('base64url');
    this.open.add(Sessions.key(id));
    if (this.open.size > MAX_SESSIONS) {
      const oldest = this.open.values().next().value;
      if (oldest !== undefined) this.open.delete(oldest);
    }
    return id;
  }

  /** Whether the request carries the cookie of an open session. */
  has(req: FastifyRequest): boolean {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    return id !== undefined && id !== '' && this.open.has(Sessions.key(id));
  }

  get size(): number {
    return this.open.size;
  }
}
