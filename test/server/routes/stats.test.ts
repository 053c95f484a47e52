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
