/** The Chromium the page tests drive (Debian's package), started the same way by each of them. */
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium without sandbox, GPU or background traffic. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
