/** Partitions, the wire format and the merge: pure functions, no server. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseLayout, mergeTopK } from '../../src/cluster/coordinator.js';
import { fmix32, formatPartition, inPartition, parseShardSpec, selectPartition, shardOf } from '../../src/cluster/partition.js';
import { base64ToF32, base64ToI32, f32ToBase64, i32ToBase64 } from '../../src/cluster/wire.js';
import type { NitamonoError } from '../../src/errors.js';

describe('partition hash', () => {
  test('is MurmurHash3 fmix32, pinned: changing it would move every image to another shard', () => {
    // reference values of MurmurHash3's finaliser (fmix32(1) = 0x514e28b7)
    assert.deepEqual(
      [0, 1, 2, 3, 42, 2147483647, 123456789].map((x) => fmix32(x).toString(16)),
      ['0', '514e28b7', '30f4c306', '85f0b427', '87fcd5c', 'f9cc0ea8', 'ba60d89a'],
    );
    assert.equal(shardOf(1, 3), 0x514e28b7 % 3);
  });

  test('sequential ids spread evenly, and so does every batch of them', () => {
    for (const S of [2, 3, 7, 16]) {
      const counts = new Array<number>(S).fill(0);
      for (let id = 1; id <= 40_000; id++) counts[shardOf(id, S)]!++;
      // within 5 standard deviations of a fair split (binomial)
      for (const c of counts) assert.ok(Math.abs(c - 40_000 / S) < 5 * Math.sqrt(40_000 / S), `S=${S}: ${counts}`);
    }
    // a batch of 64 consecutive ids is not dealt round-robin (id % S would give exactly 64/S each, always in the same order)
    const firsts = new Set<string>();
    for (let b = 0; b < 50; b++) firsts.add([0, 1, 2, 3, 4, 5].map((j) => shardOf(b * 64 + 1 + j, 3)).join(''));
    assert.ok(firsts.size > 20, 'the pattern of shards over a batch varies from batch to batch');
  });

  test('parses i/S and refuses anything else', () => {
    assert.deepEqual(parseShardSpec('0/3'), { index: 0, count: 3 });
    assert.deepEqual(parseShardSpec(' 2 / 3 '), { index: 2, count: 3 });
    assert.equal(formatPartition({ index: 1, count: 4 }), '1/4');
    for (const bad of ['3/3', '1', '-1/3', '0/0', 'a/b', '0/5000', '1/2/3', '']) {
      assert.throws(
        () => parseShardSpec(bad),
        (e: NitamonoError) => e.code === 'INVALID_ARGUMENT' && /--shard/.test(e.message),
        bad,
      );
    }
  });

  test('partitions split the ids: disjoint, complete, order kept', () => {
    const n = 1000;
    const d = 3;
    const ids = Int32Array.from({ length: n }, (_, i) => i * 7 + 1);
    const vectors = Float32Array.from({ length: n * d }, (_, i) => i);
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const p = selectPartition(ids, vectors, d, { index: i, count: 4 });
      for (let j = 0; j < p.ids.length; j++) {
        const id = p.ids[j]!;
        assert.ok(inPartition(id, { index: i, count: 4 }));
        assert.ok(!seen.has(id));
        seen.add(id);
        const row = (id - 1) / 7;
        assert.deepEqual([...p.vectors.subarray(j * d, (j + 1) * d)], [row * d, row * d + 1, row * d + 2]);
        if (j > 0) assert.ok(p.ids[j - 1]! < id);
      }
    }
    assert.equal(seen.size, n);
  });
});

describe('wire format', () => {
  test('float32 and int32 arrays go through base64 bit-exactly, NaN and -0 included', () => {
    const f = Float32Array.from([0, -0, 1.5, -2.25e-38, 3.4028234663852886e38, Number.NaN, Math.PI]);
    const back = base64ToF32(f32ToBase64(f), 'x');
    assert.deepEqual(new Uint8Array(back.buffer), new Uint8Array(f.buffer));
    const i = Int32Array.from([-1, 0, 2147483647, -2147483648, 12345]);
    assert.deepEqual(base64ToI32(i32ToBase64(i), 'y'), i);
    // little-endian on the wire: 1.0f is 00 00 80 3f
    assert.equal(Buffer.from(f32ToBase64(Float32Array.from([1])), 'base64').toString('hex'), '0000803f');
  });

  test('malformed base64 or a partial number is INVALID_ARGUMENT naming the field', () => {
    for (const bad of ['abc', '!!!!', 'AAA=AAAA', 'AAAAAAA=']) {
      assert.throws(
        () => base64ToF32(bad, 'queries'),
        (e: NitamonoError) => e.code === 'INVALID_ARGUMENT' && /queries/.test(e.message),
        bad,
      );
    }
  });
});

describe('merge of per-shard top-k', () => {
  const part = (k: number, rows: [number, number][][]) => ({
    k,
    labels: Int32Array.from(rows.flatMap((r) => r.map(([id]) => id))),
    distances: Float32Array.from(rows.flatMap((r) => r.map(([, d]) => d))),
  });

  test('by distance, then id; padding skipped; a repeated id counted once', () => {
    const a = part(3, [
      [
        [5, 0.1],
        [7, 0.5],
        [9, 0.9],
      ],
      [
        [1, 1],
        [-1, Number.NaN],
        [-1, Number.NaN],
      ],
    ]);
    const b = part(3, [
      [
        [4, 0.5],
        [6, 0.5],
        [5, 0.1],
      ],
      [
        [2, 1],
        [3, 2],
        [-1, Number.NaN],
      ],
    ]);
    const m = mergeTopK([a, b], 2, 4);
    assert.deepEqual([...m.labels], [5, 4, 6, 7, 1, 2, 3, -1]);
    assert.deepEqual([...m.distances.subarray(0, 4)], [Math.fround(0.1), 0.5, 0.5, 0.5]);
    assert.ok(Number.isNaN(m.distances[7]!));
  });

  test('no parts: all padding', () => {
    const m = mergeTopK([], 1, 2);
    assert.deepEqual([...m.labels], [-1, -1]);
  });
});

describe('choice of the partitioning to search', () => {
  const ep = (index: number, count: number, ready = true) => ({ url: `http://s${index}of${count}`, partition: { index, count }, ready, generation: 1 });

  test('while a new layout loads next to a running one, the running one; once every new partition is ready, the larger', () => {
    const old = [ep(0, 2), ep(1, 2)];
    assert.equal(chooseLayout([])?.count, undefined);
    assert.equal(chooseLayout(old)?.count, 2);
    // S′ = 3 started, still loading: all of its partitions announced, none ready
    const loading = [...old, ep(0, 3, false), ep(1, 3, false), ep(2, 3, false)];
    assert.equal(chooseLayout(loading)?.count, 2);
    assert.match(chooseLayout(loading)!.warnings[0]!, /several partitionings/);
    assert.equal(chooseLayout([...old, ep(0, 3), ep(1, 3), ep(2, 3, false)])?.count, 2, 'two of three ready');
    assert.equal(chooseLayout([...old, ep(0, 3), ep(1, 3), ep(2, 3)])?.count, 3, 'all ready: the larger layout');
    // shrinking to S′ = 1: the old layout until it is stopped
    assert.equal(chooseLayout([...old, ep(0, 1)])?.count, 2);
    // one layout whose shards all restart: still that one
    assert.equal(chooseLayout([ep(0, 2, false), ep(1, 2, false)])?.count, 2);
  });
});
