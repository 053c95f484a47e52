// The HNSW coarse quantizer (IVF{n}_HNSW{M}, issue #9 item 4): with a generous efSearch it
// finds the lists the exhaustive coarse step finds, and when it probes the same lists the
// answer is the exhaustive IVF's bit for bit; the graph is saved with the index.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readContainer, writeContainer } from '../../src/persist/container.js';
import type { IVFPQIndex } from '../../src/search/coded.js';
import { indexFactory } from '../../src/search/factory.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import { HNSWQuantizer } from '../../src/search/quantizer.js';
import type { SearchResult } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

const d = 16,
  nlist = 1024,
  n = 20000,
  nq = 200;
const centroids = clusteredVectors(nlist, d, { clusters: 40, seed: 8, spread: 0.6 }).data;
const { data } = clusteredVectors(n + nq, d, { clusters: 40, seed: 9, spread: 0.6 });
const base = data.subarray(0, n * d),
  queries = data.slice(n * d);
const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const same = (a: SearchResult, b: SearchResult): boolean => bytes(a.labels).equals(bytes(b.labels)) && bytes(a.distances).equals(bytes(b.distances));

describe('IVF with an HNSW coarse quantizer', () => {
  let t: TempDir;
  after(() => t?.dispose());
  const exact = new IVFIndex(d, { nlist });
  const graph = new IVFIndex(d, { nlist, hnsw: { M: 16, efSearch: 256 } });
  after(() => {
    exact.dispose();
    graph.dispose();
  });

  test('with efSearch large the probed lists are the exhaustive ones (coarse recall ≥ 0.99), and fewer centroids are scored', () => {
    exact.setCentroids(centroids, nlist);
    graph.setCentroids(centroids, nlist);
    assert.ok(graph.coarseQuantizer instanceof HNSWQuantizer);
    const nprobe = 16;
    let hit = 0,
      equalSets = 0;
    for (let i = 0; i < nq; i++) {
      const q = queries.subarray(i * d, (i + 1) * d);
      const want = new Set(exact.coarseQuantizer.probe(q, nprobe));
      const got: Int32Array = graph.coarseQuantizer.probe(q, nprobe, 128);
      assert.equal(got.length, nprobe);
      let h = 0;
      for (const l of got) if (want.has(l)) h++;
      hit += h;
      if (h === nprobe) equalSets++;
    }
    const recall = hit / (nq * nprobe);
    assert.ok(recall >= 0.99, `coarse recall ${recall}`);
    assert.ok(equalSets >= 0.9 * nq, `${equalSets} of ${nq} queries probe the same lists`);
    // a small efSearch scores far fewer than nlist centroids per query
    const g = graph.search(queries.subarray(0, 20 * d), 1, { nprobe: 1, efSearch: 16 });
    assert.ok(g.distancesComputed < (20 * nlist) / 2, `${g.distancesComputed} centroid scores for 20 queries`);
  });

  test('same probed lists give the exhaustive IVF answer bit for bit; sync = async', async () => {
    exact.add(base);
    graph.add(base);
    // with efSearch 256 the graph assigns every vector to its nearest list, as the exhaustive scan does
    assert.ok(bytes(graph.ids()).equals(bytes(exact.ids())), 'the same lists hold the same rows');
    const nprobe = 8,
      k = 10;
    let equal = 0;
    for (let i = 0; i < nq; i++) {
      const q = queries.subarray(i * d, (i + 1) * d);
      const probesEqual = bytes(exact.coarseQuantizer.probe(q, nprobe).sort()).equals(bytes(graph.coarseQuantizer.probe(q, nprobe).sort()));
      if (!probesEqual) continue;
      equal++;
      const want = exact.search(q, k, { nprobe });
      const got = graph.search(q, k, { nprobe });
      assert.ok(same(got, want), `query ${i}: same lists, different answer`);
    }
    assert.ok(equal >= 0.9 * nq, `${equal} of ${nq} queries probe the same lists`);
    const batch = queries.subarray(0, 64 * d);
    assert.ok(same(await graph.searchAsync(batch, k, { nprobe, threads: 2 }), graph.search(batch, k, { nprobe })), 'async = sync');
  });

  test('save/load keeps the graph: same answers, same parameters; a damaged graph is BAD_FILE', async () => {
    t ??= tempDir('nitamono-hnsw-');
    const f = join(t.path, 'graph.index');
    await graph.save(f);
    const back = (await loadIndex(f)) as IVFIndex;
    try {
      assert.deepEqual(back.coarseQuantizer.spec, graph.coarseQuantizer.spec);
      assert.equal(back.memoryBytes, graph.memoryBytes);
      const batch = queries.subarray(0, 50 * d);
      for (const params of [{ nprobe: 4 }, { nprobe: 4, efSearch: 8 }]) {
        assert.ok(same(back.search(batch, 10, params), graph.search(batch, 10, params)));
        assert.ok(same(await back.searchAsync(batch, 10, { ...params, threads: 2 }), graph.search(batch, 10, params)));
      }
    } finally {
      back.dispose();
    }
    // the file records the graph; one that does not hold together is refused naming it
    const c = await readContainer(f, { maxVersion: 2 });
    assert.equal(c.version, 2);
    const nb = new Int32Array(c.sections['hnswNeighbors']!.slice().buffer);
    nb[5] = nlist + 3;
    const bad = join(t.path, 'bad.index');
    await writeContainer(bad, { kind: c.kind, version: c.version, meta: c.meta, sections: { ...c.sections, hnswNeighbors: nb } });
    await assert.rejects(loadIndex(bad), expectError('BAD_FILE', /bad\.index: the HNSW graph is inconsistent: neighbour slot 5 holds 1027/));
    const { hnswLevels: _, ...noLevels } = c.sections;
    await writeContainer(bad, { kind: c.kind, version: c.version, meta: c.meta, sections: noLevels });
    await assert.rejects(loadIndex(bad), expectError('BAD_FILE', /the HNSW graph sections are missing/));
    await writeContainer(bad, { kind: c.kind, version: c.version, meta: { ...c.meta, coarse: { kind: 'hnsw', M: 1 } }, sections: c.sections });
    await assert.rejects(loadIndex(bad), expectError('BAD_FILE', /invalid HNSW parameters/));
  });

  test('IVF{n}_HNSW{M},PQ{m} from the factory: trains, builds its graph, round-trips', async () => {
    t ??= tempDir('nitamono-hnsw-');
    const index = indexFactory(d, 'IVF128_HNSW8,PQ4', { efSearch: 64 }) as IVFPQIndex;
    try {
      await index.train(base, { threads: 1, iterations: 4 });
      index.add(base.subarray(0, 5000 * d));
      const spec = index.coarseQuantizer!.spec;
      assert.equal(spec.kind, 'hnsw');
      assert.ok(spec.kind === 'hnsw' && spec.M === 8 && spec.efSearch === 64 && spec.entry >= 0);
      const f = join(t.path, 'pq.index');
      await index.save(f);
      const back = await loadIndex(f);
      try {
        assert.equal(back.kind, 'ivf-pq');
        const batch = queries.subarray(0, 30 * d);
        assert.ok(same(back.search(batch, 5, { nprobe: 8 }), index.search(batch, 5, { nprobe: 8 })));
      } finally {
        back.dispose();
      }
    } finally {
      index.dispose();
    }
    assert.throws(() => new IVFIndex(d, { hnsw: { M: 1 } }), expectError('INVALID_ARGUMENT', /HNSW M/));
  });
});
