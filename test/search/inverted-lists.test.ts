import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Arena } from '../../src/kernels/arena.js';
import { createKernels } from '../../src/kernels/index.js';
import { METRIC_L2 } from '../../src/kernels/types.js';
import { F32Codec } from '../../src/search/codec.js';
import { FlatIndex } from '../../src/search/flat.js';
import { InvertedLists, listStats } from '../../src/search/inverted-lists.js';
import { IVFIndex } from '../../src/search/ivf.js';
import { CoarseQuantizer } from '../../src/search/quantizer.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';

/** A quantizer, lists and codec on one arena, as IVFIndex composes them. */
function parts(d: number, nlist: number, centroids: Float32Array) {
  const arena = new Arena(1 << 20);
  const release = (p: number) => arena.release(p);
  const quantizer = new CoarseQuantizer(arena, createKernels(arena.memory), d, METRIC_L2, release);
  quantizer.set(centroids, nlist);
  const codec = new F32Codec(d);
  const lists = new InvertedLists(arena, nlist, codec.codeSize(d), release);
  const add = (v: Float32Array, ids: Int32Array) => {
    const codes = new Uint8Array(ids.length * codec.codeSize(d));
    codec.encode(v, ids.length, codes);
    lists.add(codes, ids, quantizer.assign(v, ids.length));
  };
  return { arena, quantizer, codec, lists, add };
}

/** Every row sits in the list its vector is assigned to, and ids are those added and not removed. */
function assertConsistent(p: ReturnType<typeof parts>, d: number, expected: Map<number, Float32Array>): void {
  const { lists, quantizer, codec } = p;
  const off = lists.offsetsView(),
    ids = lists.idsView();
  assert.equal(off[0], 0);
  assert.equal(off[lists.nlist], lists.n);
  assert.equal(
    lists.sizes().reduce((a, b) => a + b, 0),
    lists.n,
  );
  assert.equal(lists.n, expected.size);
  const row = new Float32Array(d);
  for (let l = 0; l < lists.nlist; l++) {
    assert.ok(off[l]! <= off[l + 1]!);
    for (let r = off[l]!; r < off[l + 1]!; r++) {
      codec.decode(lists.code(r), 1, row);
      assert.deepEqual(row, expected.get(ids[r]!), `row ${r} holds the vector of id ${ids[r]}`);
      assert.equal(quantizer.assign(row)[0], l, `row ${r} (id ${ids[r]}) is in list ${l}`);
    }
  }
}

describe('InvertedLists: add and remove keep the lists consistent', () => {
  test('rows are grouped by list, old rows first, across adds and removes', () => {
    const d = 4,
      nlist = 6,
      { data, centres } = clusteredVectors(600, d, { clusters: nlist, seed: 3 });
    const p = parts(d, nlist, centres);
    const expected = new Map<number, Float32Array>();
    const addRange = (a: number, b: number) => {
      const ids = Int32Array.from({ length: b - a }, (_, i) => 10 * (a + i));
      p.add(data.subarray(a * d, b * d), ids);
      for (let i = a; i < b; i++) expected.set(10 * i, data.slice(i * d, (i + 1) * d));
    };
    addRange(0, 250);
    assertConsistent(p, d, expected);
    const firstOfList0 = p.lists.idsView()[0]!;
    addRange(250, 600);
    assertConsistent(p, d, expected);
    assert.equal(p.lists.idsView()[0], firstOfList0, 'rows added earlier stay first in their list');
    const drop = new Set<number>();
    const ids = p.lists.idsView();
    for (let r = 0; r < p.lists.n; r += 3) {
      drop.add(r);
      expected.delete(ids[r]!);
    }
    assert.equal(p.lists.remove(drop), drop.size);
    assertConsistent(p, d, expected);
    assert.equal(p.lists.remove(new Set([-1, 10 ** 6])), 0);
    addRange(0, 1);
    expected.set(0, data.slice(0, d));
    assertConsistent(p, d, expected);
  });

  test('add, compact and load refuse input that would break the lists', () => {
    const d = 2,
      p = parts(d, 3, new Float32Array([0, 0, 1, 1, 2, 2]));
    assert.throws(() => p.lists.add(new Uint8Array(8), new Int32Array([1]), new Int32Array([3])), expectError('INVALID_ARGUMENT', /list 3 of row 0/));
    assert.throws(
      () => p.lists.add(new Uint8Array(4), new Int32Array([1]), new Int32Array([0])),
      expectError('INVALID_ARGUMENT', /need 1 lists and 8 code bytes/),
    );
    p.add(new Float32Array([0, 0, 2, 2]), new Int32Array([5, 6]));
    assert.throws(() => p.lists.compact(new Int32Array([1, 0])), expectError('INVALID_ARGUMENT', /increasing/));
    assert.throws(() => p.lists.load(new Uint8Array(16), new Int32Array([1, 2]), new Int32Array([0, 2, 1, 2])), expectError('INVALID_ARGUMENT', /decrease/));
    assert.throws(
      () => p.lists.load(new Uint8Array(16), new Int32Array([1, 2]), new Int32Array([0, 1, 1, 3])),
      expectError('INVALID_ARGUMENT', /do not agree/),
    );
  });

  test('a change moves the lists to fresh regions, so a search in flight keeps a consistent view', () => {
    const d = 2,
      p = parts(d, 2, new Float32Array([0, 0, 5, 5]));
    p.add(new Float32Array([0, 0, 5, 5]), new Int32Array([1, 2]));
    const before = { codes: p.lists.codes, ids: p.lists.ids, offsets: p.lists.offsets };
    p.add(new Float32Array([1, 1]), new Int32Array([3]));
    assert.notEqual(p.lists.codes, before.codes);
    assert.notEqual(p.lists.ids, before.ids);
    assert.notEqual(p.lists.offsets, before.offsets);
  });
});

describe('listStats', () => {
  test('min, max, mean, empty lists and imbalance of list sizes', () => {
    assert.deepEqual(listStats([4, 0, 2, 2]), { nlist: 4, min: 0, max: 4, mean: 2, empty: 1, expectedScanPerProbe: 3, imbalance: 1.5 });
    assert.deepEqual(listStats([]), { nlist: 0, min: 0, max: 0, mean: 0, empty: 0, expectedScanPerProbe: 0, imbalance: 0 });
  });
});

describe('IVFIndex through quantizer and lists', () => {
  test('nprobe = nlist equals exact search after adds and removes', async () => {
    const d = 8,
      { data } = clusteredVectors(3000, d, { clusters: 30, seed: 12 });
    const ivf = new IVFIndex(d, { nlist: 24 }),
      flat = new FlatIndex(d);
    try {
      await ivf.train(data, { threads: 1 });
      for (const idx of [ivf, flat]) {
        idx.add(data.subarray(0, 2000 * d));
        idx.remove(Array.from({ length: 700 }, (_, i) => i * 2));
        idx.add(
          data.subarray(2000 * d),
          Array.from({ length: 1000 }, (_, i) => 5000 + i),
        );
      }
      assert.equal(ivf.size, flat.size);
      const queries = data.subarray(100 * d, 140 * d);
      for (let i = 0; i < 40; i++) {
        const q = queries.subarray(i * d, (i + 1) * d);
        assert.deepEqual(ivf.search(q, 12, { nprobe: 24 }).labels, flat.search(q, 12).labels, `query ${i}`);
      }
      assert.deepEqual(Array.from(ivf.reconstruct(5003)), Array.from(data.subarray(2003 * d, 2004 * d)));
      assert.equal(ivf.has(0), false);
    } finally {
      ivf.dispose();
      flat.dispose();
    }
  });
});
