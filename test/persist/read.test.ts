import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openForRead, readExactly } from '../../src/persist/read.js';
import { expectError } from '../assert-error.js';

describe('openForRead and readExactly', () => {
  test('reads exactly the bytes asked for; a missing file, a directory and a short file are named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nitamono-read-'));
    try {
      const p = join(dir, 'ten.bin');
      writeFileSync(
        p,
        Uint8Array.from({ length: 10 }, (_, i) => i),
      );
      const { fh, size } = await openForRead(p);
      try {
        assert.equal(size, 10);
        const buf = new Uint8Array(4);
        await readExactly(fh, p, buf, 3);
        assert.deepEqual(Array.from(buf), [3, 4, 5, 6]);
        await assert.rejects(readExactly(fh, p, new Uint8Array(4), 8), expectError('BAD_FILE', /ten\.bin: truncated .*at byte 10/));
      } finally {
        await fh.close();
      }
      await assert.rejects(openForRead(join(dir, 'nope.bin')), expectError('NOT_FOUND', /nope\.bin: no such file/));
      await assert.rejects(openForRead(dir), expectError('BAD_FILE', /is a directory, not a file/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
