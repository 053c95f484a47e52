import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIds, readVectors, writeFvecs, writeIvecs, writeNpy } from '../../src/vectors/io.js';
import { checkVectors, l2Normalize, toFloat32Matrix } from '../../src/vectors/matrix.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

function seq(n: number, scale = 0.5): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i % 97) * scale - 7.25;
  return a;
}

/** A hand-made *vecs file: rows given as [declaredDim, values...] with a writer per element. */
function vecsBytes(rows: number[][], elemBytes: 1 | 4, float: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const [d, ...vals] of rows) {
    const b = Buffer.alloc(4 + vals.length * elemBytes);
    b.writeInt32LE(d!, 0);
    vals.forEach((v, i) => {
      if (elemBytes === 1) b.writeUInt8(v, 4 + i);
      else if (float) b.writeFloatLE(v, 4 + 4 * i);
      else b.writeInt32LE(v, 4 + 4 * i);
    });
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** A hand-made .npy with a given header dict and major version. */
function npyBytes(dict: string, data: Buffer, major = 1): Buffer {
  const pre = major === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = `${dict.padEnd(total - pre - 1, ' ')}\n`;
  const b = Buffer.alloc(pre);
  b.write('\x93NUMPY', 0, 'latin1');
  b[6] = major;
  b[7] = 0;
  if (major === 1) b.writeUInt16LE(header.length, 8);
  else b.writeUInt32LE(header.length, 8);
  return Buffer.concat([b, Buffer.from(header, major === 3 ? 'utf8' : 'latin1'), data]);
}

// ---------------------------------------------------------------------------------------------
// matrix.ts

test('checkVectors returns the row count and accepts finite data', () => {
  assert.equal(checkVectors(seq(12), 4), 3);
  assert.equal(checkVectors(new Float32Array(0), 8), 0);
});

test('checkVectors: length not a multiple of dim → DIMENSION_MISMATCH naming length, dim and what', () => {
  assert.throws(() => checkVectors(seq(10), 4, 'queries'), expectError('DIMENSION_MISMATCH', /^queries: length 10 is not a multiple of the dimension 4/));
});

test('checkVectors: NaN / ±Infinity → NOT_FINITE naming the first bad row and column', () => {
  const a = seq(4 * 3000);
  a[2 * 4 + 3] = Number.POSITIVE_INFINITY;
  a[2000 * 4 + 1] = Number.NaN;
  assert.throws(() => checkVectors(a, 4), expectError('NOT_FINITE', /^vectors: row 2, column 3 is Infinity/));
  a[2 * 4 + 3] = 0;
  assert.throws(() => checkVectors(a, 4, 'base'), expectError('NOT_FINITE', /^base: row 2000, column 1 is NaN/));
  a[2000 * 4 + 1] = 0;
  a[a.length - 1] = Number.NEGATIVE_INFINITY;
  assert.throws(() => checkVectors(a, 4), expectError('NOT_FINITE', /row 2999, column 3 is -Infinity/));
});

test('checkVectors: dim not a positive integer → INVALID_ARGUMENT', () => {
  for (const d of [0, -3, 2.5, Number.NaN]) {
    assert.throws(() => checkVectors(seq(8), d), expectError('INVALID_ARGUMENT', /dimension must be a positive integer/));
  }
});

test('checkVectors is fast on 60k×784', () => {
  const a = seq(60000 * 784, 0.01);
  const t0 = performance.now();
  assert.equal(checkVectors(a, 784), 60000);
  const ms = performance.now() - t0;
  assert.ok(ms < 1500, `checkVectors took ${ms.toFixed(0)} ms`);
});

test('l2Normalize: unit rows, zero rows stay zero, copy vs in place', () => {
  const a = new Float32Array([3, 4, 0, 0, 0, 0, 0, -2, 0]);
  const b = l2Normalize(a, 3);
  assert.notEqual(b, a);
  assert.deepEqual(Array.from(a), [3, 4, 0, 0, 0, 0, 0, -2, 0], 'input untouched');
  assert.deepEqual(Array.from(b), [0.6000000238418579, 0.800000011920929, 0, 0, 0, 0, 0, -1, 0]);
  const c = l2Normalize(a, 3, true);
  assert.equal(c, a);
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.throws(() => l2Normalize(a, 4), expectError('DIMENSION_MISMATCH', /not a multiple/));
});

test('toFloat32Matrix packs rows and checks their lengths', () => {
  const m = toFloat32Matrix([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  assert.equal(m.n, 3);
  assert.equal(m.dim, 2);
  assert.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 6]);
  assert.throws(() => toFloat32Matrix([[1, 2], [3]]), expectError('DIMENSION_MISMATCH', /row 1 has 1 values, expected 2/));
  assert.throws(() => toFloat32Matrix([]), expectError('INVALID_ARGUMENT', /no rows/));
});

const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

describe('vector files on disk', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-vio-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());
  const p = (name: string): string => join(dir, name);

  // ---------------------------------------------------------------------------------------------
  // round trips

  test('fvecs round trip (several read blocks)', async () => {
    const d = 128;
    const n = 10000; // 5.2 MB: more than one 4 MiB read block
    const data = seq(n * d, 0.125);
    await writeFvecs(p('a.fvecs'), data, d);
    const size = readFileSync(p('a.fvecs')).length;
    assert.equal(size, n * (4 + 4 * d));
    const r = await readVectors(p('a.fvecs'));
    assert.equal(r.n, n);
    assert.equal(r.dim, d);
    assert.deepEqual(r.data, data);
  });

  test('ivecs round trip', async () => {
    const data = new Int32Array([0, 5, -1, 7, 2147483647, -2147483648]);
    await writeIvecs(p('gt.ivecs'), data, 3);
    const r = await readIds(p('gt.ivecs'));
    assert.equal(r.n, 2);
    assert.equal(r.dim, 3);
    assert.deepEqual(r.data, data);
    // the layout is the ANN one: int32 dim before every row
    const raw = readFileSync(p('gt.ivecs'));
    assert.equal(raw.readInt32LE(0), 3);
    assert.equal(raw.readInt32LE(16), 3);
    assert.equal(raw.readInt32LE(4 * 3), -1);
  });

  test('bvecs are read as uint8 → float', async () => {
    writeFileSync(
      p('b.bvecs'),
      vecsBytes(
        [
          [3, 0, 128, 255],
          [3, 1, 2, 3],
        ],
        1,
        false,
      ),
    );
    const r = await readVectors(p('b.bvecs'));
    assert.equal(r.n, 2);
    assert.equal(r.dim, 3);
    assert.deepEqual(Array.from(r.data), [0, 128, 255, 1, 2, 3]);
  });

  test('npy round trip, float32 and int32, with numpy-style header', async () => {
    const data = seq(7 * 5);
    await writeNpy(p('v.npy'), data, [7, 5]);
    const raw = readFileSync(p('v.npy'));
    assert.equal(raw.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
    const hlen = raw.readUInt16LE(8);
    assert.equal((10 + hlen) % 64, 0, 'data starts on a 64-byte boundary');
    assert.match(raw.subarray(10, 10 + hlen).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(7, 5\), \} *\n$/);
    const r = await readVectors(p('v.npy'));
    assert.deepEqual([r.n, r.dim], [7, 5]);
    assert.deepEqual(r.data, data);

    const ids = new Int32Array([1, -2, 3, 4, 5, 6]);
    await writeNpy(p('ids.npy'), ids, [3, 2]);
    const ri = await readIds(p('ids.npy'));
    assert.deepEqual([ri.n, ri.dim], [3, 2]);
    assert.deepEqual(ri.data, ids);

    await writeNpy(p('empty.npy'), new Float32Array(0), [0, 16]);
    const re = await readVectors(p('empty.npy'));
    assert.deepEqual([re.n, re.dim, re.data.length], [0, 16, 0]);
    await assert.rejects(writeNpy(p('x.npy'), data, [5, 5]), expectError('DIMENSION_MISMATCH', /holds 25 values, the data has 35/));
  });

  test('npy format versions 2.0 and 3.0 are read', async () => {
    const data = Buffer.alloc(2 * 3 * 4);
    for (let i = 0; i < 6; i++) data.writeFloatLE(i + 0.5, 4 * i);
    writeFileSync(p('v2.npy'), npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 2));
    writeFileSync(p('v3.npy'), npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 3));
    for (const f of ['v2.npy', 'v3.npy']) {
      const r = await readVectors(p(f));
      assert.deepEqual([r.n, r.dim], [2, 3]);
      assert.deepEqual(Array.from(r.data), [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
    }
  });

  test('npy interoperates with numpy (skipped without python3 + numpy)', { skip: !hasNumpy && 'python3 with numpy not available' }, async () => {
    const data = seq(4 * 3);
    await writeNpy(p('to-numpy.npy'), data, [4, 3]);
    const py = [
      'import numpy as np, sys',
      `a = np.load(${JSON.stringify(p('to-numpy.npy'))})`,
      'assert a.dtype == np.float32 and a.shape == (4, 3), (a.dtype, a.shape)',
      'print(float(a.sum()))',
      `np.save(${JSON.stringify(p('from-numpy.npy'))}, (np.arange(12, dtype=np.float32).reshape(3, 4) / 4))`,
      `np.save(${JSON.stringify(p('from-numpy-i.npy'))}, np.arange(6, dtype=np.int32).reshape(2, 3))`,
      `np.save(${JSON.stringify(p('from-numpy-f8.npy'))}, np.zeros((2, 2)))`,
    ].join('\n');
    const out = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(
      Number(out.stdout.trim()),
      Array.from(data).reduce((s, x) => s + x, 0),
    );
    const r = await readVectors(p('from-numpy.npy'));
    assert.deepEqual([r.n, r.dim], [3, 4]);
    assert.deepEqual(
      Array.from(r.data),
      Array.from({ length: 12 }, (_, i) => i / 4),
    );
    const ri = await readIds(p('from-numpy-i.npy'));
    assert.deepEqual(Array.from(ri.data), [0, 1, 2, 3, 4, 5]);
    await assert.rejects(readVectors(p('from-numpy-f8.npy')), expectError('BAD_FILE', /dtype '<f8' is not supported/));
  });

  // ---------------------------------------------------------------------------------------------
  // rejections

  test('npy with an unsupported dtype is rejected, naming the file', async () => {
    writeFileSync(p('x.npy'), npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", Buffer.alloc(16)));
    await assert.rejects(
      readVectors(p('x.npy')),
      expectError('BAD_FILE', new RegExp(`^${p('x.npy').replace(/[.\\]/g, '\\$&')}: dtype '<f8' is not supported; expected float32 \\('<f4'\\)`)),
    );
    writeFileSync(p('i8.npy'), npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", Buffer.alloc(16)));
    await assert.rejects(readIds(p('i8.npy')), expectError('BAD_FILE', /i8\.npy: dtype '<i8' is not supported; expected int32 \('<i4'\)/));
    // float data is not ids and vice versa
    await writeNpy(p('f.npy'), seq(4), [2, 2]);
    await assert.rejects(readIds(p('f.npy')), expectError('BAD_FILE', /dtype '<f4' is not supported; expected int32/));
    writeFileSync(p('be.npy'), npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", Buffer.alloc(8)));
    await assert.rejects(readVectors(p('be.npy')), expectError('BAD_FILE', /dtype '>f4' is not supported/));
  });

  test('npy that is not 2-D is rejected', async () => {
    writeFileSync(p('3d.npy'), npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", Buffer.alloc(96)));
    await assert.rejects(readVectors(p('3d.npy')), expectError('BAD_FILE', /3d\.npy: shape \(2, 3, 4\) is 3-D; expected a 2-D array/));
    writeFileSync(p('1d.npy'), npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", Buffer.alloc(20)));
    await assert.rejects(readVectors(p('1d.npy')), expectError('BAD_FILE', /shape \(5,\) is 1-D/));
  });

  test('npy in Fortran order is rejected', async () => {
    writeFileSync(p('fo.npy'), npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", Buffer.alloc(24)));
    await assert.rejects(readVectors(p('fo.npy')), expectError('BAD_FILE', /fo\.npy: fortran_order is True/));
  });

  test('truncated npy and non-npy files are rejected', async () => {
    await writeNpy(p('t.npy'), seq(10 * 4), [10, 4]);
    const raw = readFileSync(p('t.npy'));
    writeFileSync(p('t.npy'), raw.subarray(0, raw.length - 20));
    await assert.rejects(readVectors(p('t.npy')), expectError('BAD_FILE', /t\.npy: truncated at row 8/));
    writeFileSync(p('t.npy'), raw.subarray(0, 30));
    await assert.rejects(readVectors(p('t.npy')), expectError('BAD_FILE', /t\.npy: truncated/));
    writeFileSync(p('t.npy'), Buffer.concat([raw, Buffer.alloc(4)]));
    await assert.rejects(readVectors(p('t.npy')), expectError('BAD_FILE', /4 unexpected bytes after the array data/));
    writeFileSync(p('notnpy.npy'), 'hello world, not numpy');
    await assert.rejects(readVectors(p('notnpy.npy')), expectError('BAD_FILE', /not a \.npy file \(bad magic\)/));
  });

  test('truncated fvecs: the error names the file and the row', async () => {
    await writeFvecs(p('t.fvecs'), seq(5 * 8), 8);
    const raw = readFileSync(p('t.fvecs'));
    writeFileSync(p('t.fvecs'), raw.subarray(0, raw.length - 10));
    await assert.rejects(readVectors(p('t.fvecs')), expectError('BAD_FILE', /t\.fvecs: truncated at row 4 \(26 of its 36 bytes present/));
    writeFileSync(p('t.fvecs'), raw.subarray(0, 2));
    await assert.rejects(readVectors(p('t.fvecs')), expectError('BAD_FILE', /t\.fvecs: truncated at row 0/));
    writeFileSync(p('t.fvecs'), raw.subarray(0, 20));
    await assert.rejects(readVectors(p('t.fvecs')), expectError('BAD_FILE', /t\.fvecs: truncated at row 0/));
    writeFileSync(p('t.fvecs'), Buffer.alloc(0));
    await assert.rejects(readVectors(p('t.fvecs')), expectError('BAD_FILE', /t\.fvecs: empty file/));
    await writeIvecs(p('t.ivecs'), new Int32Array(12), 4);
    writeFileSync(p('t.ivecs'), readFileSync(p('t.ivecs')).subarray(0, 45));
    await assert.rejects(readIds(p('t.ivecs')), expectError('BAD_FILE', /t\.ivecs: truncated at row 2/));
  });

  test('fvecs rows of differing dimension are rejected', async () => {
    writeFileSync(
      p('mixed.fvecs'),
      vecsBytes(
        [
          [2, 1, 2],
          [2, 3, 4],
          [3, 5, 6, 7],
          [2, 8, 9],
        ],
        4,
        true,
      ),
    );
    await assert.rejects(
      readVectors(p('mixed.fvecs')),
      expectError('BAD_FILE', /mixed\.fvecs: row 2 has dimension 3, but row 0 has 2 \(all rows must have the same dimension\)/),
    );
    // a mismatch in the last, partial row is reported as such too
    writeFileSync(
      p('mixed2.fvecs'),
      vecsBytes(
        [
          [2, 1, 2],
          [2, 3, 4],
          [1, 5],
        ],
        4,
        true,
      ),
    );
    await assert.rejects(readVectors(p('mixed2.fvecs')), expectError('BAD_FILE', /row 2 has dimension 1, but row 0 has 2/));
    // … and one in a later read block
    const d = 64;
    const n = 20000;
    const rows = Buffer.alloc(n * (4 + 4 * d));
    for (let r = 0; r < n; r++) rows.writeInt32LE(r === 19000 ? d + 1 : d, r * (4 + 4 * d));
    writeFileSync(p('late.fvecs'), rows);
    await assert.rejects(readVectors(p('late.fvecs')), expectError('BAD_FILE', /row 19000 has dimension 65, but row 0 has 64/));
    // an absurd first dimension says the file is not what it claims
    writeFileSync(p('junk.fvecs'), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
    await assert.rejects(readVectors(p('junk.fvecs')), expectError('BAD_FILE', /row 0 declares dimension -1/));
  });

  test('missing files, unknown extensions and bad writer arguments', async () => {
    await assert.rejects(readVectors(p('nope.fvecs')), expectError('NOT_FOUND', /nope\.fvecs: no such file/));
    await assert.rejects(readIds(p('nope.npy')), expectError('NOT_FOUND', /nope\.npy/));
    await assert.rejects(readVectors(p('v.csv')), expectError('UNSUPPORTED', /unknown vector file type '\.csv'/));
    await assert.rejects(readIds(p('a.fvecs')), expectError('UNSUPPORTED', /unknown id file type '\.fvecs'/));
    await assert.rejects(writeFvecs(p('w.fvecs'), seq(10), 3), expectError('DIMENSION_MISMATCH', /length 10 is not a multiple of the dimension 3/));
    await assert.rejects(writeFvecs(p('w.fvecs'), seq(10), 0), expectError('INVALID_ARGUMENT', /positive integer/));
    assert.equal(existsSync(p('w.fvecs')), false);
  });

  test('writes leave no temporary files behind', () => {
    const leftovers = readdirSync(dir).filter((f) => f.includes('.tmp-'));
    assert.deepEqual(leftovers, []);
  });
});
