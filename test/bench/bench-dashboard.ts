/**
 * The study page at 10,000 trials in a real browser: writes a synthetic study through the
 * store's own write path (StudyStore createStudy and saveTrial, as the scheduler writes), starts
 * the API as a process of its own, loads the study page in Debian chromium (playwright-core)
 * and prints a table of first-render and interaction times.
 *
 * First render: from navigation start until every view has drawn all trials (the page fetches
 * them incrementally, 1,000 per request). Interactions: from the input event (a state filter
 * toggle, a brush, a click on a table row, a sort) until the next frame after the page's
 * handler ran, the median of `--repeat` runs. The page's user timings split each render into
 * the header with the Pareto and curves plots, the trial table and the search views.
 *
 * Usage: `npm run bench:dashboard [-- --trials 10000 --repeat 5]`. Needs Redis at REDIS_URL
 * (a key prefix of its own, deleted afterwards) and /usr/bin/chromium.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { StudyStore } from '../../scheduler/store.js';
import { startServiceProcess } from '../helpers/api-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { deleteUnder } from '../helpers/redis.js';
import { writeSyntheticStudy } from '../helpers/synthetic-search-study.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '10000' }, repeat: { type: 'string', default: '5' }, sort: { type: 'boolean', default: false } } });
const TRIALS = Number(values.trials);
const REPEAT = Number(values.repeat);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `{bench-dashboard-${Date.now()}}`;
const token = `apt_${randomBytes(24).toString('base64url')}`;

interface Row {
  measure: string;
  ms: number;
  note: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** The page's user timings of the last render, by name. */
async function renderParts(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const m of performance.getEntriesByType('measure')) if (m.name.startsWith('study:')) out[m.name] = m.duration;
    performance.clearMeasures();
    return out;
  });
}

/** Arms a capturing listener: the time from the next `type` event to the frame after its handlers ran. */
async function armTimer(page: Page, type: string): Promise<void> {
  await page.evaluate((eventType) => {
    const w = window as unknown as { benchResult?: number };
    w.benchResult = undefined;
    window.addEventListener(
      eventType,
      () => {
        const start = performance.now();
        // The handlers run after this capturing listener; the frame after them is what the user sees.
        requestAnimationFrame(() => setTimeout(() => (w.benchResult = performance.now() - start), 0));
      },
      { capture: true, once: true },
    );
  }, type);
}

async function timerResult(page: Page): Promise<number> {
  await page.waitForFunction(() => (window as unknown as { benchResult?: number }).benchResult !== undefined);
  return page.evaluate(() => (window as unknown as { benchResult: number }).benchResult);
}

async function main(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const started = performance.now();
  const id = await writeSyntheticStudy(new StudyStore(redis, prefix), TRIALS, `bench ${TRIALS}`);
  console.log(`wrote ${TRIALS} trials through StudyStore.saveTrial in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const api = await startServiceProcess('api', { REDIS_URL: redisUrl, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token });
  const browser = await launchBrowser();
  const rows: Row[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Warm the browser's caches of the bundle once (a returning user), then measure a fresh navigation.
    await page.goto(`${api.url}/?token=${token}#/`);
    await page.getByTestId('studies-table').waitFor();
    const loads: { total: number; parts: Record<string, number> }[] = [];
    for (let r = 0; r < Math.max(1, Math.min(3, REPEAT)); r++) {
      await page.goto(`${api.url}/?r=${r}#/studies/${id}`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="search-views"]')?.getAttribute('data-shown') === String(n), TRIALS, { polling: 'raf', timeout: 120_000 });
      const total = await page.evaluate(() => performance.now());
      const parts = await renderParts(page);
      // The views draw when the layout has sized their plots (a resize observer), after the render's own timing.
      parts['study:search-views'] = Number(await page.getByTestId('search-views').getAttribute('data-draw-ms'));
      loads.push({ total, parts });
    }
    const load = loads.sort((a, b) => a.total - b.total)[Math.floor(loads.length / 2)]!;
    rows.push({ measure: 'first render: navigation → all views drawn', ms: load.total, note: `${TRIALS} trials, fetched 1,000 per request` });
    for (const [name, ms] of Object.entries(load.parts)) rows.push({ measure: `  of which ${name.slice(6)}`, ms, note: 'last render (user timing)' });
    rows.push({ measure: '  of which search views, per view', ms: load.parts['study:search-views'] ?? Number.NaN, note: `history, ECDF, importance, parallel, slices: ${await page.getByTestId('search-views').getAttribute('data-view-ms')} ms (last load)` });

    const measure = async (label: string, type: string, act: () => Promise<void>, note: string, redrawsViews = true): Promise<void> => {
      const times: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        await armTimer(page, type);
        await act();
        times.push(await timerResult(page));
      }
      rows.push({ measure: label, ms: median(times), note });
      console.log(`${label}: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
      if (!redrawsViews) return;
      const views = await page.getByTestId('search-views').getAttribute('data-draw-ms');
      const perView = await page.getByTestId('search-views').getAttribute('data-view-ms');
      rows.push({ measure: '  of which search views redraw', ms: Number(views), note: `last run; history, ECDF, importance, parallel, slices: ${perView} ms` });
    };

    const failed = page.locator('[data-testid="state-filter"] input[data-state="failed"]');
    await measure('state filter: toggle "failed"', 'click', () => failed.click(), 'every view, the Pareto and curves plots, the table');
    const history = page.getByTestId('history-plot');
    await history.scrollIntoViewIfNeeded();
    const box = (await history.boundingBox())!;
    await measure(
      'brush a range in the history',
      'pointerup',
      async () => {
        await page.mouse.move(box.x + 120, box.y + 80);
        await page.mouse.down();
        await page.mouse.move(box.x + 260, box.y + 80, { steps: 3 });
        await page.mouse.up();
      },
      'picks ~1,000 trials, highlighted everywhere',
    );
    await page.getByTestId('clear-selection').click();
    const parallel = page.getByTestId('parallel-plot');
    await parallel.scrollIntoViewIfNeeded();
    const pbox = (await parallel.boundingBox())!;
    const axisX = Number(((await parallel.getAttribute('data-axis-x')) ?? '0').split(',')[0]);
    await measure(
      'brush an axis of the parallel coordinates',
      'pointerup',
      async () => {
        await page.mouse.move(pbox.x + axisX, pbox.y + 90);
        await page.mouse.down();
        await page.mouse.move(pbox.x + axisX, pbox.y + 160, { steps: 3 });
        await page.mouse.up();
      },
      'picks one category',
    );
    await page.getByTestId('clear-selection').click();
    const row = page.getByTestId('trial-row').nth(3);
    await row.scrollIntoViewIfNeeded();
    await measure('focus a trial: click a table row', 'click', () => row.click(), 'highlighted in every view');
    if (values.sort) {
      const sortMetric = page.locator('[data-testid="trials-table"] th button', { hasText: 'Metric' });
      await sortMetric.scrollIntoViewIfNeeded();
      await measure('sort the table by metric', 'click', () => sortMetric.click(), 'the virtualised trial table; the views do not redraw', false);
    }
    if (errors.length > 0) console.log(`page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
    await api.close();
    await deleteUnder(redis, prefix);
    await redis.quit();
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nStudy page, ${TRIALS} synthetic trials, Debian chromium headless, ${cpus().length} × ${cpu}\n`);
  const width = Math.max(...rows.map((r) => r.measure.length));
  console.log(`| ${'measure'.padEnd(width)} | ms     | note`);
  console.log(`|${'-'.repeat(width + 2)}|--------|-----`);
  for (const r of rows) console.log(`| ${r.measure.padEnd(width)} | ${r.ms.toFixed(0).padStart(6)} | ${r.note}`);
}

await main();
