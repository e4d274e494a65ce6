/**
 * A suite's shared service stack (API, scheduler and worker processes) and, where the browser
 * tests run, one Chromium: started before the suite's tests, closed after them.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchBrowser, runBrowserTests } from './browser.js';
import { startStack } from './stack.js';
import type { TestStack } from './stack.js';

/** What {@link useStackAndBrowser} gives a suite; read it inside tests (it is set before them). */
export interface SuiteStack {
  stack: TestStack;
  /** Undefined where the browser tests do not run. */
  browser: Browser | undefined;
}

/** Registers the suite's beforeAll/afterAll for a stack of `workers` worker processes and a browser. */
export function useStackAndBrowser(workers: number): SuiteStack {
  const suite = { browser: undefined } as { stack?: TestStack; browser: Browser | undefined };
  beforeAll(async () => {
    suite.stack = await startStack(workers);
    if (runBrowserTests) suite.browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await suite.browser?.close();
    await suite.stack?.close();
  });
  return {
    get stack(): TestStack {
      if (!suite.stack) throw new Error('the stack is started in beforeAll: read it inside a test');
      return suite.stack;
    },
    get browser(): Browser | undefined {
      return suite.browser;
    },
  };
}
