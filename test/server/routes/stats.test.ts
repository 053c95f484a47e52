/**
 * GET /api/stats over real HTTP, and that reading them never changes the collection: no
 * inverted file is built for them, the nlist they report comes from one that exists or is
 * flagged as an estimate.
 */

import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const N = 300;

/** Every file of a folder with its size and modification time. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const st = await stat(join(dir, name));
    out[name] = `${st.size} ${st.mtimeMs}`;
  }
  return out;
}

describe('GET /api/stats', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('reports N, D, index kind, nlist, memory, disk and the cost table', async () => {
    const { status, body } = await json('/api/stats');
    assert.equal(status, 200);
    assert.equal(body.images, N);
    assert.equal(body.features.length, 1);
    const f = body.features[0];
    assert.equal(f.kind, 'color');
    assert.equal(f.dim, 12);
    assert.equal(f.index.kind, 'flat');
    assert.equal(f.ivf_nlist, Math.ceil(Math.sqrt(N)));
    assert.equal(f.costs.collection.exact, N * 12);
    assert.equal(f.costs.seed.length, 3);
    assert.ok(body.memory.index_bytes > 0 && body.memory.rss_bytes > 0);
    assert.ok(body.disk_bytes > 0);
    assert.equal(body.server.allow_write, false);
  });
});

describe('GET /api/stats on a fresh flat collection', () => {
  const s = useServer(N);
  const { json } = client(s);

  test('writes nothing: no inverted file is built, no file of the collection changes', async () => {
    const before = await snapshot(s.fx.collectionPath);
    const { status, body } = await json('/api/stats');
    assert.equal(status, 200);
    const after = await snapshot(s.fx.collectionPath);
    assert.deepEqual(
      Object.keys(after).filter((f) => f.endsWith('.ivf.index')),
      [],
    );
    assert.deepEqual(after, before);
    // The nlist an inverted file would get, flagged as such.
    assert.equal(body.features[0].ivf_nlist, Math.ceil(Math.sqrt(N)));
    assert.equal(body.features[0].ivf_nlist_estimated, true);
    assert.equal(body.features[0].costs.collection.k_groups, Math.ceil(Math.sqrt(N)));
  });

  test('once an inverted file was searched, its nlist is reported as known', async () => {
    const search = await json('/api/search', { id: 3, k: 5, method: 'ivf' });
    assert.equal(search.status, 200);
    assert.ok(search.body.nlist > 0);
    const { body } = await json('/api/stats');
    assert.equal(body.features[0].ivf_nlist, search.body.nlist);
    assert.equal(body.features[0].ivf_nlist_estimated, false);
  });
});

describe('GET /api/stats on a collection indexed as an inverted file', () => {
  const n = 60;
  const s = useServer(n, { fixture: { index: 'ivf' } });
  const { json } = client(s);

  test("reports the primary index's nlist, not an estimate", async () => {
    const { status, body } = await json('/api/stats');
    assert.equal(status, 200);
    const f = body.features[0];
    assert.equal(f.index.kind, 'ivf');
    assert.equal(f.index.nlist, Math.ceil(Math.sqrt(n)));
    assert.equal(f.ivf_nlist, f.index.nlist);
    assert.equal(f.ivf_nlist_estimated, false);
    assert.equal(body.index_policy, 'ivf');
  });
});

describe('GET /api/stats, search and sweep on a collection indexed as IVF-PQ re-ranked from its catalogue', () => {
  const n = 300;
  const s = useServer(n, { fixture: { index: 'IVF16,PQ4,RFlat' } });
  const { json } = client(s);

  test('reports the factory string, RAM per image and the re-ranking vectors on disk; the cost table has the memory figures', async () => {
    const { status, body } = await json('/api/stats');
    assert.equal(status, 200);
    assert.equal(body.index_policy, 'IVF16,PQ4,RFlat');
    const f = body.features[0];
    assert.equal(f.index.kind, 'ivf-pq');
    assert.equal(f.index.factory, 'IVF16,PQ4,RFlat');
    assert.equal(f.index.nlist, 16);
    assert.equal(f.index.refine_bytes, n * 12 * 4);
    assert.equal(f.index.raw_bytes, n * 12 * 4);
    assert.ok(Math.abs(f.index.bytes_per_image - f.index.memory_bytes / n) < 1e-3);
    assert.deepEqual(f.index.search_defaults, { nprobe: 8, refine_factor: 4 });
    assert.equal(f.index.tuning, null);
    assert.equal(f.ivf_nlist, 16);
    assert.equal(body.memory.refine_bytes, n * 12 * 4);
    assert.equal(body.memory.index_bytes, f.index.memory_bytes);
    const row = f.costs.collection;
    assert.equal(row.memory_flat, n * 14 * 4);
    assert.equal(row.pq_m, 4);
    assert.ok(row.memory_ivf_sq8 < row.memory_ivf && row.memory_ivf_pq < row.memory_ivf_sq8 + 16 * 1024 * 13);
    assert.ok(f.costs.seed.every((r: { memory_ivf_pq: number; memory_flat: number; n: number }) => r.n < 10_000 || r.memory_ivf_pq < r.memory_flat));
  });

  test('searches re-rank from the catalogue; exact search and the sweep work', async () => {
    const ivf = await json('/api/search', { id: 3, k: 5 });
    assert.equal(ivf.status, 200);
    assert.equal(ivf.body.method, 'ivf');
    assert.equal(ivf.body.index, 'IVF16,PQ4,RFlat');
    assert.equal(ivf.body.refine_factor, 4);
    assert.equal(ivf.body.nprobe, 8);
    const exact = await json('/api/search', { id: 3, k: 5, method: 'exact' });
    assert.equal(exact.status, 200);
    assert.equal(exact.body.index, 'Flat');
    assert.equal(exact.body.distances_computed, n);
    assert.equal(exact.body.results[0].id, 3);
    const sweep = await json('/api/sweep?queries=5');
    assert.equal(sweep.status, 200);
    assert.equal(sweep.body.nlist, 16);
    assert.equal(sweep.body.points.at(-1).nprobe, 16);
    assert.ok(sweep.body.points.at(-1).recall_at_k > 0.9);
  });
});
