/**
 * The study page at 10,000 trials in a real browser: writes a synthetic study through the
 * store's own write path (StudyStore createStudy and saveTrial, as the scheduler writes), starts
 * the API as a process of its own, loads the study page in Debian chromium (playwright-core)
 * and prints a table of first-render and interaction times, the median and the worst of the
 * repetitions, with the CPU and the machine's load.
 *
 * What is measured, all inside the page with performance.now():
 * - first render: from navigation start (time origin) until the study page shows the complete
 *   summary (the budget card's "done / N" with every trial counted), the Pareto plot with every
 *   complete and pruned trial drawn and the trial table's first rows with its "N trials" count,
 *   that is all N trials fetched; taken after the paint of the first frame in which all of that
 *   is in the DOM (a timer posted from that frame's animation callback). The search views below
 *   the fold are drawn in idle time after it: "all views drawn" is when the last of them is.
 * - an interaction (state filter, table filter, sort, brush, focus): from the input event
 *   (a capturing listener, before the page's own handlers) until the paint of the next frame
 *   after the handlers ran (requestAnimationFrame, then a timer). "views current" is when the
 *   plots and search views outside the viewport, redrawn in idle time, have caught up too.
 *
 * Usage: `npm run bench:dashboard [-- --trials 10000 --repeat 5 --loads 5 --shots DIR]`. Needs
 * Redis at REDIS_URL (a key prefix of its own, deleted afterwards) and /usr/bin/chromium.
 * `--shots DIR` saves screenshots of the loaded page and of a focused trial.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { StudyStore } from '../../scheduler/store.js';
import { startServiceProcess } from '../helpers/api-process.js';
import { launchBrowser } from '../helpers/browser.js';
import { deleteUnder } from '../helpers/redis.js';
import { syntheticTrial, writeSyntheticStudy } from '../helpers/synthetic-search-study.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '10000' }, repeat: { type: 'string', default: '5' }, loads: { type: 'string', default: '5' }, shots: { type: 'string' } } });
const TRIALS = Number(values.trials);
const REPEAT = Number(values.repeat);
const LOADS = Number(values.loads);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `{bench-dashboard-${Date.now()}}`;
const token = `apt_${randomBytes(24).toString('base64url')}`;

interface Row {
  measure: string;
  times: number[];
  /** Times until the plots and views outside the viewport caught up (idle time), if measured. */
  settled?: number[];
  note: string;
}

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]): number => sorted(xs)[Math.floor(xs.length / 2)] ?? Number.NaN;
const worst = (xs: readonly number[]): number => Math.max(...xs);
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** Arms a capturing listener: from the next `type` event to the paint after its handlers ran, and until no view is pending. */
async function armTimer(page: Page, type: string): Promise<void> {
  await page.evaluate((eventType) => {
    const w = window as unknown as { benchResult?: number; benchSettled?: number };
    w.benchResult = undefined;
    w.benchSettled = undefined;
    window.addEventListener(
      eventType,
      () => {
        const start = performance.now();
        // The handlers run after this capturing listener; the frame after them is what the user sees.
        requestAnimationFrame(() =>
          setTimeout(() => {
            w.benchResult = performance.now() - start;
            const views = document.querySelector('[data-testid="search-views"]');
            const plots = document.querySelector('[data-testid="study-plots"]');
            // (No named inner functions here: tsx would wrap them in a helper the page does not have.)
            const timer = setInterval(() => {
              if (views?.getAttribute('data-pending') !== '0' || plots?.getAttribute('data-pending') === '1') return;
              w.benchSettled = performance.now() - start;
              clearInterval(timer);
            }, 2);
          }, 0),
        );
      },
      { capture: true, once: true },
    );
  }, type);
}

async function timerResult(page: Page): Promise<{ frame: number; settled: number }> {
  await page.waitForFunction(() => (window as unknown as { benchSettled?: number }).benchSettled !== undefined, null, { timeout: 60_000 }).catch(async (error: unknown) => {
    const state = await page.evaluate(() => JSON.stringify({ ...document.querySelector<HTMLElement>('[data-testid="search-views"]')?.dataset, frame: (window as unknown as { benchResult?: number }).benchResult }));
    throw new Error(`the page did not settle after an interaction: ${state}`, { cause: error });
  });
  return page.evaluate(() => {
    const w = window as unknown as { benchResult: number; benchSettled: number };
    return { frame: w.benchResult, settled: w.benchSettled };
  });
}

async function main(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const started = performance.now();
  const id = await writeSyntheticStudy(new StudyStore(redis, prefix), TRIALS, `bench ${TRIALS}`);
  console.log(`wrote ${TRIALS} trials through StudyStore.saveTrial in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // What the complete first render must show: every finished trial counted, every complete and pruned one in the Pareto plot.
  const states = Array.from({ length: TRIALS }, (_, n) => syntheticTrial(n, TRIALS).state);
  const done = states.filter((st) => st === 'complete' || st === 'pruned' || st === 'failed').length;
  const plotted = states.filter((st) => st === 'complete' || st === 'pruned').length;
  const api = await startServiceProcess('api', { REDIS_URL: redisUrl, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token });
  const browser = await launchBrowser();
  const rows: Row[] = [];
  const loadBefore = load();
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Warm the browser's caches of the bundle once (a returning user), then measure fresh navigations.
    await page.goto(`${api.url}/?token=${token}#/`);
    await page.getByTestId('studies-table').waitFor();
    const firsts: number[] = [];
    const alls: number[] = [];
    const fetches: number[] = [];
    for (let r = 0; r < Math.max(1, LOADS); r++) {
      await page.goto(`${api.url}/?r=${r}#/studies/${id}`);
      await page.waitForFunction(
        ({ n, doneCount, plottedCount }) => {
          const w = window as unknown as { benchFirst?: number };
          if (w.benchFirst !== undefined) return true;
          const budget = document.querySelector('[data-testid="budget-done"]')?.firstChild?.textContent;
          const pareto = document.querySelector('[data-testid="pareto-plot"]')?.getAttribute('data-drawn');
          const count = document.querySelector('[data-testid="trial-count"]')?.textContent;
          const row = document.querySelector('[data-testid="trial-row"]');
          if (budget !== `${doneCount} / ${n}` || pareto !== String(plottedCount) || count !== `${n} trials` || !row) return false;
          // This frame has it all in the DOM; the timer runs after the frame is painted.
          setTimeout(() => (w.benchFirst = performance.now()), 0);
          return false;
        },
        { n: TRIALS, doneCount: done, plottedCount: plotted },
        { polling: 'raf', timeout: 120_000 },
      );
      await page.waitForFunction(
        (n) => document.querySelector('[data-testid="search-views"]')?.getAttribute('data-shown') === String(n) && document.querySelector('[data-testid="importance"]')?.getAttribute('data-state') === 'ready',
        TRIALS,
        { polling: 'raf', timeout: 120_000 },
      );
      const timing = await page.evaluate(() => {
        const w = window as unknown as { benchFirst: number };
        const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/studies/'));
        return { first: w.benchFirst, all: performance.now(), fetched: Math.max(...api.map((e) => (e as PerformanceResourceTiming).responseEnd)) };
      });
      firsts.push(timing.first);
      alls.push(timing.all);
      fetches.push(timing.fetched);
    }
    rows.push({ measure: 'first render: navigation → summary, Pareto plot, table', times: firsts, note: `all ${TRIALS} trials fetched and counted, ${plotted} points drawn` });
    rows.push({ measure: '  of which fetching the trials (last response)', times: fetches, note: 'the study with its first 200 trials, then 10 ranges of the change log, pages of 1,000, 4 requests at a time' });
    rows.push({ measure: 'all views drawn (idle time after the first render)', times: alls, note: 'history, ECDF, parallel coordinates, slices drawn and the importance forest fitted' });
    if (values.shots) await page.screenshot({ path: `${values.shots}/dashboard-10k-load.png`, fullPage: true });

    const measure = async (label: string, type: string, act: (r: number) => Promise<void>, note: string): Promise<void> => {
      const frames: number[] = [];
      const settled: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        await armTimer(page, type);
        await act(r);
        const t = await timerResult(page);
        frames.push(t.frame);
        settled.push(t.settled);
      }
      rows.push({ measure: label, times: frames, settled, note });
      console.log(`${label}: ${frames.map((t) => t.toFixed(0)).join(', ')} ms (views current ${settled.map((t) => t.toFixed(0)).join(', ')} ms)`);
    };

    const failed = page.locator('[data-testid="state-filter"] input[data-state="failed"]');
    await measure('state filter: toggle "failed"', 'click', () => failed.click(), 'the views and the table (the Pareto plot draws no failed trial: unchanged)');
    const pruned = page.locator('[data-testid="state-filter"] input[data-state="pruned"]');
    await measure('state filter: toggle "pruned"', 'click', () => pruned.click(), 'every view, the Pareto (1,729 points) and curves plots, the table');
    // The rest runs with every state shown.
    for (const box of [failed, pruned]) if (!(await box.isChecked())) await box.check();
    const sortMetric = page.locator('[data-testid="trials-table"] th button', { hasText: 'Metric' });
    await sortMetric.scrollIntoViewIfNeeded();
    await measure('sort the table by metric', 'click', () => sortMetric.click(), 'the virtualised trial table; the plots do not change');
    const metricFilter = page.locator('input[data-filter="metric"]');
    await measure('filter the table: metric ">0.8" / clear', 'input', (r) => metricFilter.fill(r % 2 === 0 ? '>0.8' : ''), 'typed into the column filter; the table only');
    await metricFilter.fill('');
    await page.evaluate(() => window.scrollTo(0, 0));
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
      'picks ~1,000 trials, highlighted in every view and the table',
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
    await measure('focus a trial: click a table row', 'click', () => row.click(), 'ringed in every view, its detail opens');
    await page.evaluate(() => window.scrollTo(0, 0));
    const pareto = page.getByTestId('pareto-plot');
    const front = await page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="pareto-plot"]')!;
      return c.dataset['best'];
    });
    if (values.shots) {
      // Focus the best trial by a click on its point (the scales are mirrored on the canvas), then look at the page.
      const d = await pareto.evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }));
      const best = Number(front);
      const trial = syntheticTrial(best, TRIALS);
      const [left, top, right, bottom] = (d['box'] ?? '').split(',').map(Number) as [number, number, number, number];
      const x = left + ((Math.log10(trial.trainablePercent) - Math.log10(Number(d['xLo']))) / (Math.log10(Number(d['xHi'])) - Math.log10(Number(d['xLo'])))) * (right - left);
      const y = bottom - ((trial.metric! - Number(d['yLo'])) / (Number(d['yHi']) - Number(d['yLo']))) * (bottom - top);
      const pbox2 = (await pareto.boundingBox())!;
      await page.mouse.click(pbox2.x + x, pbox2.y + y);
      await page.waitForFunction((n) => document.querySelector('[data-testid="pareto-plot"]')?.getAttribute('data-focused') === String(n), best);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.mouse.move(pbox2.x + x, pbox2.y + y);
      await page.screenshot({ path: `${values.shots}/dashboard-10k-focused.png` });
    }
    if (errors.length > 0) console.log(`page errors: ${errors.join('; ')}`);
  } finally {
    await browser.close();
    await api.close();
    await deleteUnder(redis, prefix);
    await redis.quit();
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nStudy page, ${TRIALS} synthetic trials, Debian chromium headless (--disable-gpu), ${cpus().length} × ${cpu}`);
  console.log(`load average (1, 5, 15 min): ${loadBefore} at the start, ${load()} at the end; ${LOADS} page loads, ${REPEAT} runs of each interaction\n`);
  const width = Math.max(...rows.map((r) => r.measure.length));
  console.log(`| ${'measure'.padEnd(width)} | median ms | worst ms | views current, median ms | note |`);
  console.log(`|${'-'.repeat(width + 2)}|-----------|----------|--------------------------|------|`);
  for (const r of rows) {
    const settled = r.settled ? `${median(r.settled).toFixed(0)} (worst ${worst(r.settled).toFixed(0)})` : '';
    console.log(`| ${r.measure.padEnd(width)} | ${median(r.times).toFixed(0).padStart(9)} | ${worst(r.times).toFixed(0).padStart(8)} | ${settled.padStart(24)} | ${r.note} |`);
  }
}

await main();
