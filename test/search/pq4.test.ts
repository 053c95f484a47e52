// 4-bit PQ with fast scan (PQ{m}x4fs): the codec's nibble codes, and searches that equal a
// brute-force ADC over byte-quantized tables computed here from the definition.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CodedIndex, IVFPQIndex, PQIndex } from '../../src/search/coded.js';
import { PQCodec } from '../../src/search/pq.js';
import type { Metric, SearchResult } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

const sq = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, n: number): number => {
  let s = 0;
  for (let t = 0; t < n; t++) s += (a[ao + t]! - b[bo + t]!) ** 2;
  return s;
};
const dot = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, n: number): number => {
  let s = 0;
  for (let t = 0; t < n; t++) s += a[ao + t]! * b[bo + t]!;
  return s;
};

describe('PQCodec, 4 bits', () => {
  test('16 codewords, m/2 bytes; odd m, other widths and too few rows refused', async () => {
    const c = new PQCodec(12, 4, 4);
    assert.deepEqual([c.m, c.dsub, c.ksub, c.nbits, c.codeSize(12), c.scanner], [4, 3, 16, 4, 2, 'pq4']);
    assert.throws(
      () => new PQCodec(12, 3, 4),
      expectError('INVALID_ARGUMENT', /m \(PQ sub-quantizers\) must be even with 4-bit codes \(two sub-codes a byte\), got m = 3/),
    );
    assert.throws(() => new PQCodec(12, 4, 5), expectError('INVALID_ARGUMENT', /nbits .* must be 8 .* or 4 .*got 5/));
    assert.throws(() => new IVFPQIndex(12, { m: 6, nbits: 2 }), expectError('INVALID_ARGUMENT', /nbits .*got 2/));
    await assert.rejects(c.train(new Float32Array(15 * 12), 15), expectError('INVALID_ARGUMENT', /PQ training needs at least 16 vectors .* got 15/));
    assert.throws(() => c.setCodebooks(new Float32Array(10)), expectError('INVALID_ARGUMENT', /m×16×dsub = 192 floats, got 10/));
  });

  test('encode packs each sub-vector’s nearest of 16 codewords two a byte (2j low, 2j+1 high); decode gives those codewords', async () => {
    const d = 12,
      m = 6,
      dsub = 2,
      n = 600;
    const { data } = clusteredVectors(n, d, { seed: 3 });
    const c = new PQCodec(d, m, 4);
    await c.train(data, n, { iterations: 6, threads: 1 });
    const cb = c.getCodebooks()!;
    assert.equal(cb.length, m * 16 * dsub);
    const codes = new Uint8Array(n * 3);
    c.encode(data, n, codes);
    const back = new Float32Array(n * d);
    c.decode(codes, n, back);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const code = (codes[i * 3 + (j >> 1)]! >> (j % 2 === 0 ? 0 : 4)) & 15;
        for (let t = 0; t < dsub; t++) assert.equal(back[i * d + j * dsub + t], cb[(j * 16 + code) * dsub + t]);
        let best = Number.POSITIVE_INFINITY;
        for (let w = 0; w < 16; w++) best = Math.min(best, sq(data, i * d + j * dsub, cb, (j * 16 + w) * dsub, dsub));
        const got = sq(data, i * d + j * dsub, cb, (j * 16 + code) * dsub, dsub);
        assert.ok(got <= best + 1e-5 * Math.max(1, best), `row ${i} sub ${j}: ${got} vs nearest ${best}`);
      }
    }
  });
});

/**
 * The fast-scan score of every row for one query, from the definition: per list, the ADC table
 * (L2: ‖q_j − C_jc‖², by residual as below; IP: −⟨q_j, C_jc⟩, plus −⟨q, c⟩ as bias),
 * each sub-quantizer's 16 entries less their minimum, scaled by 255 / the largest range and
 * rounded to bytes; score = base + (Σ bytes)·step. Also each row's step (one per list).
 */
function bruteForce(metric: Metric, q: Float32Array, x: Float32Array, n: number, d: number, m: number, cb: Float32Array, centroids: Float32Array) {
  const dsub = d / m,
    nlist = centroids.length / d || 1;
  const c = new PQCodec(d, m, 4);
  c.setCodebooks(cb);
  const lists = new Int32Array(n);
  const residual = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let best = 0;
    if (centroids.length > 0) {
      const s = (l: number) => (metric === 'l2' ? sq(x, i * d, centroids, l * d, d) : -dot(x, i * d, centroids, l * d, d));
      for (let l = 1; l < nlist; l++) if (s(l) < s(best)) best = l;
    }
    lists[i] = best;
    for (let t = 0; t < d; t++) residual[i * d + t] = Math.fround(x[i * d + t]! - (centroids.length ? centroids[best * d + t]! : 0));
  }
  const codes = new Uint8Array((n * m) / 2);
  c.encode(residual, n, codes);
  const tables = Array.from({ length: nlist }, (_, l) => {
    const cl = centroids.length ? centroids.subarray(l * d, (l + 1) * d) : new Float32Array(d);
    const qr = q.map((v, t) => v - cl[t]!);
    const bias = centroids.length === 0 ? 0 : metric === 'l2' ? sq(q, 0, cl, 0, d) : -dot(q, 0, cl, 0, d);
    const T = new Float64Array(m * 16);
    for (let j = 0; j < m; j++)
      for (let w = 0; w < 16; w++) {
        const o = (j * 16 + w) * dsub;
        // with lists, L2 splits ‖q − c − r‖² as the coarse ‖q − c‖² plus Σ_j (‖(q − c)_j − C_jc‖² − ‖(q − c)_j‖²)
        const shift = centroids.length ? dot(qr, j * dsub, qr, j * dsub, dsub) : 0;
        T[j * 16 + w] = metric === 'l2' ? sq(qr, j * dsub, cb, o, dsub) - shift : -dot(q, j * dsub, cb, o, dsub);
      }
    let range = 0,
      base = bias;
    const mins: number[] = [];
    for (let j = 0; j < m; j++) {
      const row = T.subarray(j * 16, (j + 1) * 16);
      mins.push(Math.min(...row));
      range = Math.max(range, Math.max(...row) - mins[j]!);
      base += mins[j]!;
    }
    const bytes = T.map((v, e) => Math.min(255, Math.floor((v - mins[Math.floor(e / 16)]!) * (255 / range) + 0.5)));
    return { bytes, base, step: range / 255 };
  });
  const scores = new Float64Array(n),
    steps = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = tables[lists[i]!]!;
    let s = 0;
    for (let j = 0; j < m; j++) s += t.bytes[j * 16 + ((codes[(i * m + j) >> 1]! >> ((j & 1) * 4)) & 15)]!;
    scores[i] = t.base + s * t.step;
    steps[i] = t.step;
  }
  return { scores, steps };
}

/**
 * The result for query i holds the k best of `rows` by the brute-force score, with those scores
 * (ties at the k-th may swap). Results report IP as ⟨q, x⟩, the negated score.
 */
function checkTopK(metric: Metric, r: SearchResult, i: number, bf: { scores: Float64Array; steps: Float64Array }, rows: number[], what: string): void {
  const { k } = r;
  const sign = metric === 'ip' ? -1 : 1;
  const tol = (id: number) => 0.01 * bf.steps[id]! + 1e-5 * Math.max(1, Math.abs(bf.scores[id]!));
  const got = new Set<number>();
  for (let j = 0; j < k; j++) {
    const id = r.labels[i * k + j]!;
    assert.ok(rows.includes(id), `${what}: row ${id} is not one of those searched`);
    const dist = sign * r.distances[i * k + j]!;
    assert.ok(Math.abs(dist - bf.scores[id]!) <= tol(id), `${what}: id ${id} scored ${dist}, brute force ${bf.scores[id]}`);
    got.add(id);
  }
  const kth = sign * r.distances[i * k + k - 1]!;
  for (const id of rows) if (!got.has(id)) assert.ok(bf.scores[id]! >= kth - tol(id), `${what}: id ${id} (${bf.scores[id]}) beats the k-th ${kth}`);
}

describe('fast-scan search equals a brute-force ADC over byte tables', () => {
  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: flat PQ8x4fs; IVF6,PQ8x4fsr with and without the precomputed table; IVF6,PQ8x4fs (codes of the vectors); filtered; sync = async`, async () => {
      const d = 16,
        m = 8,
        n = 900,
        nq = 5,
        k = 20;
      const { data } = clusteredVectors(n + nq, d, { seed: 12, clusters: 6 });
      const base = data.subarray(0, n * d),
        queries = data.slice(n * d);
      const indexes: CodedIndex[] = [
        new PQIndex(d, { metric, m, nbits: 4 }),
        new IVFPQIndex(d, { metric, m, nbits: 4, nlist: 6 }),
        new IVFPQIndex(d, { metric, m, nbits: 4, nlist: 6, precomputedTable: false }),
        new IVFPQIndex(d, { metric, m, nbits: 4, nlist: 6, byResidual: false }),
      ];
      const all = Array.from({ length: n }, (_, i) => i);
      const allowed = all.filter((i) => i % 3 === 1);
      try {
        for (const index of indexes) {
          await index.train(base, { threads: 1, iterations: 5 });
          index.add(base);
          const ivf = index instanceof IVFPQIndex;
          if (ivf) assert.equal(index.usesPrecomputedTable, metric === 'l2' && index === indexes[1]);
          const what = `${metric} ${index.kind}${ivf && index.usesPrecomputedTable ? ' (table)' : ''}`;
          const r = index.search(queries, k, { nprobe: 6 });
          const ra = await index.searchAsync(queries, k, { nprobe: 6, threads: 2 });
          assert.deepEqual(ra.labels, r.labels, `${what}: async = sync`);
          assert.deepEqual(ra.distances, r.distances);
          const f = index.search(queries, k, { nprobe: 6, allowed });
          for (let i = 0; i < nq; i++) {
            const bf = bruteForce(
              metric,
              queries.subarray(i * d, (i + 1) * d),
              base,
              n,
              d,
              m,
              index.getCodebooks()!,
              index.byResidual ? index.getCentroids() : new Float32Array(0),
            );
            checkTopK(metric, r, i, bf, all, `${what} q${i}`);
            checkTopK(metric, f, i, bf, allowed, `${what} q${i} filtered`);
          }
        }
        // RAM: m/2-byte codes and ids, offsets, centroids and their norms, 16-codeword books, the nlist×m×16 table
        const ivf = indexes[1]!;
        const table = metric === 'l2' ? 6 * m * 16 * 4 : 0;
        assert.equal(ivf.memoryBytes, n * (m / 2 + 4) + 7 * 4 + 6 * (d + 1) * 4 + m * 16 * (d / m) * 4 + table);
        assert.equal(ivf.describe().codec, 'PQ8x4fsr: 8 sub-quantizers, 4-bit, fast scan (4 bytes a vector, of residuals)');
        // codes of the vectors: no per-list table
        assert.equal(indexes[3]!.memoryBytes, ivf.memoryBytes - table);
      } finally {
        for (const index of indexes) index.dispose();
      }
    });
  }
});
