import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ImageSummary } from '../../src/catalog/types.js';
import { type HashedCandidate, type PlannedFile, planSync, selectCandidates } from '../../src/ingest/plan.js';

function file(relpath: string, size = 10, mtimeMs = 100): PlannedFile {
  return { relpath, abspath: `/root/${relpath}`, size, mtimeMs };
}

function row(id: number, relpath: string, sha: string, extra: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id,
    relpath,
    size: 10,
    mtime_ms: 100,
    sha256: sha,
    status: 'ok',
    width: 1,
    height: 1,
    format: 'png',
    error_code: null,
    error_message: null,
    gen: 1,
    added_at: 0,
    complete: true,
    ...extra,
  };
}

describe('selectCandidates', () => {
  test('same size and mtime of a complete row is unchanged; anything else is a candidate', () => {
    const catalog = [row(1, 'a.png', 'A'), row(2, 'b.png', 'B', { complete: false }), row(3, 'c.png', 'C')];
    const files = [file('a.png'), file('b.png'), file('c.png', 11), file('d.png')];
    const s = selectCandidates(files, catalog);
    assert.equal(s.unchanged, 1);
    assert.deepEqual(
      s.candidates.map((c) => c.relpath),
      ['b.png', 'c.png', 'd.png'],
    );
    assert.equal(s.candidates[0]!.old?.id, 2, 'a row missing a feature space is redone');
    assert.equal(s.candidates[2]!.old, undefined);
  });

  test('skipped rows are retried only when asked; excluded rows stay excluded', () => {
    const catalog = [row(1, 's.png', 'S', { status: 'skipped', complete: false }), row(2, 'x.png', 'X', { status: 'excluded' })];
    const files = [file('s.png'), file('x.png')];
    assert.equal(selectCandidates(files, catalog).unchanged, 2);
    const retry = selectCandidates(files, catalog, { retrySkipped: true });
    assert.deepEqual(
      retry.candidates.map((c) => c.relpath),
      ['s.png'],
    );
  });
});

describe('planSync', () => {
  const hashed = (f: PlannedFile, sha: string | undefined, old?: ImageSummary): HashedCandidate => ({
    ...f,
    ...(old ? { old } : {}),
    ...(sha ? { sha } : { hashError: 'EACCES' }),
  });

  test('touch, reuse, extract (grouped by content), failure and deletion', () => {
    const A = row(1, 'a.png', 'A');
    const gone = row(2, 'gone.png', 'G');
    const catalog = [A, gone, row(3, 'keep/k.png', 'K')];
    const candidates = [
      hashed(file('a.png', 10, 999), 'A', A), // new mtime, same content
      hashed(file('copy-of-a.png'), 'A'), // content already indexed
      hashed(file('n1.png'), 'N'),
      hashed(file('n2.png'), 'N'), // same new content twice
      hashed(file('m.png'), 'M'),
      hashed(file('locked.png'), undefined),
    ];
    const plan = planSync({
      seen: new Set(['a.png', 'copy-of-a.png', 'n1.png', 'n2.png', 'm.png', 'locked.png', 'keep/k.png']),
      unreadableDirs: [],
      candidates,
      catalog,
    });
    assert.deepEqual(
      plan.touches.map((c) => c.relpath),
      ['a.png'],
    );
    assert.deepEqual(
      plan.reuses.map((r) => [r.file.relpath, r.from]),
      [['copy-of-a.png', 1]],
    );
    assert.deepEqual(
      plan.extract.map((g) => g.map((c) => c.relpath)),
      [['n1.png', 'n2.png'], ['m.png']],
    );
    assert.deepEqual(
      plan.failures.map((f) => [f.file.relpath, f.code]),
      [['locked.png', 'IO']],
    );
    assert.match(plan.failures[0]!.reason, /EACCES/);
    assert.deepEqual(
      plan.deletions.map((r) => r.id),
      [2],
    );
  });

  test('a changed file is extracted, not reused from its own old row', () => {
    const A = row(1, 'a.png', 'A');
    const plan = planSync({ seen: new Set(['a.png']), unreadableDirs: [], candidates: [hashed(file('a.png', 20), 'A2', A)], catalog: [A] });
    assert.equal(plan.reuses.length, 0);
    assert.deepEqual(
      plan.extract.map((g) => g[0]!.relpath),
      ['a.png'],
    );
  });

  test('rows under unreadable folders are not deleted; an incomplete row is no reuse source', () => {
    const catalog = [row(1, 'locked/x.png', 'X'), row(2, 'other/y.png', 'Y', { complete: false }), row(3, 'z.png', 'Z')];
    const plan = planSync({ seen: new Set(['w.png']), unreadableDirs: ['locked'], candidates: [hashed(file('w.png'), 'Y')], catalog });
    assert.deepEqual(plan.deletions.map((r) => r.id).sort(), [2, 3]);
    assert.equal(plan.reuses.length, 0);
    assert.equal(plan.extract.length, 1);
    const all = planSync({ seen: new Set(), unreadableDirs: ['.'], candidates: [], catalog });
    assert.equal(all.deletions.length, 0, 'an unreadable root deletes nothing');
  });

  test('a renamed file reuses the vectors of its old row, which is then deleted', () => {
    const old = row(7, 'old-name.png', 'R');
    const plan = planSync({ seen: new Set(['new-name.png']), unreadableDirs: [], candidates: [hashed(file('new-name.png'), 'R')], catalog: [old] });
    assert.deepEqual(
      plan.reuses.map((r) => r.from),
      [7],
    );
    assert.deepEqual(
      plan.deletions.map((r) => r.id),
      [7],
    );
  });
});
