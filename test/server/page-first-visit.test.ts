/**
 * The page as a user first meets it, in Chromium (playwright-core, Debian's /usr/bin/chromium):
 * on a collection with colour and deep features the switch starts on deep (the collection's
 * default); the logo is a drawn image, and the Japanese name shows only when a font of the
 * machine has its glyphs (no empty boxes); a search by upload gets a link that, opened in
 * another page, runs the same search. Skipped only when /usr/bin/chromium is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../browser.js';
import { type Fixture, makeFixture, makePng, type Running, startServer } from './fixture.js';

/** Whether fontconfig knows a font with every character of `text` (what Chromium falls back on). */
function fontDraws(text: string): boolean {
  const charset = [...text].map((c) => c.codePointAt(0)!.toString(16)).join(' ');
  try {
    return execFileSync('fc-list', [`:charset=${charset}`, 'family'], { encoding: 'utf8' }).trim() !== '';
  } catch {
    return false;
  }
}

describe('the page on first visit, in Chromium', () => {
  let fx: Fixture;
  let srv: Running;
  let browser: Browser;
  const problems: string[] = [];

  before(async () => {
    fx = await makeFixture(16, { size: 64, features: ['color', 'deep'], threads: 1 });
    // a read-only server (no allowWrite): shared links work all the same
    srv = await startServer({ collection: fx.collection, sharedQueries: { dir: join(fx.base, 'shared-queries') } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await srv?.close();
    await fx?.cleanup();
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  const resultIds = (page: Page) => page.locator('#grid .pick').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));

  test('features start on deep; logo drawn; Japanese name only when drawable', { timeout: 60_000 }, async () => {
    const page = await open(`${srv.url}/`);
    assert.equal(await page.locator('input[name="features"]:checked').getAttribute('value'), 'deep');
    assert.equal(await page.locator('input[name="how-features"]:checked').getAttribute('value'), 'deep');
    // a URL that names colour still gets colour
    const colour = await open(`${srv.url}/?features=color`);
    assert.equal(await colour.locator('input[name="features"]:checked').getAttribute('value'), 'color');
    await colour.close();

    const logo = await page.locator('.brand .logo').evaluate((e) => ({
      tag: e.tagName,
      src: e.getAttribute('src'),
      loaded: e instanceof HTMLImageElement && e.complete && e.naturalWidth > 0,
      text: e.textContent,
    }));
    assert.deepEqual(logo, { tag: 'IMG', src: 'favicon.svg', loaded: true, text: '' });
    const favicon = await (await fetch(`${srv.url}/favicon.svg`)).text();
    assert.ok(!/<text/.test(favicon) && /<path|<circle/.test(favicon), 'the mark is shapes, not a glyph');

    const drawable = fontDraws('似たもの');
    const jp = await page.locator('h1 .jp').evaluate((e) => ({ hidden: (e as HTMLElement).hidden, glyphs: (e as HTMLElement).dataset.glyphs }));
    assert.deepEqual(jp, { hidden: !drawable, glyphs: drawable ? 'drawn' : 'missing' }, `fontconfig has a font for 似たもの: ${drawable}`);
    // nothing else in the header is CJK text
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (hidden parts are not drawn)
    const shown = await page.locator('header.top').innerText();
    if (!drawable) assert.ok(!/[\u3040-\u30ff\u4e00-\u9fff]/.test(shown), `header text ${JSON.stringify(shown)}`);
    await page.close();
    assert.deepEqual(problems, []);
  });

  test('an upload query is shared by URL: the link opens the same search', { timeout: 60_000 }, async () => {
    const page = await open(`${srv.url}/?features=color`);
    const png = await makePng(4242, 64);
    await Promise.all([
      page.waitForURL(/[?&]query=sha256%3A[0-9a-f]{64}/),
      page.setInputFiles('#file-input', { name: 'query.png', mimeType: 'image/png', buffer: png }),
    ]);
    await page.waitForSelector('#grid .card .dist');
    const ids = await resultIds(page);
    assert.equal(ids.length, 16);
    const link = page.url();

    const other = await open(link);
    await other.waitForSelector('#grid .card .dist');
    assert.deepEqual(await resultIds(other), ids, 'the same results');
    assert.match((await other.textContent('#query-caption')) ?? '', /uploaded image sha256:/);
    assert.ok(await other.locator('#query-img').evaluate((e) => e instanceof HTMLImageElement && e.complete && e.naturalWidth > 0));
    // other settings keep the shared query
    await Promise.all([
      other.waitForResponse((r) => r.url().endsWith('/api/search') && r.status() === 200),
      other.click('label:has(input[name="method"][value="ivf"])'),
    ]);
    assert.match(other.url(), /query=sha256%3A/);
    await other.close();

    // a hash this server does not keep: the page says so
    const gone = await open(`${srv.url}/?query=sha256:${'0'.repeat(64)}`);
    await gone.waitForSelector('#alert:not([hidden])');
    assert.match((await gone.textContent('#alert')) ?? '', /not kept by this server.*upload the image again/);
    await gone.close();
    await page.close();
  });
});
