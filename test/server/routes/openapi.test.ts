/**
 * GET /api/openapi.json, and that it can be trusted: every /api route has a schema (summary,
 * path parameters, body, responses), and the generated document lists every route with exactly
 * the responses, parameters and bodies of its schema.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteOptions } from 'fastify';
import { createServer } from '../../../src/server/server.js';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const N = 20;

describe('GET /api/openapi.json', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('describes every route', async () => {
    const { status, body } = await json('/api/openapi.json');
    assert.equal(status, 200);
    assert.match(body.openapi, /^3\./);
    for (const p of [
      '/api/search',
      '/api/evaluate',
      '/api/sweep',
      '/api/stats',
      '/api/images',
      '/api/images/{id}',
      '/api/images/{id}/thumbnail',
      '/api/images/{id}/file',
      '/api/openapi.json',
    ]) {
      assert.ok(body.paths[p], `missing ${p}`);
    }
    assert.ok(body.paths['/api/images'].post && body.paths['/api/images/{id}'].delete);
  });
});

type Schema = {
  summary?: string;
  operationId?: string;
  params?: { properties?: Record<string, unknown>; required?: string[] };
  querystring?: { properties?: Record<string, unknown> };
  body?: { content?: Record<string, unknown> };
  consumes?: string[];
  response?: Record<string, { description?: string; $ref?: string }>;
};

/** method + URL of every route, as fastify's own route table prints them. */
function printedRoutes(table: string): string[] {
  const out: string[] = [];
  for (const m of table.matchAll(/── (\S+) \(([A-Z, ]+)\)/g)) {
    for (const method of m[2]!.split(', ')) out.push(`${method} ${m[1]}`);
  }
  return out;
}

/** Every `$ref` in a JSON value. */
function refs(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refs(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') out.push(x);
      else refs(x, out);
    }
  }
  return out;
}

describe('route schemas', () => {
  const s = useServer(N);
  const routes: RouteOptions[] = [];
  let doc: any;

  test('every /api route is collected (the route table agrees)', async () => {
    const app = createServer({ collection: s.fx.collection });
    app.addHook('onRoute', (r) => {
      routes.push(r);
    });
    await app.ready();
    doc = app.swagger();
    const collected = new Set(routes.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => `${m} ${r.url}`)));
    const printed = printedRoutes(app.printRoutes({ commonPrefix: false })).filter((r) => r.split(' ')[1]!.startsWith('/api/'));
    assert.ok(printed.length >= 10, printed.join('\n'));
    for (const r of printed) assert.ok(collected.has(r), `${r} was registered before the onRoute hook could see it`);
    await app.close();
  });

  const api = () => routes.filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD');

  test('every /api route has a summary, its path parameters, a body when it takes one, and described responses', () => {
    assert.ok(api().length >= 10);
    const ids = new Set<string>();
    for (const r of api()) {
      const name = `${String(r.method)} ${r.url}`;
      const schema = r.schema as Schema | undefined;
      assert.ok(schema, `${name} has no schema`);
      assert.ok(schema.summary, `${name} has no summary`);
      assert.ok(schema.operationId && !ids.has(schema.operationId), `${name}: operationId missing or not unique`);
      ids.add(schema.operationId);
      for (const p of r.url.match(/:\w+/g) ?? []) {
        const param = p.slice(1);
        assert.ok(schema.params?.properties?.[param], `${name}: path parameter ${param} has no schema`);
        assert.ok(schema.params.required?.includes(param), `${name}: path parameter ${param} is not required`);
      }
      if (r.method === 'POST') assert.ok(schema.body, `${name} takes a body but has no body schema`);
      const responses = Object.entries(schema.response ?? {});
      assert.ok(
        responses.some(([status]) => /^2\d\d$/.test(status)),
        `${name} has no success response`,
      );
      for (const [status, res] of responses) {
        assert.ok(res.description, `${name} ${status} has no description`);
        if (Number(status) >= 400) assert.equal(res.$ref, 'Error#', `${name} ${status} is not an Error body`);
      }
      assert.ok(schema.response?.['500'], `${name} does not list 500`);
    }
  });

  test('the document lists every route with its responses, parameters and body, and nothing else', () => {
    const documented = new Set<string>();
    for (const r of api()) {
      const schema = r.schema as Schema;
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      const method = String(r.method).toLowerCase();
      const op = doc.paths[path]?.[method];
      const name = `${method} ${path}`;
      assert.ok(op, `${name} is missing from the document`);
      documented.add(name);
      assert.deepEqual(Object.keys(op.responses).sort(), Object.keys(schema.response!).sort(), `${name}: responses`);
      const params = (op.parameters ?? []).map((p: { in: string; name: string }) => `${p.in} ${p.name}`).sort();
      const want = [
        ...Object.keys(schema.params?.properties ?? {}).map((p) => `path ${p}`),
        ...Object.keys(schema.querystring?.properties ?? {}).map((q) => `query ${q}`),
      ].sort();
      assert.deepEqual(params, want, `${name}: parameters`);
      if (schema.body) {
        const types = Object.keys(schema.body.content ?? {}).length ? Object.keys(schema.body.content!) : (schema.consumes ?? ['application/json']);
        assert.deepEqual(Object.keys(op.requestBody.content).sort(), [...types].sort(), `${name}: body content types`);
      }
    }
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`));
    assert.deepEqual(listed.sort(), [...documented].sort(), 'the document lists exactly the /api routes');
  });

  test('the search bodies are described as JSON and as multipart, uploads as multipart only', () => {
    for (const path of ['/api/search', '/api/evaluate']) {
      const content = doc.paths[path].post.requestBody.content;
      assert.deepEqual(Object.keys(content).sort(), ['application/json', 'multipart/form-data']);
      assert.equal(content['multipart/form-data'].schema.properties.image.format, 'binary');
      assert.ok(content['application/json'].schema.properties.k.maximum > 1);
    }
    assert.deepEqual(Object.keys(doc.paths['/api/images'].post.requestBody.content), ['multipart/form-data']);
  });

  test('every $ref of the document resolves to one of its components', () => {
    const found = refs(doc);
    assert.ok(found.length > 0);
    for (const r of found) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(r);
      assert.ok(m && doc.components.schemas[m[1]!], `dangling $ref ${r}`);
    }
  });
});
