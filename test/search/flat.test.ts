import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NitamonoError } from '../../src/errors.js';
import { FlatIndex } from '../../src/search/flat.js';
import { loadIndex } from '../../src/search/load.js';
import { l2Normalize } from '../../src/vectors/matrix.js';
import { clusteredVectors, uniformVectors } from '../../src/vectors/synthetic.js';

/** Brute force in plain JS (float64): the ground truth the index must agree with. */
function bruteForce(base: Float32Array, queries: Float32Array, d: number, k: number, metric: 'l2' | 'ip' = 'l2'): number[][] {
  const n = base.length / d,
    nq = queries.length / d,
    out: number[][] = [];
  for (let i = 0; i < nq; i++) {
    const s: Array<[number, number]> = [];
    for (let r = 0; r < n; r++) {
      let v = 0;
      for (let j = 0; j < d; j++) {
        const a = queries[i * d + j]!,
          b = base[r * d + j]!;
        v += metric === 'l2' ? (a - b) * (a - b) : -a * b;
      }
      s.push([v, r]);
    }
    s.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    out.push(s.slice(0, k).map((e) => e[1]));
  }
  return out;
}

function trueScore(base: Float32Array, queries: Float32Array, d: number, qi: number, row: number, metric: 'l2' | 'ip'): number {
  let v = 0;
  for (let j = 0; j < d; j++) {
    const a = queries[qi * d + j]!,
      b = base[row * d + j]!;
    v += metric === 'l2' ? (a - b) * (a - b) : -a * b;
  }
  return v;
}

function rowsOf(labels: Int32Array, nq: number, k: number): number[][] {
  return Array.from({ length: nq }, (_, i) => Array.from(labels.subarray(i * k, (i + 1) * k)));
}

test("the seed's numbers: squared distances 13 (2-D) and 173 (3-D)", () => {
  const two = new FlatIndex(2);
  two.add(new Float32Array([9, 7]));
  const r2 = two.search(new Float32Array([6, 5]), 1);
  assert.equal(r2.distances[0], 13);
  assert.equal(r2.labels[0], 0);
  const three = new FlatIndex(3);
  three.add(new Float32Array([9, 10, 8]));
  assert.equal(three.search(new Float32Array([3, 21, 12]), 1).distances[0], 173);
});

test('exact search equals brute force, single and batched, both metrics', async () => {
  for (const d of [3, 7, 128]) {
    const base = uniformVectors(500, d, d),
      queries = uniformVectors(20, d, d + 1);
    for (const metric of ['l2', 'ip'] as const) {
      const idx = new FlatIndex(d, { metric });
      idx.add(base);
      const k = 5;
      const want = bruteForce(base, queries, d, k, metric);
      const single = want.map((_, i) => Array.from(idx.search(queries.subarray(i * d, (i + 1) * d), k).labels));
      assert.deepEqual(single, want, `single ${metric} d=${d}`);
      // The batched kernel uses ‖q‖²+‖x‖²−2⟨q,x⟩, whose rounding may swap near-ties: compare
      // each rank's true distance instead of the id.
      const batch = idx.search(queries, k);
      const par = await idx.searchAsync(queries, k, { threads: 2 });
      for (const [name, r] of [
        ['batch', batch],
        ['async', par],
      ] as const) {
        const got = rowsOf(r.labels, 20, k);
        for (let i = 0; i < 20; i++)
          for (let j = 0; j < k; j++) {
            const t = trueScore(base, queries, d, i, want[i]![j]!, metric),
              g = trueScore(base, queries, d, i, got[i]![j]!, metric);
            assert.ok(Math.abs(t - g) <= 1e-4 * Math.max(1, Math.abs(t)), `${name} ${metric} d=${d} query ${i} rank ${j}: ${g} vs ${t}`);
          }
      }
      assert.equal(batch.distancesComputed, 20 * 500);
      // distances are sorted best-first
      for (let i = 0; i < 20; i++)
        for (let j = 1; j < k; j++) {
          const a = batch.distances[i * k + j - 1]!,
            b = batch.distances[i * k + j]!;
          assert.ok(metric === 'l2' ? a <= b : a >= b);
        }
    }
  }
});

test('cosine is inner product on L2-normalised vectors', () => {
  const d = 16,
    base = l2Normalize(uniformVectors(100, d, 3), d),
    q = l2Normalize(uniformVectors(1, d, 4), d);
  const idx = new FlatIndex(d, { metric: 'ip' });
  idx.add(base);
  const r = idx.search(q, 3);
  let best = -Infinity;
  for (let i = 0; i < 100; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += base[i * d + j]! * q[j]!;
    best = Math.max(best, s);
  }
  assert.ok(Math.abs(r.distances[0]! - best) < 1e-5);
  assert.ok(r.distances[0]! <= 1.00001);
});

test('n < k pads with -1 and NaN; k = n returns everything; duplicates tie-break by id', () => {
  const idx = new FlatIndex(2);
  idx.add(new Float32Array([1, 1, 1, 1, 5, 5]), [30, 10, 20]);
  const r = idx.search(new Float32Array([1, 1]), 5);
  assert.deepEqual(Array.from(r.labels), [10, 30, 20, -1, -1]);
  assert.ok(Number.isNaN(r.distances[4]!));
  assert.deepEqual(Array.from(idx.search(new Float32Array([1, 1]), 3).labels), [10, 30, 20]);
});

test('custom ids, remove, has, reconstruct', () => {
  const d = 4,
    { data } = clusteredVectors(200, d, { seed: 5 });
  const idx = new FlatIndex(d);
  const ids = Array.from({ length: 200 }, (_, i) => 1000 + i * 3);
  idx.add(data, ids);
  assert.equal(idx.size, 200);
  assert.ok(idx.has(1003));
  assert.deepEqual(Array.from(idx.reconstruct(1003)), Array.from(data.subarray(d, 2 * d)));
  const removed = ids.filter((_, i) => i % 2 === 0);
  assert.equal(idx.remove([...removed, 99999]), 100);
  assert.equal(idx.size, 100);
  const r = idx.search(data, 10);
  const gone = new Set(removed);
  for (const l of r.labels) assert.ok(!gone.has(l), `removed id ${l} returned`);
  // the query equal to a kept vector finds it first
  assert.equal(r.labels[1 * 10], 1003);
  // automatic ids continue after the largest id
  idx.add(new Float32Array(d));
  assert.ok(idx.has(1000 + 199 * 3 + 1));
});

test('bad input gives clear errors', () => {
  const idx = new FlatIndex(3);
  assert.throws(
    () => idx.add(new Float32Array(4)),
    (e: unknown) => e instanceof NitamonoError && e.code === 'DIMENSION_MISMATCH',
  );
  assert.throws(
    () => idx.add(new Float32Array([1, NaN, 2])),
    (e: unknown) => e instanceof NitamonoError && e.code === 'NOT_FINITE',
  );
  assert.throws(
    () => idx.add(new Float32Array([1, Infinity, 2])),
    (e: unknown) => e instanceof NitamonoError && e.code === 'NOT_FINITE',
  );
  assert.throws(() => idx.add(new Float32Array(6), [1, 1]), /already/);
  assert.throws(() => idx.add(new Float32Array(3), [-1]), /not an integer/);
  assert.throws(() => idx.search(new Float32Array(3), 0), /k must be a positive integer/);
  assert.throws(
    () => idx.search(new Float32Array(2), 1),
    (e: unknown) => e instanceof NitamonoError && e.code === 'DIMENSION_MISMATCH',
  );
  assert.throws(() => new FlatIndex(0), /dimension/);
  // an empty index answers with padding, not an error
  const r = idx.search(new Float32Array(3), 2);
  assert.deepEqual(Array.from(r.labels), [-1, -1]);
  assert.equal(r.distancesComputed, 0);
});

test('save/load round trip gives identical results; corruption is rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nitamono-flat-'));
  const d = 12,
    { data } = clusteredVectors(300, d, { seed: 9 });
  const idx = new FlatIndex(d);
  idx.add(data);
  idx.remove([5, 6, 7]);
  const path = join(dir, 'flat.index');
  await idx.save(path);
  const back = await loadIndex(path);
  assert.equal(back.kind, 'flat');
  assert.equal(back.size, 297);
  const a = idx.search(data.subarray(0, 20 * d), 7),
    b = back.search(data.subarray(0, 20 * d), 7);
  assert.deepEqual(b.labels, a.labels);
  assert.deepEqual(b.distances, a.distances);
  const bytes = readFileSync(path);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(join(dir, 'bad.index'), bytes);
  await assert.rejects(loadIndex(join(dir, 'bad.index')), /bad\.index.*checksum/);
  writeFileSync(join(dir, 'short.index'), bytes.subarray(0, 100));
  await assert.rejects(loadIndex(join(dir, 'short.index')), /short\.index.*truncated/);
});

test('large k (more than the small-k sort handles) is sorted and exact', () => {
  const d = 5,
    base = uniformVectors(400, d, 21),
    q = uniformVectors(1, d, 22);
  const idx = new FlatIndex(d);
  idx.add(base);
  const r = idx.search(q, 150);
  assert.deepEqual(Array.from(r.labels), bruteForce(base, q, d, 150)[0]);
});
