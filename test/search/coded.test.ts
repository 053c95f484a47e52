// The compressed kinds as indexes: exactness in the limit, recall floors, sync = async,
// add/remove/reconstruct, re-ranking, memory accounting, save/load, and their errors.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { recallAt } from '../../src/eval/recall.js';
import { writeContainer } from '../../src/persist/container.js';
import { type CodedIndex, FP16Index, IVFFP16Index, IVFPQIndex, IVFSQ8Index, PQIndex, SQ8Index } from '../../src/search/coded.js';
import { FlatIndex } from '../../src/search/flat.js';
import { loadIndex } from '../../src/search/load.js';
import { ArrayRefine, callbackRefine, VectorFileRefine } from '../../src/search/refine.js';
import type { Metric } from '../../src/search/types.js';
import { writeFvecs, writeNpy } from '../../src/vectors/io.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

type Make = (d: number, metric: Metric) => CodedIndex;
const KINDS: Array<[string, Make]> = [
  ['sq8', (d, metric) => new SQ8Index(d, { metric })],
  ['pq', (d, metric) => new PQIndex(d, { metric, m: 4 })],
  ['ivf-sq8', (d, metric) => new IVFSQ8Index(d, { metric, nlist: 8 })],
  ['ivf-pq', (d, metric) => new IVFPQIndex(d, { metric, m: 4, nlist: 8 })],
  ['fp16', (d, metric) => new FP16Index(d, { metric })],
  ['ivf-fp16', (d, metric) => new IVFFP16Index(d, { metric, nlist: 8 })],
  // 4-bit fast scan: the same kinds, named by their factory storage here (codes of the vectors: as many bytes as PQ4)
  ['pq-x4fs', (d, metric) => new PQIndex(d, { metric, m: 8, nbits: 4 })],
  ['ivf-pq-x4fsr', (d, metric) => new IVFPQIndex(d, { metric, m: 4, nbits: 4, nlist: 8 })],
  ['ivf-pq-x4fs', (d, metric) => new IVFPQIndex(d, { metric, m: 8, nbits: 4, nlist: 8, byResidual: false })],
];
const FAST = { threads: 1, iterations: 5 };

describe('every probe and every candidate re-ranked is exact search', () => {
  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: nprobe = nlist and refineFactor·k ≥ N give the ids of FlatIndex`, async () => {
      const d = 16,
        n = 600,
        nq = 12,
        k = 10;
      const { data } = clusteredVectors(n + nq, d, { seed: 21, clusters: 8 });
      const base = data.subarray(0, n * d),
        queries = data.slice(n * d);
      const flat = new FlatIndex(d, { metric });
      flat.add(base);
      const exact = flat.search(queries, k);
      flat.dispose();
      for (const [name, make] of KINDS) {
        const index = make(d, metric);
        try {
          await index.train(base, FAST);
          index.add(base);
          index.setRefineVectors(new ArrayRefine(base, d));
          const r = index.search(queries, k, { nprobe: 8, refineFactor: n / k });
          assert.deepEqual(Array.from(r.labels), Array.from(exact.labels), `${name} ${metric}`);
          for (let i = 0; i < r.distances.length; i++) {
            assert.ok(Math.abs(r.distances[i]! - exact.distances[i]!) <= 1e-4 * Math.max(1, Math.abs(exact.distances[i]!)), `${name} distance ${i}`);
          }
          const ra = await index.searchAsync(queries, k, { nprobe: 8, refineFactor: n / k, threads: 2 });
          assert.deepEqual(ra.labels, r.labels, `${name}: async = sync`);
          assert.deepEqual(ra.distances, r.distances);
          // the cost counts the centroids, every code and every re-scored candidate
          const centroids = index.kind.startsWith('ivf') ? 8 : 0;
          assert.equal(r.distancesComputed, nq * (centroids + n + n));
        } finally {
          index.dispose();
        }
      }
    });
  }
});

describe('recall on clustered data', () => {
  const d = 64,
    n = 20000,
    nq = 200;
  const { data } = clusteredVectors(n + nq, d, { seed: 11, clusters: 20, spread: 0.5 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);
  let gt: { labels: Int32Array; k: number };
  const train = { threads: 1, iterations: 10, maxPointsPerCentroid: 64 };
  before(() => {
    const flat = new FlatIndex(d);
    flat.add(base);
    gt = { labels: flat.search(queries, 10).labels, k: 10 };
    flat.dispose();
  });
  const recall = (r: { labels: Int32Array; nq: number; k: number }) => recallAt(r, gt, 10).kRecallAtK;

  test('IVF64,PQ16: ≥ 0.95 10-R@10 re-ranking 10·k at nprobe 16; residual codes beat flat PQ16; RAM counted', async () => {
    const ivfpq = new IVFPQIndex(d, { nlist: 64, m: 16 }),
      pq = new PQIndex(d, { m: 16 });
    try {
      for (const index of [ivfpq, pq]) {
        await index.train(base, train);
        index.add(base);
        index.setRefineVectors(new ArrayRefine(base, d));
      }
      const plain = recall(ivfpq.search(queries, 10, { nprobe: 16, refineFactor: 1 }));
      const refined = recall(ivfpq.search(queries, 10, { nprobe: 16, refineFactor: 10 }));
      const flatPQ = recall(pq.search(queries, 10, { refineFactor: 1 }));
      assert.ok(refined >= 0.95, `IVF64,PQ16 refine 10: 10-R@10 ${refined}`);
      assert.ok(plain >= 0.5, `IVF64,PQ16 without re-ranking: ${plain}`);
      assert.ok(plain > flatPQ + 0.1, `residuals (${plain}) should beat raw PQ codes (${flatPQ})`);
      assert.ok(recall(pq.search(queries, 10, { refineFactor: 10 })) >= 0.85);
      // fewer probes, lower recall: the probes do reach the codes
      assert.ok(recall(ivfpq.search(queries, 10, { nprobe: 1, refineFactor: 10 })) < refined);
      // RAM: 16-byte codes and 4-byte ids, list offsets, centroids (+ norms), codebooks, and the
      // precomputed table (nlist·m·256 floats: at this small N, more than the codes)
      const raw = n * d * 4;
      const table = 64 * 16 * 256 * 4;
      assert.equal(ivfpq.usesPrecomputedTable, true);
      assert.equal(ivfpq.memoryBytes, n * (16 + 4) + 65 * 4 + 64 * (d + 1) * 4 + 16 * 256 * 4 * 4 + table);
      assert.ok(ivfpq.memoryBytes - table < raw / 10, `${ivfpq.memoryBytes} vs raw ${raw}`);
      assert.equal(ivfpq.refineBytes, raw);
      assert.deepEqual(
        { memoryBytes: ivfpq.describe().memoryBytes, refineBytes: ivfpq.describe().refineBytes, nlist: ivfpq.describe().nlist },
        { memoryBytes: ivfpq.memoryBytes, refineBytes: raw, nlist: 64 },
      );
    } finally {
      ivfpq.dispose();
      pq.dispose();
    }
  });

  test('IVF64,SQ8: ≥ 0.95 without re-ranking; flat SQ8 too', async () => {
    const ivf = new IVFSQ8Index(d, { nlist: 64 }),
      flat = new SQ8Index(d);
    try {
      for (const index of [ivf, flat]) {
        await index.train(base, train);
        index.add(base);
      }
      const a = recall(ivf.search(queries, 10, { nprobe: 16 })),
        b = recall(await flat.searchAsync(queries, 10, { threads: 2 }));
      assert.ok(a >= 0.95, `IVF64,SQ8: ${a}`);
      assert.ok(b >= 0.95, `SQ8: ${b}`);
      assert.ok(ivf.memoryBytes < (n * d * 4) / 3);
      assert.equal(flat.describe().nlist, undefined, 'flat kinds have no lists');
    } finally {
      ivf.dispose();
      flat.dispose();
    }
  });
});

describe('the compressed kinds as indexes', () => {
  const d = 8,
    n = 500;
  const { data } = clusteredVectors(n + 10, d, { seed: 4, clusters: 8 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);

  for (const [name, make] of KINDS) {
    test(`${name}: ids, has, remove, reconstruct, add again, queryCost, retrain refused`, async () => {
      const index = make(d, 'l2');
      try {
        // half precision learns nothing: without lists it takes vectors at once
        assert.equal(index.isTrained, name === 'fp16');
        assert.equal(index.capabilities.compressed, true);
        await index.train(base, FAST);
        assert.equal(index.isTrained, true);
        assert.ok(index.training!.trainedOn > 0);
        const ids = Array.from({ length: n }, (_, i) => 1000 + i);
        index.add(base, ids);
        assert.equal(index.size, n);
        assert.equal(index.has(1007), true);
        const x = index.reconstruct(1007);
        let err = 0;
        for (let j = 0; j < d; j++) err += (x[j]! - base[7 * d + j]!) ** 2;
        assert.ok(err < 0.5, `${name}: reconstruction error ${err}`);
        assert.equal(index.remove([1007, 1008, 5]), 2);
        assert.equal(index.has(1007), false);
        assert.equal(index.size, n - 2);
        const r = index.search(queries, 5, { nprobe: 8 });
        assert.ok(!Array.from(r.labels).includes(1007));
        index.add(base.subarray(7 * d, 8 * d), [1007]);
        assert.equal(index.has(1007), true);
        assert.equal(index.size, n - 1);
        assert.deepEqual(new Set(index.ids()), new Set([...ids.filter((i) => i !== 1008)]));
        assert.ok(index.queryCost({ nprobe: 2 }) > 0);
        await assert.rejects(index.train(base, FAST), expectError('INVALID_ARGUMENT', new RegExp(`cannot retrain a ${index.kind} index that holds vectors`)));
        if (name.startsWith('ivf')) {
          const w = index.search(queries, 1, { nprobe: 99 });
          assert.match(w.warnings![0]!, /nprobe 99 is more than nlist 8/);
          assert.equal(w.nprobe, 8);
        }
      } finally {
        index.dispose();
      }
    });
  }

  test('re-ranking errors: no refine vectors, wrong dimension, an async-only source in search()', async () => {
    const index = new IVFPQIndex(d, { m: 2, nlist: 4 });
    try {
      await index.train(base, FAST);
      index.add(base);
      assert.throws(
        () => index.search(queries, 3, { refineFactor: 2 }),
        expectError('INVALID_ARGUMENT', /refineFactor needs the full vectors to re-rank with: attach them with setRefineVectors/),
      );
      assert.throws(() => index.search(queries, 3, { refineFactor: 0 }), expectError('INVALID_ARGUMENT', /refineFactor must be a number ≥ 1, got 0/));
      assert.throws(
        () => index.setRefineVectors(new ArrayRefine(new Float32Array(12), 3)),
        expectError('INVALID_ARGUMENT', /refine vectors have dimension 3, the index 8/),
      );
      const fetched: number[] = [];
      index.setRefineVectors(
        callbackRefine({
          dim: d,
          bytes: n * d * 4,
          fetch: async (ids) => {
            fetched.push(ids.length);
            const out = new Float32Array(ids.length * d);
            for (let i = 0; i < ids.length; i++) out.set(base.subarray(ids[i]! * d, (ids[i]! + 1) * d), i * d);
            return out;
          },
        }),
      );
      assert.throws(() => index.search(queries, 3, { refineFactor: 2 }), expectError('INVALID_ARGUMENT', /use searchAsync\(\) to re-rank/));
      const viaCallback = await index.searchAsync(queries, 3, { refineFactor: 4, nprobe: 4 });
      assert.ok(fetched.length > 0);
      index.setRefineVectors(new ArrayRefine(base, d));
      assert.deepEqual(viaCallback.labels, index.search(queries, 3, { refineFactor: 4, nprobe: 4 }).labels);
      // refine vectors attached: re-ranking by default, with the index's factor (1)
      assert.equal(index.refineFactor, 1);
      assert.equal(index.search(queries, 3).distancesComputed, index.search(queries, 3, { refineFactor: 1 }).distancesComputed);
      assert.ok(new IVFPQIndex(d, { m: 2, refineFactor: 3 }).refineFactor === 3);
      assert.throws(() => new SQ8Index(d, { refineFactor: 0.5 }), expectError('INVALID_ARGUMENT', /refineFactor must be a number ≥ 1/));
      assert.throws(
        () => new IVFPQIndex(d, { m: 2, precomputedTable: 'yes' as never }),
        expectError('INVALID_ARGUMENT', /precomputedTable must be true, false or 'auto'/),
      );
    } finally {
      index.dispose();
    }
  });
});

describe('save and load', () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir('nitamono-coded-');
  });
  after(() => dir.dispose());
  const d = 8,
    n = 400;
  const { data } = clusteredVectors(n + 6, d, { seed: 14, clusters: 6 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);

  for (const [name, make] of KINDS) {
    for (const metric of ['l2', 'ip'] as const) {
      test(`${name} ${metric}: a saved index loads and answers the same, refine vectors reopened from their file`, async () => {
        const vectorsFile = join(dir.path, `${name}-${metric}.fvecs`);
        await writeFvecs(vectorsFile, base, d);
        const index = make(d, metric);
        const file = join(dir.path, `${name}-${metric}.index`);
        try {
          await index.train(base, FAST);
          index.add(base);
          index.remove([3, 4]);
          index.setRefineVectors(VectorFileRefine.open(vectorsFile));
          await index.save(file);
          const back = (await loadIndex(file)) as CodedIndex;
          try {
            assert.equal(back.kind, index.kind);
            assert.deepEqual(back.describe(), index.describe());
            assert.equal(back.memoryBytes, index.memoryBytes);
            assert.equal(back.refineBytes, n * d * 4);
            assert.deepEqual(back.ids(), index.ids());
            assert.deepEqual(back.reconstruct(10), index.reconstruct(10));
            for (const params of [{ nprobe: 3 }, { nprobe: 8, refineFactor: 5 }]) {
              const a = index.search(queries, 7, params),
                b = back.search(queries, 7, params);
              assert.deepEqual(b.labels, a.labels, JSON.stringify(params));
              assert.deepEqual(b.distances, a.distances);
            }
            // it keeps its ids counter and takes vectors
            back.add(base.subarray(0, d));
            assert.equal(back.has(n), true);
          } finally {
            back.dispose();
          }
        } finally {
          index.dispose();
        }
      });
    }
  }

  test('untrained and empty indexes round-trip; npy refine vectors; a missing refine file is reported when re-ranking', async () => {
    const empty = new IVFPQIndex(d, { m: 4, nlist: 5, refineFactor: 3, precomputedTable: false });
    await empty.save(join(dir.path, 'untrained.index'));
    empty.dispose();
    const u = (await loadIndex(join(dir.path, 'untrained.index'))) as IVFPQIndex;
    try {
      assert.equal(u.kind, 'ivf-pq');
      assert.equal(u.isTrained, false);
      assert.equal(u.refineFactor, 3);
      await u.train(base, FAST);
      assert.equal(u.nlist, 5, 'the requested nlist survives');
      assert.equal(u.usesPrecomputedTable, false, 'and the table policy');
    } finally {
      u.dispose();
    }

    const npy = join(dir.path, 'refine.npy');
    await writeNpy(npy, base, [n, d]);
    const index = new SQ8Index(d, { refine: VectorFileRefine.open(npy) });
    try {
      await index.train(base, FAST);
      index.add(base);
      const want = index.search(queries, 5, { refineFactor: 4 });
      await index.save(join(dir.path, 'sq8.index'));
      rmSync(npy);
      assert.equal(existsSync(npy), false);
      const back = (await loadIndex(join(dir.path, 'sq8.index'))) as CodedIndex;
      try {
        assert.equal(back.refineBytes, 0);
        assert.throws(
          () => back.search(queries, 5, { refineFactor: 4 }),
          expectError('INVALID_ARGUMENT', /the refine vectors this index was saved with cannot be opened: .*refine\.npy: no such file/),
        );
        // without re-ranking it answers from its codes
        assert.equal(back.search(queries, 5).nq, 6);
        back.setRefineVectors(new ArrayRefine(base, d));
        assert.deepEqual(back.search(queries, 5, { refineFactor: 4 }).labels, want.labels);
      } finally {
        back.dispose();
      }
    } finally {
      index.dispose();
    }
  });

  test('files that disagree with themselves are BAD_FILE naming the path', async () => {
    const f = join(dir.path, 'bad.index');
    await writeContainer(f, {
      kind: 'ivf-pq',
      version: 1,
      meta: { metric: 'l2', dim: 8, count: 0, codec: { name: 'pq', m: 3, nbits: 8 }, trained: false },
      sections: {},
    });
    await assert.rejects(
      loadIndex(f),
      expectError('BAD_FILE', /bad\.index: invalid parameters in the header: m \(PQ sub-quantizers\) must divide the dimension 8/),
    );
    // code widths: 8 and 4 (m even) only
    for (const [m, nbits, why] of [
      [4, 5, /nbits \(bits per PQ sub-code\) must be 8 \(256 codewords per sub-quantizer\) or 4 \(16, fast scan\), got 5/],
      [1, 4, /m \(PQ sub-quantizers\) must be even with 4-bit codes/],
    ] as const) {
      await writeContainer(f, {
        kind: 'pq',
        version: 1,
        meta: { metric: 'l2', dim: 8, count: 0, codec: { name: 'pq', m, nbits }, trained: false },
        sections: {},
      });
      await assert.rejects(loadIndex(f), expectError('BAD_FILE', new RegExp(`bad\\.index: invalid parameters in the header: ${why.source}`)));
    }
    await writeContainer(f, { kind: 'pq', version: 1, meta: { metric: 'l2', dim: 8, count: 0, codec: { name: 'sq8' }, trained: false }, sections: {} });
    await assert.rejects(loadIndex(f), expectError('BAD_FILE', /bad\.index: the header names codec \{"name":"sq8"\} for a pq index/));
    await writeContainer(f, { kind: 'sq8', version: 1, meta: { metric: 'l2', dim: 8, count: 2, codec: { name: 'sq8' }, trained: false }, sections: {} });
    await assert.rejects(loadIndex(f), expectError('BAD_FILE', /bad\.index: holds 2 codes but no trained codec/));
    await writeContainer(f, {
      kind: 'sq8',
      version: 1,
      meta: { metric: 'l2', dim: 2, count: 1, codec: { name: 'sq8' }, trained: true },
      sections: { sq8Min: new Float32Array(2), sq8Diff: new Float32Array([1, 1]), codes: new Uint8Array(3), ids: new Int32Array(1) },
    });
    await assert.rejects(loadIndex(f), expectError('BAD_FILE', /bad\.index: code or id section does not match the header/));
    await writeContainer(f, { kind: 'ivf-sq8', version: 5, meta: {}, sections: {} });
    await assert.rejects(loadIndex(f), expectError('BAD_FILE', /format version 5, this build reads up to 4/));
  });
});
