/**
 * ShardServer and Coordinator in this process, against a real private PostgreSQL: readiness,
 * the HTTP contract of a shard (schemas, errors, the token), catching up to a generation on
 * request, fixed shard lists. The multi-process behaviour is in cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterCatalogStore } from '../../src/catalog/types.js';
import { Coordinator, registryDirectory, staticDirectory } from '../../src/cluster/coordinator.js';
import { ensureClusterSettings } from '../../src/cluster/settings.js';
import { ShardServer } from '../../src/cluster/shard.js';
import { f32ToBase64 } from '../../src/cluster/wire.js';
import type { NitamonoError } from '../../src/errors.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { assertSameAnswer, health, openStore, putVectors, referenceIndex, SPACE, waitShards } from './helpers.js';

const D = 16;

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/search`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

describe('shard server', () => {
  test('starts before the collection has settings, becomes ready, answers like one index; refuses bad requests with coded errors', async () => {
    const store = await openStore('inproc');
    const shards: ShardServer[] = [];
    try {
      const start = (index: number) => ShardServer.start({ store, features: 'deep', partition: { index, count: 2 }, pollMs: 50, heartbeatMs: 100, threads: 1 });
      shards.push(await start(0), await start(1));
      let h = await health(shards[0]!.url);
      assert.equal(h.status, 503);
      assert.equal(h.body.status, 'starting');
      assert.match(h.body.message!, /no settings yet/);
      const early = await post(shards[0]!.url, { queries: f32ToBase64(new Float32Array(D)), dim: D, k: 1 });
      assert.equal(early.status, 503);
      assert.equal(early.body.error.code, 'UNAVAILABLE');

      await ensureClusterSettings(store, { features: ['deep'] });
      // no vectors yet: ready, empty
      await Promise.all(shards.map((s) => s.ready()));
      h = await health(shards[0]!.url);
      assert.equal(h.status, 200);
      assert.equal(h.body.index, 'empty');
      const coordinator = new Coordinator({ directory: registryDirectory(store, SPACE, { refreshMs: 0 }) });
      const none = await coordinator.search(new Float32Array(D), D, 3);
      assert.deepEqual([...none.labels], [-1, -1, -1]);
      assert.deepEqual(none.coverage, { shards: 2, answered: 2, ratio: 1 });

      const { data } = clusteredVectors(2000, D, { seed: 9 });
      const ids = await putVectors(store, data, D, 'a', 1000);
      const g = await store.generation();
      await waitShards(
        shards.map((s) => s.url),
        (x) => x.generation === g,
      );
      const queries = data.slice(0, 20 * D);
      const r = await coordinator.search(queries, D, 5);
      assertSameAnswer(r, referenceIndex(ids, data, D).search(queries, 5), 'two in-process shards');
      assert.equal(r.size, 2000);
      assert.deepEqual(r.generation, { min: g, max: g });
      assert.ok(r.shards.every((s) => s.status === 'ok' && s.generation === g && (s.size ?? 0) > 800));

      // the HTTP contract: coded errors, never a 500
      const url = shards[0]!.url;
      const bad: [unknown, number, string][] = [
        [{ dim: D, k: 1 }, 400, 'INVALID_ARGUMENT'],
        [{ queries: 'not base64!', dim: D, k: 1 }, 400, 'INVALID_ARGUMENT'],
        [{ queries: f32ToBase64(new Float32Array(D + 1)), dim: D, k: 1 }, 400, 'INVALID_ARGUMENT'],
        [{ queries: f32ToBase64(new Float32Array(D)), dim: D, k: 1001 }, 400, 'INVALID_ARGUMENT'],
        [{ queries: f32ToBase64(new Float32Array(D)), dim: D, k: 0 }, 400, 'INVALID_ARGUMENT'],
        [{ queries: f32ToBase64(new Float32Array(8)), dim: 8, k: 1 }, 400, 'DIMENSION_MISMATCH'],
        [{ queries: f32ToBase64(Float32Array.from({ length: D }, (_, i) => (i ? 0 : Number.NaN))), dim: D, k: 1 }, 400, 'NOT_FINITE'],
      ];
      for (const [body, status, code] of bad) {
        const res = await post(url, body);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      }
      const nf = await fetch(`${url}/nope`);
      assert.equal(nf.status, 404);
      // the query's own fault, refused by every shard, is the caller's error, not an outage
      await assert.rejects(coordinator.search(new Float32Array(8), 8, 1), (e: NitamonoError) => e.code === 'DIMENSION_MISMATCH');

      // a fixed list of URLs instead of the registry: partitions learnt from /health
      const fixed = new Coordinator({ directory: staticDirectory(shards.map((s) => s.url)) });
      assertSameAnswer(await fixed.search(queries, D, 5), r, 'fixed shard list');
      const half = new Coordinator({ directory: staticDirectory([shards[1]!.url]) });
      const partial = await half.search(queries, D, 5);
      assert.deepEqual(partial.coverage, { shards: 2, answered: 1, ratio: 0.5 });
      assert.equal(partial.shards[0]!.status, 'missing');
    } finally {
      for (const s of shards) await s.close();
      await store.close();
    }
    // a clean stop withdraws from the registry
    const check = await openStore('inproc');
    try {
      assert.deepEqual(await check.liveShards(SPACE, 60_000), []);
    } finally {
      await check.close();
    }
  });

  test('catches up to the generation a search asks for, without notifications; needs its token when it has one', async () => {
    const store = await openStore('catchup');
    // a catalogue that never notifies: only the request's min_generation makes the shard look
    const quiet = new Proxy(store, {
      get: (t, p) => (p === 'onChange' ? undefined : Reflect.get(t, p, t)),
    }) as ClusterCatalogStore;
    let shard: ShardServer | undefined;
    try {
      await ensureClusterSettings(store, { features: ['deep'] });
      const { data } = clusteredVectors(300, D, { seed: 2 });
      await putVectors(store, data, D, 'c');
      shard = await ShardServer.start({
        store: quiet,
        features: 'deep',
        partition: { index: 0, count: 1 },
        pollMs: 600_000,
        token: 'sekrit-token',
        threads: 1,
      });
      await shard.ready();
      const unauth = await post(shard.url, { queries: f32ToBase64(data.subarray(0, D)), dim: D, k: 1 });
      assert.equal(unauth.status, 401);
      assert.equal(unauth.body.error.code, 'UNAUTHORIZED');
      assert.equal((await fetch(`${shard.url}/health`)).status, 401);
      const c = new Coordinator({ directory: registryDirectory(store, SPACE, { refreshMs: 0 }), token: 'sekrit-token' });
      const before = shard.health().generation;

      const added = await putVectors(store, data.subarray(0, 10 * D), D, 'new');
      const g = await store.generation();
      assert.ok(g > before);
      const stale = await c.search(data.subarray(0, D), D, 1);
      assert.equal(stale.generation!.max, before, 'without asking, the shard answers at its generation');
      const fresh = await c.search(data.subarray(0, D), D, 2, { minGeneration: g });
      assert.equal(fresh.generation!.min, g);
      assert.ok([...fresh.labels].includes(added[0]!), 'the new copy of the query is found');
      assert.equal(fresh.distances[0], 0);

      const wrong = new Coordinator({ directory: registryDirectory(store, SPACE, { refreshMs: 0 }), token: 'wrong-token' });
      await assert.rejects(wrong.search(data.subarray(0, D), D, 1), (e: NitamonoError) => e.code === 'UNAVAILABLE' && /401/.test(e.message));
    } finally {
      await shard?.close();
      await store.close();
    }
  });
});
