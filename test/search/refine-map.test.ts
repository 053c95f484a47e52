// The mapped refine source (native/refine.cc) against the positional reads it replaces, on real
// files: the same rows, the same re-ranked answers bit for bit, and clear errors for files that
// shrink or close under it. Skipped where the native addon is not built.
import assert from 'node:assert/strict';
import { renameSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IVFPQIndex } from '../../src/search/coded.js';
import { FlatIndex } from '../../src/search/flat.js';
import { VectorFileRefine } from '../../src/search/refine.js';
import { refineMappingSupported } from '../../src/search/refine-map.js';
import { writeFvecs, writeNpy } from '../../src/vectors/io.js';
import { clusteredVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

const skip = refineMappingSupported() ? false : 'the native addon is not built';

describe('refine vectors mapped by the native addon', { skip }, () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir('nitamono-refine-map-');
  });
  after(() => dir.dispose());
  // 38: a dimension with 16-float blocks, a 4-float part and a scalar tail in the scoring loops
  const d = 38,
    n = 2000,
    nq = 25,
    k = 10;
  const { data } = clusteredVectors(n + nq, d, { seed: 5, clusters: 12 });
  const base = data.subarray(0, n * d),
    queries = data.slice(n * d);

  for (const metric of ['l2', 'ip'] as const) {
    for (const ext of ['fvecs', 'npy'] as const) {
      test(`${metric}, .${ext}: the rows, and the re-ranked answers, are those of the positional reads`, async () => {
        const file = join(dir.path, `${metric}.${ext}`);
        if (ext === 'fvecs') await writeFvecs(file, base, d);
        else await writeNpy(file, base, [n, d]);
        const mapped = VectorFileRefine.open(file);
        const pread = VectorFileRefine.open(file, { map: false });
        const index = new IVFPQIndex(d, { metric, m: 2, nlist: 16 });
        try {
          assert.equal(mapped.isMapped, true);
          assert.equal(pread.isMapped, false);
          assert.equal(pread.topK, undefined);
          const ids = Int32Array.of(0, 1, 7, 640, 641, 1999);
          const a = new Float32Array(ids.length * d),
            b = new Float32Array(ids.length * d);
          mapped.readSync(ids, a);
          pread.readSync(ids, b);
          assert.deepEqual(a, b);
          assert.deepEqual(a.subarray(5 * d), base.subarray(1999 * d));
          await index.train(base, { threads: 1, iterations: 4 });
          index.add(base);
          const answers = [];
          for (const src of [pread, mapped]) {
            index.setRefineVectors(src);
            for (const params of [
              { nprobe: 2, refineFactor: 4 },
              { nprobe: 16, refineFactor: n / k },
            ]) {
              const one = index.search(queries.subarray(0, d), k, params);
              const all = index.search(queries, k, params);
              const async = await index.searchAsync(queries, k, { ...params, threads: 1 });
              assert.deepEqual(async.labels, all.labels);
              assert.deepEqual(async.distances, all.distances);
              assert.deepEqual(one.labels, all.labels.subarray(0, k));
              answers.push(all);
            }
          }
          // the mapped path scores the very bits the WASM scan computes on copies of the rows
          assert.deepEqual(answers[2]!.labels, answers[0]!.labels);
          assert.deepEqual(answers[2]!.distances, answers[0]!.distances);
          assert.deepEqual(answers[3]!.labels, answers[1]!.labels);
          assert.deepEqual(answers[3]!.distances, answers[1]!.distances);
          assert.equal(answers[3]!.distancesComputed, answers[1]!.distancesComputed);
          assert.equal(mapped.resident!(Int32Array.of(-1, 0, 1999)), true, 'rows just read are in the page cache');
          assert.throws(
            () => mapped.readSync(Int32Array.of(3, n), new Float32Array(2 * d)),
            expectError('NOT_FOUND', new RegExp(`id ${n} has no row in the refine vectors \\(${n} rows\\)`)),
          );
        } finally {
          index.dispose();
          mapped.close();
          pread.close();
        }
        assert.throws(() => mapped.readSync(Int32Array.of(1), new Float32Array(d)), expectError('INVALID_ARGUMENT', /was closed/));
        assert.throws(() => mapped.resident!(Int32Array.of(1)), expectError('INVALID_ARGUMENT', /was closed/));
      });
    }
  }

  test('L2 re-ranking that stops scoring a row once it cannot enter the top k gives the exact answer, bit for bit', async () => {
    // 203 floats: three 64-float steps where the mapped scan may stop, then 4-float and scalar tails
    const D = 203,
      N = 3000;
    const all = clusteredVectors(N + nq, D, { seed: 9, clusters: 20 }).data;
    const rows = all.subarray(0, N * D),
      qs = all.slice(N * D);
    const file = join(dir.path, 'long.fvecs');
    await writeFvecs(file, rows, D);
    const mapped = VectorFileRefine.open(file);
    const pread = VectorFileRefine.open(file, { map: false });
    const index = new IVFPQIndex(D, { m: 7, nlist: 8 });
    const flat = new FlatIndex(D);
    try {
      await index.train(rows, { threads: 1, iterations: 4 });
      index.add(rows);
      flat.add(rows);
      const exact = flat.search(qs, k);
      const answers = [mapped, pread].map((src) => {
        index.setRefineVectors(src);
        // every row a candidate: the exact neighbours
        return index.search(qs, k, { nprobe: 8, refineFactor: N / k });
      });
      assert.deepEqual(answers[0]!.labels, exact.labels);
      assert.deepEqual(answers[1]!.labels, exact.labels);
      // and the distances of the rows kept are the full ones, as the WASM scan of copied rows gives them
      assert.deepEqual(answers[0]!.distances, answers[1]!.distances);
    } finally {
      index.dispose();
      flat.dispose();
      mapped.close();
      pread.close();
    }
  });

  test('a file that shrinks under the mapping is BAD_FILE, not a crash; one replaced by rename keeps its rows', async () => {
    const file = join(dir.path, 'shrinks.fvecs');
    await writeFvecs(file, base, d);
    const src = VectorFileRefine.open(file);
    const index = new IVFPQIndex(d, { m: 2, nlist: 16 });
    try {
      await index.train(base, { threads: 1, iterations: 4 });
      index.add(base);
      index.setRefineVectors(src);
      const before = index.search(queries, k, { nprobe: 16, refineFactor: 8 });
      // replaced by rename (how nitamono writes files): the mapping still holds the old file
      const other = join(dir.path, 'other.fvecs');
      await writeFvecs(other, base.subarray(0, 10 * d), d);
      renameSync(other, file);
      assert.deepEqual(index.search(queries, k, { nprobe: 16, refineFactor: 8 }).labels, before.labels);
      // truncated in place: every later read is refused before it touches the lost pages
      const shrinking = join(dir.path, 'cut.fvecs');
      await writeFvecs(shrinking, base, d);
      const cut = VectorFileRefine.open(shrinking);
      index.setRefineVectors(cut);
      const cutTo = (n / 2) * (d + 1) * 4 + 6;
      truncateSync(shrinking, cutTo);
      for (const run of [
        () => index.search(queries, k, { nprobe: 16, refineFactor: 8 }),
        () => cut.readSync(Int32Array.of(0), new Float32Array(d)),
        () => cut.resident!(Int32Array.of(0)),
      ]) {
        assert.throws(
          run,
          expectError('BAD_FILE', new RegExp(`cut\\.fvecs: truncated: the refine vectors file shrank to ${cutTo} bytes, its rows need ${n * (d + 1) * 4}`)),
        );
      }
      await assert.rejects(index.searchAsync(queries, k, { nprobe: 16, refineFactor: 8 }), expectError('BAD_FILE', /truncated/));
      index.setRefineVectors(undefined);
      cut.close();
      // a file shorter than its header says is refused when mapping
      assert.throws(() => VectorFileRefine.open(shrinking), expectError('BAD_FILE', /truncated/));
    } finally {
      index.dispose();
      src.close();
    }
  });

  test('NITAMONO_KERNELS=wasm or reference: positional reads', async () => {
    const file = join(dir.path, 'plain.fvecs');
    await writeFvecs(file, base, d);
    const saved = process.env['NITAMONO_KERNELS'];
    try {
      for (const kernels of ['wasm', 'reference']) {
        process.env['NITAMONO_KERNELS'] = kernels;
        assert.equal(refineMappingSupported(), false);
        const src = VectorFileRefine.open(file);
        assert.equal(src.isMapped, false);
        assert.equal(src.topK, undefined);
        src.close();
      }
    } finally {
      if (saved === undefined) delete process.env['NITAMONO_KERNELS'];
      else process.env['NITAMONO_KERNELS'] = saved;
    }
    assert.equal(refineMappingSupported(), true);
  });
});
