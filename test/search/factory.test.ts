import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { indexFactory, parseIndexFactory } from '../../src/search/factory.js';
import { ArrayRefine } from '../../src/search/refine.js';
import { expectError } from '../assert-error.js';

describe('parseIndexFactory', () => {
  test('the supported Faiss strings and the old names', () => {
    const cases: Array<[string, object]> = [
      ['flat', { kind: 'flat', refine: false, description: 'flat' }],
      ['ivf', { kind: 'ivf', refine: false, description: 'ivf' }],
      ['Flat', { kind: 'flat', refine: false, description: 'Flat' }],
      ['IVF256,Flat', { kind: 'ivf', nlist: 256, refine: false, description: 'IVF256,Flat' }],
      ['IVF256,SQ8', { kind: 'ivf-sq8', nlist: 256, refine: false, description: 'IVF256,SQ8' }],
      ['SQ8', { kind: 'sq8', refine: false, description: 'SQ8' }],
      ['sqfp16', { kind: 'fp16', refine: false, description: 'SQfp16' }],
      ['IVF64,SQfp16,RFlat', { kind: 'ivf-fp16', nlist: 64, refine: true, description: 'IVF64,SQfp16,RFlat' }],
      ['PQ16', { kind: 'pq', m: 16, refine: false, description: 'PQ16' }],
      ['PQ16x8', { kind: 'pq', m: 16, refine: false, description: 'PQ16' }],
      ['IVF256,PQ56np', { kind: 'ivf-pq', nlist: 256, m: 56, refine: false, description: 'IVF256,PQ56' }],
      ['IVF4096,PQ16x8np,RFlat', { kind: 'ivf-pq', nlist: 4096, m: 16, refine: true, description: 'IVF4096,PQ16,RFlat' }],
      [' ivf64 , sq8 , rflat ', { kind: 'ivf-sq8', nlist: 64, refine: true, description: 'IVF64,SQ8,RFlat' }],
      ['SQ8,RFlat', { kind: 'sq8', refine: true, description: 'SQ8,RFlat' }],
      ['IVF65536_HNSW32,PQ16', { kind: 'ivf-pq', nlist: 65536, hnswM: 32, m: 16, refine: false, description: 'IVF65536_HNSW32,PQ16' }],
      ['ivf1024_hnsw16,flat', { kind: 'ivf', nlist: 1024, hnswM: 16, refine: false, description: 'IVF1024_HNSW16,Flat' }],
      ['IVF4096_HNSW32,SQ8,RFlat', { kind: 'ivf-sq8', nlist: 4096, hnswM: 32, refine: true, description: 'IVF4096_HNSW32,SQ8,RFlat' }],
      // 4-bit fast scan: x4 alone reads as x4fs, the canonical form keeps x4fs
      ['PQ56x4fs', { kind: 'pq', m: 56, nbits: 4, refine: false, description: 'PQ56x4fs' }],
      ['pq16X4', { kind: 'pq', m: 16, nbits: 4, refine: false, description: 'PQ16x4fs' }],
      // after IVF: x4fs codes the vectors (Faiss's by_residual false), x4fsr and x4 (Faiss's IndexIVFPQ) the residuals
      ['ivf256,pq56x4FS,rflat', { kind: 'ivf-pq', nlist: 256, m: 56, nbits: 4, byResidual: false, refine: true, description: 'IVF256,PQ56x4fs,RFlat' }],
      ['IVF256,PQ56x4fsr', { kind: 'ivf-pq', nlist: 256, m: 56, nbits: 4, byResidual: true, refine: false, description: 'IVF256,PQ56x4fsr' }],
      ['IVF256,PQ56x4', { kind: 'ivf-pq', nlist: 256, m: 56, nbits: 4, byResidual: true, refine: false, description: 'IVF256,PQ56x4fsr' }],
      [
        'OPQ16,IVF1024_HNSW32,PQ16x4fs',
        { kind: 'ivf-pq', opq: 16, nlist: 1024, hnswM: 32, m: 16, nbits: 4, byResidual: false, refine: false, description: 'OPQ16,IVF1024_HNSW32,PQ16x4fs' },
      ],
      ['OPQ8,PQ8x4fs,RFlat', { kind: 'pq', opq: 8, m: 8, nbits: 4, refine: true, description: 'OPQ8,PQ8x4fs,RFlat' }],
    ];
    for (const [s, want] of cases) assert.deepEqual(parseIndexFactory(s), want, s);
  });

  test('strings that do not parse name the bad part and list what is accepted', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      ['HNSW32', /index type 'HNSW32' is not supported/],
      ['PCA64,IVF256,PQ16', /pre-transform 'PCA64' is not supported/],
      ['IVF256', /'IVF256' needs a storage after it: IVF256,Flat, IVF256,SQ8 or IVF256,PQ\{m\}/],
      ['IVF,PQ16', /'IVF' needs its number of lists/],
      ['IVF0,Flat', /'IVF0' is not IVF followed by a positive number of lists/],
      ['IVF256_HNSW,Flat', /'IVF256_HNSW' needs HNSW followed by its neighbours per node M/],
      ['IVF256_HNSW1,Flat', /'IVF256_HNSW1' needs HNSW followed by its neighbours per node M \(2 to 512\)/],
      ['IVF_HNSW32,Flat', /'IVF_HNSW32' needs its number of lists/],
      ['IVF256,PQ', /'PQ' needs its number of sub-quantizers m/],
      ['IVF256,PQ16x5', /nbits in 'PQ16x5' must be 8 \(256 codewords per sub-quantizer\) or 4 \(16, fast scan: PQ\{m\}x4fs\), got 5/],
      ['PQ16x12', /nbits in 'PQ16x12' must be 8 .* or 4 .*got 12/],
      ['PQ15x4fs', /'PQ15x4fs' has 4-bit codes, two sub-codes a byte: m must be even, got 15/],
      ['IVF256,PQ16fs', /fast scan \(fs\) in 'PQ16fs' takes 4-bit codes: write PQ16x4fs/],
      ['PQ16x8fs', /fast scan \(fs\) in 'PQ16x8fs' takes 4-bit codes/],
      ['PQ16x4np', /'np' in 'PQ16x4np' is for 8-bit codes; 4-bit ones are scanned fast: write PQ16x4fs/],
      ['PQ16x4fsr', /'fsr' in 'PQ16x4fsr' encodes residuals of inverted lists: write IVF\{n\},PQ16x4fsr, or PQ16x4fs/],
      ['OPQ16,PQ8x4fs', /the m of 'OPQ16' must be the PQ's \(PQ8x4fs\)/],
      ['SQ4', /scalar quantizer 'SQ4' is not supported, only SQ8 and SQfp16/],
      ['SQbf16', /scalar quantizer 'SQbf16' is not supported, only SQ8 and SQfp16/],
      ['IVF256,Flat,RFlat', /'RFlat' re-ranks compressed codes; IVF256,Flat already stores the full vectors/],
      ['PQ8,Flat', /'Flat' cannot follow PQ8/],
      ['SQ8,RFlat,RFlat', /'RFlat' comes after the end/],
      ['IVF16,,SQ8', /has an empty part/],
      ['Bogus', /'Bogus' is not a storage nitamono knows/],
    ];
    for (const [s, re] of cases) {
      assert.throws(
        () => parseIndexFactory(s),
        (err: unknown) =>
          expectError('INVALID_ARGUMENT', re)(err) &&
          expectError(
            'INVALID_ARGUMENT',
            /\(accepted: Flat, IVF\{n\},Flat, IVF\{n\},SQ8, IVF\{n\},SQfp16, IVF\{n\},PQ\{m\}, SQ8, SQfp16, PQ\{m\}.*'flat', 'ivf'\)$/,
          )(err),
        s,
      );
    }
    assert.throws(() => parseIndexFactory(7), expectError('INVALID_ARGUMENT', /an index factory string is a string, got number/));
  });
});

describe('indexFactory', () => {
  test('builds each kind with its parameters', () => {
    const refine = new ArrayRefine(new Float32Array(32), 32);
    const made = [
      indexFactory(32, 'flat', { metric: 'ip' }),
      indexFactory(32, 'ivf', { nlist: 7 }),
      indexFactory(32, 'IVF9,Flat'),
      indexFactory(32, 'SQ8'),
      indexFactory(32, 'PQ8'),
      indexFactory(32, 'IVF12,SQ8'),
      indexFactory(32, 'IVF12,PQ4,RFlat', { refine, refineFactor: 5, precomputedTable: false }),
      indexFactory(32, 'SQfp16'),
      indexFactory(32, 'IVF12,SQfp16'),
      indexFactory(32, 'OPQ8,IVF12,PQ8x4fs'),
      indexFactory(32, 'IVF12,PQ8x4fsr'),
    ];
    try {
      assert.deepEqual(
        made.map((i) => i.kind),
        ['flat', 'ivf', 'ivf', 'sq8', 'pq', 'ivf-sq8', 'ivf-pq', 'fp16', 'ivf-fp16', 'ivf-pq', 'ivf-pq'],
      );
      const fs = made[9]!;
      assert.ok(fs.kind === 'ivf-pq');
      assert.deepEqual([fs.m, fs.codeSize, fs.opqSettings?.m, fs.byResidual], [8, 4, 8, false], '4-bit: m/2 bytes a code, OPQ in front, codes of the vectors');
      assert.equal((made[10] as typeof fs).byResidual, true, 'x4fsr: of residuals');
      assert.equal(made[0]!.metric, 'ip');
      const last = made[6]!;
      assert.ok(last.kind === 'ivf-pq');
      assert.equal(last.m, 4);
      assert.equal(last.refineFactor, 5);
      assert.equal(last.refineBytes, 32 * 4);
    } finally {
      for (const i of made) i.dispose();
    }
  });

  test('refuses what does not fit together', () => {
    assert.throws(() => indexFactory(32, 'IVF12,PQ5'), expectError('INVALID_ARGUMENT', /m \(PQ sub-quantizers\) must divide the dimension 32, got m = 5/));
    assert.throws(
      () => indexFactory(32, 'SQ8,RFlat'),
      expectError('INVALID_ARGUMENT', /'SQ8,RFlat' re-ranks with full vectors: pass them as the refine option/),
    );
    assert.throws(() => indexFactory(32, 'IVF8,Flat', { nlist: 9 }), expectError('INVALID_ARGUMENT', /nlist 9 disagrees with 'IVF8,Flat' \(8 lists\)/));
    assert.throws(
      () => indexFactory(32, 'flat', { refineFactor: 2 }),
      expectError('INVALID_ARGUMENT', /'flat' stores the full vectors: refine vectors and refineFactor apply to the compressed kinds/),
    );
    assert.throws(
      () => indexFactory(32, 'SQ8', { metric: 'cosine' as never }),
      expectError('INVALID_ARGUMENT', /metric must be one of 'l2', 'ip', got 'cosine'/),
    );
  });
});
