/** GET /api/sweep over real HTTP. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const N = 300;

describe('GET /api/sweep', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('recall grows to 1 as nprobe reaches nlist', async () => {
    const { status, body } = await json('/api/sweep?features=color&k=10&queries=10');
    assert.equal(status, 200);
    assert.equal(body.queries, 10);
    assert.ok(body.points.length >= 3);
    assert.equal(body.points[0].nprobe, 1);
    const last = body.points[body.points.length - 1];
    assert.equal(last.nprobe, body.nlist);
    assert.equal(last.recall_at_k, 1);
    for (let i = 1; i < body.points.length; i++) {
      assert.ok(body.points[i].nprobe > body.points[i - 1].nprobe);
      assert.ok(body.points[i].distances_computed >= body.points[i - 1].distances_computed);
    }
    assert.equal(body.exact.distances_computed, N);
    assert.equal(body.costs.collection.n, N);
  });
});
