/** POST /api/evaluate over real HTTP. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const N = 300;

describe('POST /api/evaluate', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('recall@k of IVF against exact, with both timings', async () => {
    const { status, body } = await json('/api/evaluate', { id: 9, k: 10, nprobe: 1 });
    assert.equal(status, 200);
    assert.ok(body.recall_at_k >= 0 && body.recall_at_k <= 1);
    assert.ok(body.recall_at_1 === 0 || body.recall_at_1 === 1);
    assert.equal(body.exact.distances_computed, N);
    assert.ok(body.ivf.distances_computed < N);
    assert.ok(body.exact.took_ms >= 0 && body.ivf.took_ms >= 0);
    assert.equal(body.nprobe, 1);
    const full = await json('/api/evaluate', { id: 9, k: 10, nprobe: body.nlist });
    assert.equal(full.body.recall_at_k, 1);
  });
});
