/**
 * Holds every response of a test server to its route's schema: the status must be one the
 * schema lists (so the OpenAPI document names it), and the response schema must not have
 * changed the body — fast-json-stringify silently drops unlisted properties and coerces types,
 * so a field added to a handler but not to its schema would otherwise just vanish. (It also
 * writes required properties before optional ones: key order is not compared.)
 */
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface Contract {
  /** Throws, listing them, if any response broke its schema. */
  check(): void;
}

export function watchContract(app: FastifyInstance): Contract {
  const violations: string[] = [];
  const before = new WeakMap<FastifyRequest, string>();
  app.addHook('preSerialization', async (req, _reply, payload) => {
    before.set(req, JSON.stringify(payload));
    return payload;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const url = req.routeOptions.url;
    // Unknown routes (the not-found handler) and the page's files have no API contract.
    if (url === undefined || !url.startsWith('/api/')) return payload;
    const route = `${req.method} ${url}`;
    const responses = (req.routeOptions.schema?.response ?? {}) as Record<string, unknown>;
    if (!(String(reply.statusCode) in responses)) violations.push(`${route} answered ${reply.statusCode}, which its schema does not list`);
    const handed = before.get(req);
    if (handed !== undefined && !(typeof payload === 'string' && isDeepStrictEqual(JSON.parse(payload), JSON.parse(handed)))) {
      violations.push(`${route} ${reply.statusCode}: the response schema changed the body\n  handler:    ${handed}\n  serialized: ${String(payload)}`);
    }
    return payload;
  });
  return {
    check() {
      if (violations.length) throw new Error(`responses broke their route schema:\n${[...new Set(violations)].join('\n')}`);
    },
  };
}
