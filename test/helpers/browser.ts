/**
 * The real browser of the dashboard tests: Debian's chromium through playwright-core, headless,
 * with no network of its own beyond the page under test.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

/** Where Debian installs chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether browser tests run: chromium is installed, or this is CI (where its absence must fail). */
export const runBrowserTests = existsSync(CHROMIUM) || process.env.CI === 'true';

/** Starts headless chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
