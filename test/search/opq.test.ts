// OPQ: the SVD and Procrustes it rests on, the rotation's effect on PQ error, OPQ in front of
// PQ and IVF-PQ (exact in the limit, distances kept, reconstruct, save/load), and the factory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { planIndex, sameShape } from '../../src/collection/auto-index.js';
import { readContainer } from '../../src/persist/container.js';
import { IVFPQIndex, PQIndex } from '../../src/search/coded.js';
import { indexFactory, parseIndexFactory } from '../../src/search/factory.js';
import { FlatIndex } from '../../src/search/flat.js';
import { orthogonalityError, procrustes, randomOrthogonal, svd } from '../../src/search/linalg.js';
import { loadIndex } from '../../src/search/load.js';
import { OPQMatrix } from '../../src/search/opq.js';
import { PQCodec } from '../../src/search/pq.js';
import { ArrayRefine } from '../../src/search/refine.js';
import { rng } from '../../src/util/random.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

/** a·b for square row-major n×n. */
function mul(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + a[i * n + k]! * b[k * n + j]!;
  return out;
}
const transpose = (a: ArrayLike<number>, n: number) => Float64Array.from({ length: n * n }, (_, i) => a[(i % n) * n + Math.floor(i / n)]!);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  return w;
};

describe('SVD by one-sided Jacobi', () => {
  test('a 3×3 of known singular values 3, 2, 1 built from two rotations', () => {
    const n = 3;
    const p = randomOrthogonal(n, 5),
      q = randomOrthogonal(n, 6);
    const a = mul(mul(p, Float64Array.of(3, 0, 0, 0, 2, 0, 0, 0, 1), n), q, n);
    const { u, s, v } = svd(a, n);
    assert.deepEqual(
      Array.from(s)
        .sort((x, y) => y - x)
        .map((x) => Number(x.toFixed(12))),
      [3, 2, 1],
    );
    const us = Float64Array.from(u, (x, i) => x * s[i % n]!);
    assert.ok(maxAbsDiff(mul(us, transpose(v, n), n), a) < 1e-12, 'u·diag(s)·vᵀ = a');
    assert.ok(orthogonalityError(transpose(u, n), n) < 1e-12);
    assert.ok(orthogonalityError(transpose(v, n), n) < 1e-12);
  });

  test('random 40×40: reconstruction, orthogonality; a warm start from v converges at once', () => {
    const n = 40;
    const rand = rng(3);
    const a = Float64Array.from({ length: n * n }, () => rand() - 0.5);
    const r = svd(a, n);
    const us = Float64Array.from(r.u, (x, i) => x * r.s[i % n]!);
    assert.ok(maxAbsDiff(mul(us, transpose(r.v, n), n), a) < 1e-12);
    assert.ok(orthogonalityError(transpose(r.u, n), n) < 1e-9);
    assert.ok(orthogonalityError(transpose(r.v, n), n) < 1e-12);
    assert.ok(r.sweeps > 3, `a cold start takes several sweeps (${r.sweeps})`);
    const warm = svd(a, n, { v0: r.v });
    assert.ok(warm.sweeps <= 2, `warm start: ${warm.sweeps} sweeps`);
  });

  test('rank-deficient input still gives an orthogonal u (the null space completed)', () => {
    const n = 6;
    const a = new Float64Array(n * n);
    // rank 2: two outer products
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = (i + 1) * (j % 3) + (i % 2) * (n - j);
    const r = svd(a, n);
    assert.equal(r.s.filter((x) => x > 1e-9).length, 2);
    assert.ok(orthogonalityError(transpose(r.u, n), n) < 1e-9);
    const us = Float64Array.from(r.u, (x, i) => x * r.s[i % n]!);
    assert.ok(maxAbsDiff(mul(us, transpose(r.v, n), n), a) < 1e-10);
  });

  test('bad input is a clear error', () => {
    assert.throws(() => svd(new Float64Array(5), 2), expectError('INVALID_ARGUMENT', /2×2 = 4 numbers, got 5/));
    assert.throws(() => svd(Float64Array.of(1, Number.NaN, 0, 1), 2), expectError('INVALID_ARGUMENT', /non-finite/));
  });
});

describe('orthogonal Procrustes', () => {
  test('recovers a known rotation from pairs y = R·x, and is orthogonal', () => {
    const d = 12,
      n = 200;
    const R = randomOrthogonal(d, 11);
    const rand = rng(12);
    const m = new Float64Array(d * d); // Σ y·xᵀ
    for (let t = 0; t < n; t++) {
      const x = Float64Array.from({ length: d }, () => rand() - 0.5);
      const y = new Float64Array(d);
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) y[i] = y[i]! + R[i * d + j]! * x[j]!;
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] = m[i * d + j]! + y[i]! * x[j]!;
    }
    const { r } = procrustes(m, d);
    assert.ok(maxAbsDiff(r, R) < 1e-9, 'the rotation is found');
    assert.ok(orthogonalityError(r, d) < 1e-9);
    assert.ok(orthogonalityError(randomOrthogonal(50, 1), 50) < 1e-12);
  });
});

/** Anisotropic data: most variance in the first quarter of the dimensions, correlated with the rest. */
function anisotropic(n: number, d: number, seed: number): Float32Array {
  const rand = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const x = new Float32Array(n * d);
  const q = d / 4;
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: d }, (_, j) => gauss() * (j < q ? 10 : 0.5));
    for (let j = 0; j < d; j++) x[i * d + j] = z[j]! + (j >= q ? 0.5 * z[j % q]! : 0);
  }
  return x;
}

function pqError(pq: PQCodec, x: Float32Array, n: number): number {
  const codes = new Uint8Array(n * pq.m);
  pq.encode(x, n, codes);
  const y = new Float32Array(x.length);
  pq.decode(codes, n, y);
  let e = 0;
  for (let i = 0; i < x.length; i++) e += (y[i]! - x[i]!) ** 2;
  return e / n;
}

describe('OPQMatrix', () => {
  test('on anisotropic data the rotated PQ loses less than plain PQ (measured, fixed seeds)', async () => {
    const d = 32,
      m = 8,
      n = 3000;
    const x = anisotropic(n, d, 7);
    const pq = new PQCodec(d, m);
    await pq.train(x, n, { seed: 1, threads: 1 });
    const plain = pqError(pq, x, n);
    const opq = new OPQMatrix(d, m, { niter: 8 });
    const r = await opq.train(x, n, { threads: 1 });
    assert.equal(r.objective.length, 8);
    assert.ok(r.objective.at(-1)! < r.objective[0]!, `the alternation lowers its objective: ${r.objective.join(', ')}`);
    const y = opq.apply(x, n);
    const pq2 = new PQCodec(d, m);
    await pq2.train(y, n, { seed: 1, threads: 1 });
    const rotated = pqError(pq2, y, n);
    assert.ok(rotated < 0.6 * plain, `OPQ error ${rotated.toFixed(1)} vs PQ ${plain.toFixed(1)}`);
    // orthogonal: distances and norms are kept, and reverse undoes apply
    assert.ok(orthogonalityError(opq.getMatrix()!, d) < 1e-5);
    const back = y.slice(0, 2 * d);
    opq.reverseInPlace(back, 2);
    assert.ok(maxAbsDiff(back, x.subarray(0, 2 * d)) < 1e-3);
    const dist = (v: Float32Array) => v.subarray(0, d).reduce((s, a, j) => s + (a - v[d + j]!) ** 2, 0);
    assert.ok(Math.abs(dist(y) - dist(x)) <= 1e-4 * dist(x));
  });

  test('bad settings and untrained use are clear errors', () => {
    assert.throws(() => new OPQMatrix(30, 4), expectError('INVALID_ARGUMENT', /must divide the dimension 30/));
    assert.throws(() => new OPQMatrix(32, 4, { niter: 0 }), expectError('INVALID_ARGUMENT', /OPQ niter/));
    assert.throws(() => new OPQMatrix(32, 4).apply(new Float32Array(32)), expectError('NOT_TRAINED', /OPQ rotation/));
    assert.throws(() => new OPQMatrix(2, 1).setMatrix(Float32Array.of(1, 0, 0, 2)), expectError('INVALID_ARGUMENT', /not orthogonal/));
  });
});

describe('OPQ in front of PQ and IVF-PQ', () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir('nitamono-opq-');
  });
  after(() => dir.dispose());
  const d = 16,
    n = 600,
    nq = 10,
    k = 10;
  const { data } = clusteredVectors(n + nq, d, { seed: 31, clusters: 8 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);
  const FAST = { threads: 1, iterations: 5 };

  for (const metric of ['l2', 'ip'] as const) {
    test(`${metric}: nprobe = nlist and every candidate re-ranked equals exact search (ids and distances), sync and async`, async () => {
      const flat = new FlatIndex(d, { metric });
      flat.add(base);
      const exact = flat.search(queries, k);
      flat.dispose();
      for (const description of ['OPQ4,IVF8,PQ4,RFlat', 'OPQ4,PQ4,RFlat']) {
        const index = indexFactory(d, description, { metric, refine: new ArrayRefine(base, d), opq: { niter: 3 } }) as PQIndex | IVFPQIndex;
        try {
          await index.train(base, FAST);
          index.add(base);
          const r = index.search(queries, k, { nprobe: 8, refineFactor: n / k });
          assert.deepEqual(Array.from(r.labels), Array.from(exact.labels), description);
          for (let i = 0; i < r.distances.length; i++)
            assert.ok(Math.abs(r.distances[i]! - exact.distances[i]!) <= 1e-4 * Math.max(1, Math.abs(exact.distances[i]!)), `${description} distance ${i}`);
          const ra = await index.searchAsync(queries, k, { nprobe: 8, refineFactor: n / k, threads: 2 });
          assert.deepEqual(ra.labels, r.labels);
        } finally {
          index.dispose();
        }
      }
    });
  }

  test('codes estimate true distances; reconstruct comes back in the original space; memoryBytes counts d×d', async () => {
    const plain = new IVFPQIndex(d, { m: 4, nlist: 4 });
    const opq = new IVFPQIndex(d, { m: 4, nlist: 4, opq: { niter: 3 } });
    try {
      for (const ix of [plain, opq]) {
        await ix.train(base, FAST);
        ix.add(base);
      }
      assert.equal(opq.memoryBytes - plain.memoryBytes, d * d * 4);
      const rec = opq.reconstruct(5);
      const orig = base.subarray(5 * d, 6 * d);
      let err = 0,
        norm = 0;
      for (let j = 0; j < d; j++) {
        err += (rec[j]! - orig[j]!) ** 2;
        norm += orig[j]! ** 2;
      }
      assert.ok(err < 0.1 * norm, `reconstruction error ${err} vs norm ${norm}`);
      // the ADC distance of a stored vector to itself as query is its quantization error, small
      const self = opq.search(orig, 1, { nprobe: 4 });
      assert.ok(self.distances[0]! <= err * 1.5 + 1e-3, `self distance ${self.distances[0]} vs error ${err}`);
      assert.equal(opq.opqSettings?.m, 4);
      assert.equal(opq.opqSettings?.niter, 3);
    } finally {
      plain.dispose();
      opq.dispose();
    }
  });

  test('save/load round trip: same answers, rotation and settings kept, file version 3', async () => {
    const file = join(dir.path, 'opq.index');
    for (const index of [new IVFPQIndex(d, { m: 4, nlist: 8, opq: { niter: 2 } }), new PQIndex(d, { m: 4, opq: { niter: 2 } })]) {
      try {
        await index.train(base, FAST);
        index.add(base);
        const before = index.search(queries, k, { nprobe: 3 });
        await index.save(file);
        const loaded = (await loadIndex(file)) as PQIndex | IVFPQIndex;
        try {
          assert.equal(loaded.kind, index.kind);
          assert.deepEqual(loaded.opqSettings, index.opqSettings);
          assert.equal(loaded.memoryBytes, index.memoryBytes);
          const after = loaded.search(queries, k, { nprobe: 3 });
          assert.deepEqual(after.labels, before.labels);
          assert.deepEqual(after.distances, before.distances);
        } finally {
          loaded.dispose();
        }
      } finally {
        index.dispose();
      }
    }
    assert.equal((await readContainer(file, { maxVersion: 99 })).version, 3);
    // a reader of version 2 refuses the file rather than ignore its rotation
    await assert.rejects(readContainer(file, { maxVersion: 2 }), expectError('BAD_FILE', /version 3/));
  });

  test('factory strings with OPQ: canonical forms and clear errors', () => {
    assert.equal(parseIndexFactory('opq16,ivf256,pq16np').description, 'OPQ16,IVF256,PQ16');
    assert.equal(parseIndexFactory('OPQ16,PQ16x8,RFlat').description, 'OPQ16,PQ16,RFlat');
    assert.equal(parseIndexFactory('OPQ8,IVF64_HNSW32,PQ8').opq, 8);
    const bad: Array<[string, RegExp]> = [
      ['OPQ16', /rotation in front of a product quantizer/],
      ['OPQ,PQ16', /needs its number of sub-quantizers/],
      ['OPQ16_64,PQ16', /OPQ\{m\}_\{d2\}.*not supported/],
      ['OPQ16,IVF256,PQ8', /m of 'OPQ16' must be the PQ's/],
      ['OPQ16,IVF256,Flat', /not one/],
      ['OPQ16,SQ8', /not one/],
      ['IVF256,OPQ16,PQ16', /must come first/],
    ];
    for (const [s, re] of bad) assert.throws(() => parseIndexFactory(s), expectError('INVALID_ARGUMENT', re), s);
    assert.throws(() => indexFactory(30, 'OPQ4,PQ4'), expectError('INVALID_ARGUMENT', /OPQ4 needs m to divide the dimension 30/));
    assert.throws(() => indexFactory(32, 'IVF4,PQ4', { opq: { niter: 2 } }), expectError('INVALID_ARGUMENT', /has no rotation/));
  });

  test('a collection policy keeps the rotation: planned as written, its RAM estimate counts d×d', () => {
    const p = planIndex('OPQ4,IVF8,PQ4,RFlat', 1000, 16, Number.POSITIVE_INFINITY, null);
    assert.equal(p.factory, 'OPQ4,IVF8,PQ4,RFlat');
    assert.equal(p.spec.opq, 4);
    const plain = planIndex('IVF8,PQ4,RFlat', 1000, 16, Number.POSITIVE_INFINITY, null);
    assert.equal(p.ramBytes - plain.ramBytes, 16 * 16 * 4);
    assert.equal(sameShape('OPQ4,IVF8,PQ4', 'IVF16,PQ4'), false);
    assert.equal(sameShape('OPQ4,IVF8,PQ4', 'OPQ4,IVF16,PQ4'), true);
  });
});
