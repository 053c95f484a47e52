/**
 * The documented parameters are the accepted ones: the parsers take exactly the parameters of
 * the request schemas built from the same specs, accept the bounds those schemas document and
 * refuse one past them, with a 400 naming the parameter.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../src/server/errors.js';
import { IMAGE_LIST_QUERY, type IntSpec, parseIntOrDefault, parseSearchParams, SEARCH_FIELDS, SWEEP_QUERY } from '../../src/server/params.js';
import { objectOf, queryBody } from '../../src/server/schemas.js';

const refused = (name: string) => (err: unknown) => {
  assert.ok(err instanceof ApiError && err.status === 400, String(err));
  assert.match(err.message, new RegExp(`\\b${name}\\b`));
  return true;
};

type ObjectSchema = {
  properties: Record<string, { minimum?: number; maximum?: number; default?: number; enum?: unknown[]; examples?: unknown[] }>;
  additionalProperties?: boolean;
};

test('search and evaluate: every documented field is accepted within its documented range, and nothing else', () => {
  const body = queryBody(SEARCH_FIELDS) as { content: Record<string, { schema: ObjectSchema }> };
  const json = body.content['application/json']!.schema;
  const multipart = body.content['multipart/form-data']!.schema;
  assert.deepEqual(Object.keys(multipart.properties).sort(), [...Object.keys(json.properties), 'image'].sort());
  assert.equal(json.additionalProperties, false);
  for (const [name, prop] of Object.entries(json.properties)) {
    // features is an open choice (learned kinds are named by the user): its examples are accepted
    const choices = prop.enum ?? prop.examples;
    if (choices) {
      for (const v of choices) assert.doesNotThrow(() => parseSearchParams({ [name]: v }, ['color', 'deep']), name);
      assert.throws(() => parseSearchParams({ [name]: 'nonsense' }, ['color', 'deep']), refused(name));
      continue;
    }
    for (const v of [prop.minimum!, prop.maximum!]) assert.equal(parseSearchParams({ [name]: v }, ['color'])[name as 'k'], v, `${name} = ${v}`);
    for (const v of [prop.minimum! - 1, prop.maximum! + 1]) assert.throws(() => parseSearchParams({ [name]: v }, ['color']), refused(name));
    if (prop.default !== undefined) assert.equal(parseSearchParams({}, ['color'])[name as 'k'], prop.default);
  }
  assert.throws(() => parseSearchParams({ nprobes: 3 }, ['color']), refused('nprobes'));
});

test('query strings: the sweep and the image list accept their documented ranges and defaults', () => {
  for (const specs of [SWEEP_QUERY, IMAGE_LIST_QUERY] as Record<string, unknown>[]) {
    const schema = objectOf(specs as never, { closed: true }) as ObjectSchema;
    assert.equal(schema.additionalProperties, false);
    for (const [name, spec] of Object.entries(specs)) {
      const prop = schema.properties[name]!;
      if ((spec as { type: string }).type !== 'int') continue;
      const int = spec as IntSpec & { default: number };
      assert.equal(parseIntOrDefault(name, int, undefined), prop.default);
      assert.equal(parseIntOrDefault(name, int, String(prop.minimum)), prop.minimum);
      assert.equal(parseIntOrDefault(name, int, String(prop.maximum)), prop.maximum);
      assert.throws(() => parseIntOrDefault(name, int, String(prop.maximum! + 1)), refused(name));
      assert.throws(() => parseIntOrDefault(name, int, String(prop.minimum! - 1)), refused(name));
    }
  }
});
