/**
 * The `auto` index rule (src/collection/auto-index.ts): a table of N × d × budget → index, the
 * plans of explicit policies, the memory estimates against what built indexes report, and
 * the parsing of memory sizes and policies.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { autoPqM, chooseAutoIndex, estimateIndexBytes, kindBudget, parseMemorySize, planIndex } from '../../src/collection/auto-index.js';
import { parseIndexPolicy } from '../../src/collection/config.js';
import { indexFactory, parseIndexFactory } from '../../src/search/factory.js';
import { ArrayRefine } from '../../src/search/refine.js';
import { needsTraining, type VectorIndex } from '../../src/search/types.js';
import { rng } from '../../src/util/random.js';
import { expectError } from '../assert-error.js';

const assertCode = (fn: () => unknown, code: string, re: RegExp = /./) => assert.throws(fn, expectError(code, re));

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('auto: N × d × budget → index', () => {
  // [N, d, budget, factory]: nlist is ⌈√N⌉ throughout
  const table: [number, number, number, string][] = [
    // fewer than 1,000 vectors: exact, whatever the budget
    [500, 1280, 1, 'Flat'],
    [999, 12, 1024, 'Flat'],
    // below 50,000 and the floats fit: exact
    [1_000, 12, GiB, 'Flat'],
    [40_000, 1280, GiB, 'Flat'], // 205 MB
    // from 50,000: the inverted file of floats, while it fits
    [50_000, 12, GiB, 'IVF224,Flat'],
    [100_000, 1280, GiB, 'IVF317,Flat'], // 513 MB
    [1_000_000, 128, GiB, 'IVF1000,Flat'], // 517 MB: the seed's million
    // below 50,000, floats over budget: 8-bit codes
    [40_000, 1280, 100 * MiB, 'IVF200,SQ8'], // floats 205 MB, codes 52 MB
    // the floats no longer fit, 8-bit codes do
    [300_000, 1792, GiB, 'IVF548,SQ8'], // floats 2.15 GB, codes 539 MB
    [1_000_000, 128, 256 * MiB, 'IVF1000,SQ8'], // floats 517 MB, codes 133 MB
    // past one WebAssembly memory's comfortable 2 GiB: the index spans arenas
    [500_000, 1280, 16 * GiB, 'IVF708,Flat'], // floats 2.56 GB
    [500_000, 1280, 2 * GiB, 'IVF708,SQ8'], // floats 2.56 GB > 2 GiB, codes 645 MB
    // codes do not fit either: PQ with the largest m that fits, re-ranked from the catalogue
    [2_000_000, 1792, GiB, 'IVF1415,PQ256,RFlat'], // SQ8 3.6 GB; PQ256 535 MB
    [2_000_000, 1792, 256 * MiB, 'IVF1415,PQ64,RFlat'], // PQ128 279 MB > 256; PQ64 150 MB
    [10_000_000, 128, 256 * MiB, 'IVF3163,PQ16,RFlat'], // SQ8 1.32 GB; PQ64 681 MB, PQ32 361 MB, PQ16 200 MB
    // IVF-PQ's precomputed table (nlist·m·256 floats) counts: PQ32 75 MB (33 MB of table) > 64 MiB; PQ16 43 MB
    [1_000_000, 1280, 64 * MiB, 'IVF1000,PQ16,RFlat'],
    // nothing fits: the smallest PQ, flagged
    [1_000_000, 1280, 8 * MiB, 'IVF1000,PQ4,RFlat'],
    // too few vectors to train PQ codebooks: 8-bit codes even over budget
    [5_000, 1280, MiB, 'IVF71,SQ8'],
    // PQ needs m < d dividing d: 12-d colour can only take PQ4
    [1_000_000, 12, 12 * MiB, 'IVF1000,PQ4,RFlat'], // SQ8 16.1 MB; PQ4 12.2 MB
  ];
  for (const [n, d, budget, want] of table) {
    test(`N = ${n.toLocaleString('en')}, d = ${d}, budget ${budget >= MiB ? `${budget / MiB} MiB` : `${budget} B`} → ${want}`, () => {
      const plan = chooseAutoIndex(n, d, budget);
      assert.equal(plan.factory, want, plan.reason);
      assert.equal(plan.spec.description, want);
      assert.deepEqual(parseIndexFactory(plan.factory).kind, plan.spec.kind, 'the factory string parses back to the kind');
      assert.equal(plan.ramBytes, estimateIndexBytes(plan.spec, n, d));
      assert.equal(plan.refineBytes, plan.spec.refine ? n * d * 4 : 0);
      const over = (n === 1_000_000 && d === 1280 && budget === 8 * MiB) || (n === 5_000 && budget === MiB);
      if (n >= 1000) assert.equal(plan.fits, !over, `fits: ${plan.reason}`);
    });
  }

  test('no ceiling past one WebAssembly memory: a large budget keeps float32 rows; none recorded means no limit (indexes of older versions keep their kind)', () => {
    assert.equal(chooseAutoIndex(600_000, 1280, Number.POSITIVE_INFINITY).factory, 'IVF775,Flat');
    // 3.07 GB of rows: more than the 2 GiB one memory once allowed, within a 4 GiB budget
    assert.equal(chooseAutoIndex(600_000, 1280, 4 * GiB).factory, 'IVF775,Flat');
    assert.equal(chooseAutoIndex(600_000, 1280, 2.5 * GiB).factory, 'IVF775,SQ8');
  });

  test("PQ's m: the largest that divides D and fits, else the smallest (not fitting); none when no m divides D", () => {
    const n = 100_000,
      d = 192,
      nlist = 317;
    const bytes = (m: number) => estimateIndexBytes({ kind: 'ivf-pq', nlist, m }, n, d);
    assert.deepEqual(autoPqM(n, d, nlist, Number.POSITIVE_INFINITY), { m: 64, bytes: bytes(64), fits: true }, '128 does not divide 192');
    assert.deepEqual(autoPqM(n, d, nlist, bytes(16)), { m: 16, bytes: bytes(16), fits: true });
    assert.deepEqual(autoPqM(n, d, nlist, bytes(16) - 1), { m: 8, bytes: bytes(8), fits: true });
    assert.deepEqual(autoPqM(n, d, nlist, 1), { m: 4, bytes: bytes(4), fits: false });
    assert.equal(autoPqM(n, 13, nlist, Number.POSITIVE_INFINITY), undefined);
  });

  test('a configured nlist is used (clamped to N)', () => {
    assert.equal(chooseAutoIndex(100_000, 64, GiB, 256).factory, 'IVF256,Flat');
    // 4,096 lists: PQ64's table alone is 256 MiB, so PQ32 (233 MB) is the largest that fits
    assert.equal(chooseAutoIndex(2_000_000, 1792, 256 * MiB, 4096).factory, 'IVF4096,PQ32,RFlat');
  });

  test('bad arguments are refused', () => {
    assertCode(() => chooseAutoIndex(-1, 12, GiB), 'INVALID_ARGUMENT');
    assertCode(() => chooseAutoIndex(10, 0, GiB), 'INVALID_ARGUMENT');
    assertCode(() => chooseAutoIndex(10, 12, 0), 'INVALID_ARGUMENT');
  });
});

describe('plans of explicit policies', () => {
  test('flat, ivf and factory strings as written, nlist from the string, then the configuration, then ⌈√N⌉, clamped to N', () => {
    assert.equal(planIndex('flat', 10_000, 64, 1, null).factory, 'Flat');
    assert.equal(planIndex('ivf', 10_000, 64, 1, null).factory, 'IVF100,Flat');
    assert.equal(planIndex('ivf', 10_000, 64, 1, 30).factory, 'IVF30,Flat');
    assert.equal(planIndex('IVF256,SQ8', 10_000, 64, 1, 30).factory, 'IVF256,SQ8');
    assert.equal(planIndex('IVF256,SQ8', 100, 64, 1, null).factory, 'IVF100,SQ8');
    assert.equal(planIndex('IVF64,PQ16,RFlat', 1_000, 64, 1, null).factory, 'IVF64,PQ16,RFlat');
    assert.equal(planIndex('PQ8', 1_000, 64, 1, null).factory, 'PQ8');
    assert.equal(planIndex('SQ8', 1_000, 64, 1, null).factory, 'SQ8');
  });

  test('what cannot be built yet: no vectors, too few for PQ codebooks → flat; PQ{m} not dividing D → auto for that kind', () => {
    assert.equal(planIndex('IVF64,PQ16,RFlat', 0, 64, GiB, null).factory, 'Flat');
    assert.equal(planIndex('IVF64,PQ16,RFlat', 255, 64, GiB, null).factory, 'Flat');
    assert.equal(planIndex('IVF64,PQ16,RFlat', 256, 64, GiB, null).factory, 'IVF64,PQ16,RFlat');
    const colour = planIndex('IVF64,PQ16,RFlat', 300, 12, GiB, null);
    assert.equal(colour.factory, 'Flat');
    assert.match(colour.reason, /PQ16 does not divide D = 12/);
    assert.equal(planIndex('auto', 0, 12, GiB, null).factory, 'Flat');
  });

  test('policies are stored in canonical form; bad ones are refused with the accepted forms', () => {
    assert.equal(parseIndexPolicy('auto'), 'auto');
    assert.equal(parseIndexPolicy('Flat'), 'flat');
    assert.equal(parseIndexPolicy(' ivf1024,pq64np,rflat '), 'IVF1024,PQ64,RFlat');
    assert.equal(parseIndexPolicy('IVF100,Flat'), 'IVF100,Flat');
    assertCode(() => parseIndexPolicy('HNSW32'), 'INVALID_ARGUMENT', /auto, flat, ivf or an index factory string/);
    assertCode(() => parseIndexPolicy('IVF,PQ8'), 'INVALID_ARGUMENT');
  });

  test('the budget is shared between feature kinds by dimension', () => {
    assert.equal(kindBudget(1292, 1280, [12, 1280]), 1280);
    assert.equal(kindBudget(1292, 12, [12, 1280]), 12);
    assert.equal(kindBudget(100, 12, []), 100);
  });
});

describe('memory estimates', () => {
  test('match the memoryBytes of built indexes of every kind', async () => {
    const n = 600,
      d = 16;
    const rand = rng(3);
    const x = Float32Array.from({ length: n * d }, () => rand());
    for (const f of ['Flat', 'IVF20,Flat', 'SQ8', 'IVF20,SQ8', 'PQ4', 'IVF20,PQ4', 'IVF20,PQ8,RFlat']) {
      const spec = parseIndexFactory(f);
      const idx: VectorIndex = indexFactory(d, spec, spec.refine ? { refine: new ArrayRefine(x, d) } : {});
      try {
        if (needsTraining(idx)) await idx.train!(x, { seed: 1, threads: 1 });
        idx.add(x);
        assert.equal(estimateIndexBytes(spec, n, d), idx.memoryBytes, f);
      } finally {
        idx.dispose();
      }
    }
  });
});

describe('memory sizes', () => {
  test('bytes, or a number with K, M, G, T (powers of 1024), B or iB optional', () => {
    assert.equal(parseMemorySize('1048576'), MiB);
    assert.equal(parseMemorySize('512MB'), 512 * MiB);
    assert.equal(parseMemorySize('512m'), 512 * MiB);
    assert.equal(parseMemorySize('1.5G'), 1.5 * GiB);
    assert.equal(parseMemorySize('2 GiB'), 2 * GiB);
    assert.equal(parseMemorySize('64KB'), 65536);
    assert.equal(parseMemorySize('100b'), 100);
    for (const bad of ['', 'lots', '-1GB', '0', '1.5XB', '2 G B']) assertCode(() => parseMemorySize(bad), 'INVALID_ARGUMENT', /--memory-budget/);
  });
});
