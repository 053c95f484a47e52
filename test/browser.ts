/** The Chromium the page tests drive (Debian's package), started the same way by each of them. */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium without sandbox, GPU or background traffic. */
export async function launchChromium(): Promise<Browser> {
  // the page tests fail, never skip, on a machine without it: a skipped page test proves nothing
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (apt-get install chromium): the page tests need it`);
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
