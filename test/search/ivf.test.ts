import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NitamonoError } from '../../src/errors.js';
import { recallAt } from '../../src/eval/recall.js';
import { FlatIndex } from '../../src/search/flat.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { loadIndex } from '../../src/search/load.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';

const d = 16;
const { data } = clusteredVectors(4000, d, { clusters: 40, seed: 11 });
// the same seed replays the same stream: these are the first 100 base points, perturbed below
const queries = clusteredVectors(100, d, { clusters: 40, seed: 11 }).data;
const q = new Float32Array(queries.length);
for (let i = 0; i < q.length; i++) q[i] = queries[i]! + 0.05 * Math.sin(i); // near, not equal, to base points

async function build(metric: 'l2' | 'ip' = 'l2', nlist?: number): Promise<{ ivf: IVFIndex; flat: FlatIndex }> {
  const ivf = new IVFIndex(d, { metric, ...(nlist ? { nlist } : {}) });
  await ivf.train(data, { threads: 2 });
  ivf.add(data);
  const flat = new FlatIndex(d, { metric });
  flat.add(data);
  return { ivf, flat };
}

function singles(index: IVFIndex | FlatIndex, k: number, nprobe?: number): Int32Array {
  const out = new Int32Array(100 * k);
  for (let i = 0; i < 100; i++) out.set(index.search(q.subarray(i * d, (i + 1) * d), k, nprobe ? { nprobe } : {}).labels, i * k);
  return out;
}

test('default nlist is ceil(sqrt(N)) and every vector lands in a list', async () => {
  const { ivf } = await build();
  assert.equal(ivf.nlist, Math.ceil(Math.sqrt(4000)));
  const sizes = ivf.listSizes();
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    4000,
  );
  const st = ivf.listStats();
  assert.equal(st.nlist, 64);
  assert.ok(st.imbalance >= 1);
});

test('nprobe = nlist returns exactly the flat results (both metrics)', async () => {
  for (const metric of ['l2', 'ip'] as const) {
    const { ivf, flat } = await build(metric, 32);
    assert.deepEqual(singles(ivf, 10, 32), singles(flat, 10), metric);
    const r = ivf.search(q.subarray(0, d), 10, { nprobe: 32 });
    assert.equal(r.distancesComputed, 32 + 4000);
  }
});

test('recall on clustered data is high at small nprobe and grows with nprobe; fewer distances than flat', async () => {
  const { ivf, flat } = await build('l2', 40);
  const gt = flat.search(q, 10);
  let last = 0;
  for (const nprobe of [1, 2, 4, 8]) {
    const r = await ivf.searchAsync(q, 10, { nprobe, threads: 2 });
    const rec = recallAt(r, gt, 10);
    assert.ok(rec.kRecallAtK >= last - 1e-9, `recall should not drop with nprobe (${nprobe})`);
    last = rec.kRecallAtK;
    assert.ok(r.distancesComputed < gt.distancesComputed);
    if (nprobe === 4) assert.ok(rec.kRecallAtK > 0.9, `10-recall@10 at nprobe 4 was ${rec.kRecallAtK}`);
  }
});

test('sync and async search agree', async () => {
  const { ivf } = await build('l2', 20);
  const a = ivf.search(q, 5, { nprobe: 3 }),
    b = await ivf.searchAsync(q, 5, { nprobe: 3, threads: 2 });
  assert.deepEqual(b.labels, a.labels);
  assert.equal(b.distancesComputed, a.distancesComputed);
});

test('remove then search never returns a removed id; add after remove keeps lists consistent', async () => {
  const { ivf } = await build('l2', 20);
  const removed = Array.from({ length: 2000 }, (_, i) => i * 2);
  assert.equal(ivf.remove(removed), 2000);
  const gone = new Set(removed);
  const r = ivf.search(data.subarray(0, 200 * d), 10, { nprobe: 20 });
  for (const l of r.labels) assert.ok(!gone.has(l));
  assert.equal(
    ivf.listSizes().reduce((a, b) => a + b, 0),
    2000,
  );
  ivf.add(data.subarray(0, 10 * d), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  assert.equal(ivf.size, 2010);
  assert.equal(ivf.search(data.subarray(4 * d, 5 * d), 1, { nprobe: 20 }).labels[0], 8);
});

test('save/load round trip; corruption, newer version and wrong magic are rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nitamono-ivf-'));
  const { ivf } = await build('l2', 16);
  const path = join(dir, 'ivf.index');
  await ivf.save(path);
  const back = await loadIndex(path);
  assert.equal(back.kind, 'ivf');
  assert.deepEqual((back as IVFIndex).listSizes(), ivf.listSizes());
  const a = ivf.search(q, 10, { nprobe: 3 }),
    b = back.search(q, 10, { nprobe: 3 });
  assert.deepEqual(b.labels, a.labels);
  assert.deepEqual(b.distances, a.distances);
  const bytes = readFileSync(path);
  const flipped = Buffer.from(bytes);
  flipped[bytes.length - 200] ^= 1;
  writeFileSync(join(dir, 'flip.index'), flipped);
  await assert.rejects(loadIndex(join(dir, 'flip.index')), /flip\.index.*checksum/);
  const magic = Buffer.from(bytes);
  magic[0] = 0x58;
  writeFileSync(join(dir, 'magic.index'), magic);
  await assert.rejects(loadIndex(join(dir, 'magic.index')), /magic\.index.*magic/);
  const newer = Buffer.from(bytes);
  newer.writeUInt32LE(99, 8);
  writeFileSync(join(dir, 'newer.index'), newer);
  await assert.rejects(loadIndex(join(dir, 'newer.index')), /newer\.index.*newer/);
  writeFileSync(join(dir, 'trunc.index'), bytes.subarray(0, bytes.length - 1000));
  await assert.rejects(loadIndex(join(dir, 'trunc.index')), /trunc\.index.*(truncated|checksum)/);
});

test('bad input: untrained, nprobe clamped with a warning, nprobe <= 0, n < K', async () => {
  const fresh = new IVFIndex(d, { nlist: 8 });
  assert.throws(
    () => fresh.search(q.subarray(0, d), 1),
    (e: unknown) => e instanceof NitamonoError && e.code === 'NOT_TRAINED',
  );
  assert.throws(
    () => fresh.add(data.subarray(0, d)),
    (e: unknown) => e instanceof NitamonoError && e.code === 'NOT_TRAINED',
  );
  await assert.rejects(new IVFIndex(d, { nlist: 50 }).train(data.subarray(0, 10 * d)), /at least as many points as clusters/);
  const { ivf, flat } = await build('l2', 8);
  const r = ivf.search(q.subarray(0, d), 5, { nprobe: 100 });
  assert.equal(r.nprobe, 8);
  assert.match(r.warnings?.[0] ?? '', /nprobe 100 is more than nlist 8/);
  assert.deepEqual(r.labels, flat.search(q.subarray(0, d), 5).labels);
  assert.throws(() => ivf.search(q.subarray(0, d), 5, { nprobe: 0 }), /nprobe must be a positive integer/);
  assert.throws(() => ivf.search(q.subarray(0, d), -1), /k must be a positive integer/);
  assert.throws(() => ivf.search(new Float32Array([NaN, ...new Array(d - 1).fill(0)]), 1), /finite|NaN/i);
});

test('with many duplicate vectors, nprobe = nlist still equals flat: ties break on the id', async () => {
  // 2000 vectors but only 50 distinct ones (like colour histograms of greyscale images)
  const distinct = clusteredVectors(50, d, { clusters: 5, seed: 8 }).data;
  const dup = new Float32Array(2000 * d);
  for (let i = 0; i < 2000; i++) dup.set(distinct.subarray((i % 50) * d, ((i % 50) + 1) * d), i * d);
  const ids = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2003); // scrambled, distinct
  const ivf = new IVFIndex(d, { nlist: 10 });
  await ivf.train(dup);
  ivf.add(dup, ids);
  const flat = new FlatIndex(d);
  flat.add(dup, ids);
  for (let i = 0; i < 50; i++) {
    const qv = distinct.subarray(i * d, (i + 1) * d);
    const a = flat.search(qv, 25),
      b = ivf.search(qv, 25, { nprobe: 10 });
    assert.deepEqual(b.labels, a.labels, `query ${i}`);
    // ties come out in increasing id order
    const first = Array.from(a.labels.subarray(0, 25));
    assert.deepEqual(
      first.slice(0, 25),
      [...first].sort((x, y) => x - y),
    );
  }
  const async = await ivf.searchAsync(distinct, 25, { nprobe: 10, threads: 2 });
  const flatBatch = flat.search(distinct, 25);
  assert.deepEqual(async.labels, flatBatch.labels);
});
