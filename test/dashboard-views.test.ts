/**
 * The study page's search views in a real browser (Debian chromium): optimisation history with
 * hypervolume, parallel coordinates, slices, importance and the metric's ECDF, the state
 * filter, and the linked selection across them, the Pareto plot and the trial table. The study
 * is synthetic (written through StudyStore as the scheduler writes), so no training runs.
 */
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../api/config.js';
import { startApi } from '../api/runtime.js';
import { StudyStore } from '../scheduler/store.js';
import type { StudyView, TrialRecord } from '../scheduler/types.js';
import { hypervolume } from '../search/pareto.js';
import { launchBrowser, runBrowserTests } from './helpers/browser.js';
import { deleteUnder, TEST_REDIS_URL, testRedis, uniquePrefix } from './helpers/redis.js';
import { SYNTHETIC_SPACE, writeSyntheticStudy } from './helpers/synthetic-search-study.js';

const artifacts = new URL('./artifacts/', import.meta.url);
const TRIALS = 80;

/** The canvas's data attribute as a number. */
async function num(locator: Locator, name: string): Promise<number> {
  return Number(await locator.getAttribute(`data-${name}`));
}

/** Drags with the mouse across a canvas from one CSS-pixel point to another. */
async function drag(page: Page, canvas: Locator, from: [number, number], to: [number, number]): Promise<void> {
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + from[0], box.y + from[1]);
  await page.mouse.down();
  await page.mouse.move(box.x + (from[0] + to[0]) / 2, box.y + (from[1] + to[1]) / 2, { steps: 4 });
  await page.mouse.move(box.x + to[0], box.y + to[1], { steps: 4 });
  await page.mouse.up();
}

/** The pixel x of value `v` on a canvas plot's x scale (mirrored in its data attributes). */
async function xOf(canvas: Locator, v: number): Promise<number> {
  const [left, , right] = ((await canvas.getAttribute('data-box')) ?? '').split(',').map(Number) as [number, number, number];
  const lo = await num(canvas, 'x-lo');
  const hi = await num(canvas, 'x-hi');
  return left + ((v - lo) / (hi - lo)) * (right - left);
}

/** Waits until every plot and view shows the current selection (those out of view catch up in idle time). */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.querySelector('[data-testid="search-views"]')?.getAttribute('data-pending') === '0' && document.querySelector('[data-testid="study-plots"]')?.getAttribute('data-pending') !== '1');
}

/** Where a trial's point is on the Pareto canvas (CSS px inside it), from the scales the canvas mirrors (x log). */
async function paretoPoint(canvas: Locator, percent: number, metric: number): Promise<[number, number]> {
  const [left, top, right, bottom] = ((await canvas.getAttribute('data-box')) ?? '').split(',').map(Number) as [number, number, number, number];
  const [xlo, xhi, ylo, yhi] = [await num(canvas, 'x-lo'), await num(canvas, 'x-hi'), await num(canvas, 'y-lo'), await num(canvas, 'y-hi')];
  return [left + ((Math.log10(percent) - Math.log10(xlo)) / (Math.log10(xhi) - Math.log10(xlo))) * (right - left), bottom - ((metric - ylo) / (yhi - ylo)) * (bottom - top)];
}

/** Opaque pixels of the Pareto plot's highlight layer on a circle of radius `r` around (x, y). */
async function ringPixels(canvas: Locator, [x, y]: [number, number], r: number): Promise<number> {
  return canvas.evaluate(
    (c, [cx, cy, radius]) => {
      const layer = c.parentElement?.querySelector<HTMLCanvasElement>('.view-canvas-overlay');
      const ctx = layer?.getContext('2d');
      if (!layer || !ctx) return 0;
      const ratio = layer.width / layer.getBoundingClientRect().width;
      let hits = 0;
      for (let k = 0; k < 64; k++) {
        const a = (k / 64) * Math.PI * 2;
        const px = Math.round((cx! + radius! * Math.cos(a)) * ratio);
        const py = Math.round((cy! + radius! * Math.sin(a)) * ratio);
        if (ctx.getImageData(px, py, 1, 1).data[3]! > 0) hits++;
      }
      return hits;
    },
    [x, y, r],
  );
}

/** The trials the table shows (it keeps the picked ones when some are picked); all fit its window here. */
async function pickedRows(page: Page): Promise<number[]> {
  return page.getByTestId('trial-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-trial-number'))).sort((a, b) => a - b));
}

describe.runIf(runBrowserTests)('search views in a real browser', () => {
  const prefix = uniquePrefix();
  const token = `apt_${randomBytes(24).toString('base64url')}`;
  const redis = testRedis();
  let api: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let id: string;
  let trials: TrialRecord[];
  let study: StudyView;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    api = await startApi(loadConfig({ REDIS_URL: TEST_REDIS_URL, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token }), () => {});
    id = await writeSyntheticStudy(new StudyStore(redis, prefix), TRIALS, 'views study');
    const view = (await (await fetch(`${api.url}/api/studies/${id}?trials=1000`, { headers: { authorization: `Bearer ${token}` } })).json()) as StudyView;
    study = view;
    trials = view.trials;
    if (trials.length !== TRIALS) throw new Error(`the API returned ${trials.length} trials`);
    browser = await launchBrowser();
    await mkdir(artifacts, { recursive: true });
    page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${api.url}/?token=${token}#/studies/${id}`);
    await page.locator(`[data-testid="search-views"][data-shown="${TRIALS}"]`).waitFor({ timeout: 20_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await deleteUnder(redis, prefix);
    await redis.quit();
  });

  const withMetric = (): TrialRecord[] => trials.filter((t) => t.metric !== undefined);

  it('draws the history, hypervolume, parallel coordinates, slices, ECDF and importance of the trials', async () => {
    const scored = withMetric();
    expect(await num(page.getByTestId('history-plot'), 'drawn')).toBe(scored.length);
    // The hypervolume of all complete trials against the study's stored reference, computed here independently.
    const complete = trials.filter((t) => t.state === 'complete').map((t) => [-t.metric!, t.trainableParams]);
    const expected = hypervolume(complete, [-study.reference!.point[0], study.reference!.point[1]]);
    expect(expected).toBeGreaterThan(0);
    expect(await num(page.getByTestId('hypervolume-plot'), 'final-volume')).toBeCloseTo(expected, 6);
    expect(await page.getByTestId('hypervolume-note').textContent()).toMatch(/reference accuracy 0\.5, 393k parameters \(majority-class level and largest configuration\)/);

    const parallel = page.getByTestId('parallel-plot');
    expect(await num(parallel, 'drawn')).toBe(TRIALS);
    expect(await parallel.getAttribute('data-axes')).toBe([...Object.keys(SYNTHETIC_SPACE), 'accuracy'].join('|'));

    const slices = page.getByTestId('slice-plot');
    expect(await slices.count()).toBe(Object.keys(SYNTHETIC_SPACE).length);
    for (const name of Object.keys(SYNTHETIC_SPACE)) {
      const slice = page.locator(`[data-testid="slice-plot"][data-param="${name}"]`);
      expect(await num(slice, 'drawn')).toBe(scored.filter((t) => t.params[name] !== undefined).length);
    }

    expect(await num(page.getByTestId('ecdf-plot'), 'drawn')).toBe(scored.length);
    const sorted = scored.map((t) => t.metric!).sort((a, b) => a - b);
    expect(await page.getByTestId('ecdf-summary').textContent()).toContain(`median ${Number(sorted[Math.floor(sorted.length / 2)]!.toPrecision(3))}`);

    // The metric is built to depend on the serial adapter's size far more than on anything else.
    const importance = page.getByTestId('importance');
    await expect.poll(() => importance.getAttribute('data-state')).toBe('ready');
    const rows = importance.locator('.importance-row');
    expect(await rows.first().getAttribute('data-param')).toBe('serialAdapter.size');
    const first = Number(await rows.first().getAttribute('data-share'));
    expect(first).toBeGreaterThan(0.4);
    expect(Number(await rows.nth(1).getAttribute('data-share'))).toBeLessThan(first / 4);

    await page.getByTestId('search-views').screenshot({ path: new URL('dashboard-views.png', artifacts).pathname });
    expect(pageErrors).toEqual([]);
  });

  it('filters every view, the Pareto plot and the table by trial state', async () => {
    await page.locator('[data-testid="state-filter"] input[data-state="complete"]').uncheck();
    await settled(page);
    const pruned = trials.filter((t) => t.state === 'pruned');
    expect(await page.getByTestId('search-views').getAttribute('data-shown')).toBe(String(TRIALS - trials.filter((t) => t.state === 'complete').length));
    expect(await num(page.getByTestId('history-plot'), 'drawn')).toBe(pruned.length);
    expect(await num(page.getByTestId('ecdf-plot'), 'drawn')).toBe(pruned.length);
    expect(await num(page.getByTestId('hypervolume-plot'), 'drawn')).toBe(0);
    // The Pareto canvas: no complete point left, every pruned trial at its best report.
    const pareto = page.getByTestId('pareto-plot');
    expect(await num(pareto, 'complete')).toBe(0);
    expect(await num(pareto, 'front')).toBe(0);
    expect(await num(pareto, 'pruned')).toBe(pruned.length);
    expect(await num(pareto, 'drawn')).toBe(pruned.length);
    expect(await page.locator('[data-testid="trial-row"][data-state="complete"]').count()).toBe(0);
    expect(await page.getByTestId('trial-count').textContent()).toBe(`${TRIALS - trials.filter((t) => t.state === 'complete').length} of ${TRIALS} trials shown`);
    await page.getByTestId('state-filter').screenshot({ path: new URL('dashboard-views-filter.png', artifacts).pathname });
    await page.locator('[data-testid="state-filter"] input[data-state="complete"]').check();
    await settled(page);
    expect(await num(page.getByTestId('history-plot'), 'drawn')).toBe(withMetric().length);
    expect(await num(page.getByTestId('pareto-plot'), 'complete')).toBe(trials.filter((t) => t.state === 'complete').length);
    expect(await page.getByTestId('trial-count').textContent()).toBe(`${TRIALS} trials`);
  });

  it('links a range brushed in the history to every view and the table', async () => {
    const history = page.getByTestId('history-plot');
    await history.scrollIntoViewIfNeeded();
    await drag(page, history, [await xOf(history, 9.5), 60], [await xOf(history, 20.5), 60]);
    const expected = trials.filter((t) => t.number >= 10 && t.number <= 20).map((t) => t.number);
    await expect.poll(() => pickedRows(page)).toEqual(expected);
    expect(await page.getByTestId('picked-note').textContent()).toContain(`${expected.length} trials picked`);
    await settled(page);
    const inRange = (t: TrialRecord): boolean => t.number >= 10 && t.number <= 20;
    expect(await num(history, 'picked')).toBe(withMetric().filter(inRange).length);
    expect(await num(page.getByTestId('parallel-plot'), 'picked')).toBe(expected.length);
    expect(await num(page.getByTestId('ecdf-plot'), 'picked')).toBe(withMetric().filter(inRange).length);
    // The Pareto plot outlines the picked complete trials and the pruned ones (at their best report).
    expect(await num(page.getByTestId('pareto-plot'), 'picked')).toBe(trials.filter((t) => inRange(t) && (t.state === 'complete' || t.state === 'pruned')).length);
    await page.locator('.panels').first().screenshot({ path: new URL('dashboard-views-linked-pareto.png', artifacts).pathname });
    const table = (await page.getByTestId('trials-table').boundingBox())!;
    await page.screenshot({ path: new URL('dashboard-views-linked-table.png', artifacts).pathname, fullPage: true, clip: { x: table.x, y: table.y, width: table.width, height: 700 } });
  });

  it('brushes a category on a parallel-coordinates axis and picks exactly its trials', async () => {
    const parallel = page.getByTestId('parallel-plot');
    await parallel.scrollIntoViewIfNeeded();
    const axisX = ((await parallel.getAttribute('data-axis-x')) ?? '').split(',').map(Number);
    const [, top, , bottom] = ((await parallel.getAttribute('data-box')) ?? '').split(',').map(Number) as [number, number, number, number];
    // serialAdapter.size is the first axis; its categories 0..128 are evenly spaced, 16 is the 6th of 9.
    const yOf = (position: number): number => bottom - position * (bottom - top);
    await drag(page, parallel, [axisX[0]!, yOf(5 / 8 + 0.05)], [axisX[0]!, yOf(5 / 8 - 0.05)]);
    const expected = trials.filter((t) => t.params['serialAdapter.size'] === 16).map((t) => t.number);
    expect(expected.length).toBeGreaterThan(0);
    await expect.poll(() => pickedRows(page)).toEqual(expected);
    await settled(page);
    expect(await num(parallel, 'brushes')).toBe(1);
    expect(await num(parallel, 'picked')).toBe(expected.length);
    const slice = page.locator('[data-testid="slice-plot"][data-param="serialAdapter.size"]');
    expect(await num(slice, 'picked')).toBe(withMetric().filter((t) => t.params['serialAdapter.size'] === 16).length);

    // A second brush, on layer.0 at "false" (its second category, at the top), narrows the pick to both.
    await drag(page, parallel, [axisX[3]!, yOf(1) - 12], [axisX[3]!, yOf(1) + 12]);
    const both = trials.filter((t) => t.params['serialAdapter.size'] === 16 && t.params['layer.0'] === false).map((t) => t.number);
    expect(both.length).toBeGreaterThan(0);
    await expect.poll(() => pickedRows(page)).toEqual(both);
    await settled(page);
    expect(await num(parallel, 'brushes')).toBe(2);
    await parallel.screenshot({ path: new URL('dashboard-views-parallel.png', artifacts).pathname });
  });

  it('focuses a trial clicked in the table or in a plot in every view', async () => {
    await page.getByTestId('clear-selection').click();
    expect(await page.getByTestId('trial-count').textContent()).toBe(`${TRIALS} trials`);
    const target = trials.find((t) => t.state === 'complete')!;
    await page.locator(`[data-testid="trial-row"][data-trial-number="${target.number}"]`).click();
    await settled(page);
    for (const view of ['history-plot', 'parallel-plot', 'ecdf-plot', 'pareto-plot']) expect(await page.getByTestId(view).getAttribute('data-focused')).toBe(String(target.number));
    // The Pareto plot rings the focused point on its highlight layer: pixels on the ring around it, none around another point.
    const pareto = page.getByTestId('pareto-plot');
    const at = await paretoPoint(pareto, target.trainablePercent, target.metric!);
    expect(await ringPixels(pareto, at, 12)).toBeGreaterThan(40);
    const away = trials.find((t) => t.state === 'complete' && Math.abs(t.trainablePercent - target.trainablePercent) / target.trainablePercent > 0.5)!;
    expect(await ringPixels(pareto, await paretoPoint(pareto, away.trainablePercent, away.metric!), 12)).toBeLessThan(8);

    // A click on another trial's point in the history focuses that one, table row included.
    const other = withMetric().find((t) => t.number > target.number + 5)!;
    const history = page.getByTestId('history-plot');
    await history.scrollIntoViewIfNeeded();
    const [, , , bottom] = ((await history.getAttribute('data-box')) ?? '').split(',').map(Number) as [number, number, number, number];
    const [, top] = ((await history.getAttribute('data-box')) ?? '').split(',').map(Number) as [number, number];
    const y = bottom - ((other.metric! - (await num(history, 'y-lo'))) / ((await num(history, 'y-hi')) - (await num(history, 'y-lo')))) * (bottom - top);
    const box = (await history.boundingBox())!;
    await page.mouse.click(box.x + (await xOf(history, other.number)), box.y + y);
    await expect.poll(() => page.locator('[data-testid="trial-row"].is-selected').getAttribute('data-trial-number')).toBe(String(other.number));
    await settled(page);
    expect(await page.getByTestId('parallel-plot').getAttribute('data-focused')).toBe(String(other.number));
    expect(await page.getByTestId('pareto-plot').getAttribute('data-focused')).toBe(other.state === 'complete' || other.state === 'pruned' ? String(other.number) : '');
    await page.getByTestId('search-views').screenshot({ path: new URL('dashboard-views-focused.png', artifacts).pathname });
    expect(pageErrors).toEqual([]);
  });
});
