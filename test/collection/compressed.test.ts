/**
 * A collection indexed with a compressed kind (IVF-PQ re-ranked with the full vectors read
 * from its catalogue), on the 303 real images of demo/images: the `index` command with a
 * factory string and --target-recall, answers against exact search, memory in `info` and
 * stats, the tuning checked on its own held-out queries, and policy changes afterwards.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CatalogWrite } from '../../src/catalog/types.js';
import { estimateIndexBytes } from '../../src/collection/auto-index.js';
import { Collection } from '../../src/collection/collection.js';
import type { IndexReport, KindStats } from '../../src/collection/types.js';
import { tieAwareRecall } from '../../src/eval/recall.js';
import { FlatIndex } from '../../src/search/flat.js';
import { rng, sampleIndices } from '../../src/util/random.js';
import { removeDir, runCli, tempDir } from './helpers.js';

const DEMO = fileURLToPath(new URL('../../../demo/images', import.meta.url));
const POLICY = 'IVF16,PQ4,RFlat';
const TARGET = 0.9;

describe(`a collection indexed with ${POLICY} on the demo images`, () => {
  let base: string;
  let col: string;
  let report: IndexReport;
  let c: Collection;

  before(async () => {
    base = await tempDir();
    col = join(base, 'col');
    const r = await runCli(['index', DEMO, '--collection', col, '--index', POLICY, '--target-recall', String(TARGET), '--threads', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    report = JSON.parse(r.stdout);
    c = await Collection.open(col, { threads: 2 });
  });
  after(async () => {
    await c?.close();
    await removeDir(base);
  });

  const index = async (): Promise<NonNullable<KindStats['index']>> => (await c.stats()).features[0]!.index!;

  test('the report names the index and the search parameters tuned for the target', () => {
    const r = report.index.color!;
    assert.equal(r.kind, 'ivf-pq');
    assert.equal(r.factory, POLICY);
    assert.equal(r.nlist, 16);
    assert.equal(r.size, report.images);
    assert.ok(report.images >= 300);
    assert.equal(r.tuning!.target_recall, TARGET);
    assert.equal(r.tuning!.reached, true);
    assert.ok(r.tuning!.nprobe! >= 1 && r.tuning!.nprobe! <= 16);
    assert.ok(r.tuning!.refine_factor! >= 1);
  });

  test('at nprobe = nlist and refine factor 10 it answers like exact search; exact comes from the catalogue', async () => {
    const { ids, vectors, dim } = await c.vectors('color');
    const flat = new FlatIndex(dim);
    flat.add(vectors, ids);
    let misses = 0;
    try {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        const truth = flat.search(vectors.subarray(i * dim, (i + 1) * dim), 10);
        const exact = await c.search({ id }, { k: 10, method: 'exact' });
        assert.equal(exact.index, 'Flat');
        assert.deepEqual(
          exact.results.map((h) => [h.id, h.distance]),
          Array.from(truth.labels, (l, j) => [l, truth.distances[j]]),
          `exact search of ${id} scans the catalogue's vectors`,
        );
        const pq = await c.search({ id }, { k: 10, method: 'ivf', nprobe: 16, refineFactor: 10 });
        assert.equal(pq.index, POLICY);
        assert.equal(pq.nprobe, 16);
        assert.equal(pq.refine_factor, 10);
        if (tieAwareRecall(exact.results, pq.results, 10).rk < 1) misses++;
        // re-ranked distances are the exact ones
        const exactDistance = new Map(exact.results.map((h) => [h.id, h.distance]));
        for (const h of pq.results) {
          const e = exactDistance.get(h.id);
          if (e !== undefined) assert.ok(Math.abs(h.distance - e) <= 1e-6 * Math.max(1, e), `distance of ${h.id}`);
        }
      }
    } finally {
      flat.dispose();
    }
    assert.equal(misses, 0, `${misses} of ${ids.length} queries differ from exact search`);
  });

  test('RAM holds the codes, the full vectors stay in the catalogue: info --json, info and stats say so', async () => {
    const n = report.images;
    const info = await runCli(['info', '--collection', col, '--json']);
    assert.equal(info.code, 0, info.stderr);
    const f = JSON.parse(info.stdout).features[0].index;
    assert.equal(f.kind, 'ivf-pq');
    assert.equal(f.factory, POLICY);
    assert.equal(f.size, n);
    assert.equal(f.memory_bytes, estimateIndexBytes({ kind: 'ivf-pq', nlist: 16, m: 4 }, n, 12), 'codes, ids, centroids, codebooks, table');
    assert.equal(f.refine_bytes, n * 12 * 4, 'the full vectors, on disk');
    assert.equal(f.raw_bytes, n * 12 * 4);
    assert.ok(Math.abs(f.bytes_per_image - f.memory_bytes / n) < 1e-3);
    assert.equal(f.search_defaults.nprobe, f.tuning.nprobe);
    assert.equal(f.search_defaults.refine_factor, f.tuning.refine_factor);
    assert.deepEqual(f, { ...(await index()), file_bytes: f.file_bytes }, 'the library reports the same');
    const text = await runCli(['info', '--collection', col]);
    assert.match(text.stdout, /color\s+12-d\s+ivf-pq nlist=16 \(IVF16,PQ4,RFlat\), 30\d vectors, [\d.]+ KiB in memory \([\d.]+ B per image/);
    assert.match(text.stdout, /of full vectors re-ranked from the catalogue on disk/);
    assert.match(text.stdout, /tuned: 10-recall@10 [\d.]+ on \d+ queries/);

    const search = await runCli(['search', join(DEMO, 'fruit', 'an_apple_01.png'), '--collection', col, '-k', '3', '--refine-factor', '2', '--json']);
    assert.equal(search.code, 0, search.stderr);
    const sj = JSON.parse(search.stdout);
    assert.equal(sj.method, 'ivf');
    assert.equal(sj.index, POLICY);
    assert.equal(sj.refine_factor, 2);
    assert.equal(sj.results.length, 3);
  });

  test('bad --index, --memory-budget and --target-recall exit 2 with the reason, before anything is written', async () => {
    const fresh = join(base, 'never');
    for (const [args, re] of [
      [['--index', 'HNSW32'], /--index must be auto, flat, ivf or an index factory string/],
      [['--memory-budget', 'lots'], /--memory-budget must be a number of bytes or a size such as 512MB/],
      [['--target-recall', '1.5'], /--target-recall must be a number in \(0, 1\]/],
      [['--index', 'IVF64,PQ8', '--nlist', '32'], /--nlist 32 disagrees with --index IVF64,PQ8/],
    ] as [string[], RegExp][]) {
      const r = await runCli(['index', DEMO, '--collection', fresh, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    assert.equal(existsSync(fresh), false);
  });

  test('--target-recall: the chosen nprobe and refine factor reach the target on the held-out queries', async () => {
    const t = (await index()).tuning!;
    assert.ok(
      t.tried.some((p) => p.recall < TARGET),
      'some setting tried misses the target (else this test could not fail)',
    );
    // the tuning's queries: a seeded sample of the searchable images in id order, each left out of its own answer
    const rows = await c.searchableImages();
    const sample = sampleIndices(rows.length, t.queries, t.seed);
    let sum = 0;
    for (const r of sample) {
      const id = rows[r]!.id;
      const exact = await c.search({ id }, { k: t.k, method: 'exact', excludeSelf: true });
      const got = await c.search({ id }, { k: t.k, excludeSelf: true }); // the defaults: the tuned values
      assert.equal(got.method, 'ivf');
      assert.equal(got.nprobe, t.nprobe);
      assert.equal(got.refine_factor, t.refine_factor);
      sum += tieAwareRecall(exact.results, got.results, t.k).rk;
    }
    const recall = sum / sample.length;
    assert.ok(recall >= TARGET, `measured 10-recall@10 ${recall} < target ${TARGET} at nprobe ${t.nprobe}, refine factor ${t.refine_factor}`);
    assert.ok(Math.abs(recall - t.recall) < 1e-3, `measured ${recall}, tuning said ${t.recall}`);
  });

  test('the tuning is kept with the index; policy and target changes rebuild or retune (SQ8, 4-bit fast-scan PQ, auto)', async () => {
    const side = JSON.parse(await readFile(join(col, 'color.index.json'), 'utf8'));
    assert.equal(side.factory, POLICY);
    assert.equal(side.tuning.target_recall, TARGET);
    await c.close();
    c = await Collection.open(col, { threads: 2 });
    assert.deepEqual((await index()).tuning, side.tuning, 'reopened: the tuning is read back, not redone');

    // 8-bit codes without re-ranking, no tuning
    const sq8 = await c.update({ index: 'IVF16,SQ8', targetRecall: null });
    assert.equal(sq8.index.color!.kind, 'ivf-sq8');
    assert.equal(sq8.index.color!.tuning, undefined);
    const s = await index();
    assert.equal(s.refine_bytes, 0);
    assert.equal(s.tuning, null);
    assert.deepEqual(s.search_defaults, { nprobe: 8, refine_factor: null });
    const res = await c.search({ id: (await c.searchableImages())[0]!.id }, { k: 5 });
    assert.equal(res.method, 'ivf');
    assert.equal(res.index, 'IVF16,SQ8');
    assert.equal(res.refine_factor, undefined);
    await assert.rejects(
      c.search({ id: 1 }, { k: 5, refineFactor: 2 }),
      (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /re-ranked from the catalogue.*IVF16,SQ8/.test(e.message),
    );

    // 4-bit fast-scan codes, the factory string stored canonical; exact at every list and every candidate re-ranked
    const fs = await c.update({ index: 'ivf16,pq6X4FS,rflat', targetRecall: null });
    assert.equal(fs.index.color!.kind, 'ivf-pq');
    assert.equal(fs.index.color!.factory, 'IVF16,PQ6x4fs,RFlat');
    assert.equal(JSON.parse(await readFile(join(col, 'color.index.json'), 'utf8')).factory, 'IVF16,PQ6x4fs,RFlat');
    const q = await index();
    assert.equal(q.codec, 'PQ6x4fs: 6 sub-quantizers, 4-bit, fast scan (3 bytes a vector, of the vectors (not residuals))');
    assert.equal(q.memory_bytes, estimateIndexBytes({ kind: 'ivf-pq', nlist: 16, m: 6, nbits: 4, byResidual: false }, report.images, 12));
    for (const { id } of (await c.searchableImages()).slice(0, 20)) {
      const exact = await c.search({ id }, { k: 10, method: 'exact' });
      const got = await c.search({ id }, { k: 10, nprobe: 16, refineFactor: 40 });
      assert.equal(got.index, 'IVF16,PQ6x4fs,RFlat');
      assert.equal(tieAwareRecall(exact.results, got.results, 10).rk, 1, `image ${id}`);
    }
    const shown = await runCli(['info', '--collection', col]);
    assert.match(shown.stdout, /ivf-pq nlist=16 \(IVF16,PQ6x4fs,RFlat\), 30\d vectors.*; codes: PQ6x4fs: 6 sub-quantizers, 4-bit, fast scan/);

    // back to auto: 303 images are searched exactly
    const flat = await c.update({ index: 'auto' });
    assert.deepEqual(flat.index.color, { kind: 'flat', size: report.images });
    const f = await index();
    assert.equal(f.factory, 'Flat');
    assert.equal(f.refine_bytes, 0);
    assert.equal(f.memory_bytes, report.images * 14 * 4);
  });
});

describe('auto with a memory budget, on 12,000 stored vectors', () => {
  const n = 12_000;
  let base: string;
  let col: string;
  let c: Collection;

  before(async () => {
    base = await tempDir();
    col = join(base, 'col');
    await mkdir(join(base, 'images'));
    // 300,000 bytes: float32 rows (582 kB in an IVF) do not fit, 8-bit codes (198 kB) do
    c = await Collection.open(col, { create: true, root: join(base, 'images'), features: ['color'], memoryBudget: 300_000, threads: 2 });
    // vectors straight into the catalogue (as extraction workers write them): 12-d colour histograms of 40 colour families
    const store = await Collection.openJobStore(col);
    try {
      const rand = rng(11);
      const centres = Array.from({ length: 40 }, () => Array.from({ length: 12 }, () => rand()));
      const writes: CatalogWrite[] = [];
      for (let i = 0; i < n; i++) {
        const m = centres[i % 40]!;
        const vector = Float32Array.from(m, (x) => x + (rand() - 0.5) * 0.2);
        writes.push({
          op: 'put',
          image: { relpath: `v/${i}.png`, size: 1, mtime_ms: 1, sha256: `h${i}`, status: 'ok' },
          vectors: [{ space: { kind: 'color', model: 'rgb-hist-4' }, vector }],
        });
      }
      await store.commit(writes);
    } finally {
      await store.close();
    }
  });
  after(async () => {
    await c?.close();
    await removeDir(base);
  });

  test('chooses IVF-SQ8 within the budget, and IVF-PQ re-ranked from the catalogue when the budget shrinks below it', async () => {
    await c.syncIndexes();
    let s = (await c.stats()).features[0]!.index!;
    assert.equal(s.factory, 'IVF110,SQ8');
    assert.equal(s.budget_bytes, 300_000);
    assert.ok(s.memory_bytes <= 300_000, `${s.memory_bytes} bytes`);
    assert.match(s.reason!, /8-bit codes .* fit/);
    assert.equal(s.memory_bytes, estimateIndexBytes({ kind: 'ivf-sq8', nlist: 110 }, n, 12));
    const side = JSON.parse(await readFile(join(col, 'color.index.json'), 'utf8'));
    assert.equal(side.budget_bytes, 300_000);

    // a smaller budget (as `index --memory-budget` records it): planned again, rebuilt
    const cfgFile = join(col, 'collection.json');
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8'));
    await writeFile(cfgFile, JSON.stringify({ ...cfg, memory_budget: 120_000 }));
    await c.close();
    c = await Collection.open(col, { threads: 2 });
    s = (await c.stats()).features[0]!.index!;
    // at 12,000 vectors IVF-PQ's precomputed table (110 lists × 4 × 256 floats) outweighs the codes: over budget, said so
    assert.equal(s.factory, 'IVF110,PQ4,RFlat', s.reason!);
    assert.match(s.reason!, /no index fits/);
    assert.equal(s.memory_bytes, estimateIndexBytes({ kind: 'ivf-pq', nlist: 110, m: 4 }, n, 12));
    assert.equal(s.refine_bytes, n * 12 * 4);
    // answers: the exact top 10 of a few queries, found at every list with re-ranking
    for (const id of [5, 777, 11_999]) {
      const exact = await c.search({ id }, { k: 10, method: 'exact' });
      const pq = await c.search({ id }, { k: 10, nprobe: 110, refineFactor: 20 });
      assert.equal(pq.index, 'IVF110,PQ4,RFlat');
      assert.equal(tieAwareRecall(exact.results, pq.results, 10).rk, 1, `query ${id}`);
    }
  });
});
