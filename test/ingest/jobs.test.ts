import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SQLiteCatalogStore } from '../../src/catalog/sqlite.js';
import type { FeatureSpace } from '../../src/catalog/types.js';
import type { ExtractedImage } from '../../src/image/extract.js';
import { type ExtractFn, extractionJob, handleExtractionJob, InProcessJobRunner, jobKey } from '../../src/ingest/jobs.js';

const COLOR: FeatureSpace = { kind: 'color', model: 'rgb-hist-4' };

/** An extractor that returns a fixed vector per path and counts its calls. */
function fakeExtract(bad: ReadonlySet<string> = new Set()): ExtractFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (path: string): Promise<ExtractedImage> => {
    calls.push(path);
    if (bad.has(path)) return { path, ok: false, code: 'DECODE_FAILED', error: `${path}: not an image` };
    return { path, ok: true, width: 2, height: 2, format: 'png', features: { color: Float32Array.from([path.length, 1, 2]) } };
  };
  return Object.assign(fn, { calls });
}

async function withStore(fn: (s: SQLiteCatalogStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nitamono-jobs-'));
  const s = await SQLiteCatalogStore.open(join(dir, 'catalog.sqlite'));
  try {
    await fn(s);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('extraction jobs', () => {
  test('the key is content + spaces (kind and model version), in any order', () => {
    const deep = { kind: 'deep' as const, model: 'mobilenetv2-mid' };
    assert.equal(jobKey('abc', [COLOR, deep]), jobKey('abc', [deep, COLOR]));
    assert.notEqual(jobKey('abc', [COLOR]), jobKey('abc', [{ kind: 'color', model: 'rgb-hist-8' }]));
    assert.notEqual(jobKey('abc', [COLOR]), jobKey('abd', [COLOR]));
  });

  test('the handler extracts once per content and writes a row per file; running it again changes nothing', async () => {
    await withStore(async (store) => {
      const extract = fakeExtract();
      const job = extractionJob(
        'S1',
        '/r/a.png',
        [COLOR],
        [
          { relpath: 'a.png', size: 1, mtime_ms: 1 },
          { relpath: 'dup/a.png', size: 1, mtime_ms: 1 },
        ],
      );
      const r = await handleExtractionJob(job, { store, extract });
      assert.equal(r.outcome.status, 'extracted');
      assert.equal(r.writes.length, 2);
      const first = await store.commit(r.writes);
      assert.deepEqual(extract.calls, ['/r/a.png']);
      // delivered again (a retry, a queue's second delivery): content is known, nothing is extracted or changed
      const again = await handleExtractionJob(job, { store, extract });
      assert.equal(again.outcome.status, 'reused');
      assert.equal(extract.calls.length, 1);
      const second = await store.commit(again.writes);
      assert.deepEqual(second.ids, first.ids);
      assert.equal(second.changed, false);
      assert.equal(await store.okCount(), 2);
    });
  });

  test('a bad image becomes skipped rows with the reason, without the path repeated', async () => {
    await withStore(async (store) => {
      const job = extractionJob('S2', '/r/bad.png', [COLOR], [{ relpath: 'bad.png', size: 1, mtime_ms: 1 }]);
      const r = await handleExtractionJob(job, { store, extract: fakeExtract(new Set(['/r/bad.png'])) });
      assert.deepEqual(r.outcome, { status: 'failed', code: 'DECODE_FAILED', reason: 'not an image' });
      await store.commit(r.writes);
      const [row] = await store.skipped();
      assert.equal(row!.error_message, 'not an image');
    });
  });

  test('the in-process runner yields every job once, in job order, and stops when aborted', async () => {
    await withStore(async (store) => {
      const jobs = Array.from({ length: 20 }, (_, i) => extractionJob(`H${i}`, `/r/${i}.png`, [COLOR], [{ relpath: `${i}.png`, size: 1, mtime_ms: 1 }]));
      const seen: string[] = [];
      // the first jobs finish last: results must still come back in job order
      const slowFirst: ExtractFn = async (path) => {
        const i = Number(/(\d+)\.png$/.exec(path)![1]);
        await new Promise((r) => setTimeout(r, Math.max(0, 20 - i)));
        return fakeExtract()(path);
      };
      for await (const r of new InProcessJobRunner(store, slowFirst, 5).run(jobs)) seen.push(r.job.key);
      assert.deepEqual(
        seen,
        jobs.map((j) => j.key),
        'job order, whatever order the work finishes in',
      );

      const ac = new AbortController();
      let n = 0;
      for await (const _ of new InProcessJobRunner(store, fakeExtract(), 2).run(jobs, ac.signal)) {
        if (++n === 3) ac.abort();
      }
      assert.equal(n, 3, 'no result after the abort');
    });
  });
});
