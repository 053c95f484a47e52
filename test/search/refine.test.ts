import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ArrayRefine, callbackRefine, VectorFileRefine } from '../../src/search/refine.js';
import { writeFvecs, writeNpy } from '../../src/vectors/io.js';
import { uniformVectors } from '../../src/vectors/synthetic.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

describe('refine vectors read in place', () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir('nitamono-refine-');
  });
  after(() => dir.dispose());
  const d = 5,
    n = 3000;
  const data = uniformVectors(n, d, 7);
  const rowsOf = (ids: number[]) => {
    const out = new Float32Array(ids.length * d);
    ids.forEach((id, i) => {
      out.set(data.subarray(id * d, (id + 1) * d), i * d);
    });
    return out;
  };
  // neighbours (one read), far apart (several), the first and the last row
  const ids = [0, 1, 2, 3, 50, 51, 900, 901, 1500, 2999];

  for (const ext of ['fvecs', 'npy'] as const) {
    test(`.${ext}: rows by id, synchronously and not, as the file holds them`, async () => {
      const file = join(dir.path, `v.${ext}`);
      if (ext === 'fvecs') await writeFvecs(file, data, d);
      else await writeNpy(file, data, [n, d]);
      const src = VectorFileRefine.open(file);
      try {
        assert.equal(src.dim, d);
        assert.equal(src.rows, n);
        assert.equal(src.bytes, n * d * 4);
        assert.deepEqual({ ...src.location, size: 0 }, { file, format: ext, rows: n, dim: d, size: 0 });
        const a = new Float32Array(ids.length * d),
          b = new Float32Array(ids.length * d);
        src.readSync(Int32Array.from(ids), a);
        await src.read(Int32Array.from(ids), b);
        assert.deepEqual(a, rowsOf(ids));
        assert.deepEqual(b, rowsOf(ids));
        // every row, in one call
        const all = new Float32Array(n * d);
        src.readSync(
          Int32Array.from({ length: n }, (_, i) => i),
          all,
        );
        assert.deepEqual(all, data);
        assert.throws(
          () => src.readSync(Int32Array.of(5, n), new Float32Array(2 * d)),
          expectError('NOT_FOUND', new RegExp(`id ${n} has no row in the refine vectors \\(${n} rows\\)`)),
        );
        await assert.rejects(src.read(Int32Array.of(-1), new Float32Array(d)), expectError('NOT_FOUND', /id -1 has no row/));
      } finally {
        src.close();
      }
      assert.throws(() => src.readSync(Int32Array.of(1), new Float32Array(d)), expectError('INVALID_ARGUMENT', /was closed/));
      // reopening what an index recorded: the same file works, a changed one is refused
      VectorFileRefine.reopen(src.location).close();
      if (ext === 'fvecs') {
        await writeFvecs(file, data.subarray(0, (n - 1) * d), d);
        assert.throws(() => VectorFileRefine.reopen(src.location), expectError('BAD_FILE', /the refine vectors changed \(2999 rows of dimension 5/));
      }
    });
  }

  test('missing, truncated or unsupported files', () => {
    assert.throws(() => VectorFileRefine.open(join(dir.path, 'nope.fvecs')), expectError('NOT_FOUND', /nope\.fvecs: no such file \(refine vectors\)/));
    const t = join(dir.path, 't.fvecs');
    writeFileSync(t, new Uint8Array([4, 0, 0, 0, 1, 2, 3]));
    assert.throws(() => VectorFileRefine.open(t), expectError('BAD_FILE', /t\.fvecs: truncated/));
    const b = join(dir.path, 'x.bvecs');
    writeFileSync(b, new Uint8Array([1, 0, 0, 0, 9]));
    assert.throws(() => VectorFileRefine.open(b), expectError('UNSUPPORTED', /rows can be read in place from \.fvecs or \.npy files, not '\.bvecs'/));
  });

  test('in memory and by callback', async () => {
    const mem = new ArrayRefine(data, d);
    const out = new Float32Array(ids.length * d);
    mem.readSync(Int32Array.from(ids), out);
    assert.deepEqual(out, rowsOf(ids));
    assert.throws(() => new ArrayRefine(new Float32Array(7), 3), expectError('INVALID_ARGUMENT', /not a multiple of the dimension 3/));
    const cb = callbackRefine({ dim: d, bytes: 123, fetch: async (i) => rowsOf(Array.from(i)) });
    assert.equal(cb.readSync, undefined, 'a callback source is asynchronous');
    await cb.read(Int32Array.of(4, 8), out);
    assert.deepEqual(out.subarray(0, 2 * d), rowsOf([4, 8]));
    const bad = callbackRefine({ dim: d, bytes: 0, fetch: async () => new Float32Array(3) });
    await assert.rejects(bad.read(Int32Array.of(1), out), expectError('INVALID_ARGUMENT', /returned 3 floats for 1 ids of dimension 5/));
  });
});
