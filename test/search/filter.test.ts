import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NitamonoError } from '../../src/errors.js';
import { indexFactory } from '../../src/search/factory.js';
import type { SearchResult, VectorIndex } from '../../src/search/types.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';

const d = 16,
  N = 3000,
  k = 10;
const { data } = clusteredVectors(N, d, { clusters: 30, seed: 5 });
const queries = clusteredVectors(20, d, { clusters: 30, seed: 77 }).data;
const nq = queries.length / d;

/** A seeded subset of the ids 0..N-1 holding about `fraction` of them. */
function subset(fraction: number, seed: number): number[] {
  let s = seed;
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    if (s / 0x7fffffff < fraction) out.push(i);
  }
  return out;
}

/** Brute force: the k nearest of the allowed ids by squared L2, ties by id. */
function bruteForce(allowed: number[]): Int32Array {
  const out = new Int32Array(nq * k).fill(-1);
  for (let i = 0; i < nq; i++) {
    const scored = allowed.map((id) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += (queries[i * d + j]! - data[id * d + j]!) ** 2;
      return { id, s };
    });
    scored.sort((a, b) => a.s - b.s || a.id - b.id);
    scored.slice(0, k).forEach((e, j) => {
      out[i * k + j] = e.id;
    });
  }
  return out;
}

/** The reference of a compressed kind: its own full ranking (every row), keeping the allowed ones. */
function postFiltered(index: VectorIndex, allowed: number[], params: object): Int32Array {
  const keep = new Set(allowed);
  const out = new Int32Array(nq * k).fill(-1);
  for (let i = 0; i < nq; i++) {
    // one query at a time: k = N heaps stay small enough for an index capped to small arenas
    const all = index.search(queries.subarray(i * d, (i + 1) * d), N, params);
    let m = 0;
    for (let j = 0; j < N && m < k; j++) {
      const id = all.labels[j]!;
      if (keep.has(id)) out[i * k + m++] = id;
    }
  }
  return out;
}

async function built(spec: string): Promise<VectorIndex> {
  const index: VectorIndex = indexFactory(d, spec);
  if (index.train) await index.train(data, { threads: 1, seed: 3 });
  // in chunks, as an index capped to small arenas takes them
  for (let i = 0; i < N; i += 500)
    index.add(
      data.subarray(i * d, (i + 500) * d),
      Int32Array.from({ length: 500 }, (_, j) => i + j),
    );
  return index;
}

const sameLabels = (r: SearchResult, want: Int32Array, what: string): void => assert.deepEqual(Array.from(r.labels), Array.from(want), what);

test('flat and IVF (nprobe = nlist) filtered results equal a brute-force filter, small and large subsets, sync and async', async () => {
  for (const spec of ['Flat', 'IVF20,Flat']) {
    const index = await built(spec);
    try {
      for (const [fraction, seed] of [
        [0.01, 1],
        [0.3, 2],
        [0.9, 3],
      ] as const) {
        const allowed = subset(fraction, seed);
        const want = bruteForce(allowed);
        const params = { allowed, nprobe: 20 };
        sameLabels(index.search(queries, k, params), want, `${spec} ${fraction} sync`);
        sameLabels(await index.searchAsync(queries, k, { ...params, threads: 2 }), want, `${spec} ${fraction} async`);
        // one query at a time (the flat index's direct-formula path)
        sameLabels(index.search(queries.subarray(0, d), k, params), want.subarray(0, k), `${spec} ${fraction} one query`);
      }
    } finally {
      index.dispose();
    }
  }
});

test('compressed kinds: a filtered search ranks the subset as their unfiltered ranking does', async () => {
  for (const spec of ['IVF20,SQ8', 'PQ4', 'PQ4x4fs', 'IVF20,PQ8x4fs']) {
    const index = await built(spec);
    try {
      for (const [fraction, nprobe] of [
        [0.02, 20],
        [0.5, 20],
        [0.5, 5], // the probed scan: the same 5 lists, their rows outside the subset skipped
      ] as const) {
        const allowed = subset(fraction, 9);
        const params = { nprobe };
        sameLabels(index.search(queries, k, { ...params, allowed }), postFiltered(index, allowed, params), `${spec} ${fraction} nprobe ${nprobe}`);
      }
    } finally {
      index.dispose();
    }
  }
});

test('filtered IVF with nprobe 1 still returns k results from a small subset, and the subset scan is exact there', async () => {
  const index = await built('IVF30,Flat');
  try {
    // 15 ids spread over many lists: one probe finds few of them, so the subset scan answers
    const allowed = subset(0.005, 4).slice(0, 15);
    assert.ok(allowed.length >= k);
    const r = index.search(queries, k, { nprobe: 1, allowed });
    for (let i = 0; i < nq * k; i++) assert.ok(r.labels[i]! >= 0, 'k results per query');
    sameLabels(r, bruteForce(allowed), 'exact inside the subset');
    // a large subset takes the probed scan: every result is in the subset and no more rows are scanned than unfiltered
    const big = subset(0.8, 6);
    const keep = new Set(big);
    const f = index.search(queries, k, { nprobe: 2, allowed: big });
    const u = index.search(queries, k, { nprobe: 2 });
    for (const id of f.labels) assert.ok(id === -1 || keep.has(id));
    for (let i = 0; i < nq; i++) assert.ok(f.labels[i * k + k - 1]! >= 0);
    assert.ok(f.distancesComputed <= u.distancesComputed + nq * (30 + big.length), 'probed, not a subset scan every time');
    // ids the index does not hold are ignored; an empty subset finds nothing
    sameLabels(index.search(queries, k, { allowed: [...allowed, N + 5] }), bruteForce(allowed), 'unknown ids ignored');
    assert.ok(index.search(queries, k, { allowed: [] }).labels.every((id) => id === -1));
  } finally {
    index.dispose();
  }
});

test('bad allowed ids are refused with INVALID_ARGUMENT', async () => {
  const index = await built('Flat');
  try {
    for (const bad of [[1.5], [-1], ['3'], 'x']) {
      assert.throws(
        () => index.search(queries, k, { allowed: bad as never }),
        (e: unknown) => e instanceof NitamonoError && e.code === 'INVALID_ARGUMENT' && /allowed/.test(e.message),
      );
    }
  } finally {
    index.dispose();
  }
});

test('an index over several arenas (many parts): the filtered search ranks the subset as its unfiltered ranking does, sync and async', async () => {
  const before = process.env['NITAMONO_ARENA_BYTES'];
  process.env['NITAMONO_ARENA_BYTES'] = String(4 * 65536);
  try {
    for (const spec of ['Flat', 'IVF20,Flat', 'IVF20,SQ8']) {
      const index = await built(spec);
      try {
        assert.ok((index.describe().arenas ?? 1) > 1, `${spec} spans several arenas`);
        for (const [fraction, nprobe] of [
          [0.01, 20],
          [0.6, 3],
        ] as const) {
          const allowed = subset(fraction, 21);
          const want = postFiltered(index, allowed, { nprobe });
          sameLabels(index.search(queries, k, { nprobe, allowed }), want, `${spec} ${fraction} sync`);
          sameLabels(await index.searchAsync(queries, k, { nprobe, allowed, threads: 2 }), want, `${spec} ${fraction} async`);
        }
      } finally {
        index.dispose();
      }
    }
  } finally {
    if (before === undefined) delete process.env['NITAMONO_ARENA_BYTES'];
    else process.env['NITAMONO_ARENA_BYTES'] = before;
  }
});
