/**
 * GET /api/duplicates over real HTTP (groups with exact copies, the cache, bad parameters) and
 * the page's Duplicates view in Chromium (playwright-core, /usr/bin/chromium; fails without it).
 */

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeCopy, sceneJpeg } from '../../../src/eval/near-duplicates.js';
import { rng } from '../../../src/util/random.js';
import { launchChromium } from '../../browser.js';
import { client } from '../client.js';
import { useServer } from '../fixture.js';

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url));

/** A photo-like image with an exact copy and a resized copy, next to the generated patterns. */
async function writeCopies(root: string): Promise<void> {
  const photo = await sceneJpeg(1);
  await writeFile(join(root, 'g000', 'photo.jpg'), photo);
  await writeFile(join(root, 'g000', 'same.jpg'), photo);
  await writeFile(join(root, 'g000', 'near.jpg'), (await makeCopy('resized', photo, '.jpg', rng(1))).data);
}

describe('GET /api/duplicates', () => {
  const s = useServer(30, { fixture: { size: 64, prepare: writeCopies } });
  const { json } = client(s);

  test('the original, its exact copy and its resized copy form one group', async () => {
    const { status, body } = await json('/api/duplicates');
    assert.equal(status, 200);
    assert.equal(body.features, 'color');
    assert.equal(body.threshold_source, 'default');
    assert.equal(body.n, 33);
    const g = body.groups.find((x: { images: { path: string }[] }) => x.images.some((i) => i.path === 'g000/same.jpg'));
    assert.deepEqual(g.images.map((i: { path: string }) => i.path).sort(), ['g000/near.jpg', 'g000/photo.jpg', 'g000/same.jpg']);
    assert.equal(g.exact, false);
    assert.deepEqual(
      g.images.map((i: { exact_copy: boolean }) => i.exact_copy),
      g.images.map((i: { path: string }) => i.path !== 'g000/near.jpg'),
    );
    assert.match(g.images[0].thumbnail_url, /^\/api\/images\/\d+\/thumbnail$/);
    assert.ok(g.max_distance > 0);
    assert.equal(body.verified, true);
    assert.ok(g.max_pixel_distance >= 0 && g.max_pixel_distance <= body.pixel_threshold);
    // verify=false: not checked on the pixels (a separate cached answer)
    const plain = await json('/api/duplicates?verify=false');
    assert.equal(plain.body.verified, false);
    assert.equal(plain.body.pixel_threshold, undefined);
    // the same question at the same generation is answered from the cache
    const again = await json('/api/duplicates?features=colour');
    assert.equal(again.body.took_ms, body.took_ms);
    // threshold 0: exact copies only
    const zero = await json('/api/duplicates?threshold=0');
    assert.equal(zero.status, 200);
    assert.equal(zero.body.threshold_source, 'given');
    assert.deepEqual(
      zero.body.groups.map((x: { exact: boolean; images: unknown[] }) => [x.exact, x.images.length]),
      [[true, 2]],
    );
  });

  test('bad parameters are 400 with a message naming them', async () => {
    for (const [q, re] of [
      ['threshold=abc', /threshold must be a number ≥ 0/],
      ['threshold=-1', /threshold must be a number ≥ 0/],
      ['threshold=1e999', /threshold must be a number ≥ 0/],
      ['features=deep', /no deep features/],
      ['features=pixels', /no pixels features/],
      ['k=3', /unknown parameter "k"/],
      ['verify=no', /verify/],
    ] as const) {
      const { status, body } = await json(`/api/duplicates?${q}`);
      assert.equal(status, 400, q);
      assert.match(body.error.message, re, q);
    }
  });

  test('the Duplicates view shows the group side by side, exact copies marked', { timeout: 60_000 }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      await page.goto(`${s.srv.url}/`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#tab-duplicates');
      assert.equal(new URL(page.url()).searchParams.get('view'), 'duplicates');
      await page.waitForSelector('#dup-groups .dup-group');
      const group = page.locator('#dup-groups .dup-group', { hasText: 'g000/same.jpg' });
      assert.equal(await group.locator('.dup-item').count(), 3);
      assert.equal(await group.locator('.dup-item .badge.exact').count(), 2);
      assert.match((await group.locator('.dup-head').textContent()) ?? '', /max distance/);
      await page.waitForFunction(() =>
        Array.from(document.querySelectorAll<HTMLImageElement>('#dup-groups img')).every((i) => i.complete && i.naturalWidth > 0),
      );
      assert.match((await page.textContent('#dup-summary')) ?? '', /calibrated default/);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'duplicates.png') });
      // threshold 0: the exact copies alone, marked as such
      await page.fill('#dup-threshold', '0');
      await Promise.all([page.waitForResponse((r) => r.url().includes('threshold=0') && r.status() === 200), page.click('.dup-controls button')]);
      await page.waitForSelector('#dup-groups .dup-group.exact');
      assert.equal(await page.locator('#dup-groups .dup-group').count(), 1);
      assert.match((await page.textContent('#dup-groups .dup-group')) ?? '', /Exact copies/);
      // reload keeps the view
      await page.reload();
      await page.waitForSelector('#dup-groups .dup-group');
      assert.equal(await page.isVisible('#view-duplicates'), true);
      assert.equal(await page.isVisible('#view-search'), false);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  });
});
