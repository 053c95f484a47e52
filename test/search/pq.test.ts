import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IVFPQIndex, PQIndex } from '../../src/search/coded.js';
import { PQCodec } from '../../src/search/pq.js';
import { RESERVOIR_MIN_K } from '../../src/search/scan.js';
import type { Metric } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

describe('PQCodec', () => {
  test('m must divide d, nbits must be 8 or 4, m a positive integer', () => {
    assert.throws(() => new PQCodec(64, 7), expectError('INVALID_ARGUMENT', /m \(PQ sub-quantizers\) must divide the dimension 64, got m = 7/));
    assert.throws(
      () => new PQCodec(64, 8, 5),
      expectError('INVALID_ARGUMENT', /nbits \(bits per PQ sub-code\) must be 8 \(256 codewords per sub-quantizer\) or 4 \(16, fast scan\), got 5/),
    );
    assert.throws(() => new PQCodec(64, 0), expectError('INVALID_ARGUMENT', /m \(PQ sub-quantizers\) must be a positive integer, got 0/));
    assert.throws(() => new PQIndex(10, { m: 3 }), expectError('INVALID_ARGUMENT', /must divide the dimension 10, got m = 3/));
    assert.throws(() => new IVFPQIndex(12, { m: 4, nbits: 12 }), expectError('INVALID_ARGUMENT', /nbits .* must be 8/));
    assert.throws(() => new PQIndex(12, {} as never), expectError('INVALID_ARGUMENT', /m \(PQ sub-quantizers\) must be a positive integer, got undefined/));
    const c = new PQCodec(12, 4);
    assert.deepEqual([c.m, c.dsub, c.ksub, c.nbits, c.codeSize(12)], [4, 3, 256, 8, 4]);
  });

  test('untrained use is NOT_TRAINED; training needs 256 vectors', async () => {
    const c = new PQCodec(8, 2);
    assert.throws(() => c.encode(new Float32Array(8), 1, new Uint8Array(2)), expectError('NOT_TRAINED', /PQ codec \(m = 2\) is not trained/));
    assert.throws(() => c.decode(new Uint8Array(2), 1, new Float32Array(8)), expectError('NOT_TRAINED', /not trained/));
    await assert.rejects(c.train(new Float32Array(100 * 8), 100), expectError('INVALID_ARGUMENT', /PQ training needs at least 256 vectors .* got 100/));
    assert.throws(() => c.setCodebooks(new Float32Array(10)), expectError('INVALID_ARGUMENT', /m×256×dsub = 2048 floats, got 10/));
    const index = new PQIndex(8, { m: 2 });
    try {
      assert.throws(() => index.add(new Float32Array(8)), expectError('NOT_TRAINED', /cannot add vectors: the pq index is not trained/));
      assert.throws(() => index.search(new Float32Array(8), 1), expectError('NOT_TRAINED', /cannot search: the pq index is not trained/));
    } finally {
      index.dispose();
    }
  });

  test('encode picks each sub-vector’s nearest codeword and decode gives exactly the chosen codewords', async () => {
    const d = 12,
      m = 3,
      dsub = 4,
      n = 1500;
    const { data } = clusteredVectors(n, d, { seed: 5 });
    const c = new PQCodec(d, m);
    const r = await c.train(data, n, { iterations: 6, threads: 1 });
    assert.equal(r.trainedOn, n);
    const cb = c.getCodebooks()!;
    assert.equal(cb.length, m * 256 * dsub);
    assert.equal(c.memoryBytes, cb.byteLength);
    const codes = new Uint8Array(n * m);
    c.encode(data, n, codes);
    const back = new Float32Array(n * d);
    c.decode(codes, n, back);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const code = codes[i * m + j]!;
        // decode = the codeword, bit for bit
        for (let t = 0; t < dsub; t++) assert.equal(back[i * d + j * dsub + t], cb[(j * 256 + code) * dsub + t]);
        // and it is the nearest one (up to rounding)
        const dist = (cw: number) => {
          let s = 0;
          for (let t = 0; t < dsub; t++) s += (data[i * d + j * dsub + t]! - cb[(j * 256 + cw) * dsub + t]!) ** 2;
          return s;
        };
        let best = Infinity;
        for (let cw = 0; cw < 256; cw++) best = Math.min(best, dist(cw));
        assert.ok(dist(code) <= best + 1e-5 * Math.max(1, best), `row ${i} sub ${j}: chose ${dist(code)}, best ${best}`);
      }
    }
    // a copy survives setCodebooks into another codec and encodes the same
    const c2 = new PQCodec(d, m);
    c2.setCodebooks(cb);
    const codes2 = new Uint8Array(n * m);
    c2.encode(data, n, codes2);
    assert.deepEqual(codes2, codes);
  });
});

function exactScore(metric: Metric, q: Float32Array, x: Float32Array): number {
  let s = 0;
  for (let j = 0; j < q.length; j++) s += metric === 'l2' ? (q[j]! - x[j]!) ** 2 : q[j]! * x[j]!;
  return s;
}

describe('asymmetric distances', () => {
  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: the ADC distance is ‖q − decode(code)‖² (⟨q, decode⟩ for ip) — flat PQ, IVF-PQ with and without the precomputed table`, async () => {
      const d = 16,
        n = 700,
        nq = 4;
      const { data } = clusteredVectors(n + nq, d, { seed: 9, clusters: 8 });
      const base = data.subarray(0, n * d),
        queries = data.slice(n * d);
      const indexes = [
        new PQIndex(d, { metric, m: 4 }),
        new IVFPQIndex(d, { metric, m: 4, nlist: 8 }),
        new IVFPQIndex(d, { metric, m: 8, nlist: 8, precomputedTable: false }),
      ];
      try {
        for (const index of indexes) {
          await index.train(base, { threads: 1, iterations: 5 });
          index.add(base);
          if (index.kind === 'ivf-pq') assert.equal(index.usesPrecomputedTable, metric === 'l2' && index.m === 4, 'table policy');
          const r = index.search(queries, n, { nprobe: 8 });
          const ra = await index.searchAsync(queries, n, { nprobe: 8, threads: 2 });
          assert.deepEqual(ra.labels, r.labels, `${index.kind}: async = sync`);
          assert.deepEqual(ra.distances, r.distances);
          for (let i = 0; i < nq; i++) {
            const q = queries.subarray(i * d, (i + 1) * d);
            let scale = 0;
            for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(r.distances[i * n + j]!));
            for (let j = 0; j < n; j++) {
              const id = r.labels[i * n + j]!;
              const want = exactScore(metric, q, index.reconstruct(id));
              const got = r.distances[i * n + j]!;
              assert.ok(Math.abs(got - want) <= 2e-5 * Math.max(1, scale), `${index.kind} m=${index.m} q${i} id ${id}: ${got} vs ${want}`);
            }
          }
        }
      } finally {
        for (const index of indexes) index.dispose();
      }
    });
  }

  test('IVF-PQ: the precomputed table and the per-list table give the same answers', async () => {
    const d = 16,
      n = 800;
    const { data } = clusteredVectors(n + 20, d, { seed: 2, clusters: 10 });
    const base = data.subarray(0, n * d),
      queries = data.slice(n * d);
    const a = new IVFPQIndex(d, { m: 8, nlist: 10, precomputedTable: true }),
      b = new IVFPQIndex(d, { m: 8, nlist: 10, precomputedTable: false });
    try {
      await a.train(base, { threads: 1, iterations: 5 });
      await b.train(base, { threads: 1, iterations: 5 });
      a.add(base);
      b.add(base);
      assert.equal(a.usesPrecomputedTable, true);
      assert.equal(b.usesPrecomputedTable, false);
      assert.equal(a.memoryBytes - b.memoryBytes, 10 * 8 * 256 * 4, 'the table is counted in RAM');
      const ra = a.search(queries, 10, { nprobe: 3 }),
        rb = b.search(queries, 10, { nprobe: 3 });
      let same = 0;
      for (let i = 0; i < ra.labels.length; i++) {
        if (ra.labels[i] === rb.labels[i]) same++;
        assert.ok(Math.abs(ra.distances[i]! - rb.distances[i]!) <= 1e-4 * Math.max(1, Math.abs(rb.distances[i]!)));
      }
      assert.ok(same >= ra.labels.length - 2, `labels agree but for rounding ties (${same}/${ra.labels.length})`);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe('many candidates (k ≥ RESERVOIR_MIN_K: a reservoir instead of a heap)', () => {
  test('PQ, IVF-PQ, 8 and 4 bits: a large k begins with the small k’s answer, ids once each, distances in order; async = sync', async () => {
    const d = 16,
      n = 3000,
      nq = 6;
    const { data } = clusteredVectors(n + nq, d, { seed: 4, clusters: 12 });
    const base = data.subarray(0, n * d),
      queries = data.slice(n * d);
    const indexes = [
      new PQIndex(d, { m: 4 }),
      new IVFPQIndex(d, { m: 4, nlist: 12 }),
      new PQIndex(d, { m: 8, nbits: 4 }),
      new IVFPQIndex(d, { m: 8, nbits: 4, nlist: 12 }),
    ];
    try {
      for (const index of indexes) {
        await index.train(base, { threads: 1, iterations: 5 });
        index.add(base);
        const small = 40,
          large = Math.max(RESERVOIR_MIN_K, 500);
        const rs = index.search(queries, small, { nprobe: 6 }),
          rl = index.search(queries, large, { nprobe: 6 }),
          ra = await index.searchAsync(queries, large, { nprobe: 6, threads: 2 });
        const what = `${index.kind} nbits ${index.describe().codec ?? ''}`;
        assert.deepEqual(ra.labels, rl.labels, `${what}: async = sync`);
        assert.deepEqual(ra.distances, rl.distances);
        for (let i = 0; i < nq; i++) {
          const labels = rl.labels.subarray(i * large, (i + 1) * large),
            dist = rl.distances.subarray(i * large, (i + 1) * large);
          assert.deepEqual(labels.subarray(0, small), rs.labels.subarray(i * small, (i + 1) * small), `${what} q${i}: the small k's answer first`);
          assert.deepEqual(dist.subarray(0, small), rs.distances.subarray(i * small, (i + 1) * small));
          const found = labels.filter((l) => l >= 0);
          assert.ok(found.length >= small, `${what} q${i}: found ${found.length}`);
          assert.equal(new Set(found).size, found.length, `${what} q${i}: an id twice`);
          for (let j = 1; j < found.length; j++) assert.ok(dist[j - 1]! <= dist[j]!, `${what} q${i}: out of order at ${j}`);
        }
      }
    } finally {
      for (const index of indexes) index.dispose();
    }
  });
});
