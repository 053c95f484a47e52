import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { writeFileAtomic } from '../../src/persist/atomic.js';
import { crc32, crc32Js, FOOTER_BYTES, readContainer, writeContainer } from '../../src/persist/container.js';
import { expectError } from '../assert-error.js';
import { type TempDir, tempDir } from '../temp-dir.js';

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function randomBytes(n: number, seed = 1): Uint8Array {
  const a = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = x & 0xff;
  }
  return a;
}

const vectors = new Float32Array(Array.from({ length: 3 * 5 }, (_, i) => i * 0.25 - 1));
const ids = new Int32Array([10, -1, 7]);
const odd = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);

async function writeSample(path: string, version = 1, kind = 'flat'): Promise<number> {
  return writeContainer(path, {
    kind,
    version,
    meta: { metric: 'l2', dim: 5, count: 3, note: 'ünïcode ✓' },
    sections: { odd, vectors, empty: new Float32Array(0), ids },
  });
}

// ---------------------------------------------------------------------------------------------
// CRC-32

test('crc32: standard check value and agreement with zlib, chunked at odd boundaries', () => {
  const check = new TextEncoder().encode('123456789');
  assert.equal(crc32Js(check), 0xcbf43926);
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32Js(new Uint8Array(0)), 0);
  const data = randomBytes(100_003, 7);
  const whole = crc32Js(data);
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) assert.equal(whole, native(data) >>> 0);
  let c = 0;
  let c2 = 0;
  for (let i = 0; i < data.length; ) {
    const step = 1 + ((i * 7919) % 1000);
    const part = data.subarray(i, i + step);
    c = crc32Js(part, c);
    c2 = crc32(part, c2);
    i += step;
  }
  assert.equal(c, whole);
  assert.equal(c2, whole);
});

describe('container files and atomic writes on disk', () => {
  let tmp: TempDir | undefined;
  let dir: string;
  before(() => {
    tmp = tempDir('nitamono-container-');
    dir = tmp.path;
  });
  after(() => tmp?.dispose());
  const p = (name: string): string => join(dir, name);

  // ---------------------------------------------------------------------------------------------
  // round trip

  test('container round trip: kind, version, meta, sections, 64-byte alignment', async () => {
    const bytes = await writeSample(p('a.nita'), 3);
    assert.equal(bytes, statSync(p('a.nita')).size);
    const c = await readContainer(p('a.nita'), { kind: 'flat', maxVersion: 3 });
    assert.equal(c.kind, 'flat');
    assert.equal(c.version, 3);
    assert.deepEqual(c.meta, { metric: 'l2', dim: 5, count: 3, note: 'ünïcode ✓' });
    assert.deepEqual(Object.keys(c.sections), ['odd', 'vectors', 'empty', 'ids']);
    assert.deepEqual(c.dtypes, { odd: 'u8', vectors: 'f32', empty: 'f32', ids: 'i32' });
    for (const [name, s] of Object.entries(c.sections)) {
      assert.equal(s.byteOffset % 64, 0, `section ${name} is 64-byte aligned`);
    }
    assert.deepEqual(c.sections['odd'], odd);
    const v = c.sections['vectors']!;
    assert.deepEqual(new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4), vectors);
    const i = c.sections['ids']!;
    assert.deepEqual(new Int32Array(i.buffer, i.byteOffset, i.byteLength / 4), ids);
    assert.equal(c.sections['empty']!.byteLength, 0);
    // each section is read into a buffer of its own, exactly its size (no copies, and a file
    // may exceed the 4 GiB one typed array holds)
    for (const s of [v, i]) assert.equal(s.buffer.byteLength, s.byteLength);

    // the documented layout
    const raw = readFileSync(p('a.nita'));
    assert.equal(raw.subarray(0, 8).toString('latin1'), 'NITAMONO');
    assert.equal(raw.readUInt32LE(8), 3);
    const h = raw.readUInt32LE(12);
    const header = JSON.parse(raw.subarray(16, 16 + h).toString('utf8')) as {
      kind: string;
      sections: Array<{ name: string; offset: number; length: number; dtype: string }>;
    };
    assert.equal(header.kind, 'flat');
    const last = header.sections[header.sections.length - 1]!;
    assert.equal(last.name, 'ids');
    assert.equal(raw.length, last.offset + last.length + FOOTER_BYTES);
    assert.equal(raw.subarray(raw.length - 8).toString('latin1'), 'ENDNITA\0');
    assert.equal(raw.readUInt32LE(raw.length - 12), crc32Js(raw.subarray(0, raw.length - 12)));

    // kind is optional when reading
    const any = await readContainer(p('a.nita'), { maxVersion: 5 });
    assert.equal(any.kind, 'flat');
  });

  test('container round trip: no sections, large section, shared-memory section', async () => {
    await writeContainer(p('none.nita'), { kind: 'x', version: 1, meta: {}, sections: {} });
    const c0 = await readContainer(p('none.nita'), { kind: 'x', maxVersion: 1 });
    assert.deepEqual(c0.sections, {});
    assert.deepEqual(c0.meta, {});

    const big = randomBytes(20_000_001, 3); // > the 8 MiB read block
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    const shared = new Float32Array(mem.buffer, 64, 10);
    shared.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await writeContainer(p('big.nita'), { kind: 'x', version: 1, meta: { n: 1 }, sections: { big, shared } });
    const c = await readContainer(p('big.nita'), { kind: 'x', maxVersion: 1 });
    assert.ok(Buffer.from(c.sections['big']!).equals(Buffer.from(big)));
    const s = c.sections['shared']!;
    assert.deepEqual(Array.from(new Float32Array(s.buffer, s.byteOffset, 10)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('container writer validates its input', async () => {
    await assert.rejects(writeContainer(p('v.nita'), { kind: '', version: 1, meta: {}, sections: {} }), expectError('INVALID_ARGUMENT', /kind/));
    await assert.rejects(writeContainer(p('v.nita'), { kind: 'k', version: 0, meta: {}, sections: {} }), expectError('INVALID_ARGUMENT', /version/));
    await assert.rejects(
      writeContainer(p('v.nita'), { kind: 'k', version: 1, meta: { big: 1n } as object, sections: {} }),
      expectError('INVALID_ARGUMENT', /not JSON-serialisable/),
    );
  });

  // ---------------------------------------------------------------------------------------------
  // rejections

  test('missing file → NOT_FOUND naming it', async () => {
    await assert.rejects(readContainer(p('missing.nita'), { maxVersion: 1 }), expectError('NOT_FOUND', new RegExp(`^${esc(p('missing.nita'))}: no such file`)));
  });

  test('truncated files are reported as truncated, wherever the cut is', async () => {
    await writeSample(p('full.nita'));
    const raw = readFileSync(p('full.nita'));
    const h = raw.readUInt32LE(12);
    const cuts = [0, 5, 12, 16, 16 + Math.floor(h / 2), 16 + h + 3, raw.length - 40, raw.length - FOOTER_BYTES - 1, raw.length - 5, raw.length - 1];
    for (const cut of cuts) {
      writeFileSync(p('cut.nita'), raw.subarray(0, cut));
      await assert.rejects(
        readContainer(p('cut.nita'), { maxVersion: 1 }),
        expectError('BAD_FILE', new RegExp(`^${esc(p('cut.nita'))}: truncated`)),
        `cut at ${cut} of ${raw.length}`,
      );
    }
  });

  test('bad magic', async () => {
    await writeSample(p('m.nita'));
    const raw = readFileSync(p('m.nita'));
    raw[3] = 0x21;
    writeFileSync(p('m.nita'), raw);
    await assert.rejects(
      readContainer(p('m.nita'), { maxVersion: 1 }),
      expectError('BAD_FILE', new RegExp(`^${esc(p('m.nita'))}: not a nitamono index file \\(bad magic\\)`)),
    );
    writeFileSync(p('text.nita'), 'just some text that is long enough to have a header');
    await assert.rejects(readContainer(p('text.nita'), { maxVersion: 1 }), expectError('BAD_FILE', /bad magic/));
    writeFileSync(p('short.nita'), 'abc');
    await assert.rejects(readContainer(p('short.nita'), { maxVersion: 1 }), expectError('BAD_FILE', /bad magic/));
  });

  test('a file from a newer format version is refused with both versions named', async () => {
    await writeSample(p('new.nita'), 4);
    await assert.rejects(
      readContainer(p('new.nita'), { kind: 'flat', maxVersion: 2 }),
      expectError('BAD_FILE', new RegExp(`^${esc(p('new.nita'))}: written by a newer nitamono \\(format version 4, this build reads up to 2\\)`)),
    );
  });

  test('kind mismatch', async () => {
    await writeSample(p('ivf.nita'), 1, 'ivf');
    await assert.rejects(
      readContainer(p('ivf.nita'), { kind: 'flat', maxVersion: 1 }),
      expectError('BAD_FILE', new RegExp(`^${esc(p('ivf.nita'))}: holds a 'ivf' index, expected 'flat'`)),
    );
  });

  test('any flipped byte after the prefix → checksum mismatch', async () => {
    await writeSample(p('flip.nita'));
    const raw = readFileSync(p('flip.nita'));
    const h = raw.readUInt32LE(12);
    // the header JSON (a quote, a digit of an offset, a letter of the kind), the padding,
    // every section byte, and the stored checksum itself
    const jsonText = raw.subarray(16, 16 + h).toString('latin1');
    const positions = [16, 16 + jsonText.indexOf('"offset":') + 9, 16 + jsonText.indexOf('flat'), 16 + h, raw.length - 12, raw.length - 9];
    const header = JSON.parse(jsonText) as { sections: Array<{ offset: number; length: number }> };
    for (const s of header.sections) for (let i = 0; i < s.length; i++) positions.push(s.offset + i);
    for (const pos of positions) {
      const bad = Buffer.from(raw);
      bad[pos]! ^= 0x10;
      writeFileSync(p('flip.nita'), bad);
      await assert.rejects(
        readContainer(p('flip.nita'), { kind: 'flat', maxVersion: 1 }),
        expectError('BAD_FILE', new RegExp(`^${esc(p('flip.nita'))}: checksum mismatch \\(file is corrupt\\)`)),
        `flipped byte at ${pos}`,
      );
    }
    // a damaged end marker
    const bad = Buffer.from(raw);
    bad[raw.length - 3] ^= 1;
    writeFileSync(p('flip.nita'), bad);
    await assert.rejects(readContainer(p('flip.nita'), { maxVersion: 1 }), expectError('BAD_FILE', /file is corrupt/));
    // trailing garbage
    writeFileSync(p('flip.nita'), Buffer.concat([raw, Buffer.from('xx')]));
    await assert.rejects(readContainer(p('flip.nita'), { maxVersion: 1 }), expectError('BAD_FILE', /file is corrupt/));
    // and the untouched bytes read fine
    writeFileSync(p('flip.nita'), raw);
    await readContainer(p('flip.nita'), { kind: 'flat', maxVersion: 1 });
  });

  // ---------------------------------------------------------------------------------------------
  // atomic writes

  function tempFiles(): string[] {
    return readdirSync(dir).filter((f) => f.includes('.tmp-'));
  }

  test('atomic write: a failing chunk source leaves the previous file intact and no temp file', async () => {
    await writeSample(p('keep.nita'));
    const before = readFileSync(p('keep.nita'));
    const boom = new Error('disk on fire');
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(1 << 20).fill(1);
      yield new Uint8Array(1 << 20).fill(2);
      throw boom;
    }
    await assert.rejects(writeFileAtomic(p('keep.nita'), failing()), (err) => err === boom);
    assert.ok(readFileSync(p('keep.nita')).equals(before), 'target unchanged');
    await readContainer(p('keep.nita'), { kind: 'flat', maxVersion: 1 });
    assert.deepEqual(tempFiles(), []);

    async function* failingAsync(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      await new Promise((r) => setTimeout(r, 5));
      throw boom;
    }
    await assert.rejects(writeFileAtomic(p('keep.nita'), failingAsync()), (err) => err === boom);
    assert.ok(readFileSync(p('keep.nita')).equals(before));
    // a non-view chunk is refused the same way
    await assert.rejects(
      writeFileAtomic(p('keep.nita'), [new Uint8Array(3), 'nope' as unknown as Uint8Array]),
      expectError('INVALID_ARGUMENT', /not an ArrayBufferView/),
    );
    assert.ok(readFileSync(p('keep.nita')).equals(before));
    assert.deepEqual(tempFiles(), []);
  });

  test('atomic write: arrays of views, strings, replacing, missing directory', async () => {
    const n = await writeFileAtomic(p('plain.bin'), [new Uint8Array([1, 2]), new Uint16Array([0x0403]), new DataView(new Uint8Array([5]).buffer)]);
    assert.equal(n, 5);
    assert.deepEqual(Array.from(readFileSync(p('plain.bin'))), [1, 2, 3, 4, 5]);
    await writeFileAtomic(p('plain.bin'), 'héllo\n');
    assert.equal(readFileSync(p('plain.bin'), 'utf8'), 'héllo\n');
    await writeFileAtomic(p('plain.bin'), new Uint8Array(0));
    assert.equal(readFileSync(p('plain.bin')).length, 0);
    await assert.rejects(writeFileAtomic(join(dir, 'no', 'such', 'dir', 'f.bin'), 'x'), expectError('NOT_FOUND', /does not exist/));
    assert.deepEqual(tempFiles(), []);
  });
});
