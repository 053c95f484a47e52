/**
 * End to end in a real browser (playwright-core driving Debian's /usr/bin/chromium, headless):
 * upload a query, see results, click one to search again, switch method and see the distances
 * computed change, keyboard use, drop and paste, URL state on reload, the "how it works" view,
 * phone width. Screenshots go to test-artifacts/ (gitignored).
 * Skipped, with the reason, only when /usr/bin/chromium is missing.
 */

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser.js';
import { type Fixture, makeFixture, makePng, type Running, startServer } from './fixture.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const N = 240;

const distances = async (page: Page) => Number(((await page.textContent('#stat-distances')) ?? '').replace(/,/g, ''));
const urlParam = (page: Page, name: string) => new URL(page.url()).searchParams.get(name);

/** Waits for a search started by `action` to be rendered. */
async function searched(page: Page, action: () => Promise<unknown>): Promise<void> {
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/search') && r.status() === 200), action()]);
  await page.waitForFunction(
    () => !document.querySelector('#main')?.getAttribute('aria-busy') || document.querySelector('#main')?.getAttribute('aria-busy') === 'false',
  );
}

describe('the web UI in Chromium', () => {
  let fx: Fixture;
  let srv: Running;
  let browser: Browser;
  const problems: string[] = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    fx = await makeFixture(N, { size: 64 });
    srv = await startServer({ collection: fx.collection });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await srv?.close();
    await fx?.cleanup();
  });

  async function newPage(width = 1280, height = 900): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    return page;
  }

  test('upload, results, more like this, method switch, recall, keyboard, URL state, how it works', { timeout: 90_000 }, async () => {
    const page = await newPage();
    await page.goto(`${srv.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    // the start page shows the collection to pick from
    assert.equal(await page.locator('#grid .card').count(), 24);

    // 1. upload a query with the button
    const png = await makePng(4242, 64);
    await searched(page, () => page.setInputFiles('#file-input', { name: 'query.png', mimeType: 'image/png', buffer: png }));
    await page.waitForSelector('#grid .card .dist');
    assert.equal(await page.locator('#grid .card').count(), 24);
    assert.equal(await distances(page), N);
    assert.equal(await page.locator('#hist svg rect').count(), 12, 'the 12 histogram bars');
    assert.match((await page.textContent('#query-caption')) ?? '', /query\.png/);

    // 2. click the third result: search like it; it comes first at distance 0 and the URL has its id
    const third = page.locator('#grid .pick').nth(2);
    const thirdId = await third.getAttribute('data-id');
    await searched(page, () => third.click());
    assert.equal(urlParam(page, 'id'), thirdId);
    assert.equal(await page.locator('#grid .pick').first().getAttribute('data-id'), thirdId);
    assert.equal((await page.locator('#grid .dist').first().textContent())?.trim(), '0.0000');
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-results.png') });

    // 3. switch to the inverted file: fewer distances computed
    await searched(page, () => page.click('label:has(input[name="method"][value="ivf"])'));
    const ivfDistances = await distances(page);
    assert.ok(ivfDistances < N, `inverted file computed ${ivfDistances} distances, exact ${N}`);
    assert.equal(urlParam(page, 'method'), 'ivf');

    // 4. nprobe by keyboard: more groups scanned → more distances
    await page.focus('#nprobe');
    await searched(page, async () => {
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
    });
    assert.equal(urlParam(page, 'nprobe'), '3');
    assert.ok((await distances(page)) > ivfDistances);

    // 5. recall@k of the approximate answer against exact
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/evaluate')), page.click('#recall-btn')]);
    await page.waitForFunction(() => /recall@\d+ = /.test(document.querySelector('#recall-out')?.textContent ?? ''));

    // 6. keyboard: focus a result and press Enter; arrows move between results
    await page.locator('#grid .pick').nth(1).focus();
    await page.keyboard.press('ArrowRight');
    const focusedId = await page.evaluate(() => document.activeElement?.getAttribute('data-id'));
    assert.equal(focusedId, await page.locator('#grid .pick').nth(2).getAttribute('data-id'));
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused result shows a focus ring');
    await searched(page, () => page.keyboard.press('Enter'));
    assert.equal(urlParam(page, 'id'), focusedId);

    // 7. the URL restores the search on reload
    const url = page.url();
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('#grid .pick').first().getAttribute('data-id'), focusedId);
    assert.ok(await page.isChecked('input[name="method"][value="ivf"]'));
    assert.equal(await page.inputValue('#nprobe'), '3');

    // 8. back goes to the previous query
    await searched(page, () => page.goBack());

    // 9. how it works: cost table for this N and the recall/time chart
    await page.click('#tab-how');
    await page.waitForSelector('#sweep-chart svg circle');
    assert.equal(urlParam(page, 'view'), 'how');
    const table = (await page.textContent('#cost-table')) ?? '';
    assert.match(table, new RegExp(`N = ${N}`));
    assert.match(table, new RegExp((N * 12).toLocaleString('en')));
    assert.match(table, /1,000,000/);
    // the third axis: memory per index kind, and this index's measured RAM
    assert.match(table, /Memory, exact: N·D·4 bytes/);
    assert.match(table, /Memory, inverted file of PQ codes/);
    assert.match(table, /Measured: this index in RAM \(Flat\)/);
    const flatFacts = (await page.textContent('#collection-facts')) ?? '';
    assert.match(flatFacts, /Colour index memory[\s\S]*in RAM, 56 B per image/);
    assert.doesNotMatch(flatFacts, /index codes/, 'float32 vectors have no codec line');
    assert.ok((await page.locator('#sweep-chart svg circle').count()) >= 3);
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-how.png'), fullPage: true });
    await page.close();
  });

  test('a collection of PQ codes re-ranked from its catalogue: search and the memory it takes', { timeout: 90_000 }, async () => {
    const pqFx = await makeFixture(300, { index: 'IVF16,PQ4,RFlat' });
    const pqSrv = await startServer({ collection: pqFx.collection });
    try {
      const page = await newPage();
      await page.goto(`${pqSrv.url}/?id=5&k=12`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#grid .card .dist');
      assert.match((await page.textContent('#search-stats')) ?? '', /IVF16,PQ4,RFlat, nprobe 8\/16, re-ranked ×4/);
      await page.click('#tab-how');
      await page.waitForSelector('#sweep-chart svg circle');
      const table = (await page.textContent('#cost-table')) ?? '';
      // the codec line of `nitamono info`, beside the memory it explains
      const codec = /PQ4: 4 sub-quantizers, 8-bit \(4 bytes a vector, of residuals\)/;
      assert.match(table, new RegExp(`Measured: this index in RAM \\(IVF16,PQ4,RFlat\\)codes: ${codec.source}`));
      const wrap = await page.$eval('#cost-table', (e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
      assert.ok(wrap.scroll <= wrap.client, `the cost table fits its box (${wrap.scroll} > ${wrap.client} px)`);
      assert.match(table, /Measured: full vectors for re-ranking, on disk—+14\.1 KB/);
      const facts = (await page.textContent('#collection-facts')) ?? '';
      assert.match(facts, /primary index IVF16,PQ4,RFlat \(compressed\)/);
      assert.match(facts, /14\.1 KB of full vectors on disk for re-ranking/);
      assert.match(facts, new RegExp(`Colour index codes${codec.source}`));
      await page.screenshot({ path: join(ARTIFACTS, 'e2e-how-pq.png'), fullPage: true });
      await page.close();
    } finally {
      await pqSrv.close();
      await pqFx.cleanup();
    }
  });

  test('drag-and-drop and paste start a search', { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(`${srv.url}/?k=12`);
    await page.waitForSelector('body[data-ready="true"]');
    const bytes = [...(await makePng(31, 40))];
    await searched(page, () =>
      page.evaluate((data) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
        document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, bytes),
    );
    assert.match((await page.textContent('#query-caption')) ?? '', /dropped\.png/);
    assert.equal(await page.locator('#grid .card').count(), 12);
    assert.ok(await page.isHidden('#drop-overlay'));

    const bytes2 = [...(await makePng(32, 40))];
    await searched(page, () =>
      page.evaluate((data) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(data)], 'pasted.png', { type: 'image/png' }));
        document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, bytes2),
    );
    assert.match((await page.textContent('#query-caption')) ?? '', /pasted\.png/);

    // a bad upload shows the server's message, not a crash
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/search') && r.status() === 422),
      page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image at all, just text') }),
    ]);
    await page.waitForSelector('#alert:not([hidden])');
    assert.match((await page.textContent('#alert')) ?? '', /not a supported image/);
    problems.length = 0; // the 422 is logged by the browser as a failed resource: expected here
    await page.close();
  });

  test('filters: "in folder" narrows a search, the name box alone lists images by name', { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(`${srv.url}/?id=7&k=12`);
    await page.waitForSelector('#grid .card .dist');
    await page.fill('#filter-in', 'g001');
    await searched(page, () => page.press('#filter-in', 'Enter'));
    const paths = await page.locator('#grid .card .path').allTextContents();
    assert.equal(paths.length, 12);
    for (const p of paths) assert.match(p, /^g001\//);
    assert.match((await page.textContent('#grid-title')) ?? '', /among the 100 images that pass the filters/);
    // no image: the name box lists the images whose names match; odd characters are text
    await page.goto(`${srv.url}/?k=12`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#filter-name', 'img 0015');
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/names?') && r.status() === 200), page.press('#filter-name', 'Enter')]);
    await page.waitForFunction(() => /named like/.test(document.querySelector('#grid-title')?.textContent ?? ''));
    const named = await page.locator('#grid .card .path').allTextContents();
    assert.deepEqual(
      named.sort(),
      Array.from({ length: 10 }, (_, i) => `g001/img-0015${i}.png`),
    );
    await page.fill('#filter-name', '"( NEAR');
    await Promise.all([page.waitForResponse((r) => r.url().includes('/api/names?') && r.status() === 200), page.press('#filter-name', 'Enter')]);
    await page.waitForFunction(() => /^0 images named like/.test(document.querySelector('#grid-title')?.textContent ?? ''));
    assert.ok(await page.isHidden('#alert'));
    await page.close();
  });

  test('phone width: no horizontal scrolling, results usable', { timeout: 60_000 }, async () => {
    const page = await newPage(390, 844);
    await page.goto(`${srv.url}/?id=7&k=12&features=color&method=ivf&nprobe=2`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.waitForSelector('#grid .card .dist');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
    const cols = await page.evaluate(() => getComputedStyle(document.querySelector('#grid')!).gridTemplateColumns.split(' ').length);
    assert.ok(cols >= 2 && cols <= 4, `${cols} columns`);
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-phone.png'), fullPage: true });
    await page.close();
  });

  test('off loopback: the login URL lets the page in, its own requests carry the HttpOnly cookie', { timeout: 60_000 }, async () => {
    const locked = await startServer({ collection: fx.collection, host: '0.0.0.0', token: 'a-token-for-the-browser-test' });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      const refused = await page.goto(`${locked.url}/`);
      assert.equal(refused?.status(), 401);
      assert.match((await page.textContent('body')) ?? '', /login URL/);
      await page.goto(`${locked.url}/login?token=a-token-for-the-browser-test`);
      assert.equal(new URL(page.url()).pathname, '/', 'redirected to the page, the token out of the address bar');
      assert.equal(new URL(page.url()).search, '');
      await page.waitForSelector('body[data-ready="true"]');
      assert.equal(await page.locator('#grid .card').count(), 24);
      await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#grid img')).some((i) => i.complete && i.naturalWidth > 0));
      assert.equal(await page.evaluate(() => document.cookie), '', "the page's script cannot read the session");
      await page.close();
    } finally {
      await context.close();
      await locked.close();
    }
  });

  test('no console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
