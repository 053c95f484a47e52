/**
 * GET /api/sweep?kinds=: index kinds compared on a collection's own vectors, over real HTTP,
 * and the page's chart of them in Chromium. 1,500 generated images with 256-bin colour
 * histograms (D = 768): enough vectors for IVF-PQ's codes to cost less RAM than IVF-SQ8's
 * once its codebooks and precomputed table are counted.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { launchChromium } from '../../browser.js';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const N = 1500;

interface Point {
  nprobe: number;
  recall_at_k: number;
  recall_at_1: number;
  p50_ms: number;
  distances_computed: number;
}
interface Series {
  name: string;
  label: string;
  factory: string;
  own: boolean;
  memory_bytes: number;
  refine_bytes: number;
  refine_factor: number | null;
  points: Point[];
  complete: boolean;
}

describe('GET /api/sweep?kinds=all', () => {
  const s = useServer(N, { fixture: { colorBins: 256, size: 16 } });
  const { json } = client(s);

  test('one series per kind on the same nprobe values: RAM IVF-Flat > IVF-SQ8 > IVF-PQ, re-ranking at least as good as plain PQ', async () => {
    const { status, body } = await json('/api/sweep?features=color&k=10&queries=20&kinds=all');
    assert.equal(status, 200, JSON.stringify(body));
    const series = body.series as Series[];
    assert.deepEqual(
      series.map((x) => x.name),
      ['flat', 'sq8', 'pq', 'pq-rflat'],
      JSON.stringify(body.comparison),
    );
    const [flat, sq8, pq, rflat] = series as [Series, Series, Series, Series];
    assert.equal(flat.own, true, "the collection's own inverted file is measured, not rebuilt");
    assert.equal(flat.factory, `IVF${body.nlist},Flat`);
    assert.equal(sq8.factory, `IVF${body.nlist},SQ8`);
    assert.match(pq.factory, new RegExp(`^IVF${body.nlist},PQ\\d+$`));
    assert.equal(rflat.factory, `${pq.factory},RFlat`);
    assert.ok(flat.memory_bytes > sq8.memory_bytes, `IVF-Flat ${flat.memory_bytes} > IVF-SQ8 ${sq8.memory_bytes}`);
    assert.ok(sq8.memory_bytes > pq.memory_bytes, `IVF-SQ8 ${sq8.memory_bytes} > IVF-PQ ${pq.memory_bytes}`);
    assert.equal(rflat.memory_bytes, pq.memory_bytes, 'the re-ranked PQ holds the same codes in RAM');
    assert.equal(pq.refine_bytes, 0);
    assert.equal(rflat.refine_bytes, N * 768 * 4, 'the full vectors re-ranking reads stay in the catalogue');
    assert.ok(rflat.refine_factor! >= 1);
    const probes = body.points.map((p: Point) => p.nprobe);
    for (const x of series) {
      assert.equal(x.complete, true);
      assert.deepEqual(
        x.points.map((p) => p.nprobe),
        probes,
        `${x.label} is measured at the sweep's nprobe values`,
      );
      for (const p of x.points) {
        assert.ok(p.recall_at_k >= 0 && p.recall_at_k <= 1, `${x.label} recall ${p.recall_at_k}`);
        assert.ok(p.p50_ms > 0);
      }
    }
    const last = (x: Series) => x.points[x.points.length - 1]!;
    assert.equal(last(flat).recall_at_k, 1, 'IVF-Flat with every list scanned is exact');
    assert.ok(last(rflat).recall_at_k >= last(pq).recall_at_k, `re-ranked ${last(rflat).recall_at_k} ≥ plain ${last(pq).recall_at_k}`);
    assert.ok(last(pq).recall_at_k < 1, 'plain PQ codes lose some neighbours (else this collection tests nothing)');
    assert.equal(body.comparison.train_vectors, N);
    assert.deepEqual(body.comparison.skipped, []);
    // the fields of a sweep without kinds are unchanged
    assert.equal(body.queries, 20);
    assert.equal(body.exact.distances_computed, N);
  });

  test('kinds picks the kinds; a bad value is a 400 naming the parameter', async () => {
    const one = await json('/api/sweep?features=color&k=10&queries=5&kinds=sq8');
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.series.map((x: Series) => x.name),
      ['sq8'],
    );
    const none = await json('/api/sweep?features=color&k=10&queries=5');
    assert.equal(none.body.series, undefined, 'without kinds the response is as before');
    const bad = await json('/api/sweep?features=color&kinds=hnsw');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /kinds/);
  });

  test('the "how it works" view draws one labelled line per kind, and a memory view', { timeout: 60_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${s.srv.url}/`);
      await page.click('#tab-how');
      await page.waitForSelector('#kinds-chart svg .kind-label', { timeout: 50_000 });
      const labels = await page.locator('#kinds-chart svg .kind-label').allTextContents();
      assert.equal(labels.length, 4, labels.join(' | '));
      assert.match(labels[0]!, /^IVF-Flat · [\d.]+ [KM]B \(this collection\)$/);
      assert.match(labels[1]!, /^IVF-SQ8 · [\d.]+ [KM]B$/);
      assert.match(labels[2]!, /^IVF-PQ\d+ · [\d.]+ [KM]B$/);
      assert.match(labels[3]!, /^IVF-PQ\d+ \+ re-rank · [\d.]+ [KM]B$/);
      assert.equal(await page.locator('#kinds-chart svg polyline').count(), 4);
      assert.equal(await page.locator('#kinds-table tbody tr').count(), 4);
      await page.click('#kinds-chart input[value="memory"]');
      const memLabels = await page.locator('#kinds-chart svg text.lbl:not(.kind-label)').allTextContents();
      assert.ok(
        memLabels.some((t) => /^IVF-SQ8 · nprobe \d+$/.test(t)),
        memLabels.join(' | '),
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });
});
