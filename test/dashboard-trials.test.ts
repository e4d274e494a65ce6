/**
 * The study page's trial table, trial detail, Pareto module grid and the new-study form, in a
 * real browser against the real stack. Table and grid tests read synthetic trials written into
 * Redis the way the scheduler writes them; the form's study trains for real (tiny shapes).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrialFiles, TrialRecord } from '../scheduler/types.js';
import { launchBrowser, runBrowserTests } from './helpers/browser.js';
import { testRedis } from './helpers/redis.js';
import { startStack } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';
import { writeSyntheticStudy } from './helpers/synthetic-study.js';

const artifacts = new URL('./artifacts/', import.meta.url);
const shot = (name: string): string => new URL(name, artifacts).pathname;

/** A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field.replace(/\r$/, ''));
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

/** The latest report of a trial, computed here independently of the dashboard. */
function latest(t: TrialRecord): { step: number; value: number } | undefined {
  return [...t.reports].sort((a, b) => b.step - a.step)[0];
}

/** The Pareto front by brute force (metric up, trainable % down; complete trials only). */
function front(trials: readonly TrialRecord[]): TrialRecord[] {
  const scored = trials.filter((t) => t.state === 'complete' && t.metric !== undefined);
  return scored.filter((a) => !scored.some((b) => b.metric! >= a.metric! && b.trainablePercent <= a.trainablePercent && (b.metric! > a.metric! || b.trainablePercent < a.trainablePercent)));
}

describe.runIf(runBrowserTests)('trial table, detail, Pareto grid and new-study form in a real browser', () => {
  let stack: TestStack;
  let browser: Browser;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startStack(1);
    redis = testRedis();
    browser = await launchBrowser();
    await mkdir(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await redis?.quit();
    await stack?.close();
  });

  const allTrials = async (id: string): Promise<TrialRecord[]> => {
    const out: TrialRecord[] = [];
    let after = 0;
    for (;;) {
      const page = (await (await stack.api(`/api/studies/${id}/trials?after=${after}&limit=1000`)).json()) as { trials: TrialRecord[]; cursor: number; hasMore: boolean };
      out.push(...page.trials);
      after = page.cursor;
      if (!page.hasMore) break;
    }
    return out.sort((a, b) => a.number - b.number);
  };
  const open = async (path: string, width = 1400, height = 1000): Promise<{ page: Page; errors: string[] }> => {
    const page = await browser.newPage({ viewport: { width, height }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${stack.url}/?token=${stack.token}#${path}`);
    return { page, errors };
  };
  const rowNumbers = (page: Page): Promise<number[]> =>
    page.locator('[data-testid="trial-row"]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-trial-number'))));
  const downloadText = async (page: Page, click: () => Promise<void>): Promise<{ name: string; text: string; bytes: Buffer }> => {
    const [download] = await Promise.all([page.waitForEvent('download'), click()]);
    const bytes = await readFile((await download.path())!);
    return { name: download.suggestedFilename(), text: bytes.toString('utf8'), bytes };
  };

  it('sorts and filters every kind of column, renders only the rows in view, and exports the filtered rows as the API has them', async () => {
    const study = await writeSyntheticStudy(redis, stack.prefix, { trials: 300, name: 'table test' });
    const trials = await allTrials(study.id);
    expect(trials).toHaveLength(300);
    const { page, errors } = await open(`/studies/${study.id}`);
    const count = page.getByTestId('trial-count');
    await expect.poll(() => count.textContent(), { timeout: 20_000 }).toBe('300 trials');
    // Virtualised: a few dozen rows in the DOM, not 300.
    const inDom = await page.getByTestId('trial-row').count();
    expect(inDom).toBeGreaterThan(10);
    expect(inDom).toBeLessThan(60);

    // Honest labels: the best evaluation and the latest one are different columns, both explained.
    expect(await page.locator('th[data-col="metric"]').textContent()).toContain('Best metric');
    expect(await page.locator('th[data-col="metric"]').getAttribute('title')).toMatch(/best dev accuracy/);
    expect(await page.locator('th[data-col="lastReport"]').getAttribute('title')).toMatch(/latest intermediate evaluation.*not necessarily its best/);

    // Sort by best metric: best first, trials without a metric last.
    await page.locator('button[data-sort="metric"]').click();
    const byMetric = trials.filter((t) => t.metric !== undefined).sort((a, b) => b.metric! - a.metric! || a.number - b.number);
    expect((await rowNumbers(page)).slice(0, 15)).toEqual(byMetric.slice(0, 15).map((t) => t.number));
    expect(await page.locator('th[data-col="metric"]').getAttribute('aria-sort')).toBe('descending');
    // Scrolled to the end, the last rows are the trials without a metric, by number.
    await page.getByTestId('trials-scroll').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    const noMetric = trials.filter((t) => t.metric === undefined).map((t) => t.number);
    await expect.poll(async () => (await rowNumbers(page)).slice(-3)).toEqual(noMetric.slice(-3));
    await page.getByTestId('trials-scroll').evaluate((el) => el.scrollTo(0, 0));

    // Sort by trainable parameters: ascending on the first click.
    await page.locator('button[data-sort="trainableParams"]').click();
    const byParams = [...trials].sort((a, b) => a.trainableParams - b.trainableParams || a.number - b.number);
    await expect.poll(async () => (await rowNumbers(page)).slice(0, 10)).toEqual(byParams.slice(0, 10).map((t) => t.number));

    // Filters: a comparison on a number, one state, a substring, a range.
    await page.locator('input[data-filter="metric"]').fill('>0.75');
    await page.locator('select[data-filter="state"]').selectOption('complete');
    let kept = trials.filter((t) => t.state === 'complete' && t.metric! > 0.75);
    await expect.poll(() => count.textContent()).toBe(`${kept.length} of 300 trials shown`);
    await page.locator('input[data-filter="worker"]').fill('W-2');
    kept = kept.filter((t) => t.worker === 'w-2');
    await expect.poll(() => count.textContent()).toBe(`${kept.length} of 300 trials shown`);
    await page.locator('input[data-filter="trainableParams"]').fill('1000..20000');
    kept = kept.filter((t) => t.trainableParams >= 1000 && t.trainableParams <= 20000);
    await expect.poll(() => count.textContent()).toBe(`${kept.length} of 300 trials shown`);
    expect(kept.length).toBeGreaterThan(2);
    expect(await rowNumbers(page)).toEqual(kept.sort((a, b) => a.trainableParams - b.trainableParams || a.number - b.number).map((t) => t.number));
    // A filter that is not one is marked and ignored.
    await page.locator('input[data-filter="learningRate"]').fill('abc');
    expect(await page.locator('input[data-filter="learningRate"]').getAttribute('aria-invalid')).toBe('true');
    expect(await count.textContent()).toBe(`${kept.length} of 300 trials shown`);
    await page.screenshot({ path: shot('trials-table-filtered.png'), fullPage: true });

    // CSV export of the filtered rows: every value equals the API's.
    const csv = await downloadText(page, () => page.getByTestId('export-csv').click());
    expect(csv.name).toBe('table-test-trials.csv');
    const [header, ...rows] = parseCsv(csv.text);
    expect(rows).toHaveLength(kept.length);
    const col = (name: string): number => header!.indexOf(name);
    for (const [i, row] of rows.entries()) {
      const t = kept[i]!;
      expect(Number(row[col('number')])).toBe(t.number);
      expect(row[col('state')]).toBe(t.state);
      expect(Number(row[col('bestMetric')])).toBe(t.metric);
      expect(Number(row[col('trainableParams')])).toBe(t.trainableParams);
      expect(Number(row[col('trainablePercent')])).toBe(t.trainablePercent);
      expect(Number(row[col('learningRate')])).toBe(t.training.learningRate);
      expect(Number(row[col('lastReportValue')])).toBe(latest(t)!.value);
      expect(Number(row[col('lastReportStep')])).toBe(latest(t)!.step);
      expect(row[col('worker')]).toBe(t.worker);
      expect(row[col('layers')]).toBe(t.peft.lora!.layers.join(' '));
      expect(Number(row[col('param.lora.rank')])).toBe(t.params['lora.rank']);
      expect(row[col('param.lora.targets')]).toBe(t.params['lora.targets']);
    }

    // Failed trials carry an error with a comma: the CSV quotes it and it reads back whole.
    await page.getByTestId('clear-filters').click();
    await page.locator('select[data-filter="state"]').selectOption('failed');
    const failed = trials.filter((t) => t.state === 'failed');
    await expect.poll(() => count.textContent()).toBe(`${failed.length} of 300 trials shown`);
    const failedCsv = parseCsv((await downloadText(page, () => page.getByTestId('export-csv').click())).text);
    expect(failedCsv.slice(1).map((r) => r[failedCsv[0]!.indexOf('error')])).toEqual(
      [...failed].sort((a, b) => a.trainableParams - b.trainableParams || a.number - b.number).map((t) => t.error),
    );
    expect(errors).toEqual([]);
  });

  it('shows a focused trial in the detail panel: parameters, per-target LoRA ranks per layer, reports, run, errors and its configuration download', async () => {
    const study = await writeSyntheticStudy(redis, stack.prefix, {
      trials: 40,
      name: 'detail test',
      seed: 2,
      overrides: {
        5: {
          state: 'complete',
          metric: 0.91,
          params: { 'lora.rank': 16, 'lora.targets': 'query,key,value,attentionOutput', 'lora.layers': '1,2,3', 'training.learningRate': 0.004 },
          training: { steps: 40, batchSize: 8, learningRate: 0.004, evalEvery: 10, maxSeqLength: 32, trainExamples: 64, devExamples: 32, seed: 5, dataSeed: 1 },
          peft: { lora: { rank: 16, alpha: 32, dropout: 0, targets: ['query', 'key', 'value', 'attentionOutput'], layers: [1, 2, 3], rankPerTarget: { query: 8, key: 2, value: 4, attentionOutput: 16 } } },
          reports: [{ step: 10, value: 0.7 }, { step: 20, value: 0.91 }, { step: 30, value: 0.88 }],
          trainingParams: 98_765,
        },
      },
    });
    const trials = await allTrials(study.id);
    const trial = trials[5]!;
    const { page, errors } = await open(`/studies/${study.id}`);
    await expect.poll(() => page.getByTestId('trial-count').textContent(), { timeout: 20_000 }).toBe('40 trials');
    expect(await page.getByTestId('trial-detail').isHidden()).toBe(true);
    await page.locator('[data-testid="trial-row"][data-trial-number="5"]').click();
    const detail = page.getByTestId('trial-detail');
    await detail.waitFor();
    expect(await page.getByTestId('detail-title').textContent()).toBe('Trial #5');
    expect(await page.locator('[data-testid="trial-row"][data-trial-number="5"]').getAttribute('class')).toContain('is-selected');

    // Parameters as the API has them.
    for (const [name, value] of Object.entries(trial.params)) {
      const shown = await detail.locator(`dd[data-param="${name}"]`).textContent();
      if (typeof value === 'number') expect(Math.abs(Number(shown) - value) / Math.abs(value)).toBeLessThan(1e-3);
      else expect(shown).toBe(String(value));
    }
    // The grid: each LoRA target its own row and rank, in layers 1-3 only.
    const grid = detail.getByTestId('config-grid-table');
    const expectRanks: Record<string, number> = { 'lora.query': 8, 'lora.key': 2, 'lora.value': 4, 'lora.attentionOutput': 16 };
    expect(await grid.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-row')))).toEqual(Object.keys(expectRanks));
    for (const [row, rank] of Object.entries(expectRanks)) {
      const cells = await grid.locator(`tr[data-row="${row}"] td`).evaluateAll((tds) => tds.map((td) => td.textContent ?? ''));
      expect(cells).toEqual(['', String(rank), String(rank), String(rank), '', '']);
    }
    // The table's chip names each target's own rank (the issue: "LoRA rank 16 on query, key, value, attentionOutput").
    const chip = page.locator('[data-testid="trial-row"][data-trial-number="5"] .chip').first();
    expect(await chip.textContent()).toBe('LoRA Q8 K2 V4 O16');
    expect(await chip.getAttribute('title')).toBe('LoRA ranks query 8, key 2, value 4, attentionOutput 16, alpha 32');
    // Both counts, named: the stored one (the objective) and what the optimiser updated.
    expect(await detail.getByTestId('detail-stored-params').textContent()).toMatch(new RegExp(`^${trial.trainableParams.toLocaleString('en')} \\(.* of base; the objective\\)$`));
    expect(await detail.getByTestId('detail-training-params').textContent()).toBe('98,765');
    // Every report, and the run facts.
    expect(await detail.getByTestId('detail-reports-table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.textContent))).toEqual(['100.700', '200.910', '300.880']);
    expect(await detail.getByTestId('detail-worker').textContent()).toBe(trial.worker);
    expect(await detail.getByTestId('detail-attempts').textContent()).toBe(String(trial.attempts));
    await detail.getByTestId('detail-files').locator('[data-testid="trial-file"]').first().waitFor();
    await page.screenshot({ path: shot('trial-detail.png'), fullPage: true });

    // The configuration download is the API's configuration of that trial.
    const listing = (await (await stack.api(`/api/studies/${study.id}/trials/5/files`)).json()) as TrialFiles;
    expect(listing.files.map((f) => f.name)).toEqual(['configuration.json', 'bundle.zip']);
    const config = await downloadText(page, () => detail.locator('[data-file="configuration.json"]').click());
    expect(config.name).toBe('autopeft-detail-test-trial-5.json');
    const parsed = JSON.parse(config.text) as { trial: number; peft: unknown; metric: { value: number } };
    expect(parsed.trial).toBe(5);
    expect(parsed.peft).toEqual(trial.peft);
    expect(parsed.metric.value).toBe(0.91);
    expect(config.text).toBe(await (await stack.api(`/api/studies/${study.id}/trials/5/config`)).text());

    // A failed trial shows its error and the attempt that failed before.
    const failed = trials.find((t) => t.state === 'failed')!;
    await page.locator('input[data-filter="number"]').fill(`=${failed.number}`);
    await page.locator(`[data-testid="trial-row"][data-trial-number="${failed.number}"]`).click();
    await expect.poll(() => page.getByTestId('detail-title').textContent()).toBe(`Trial #${failed.number}`);
    const problems = (await detail.getByTestId('detail-errors').textContent()) ?? '';
    expect(problems).toContain(failed.error);
    expect(problems).toContain('out of memory');
    // The file list comes from its own request: wait for it rather than read the loading note.
    await expect.poll(() => detail.getByTestId('detail-files').textContent()).toMatch(/No files yet/);
    // A point clicked in the Pareto plot opens in the panel too (the focus is shared).
    // (Its point is where the canvas's mirrored scales put 0.91 at its share of parameters, x on a log scale.)
    const pareto = page.getByTestId('pareto-plot');
    await pareto.scrollIntoViewIfNeeded();
    const d = await pareto.evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }));
    const [left, top, right, bottom] = (d['box'] ?? '').split(',').map(Number) as [number, number, number, number];
    const lx = (v: number): number => Math.log10(v);
    const px = left + ((lx(trial.trainablePercent) - lx(Number(d['xLo']))) / (lx(Number(d['xHi'])) - lx(Number(d['xLo'])))) * (right - left);
    const py = bottom - ((0.91 - Number(d['yLo'])) / (Number(d['yHi']) - Number(d['yLo']))) * (bottom - top);
    await pareto.click({ position: { x: px, y: py } });
    await expect.poll(() => page.getByTestId('detail-title').textContent()).toBe('Trial #5');
    // Escape closes the panel and clears the focus.
    await page.keyboard.press('Escape');
    await expect.poll(() => detail.isHidden()).toBe(true);
    expect(errors).toEqual([]);
  });

  it('shows per-layer sizes in the detail grid: each layer its own bottleneck and LoRA rank, none where a module skips a layer', async () => {
    const peft: TrialRecord['peft'] = {
      lora: { rank: 8, alpha: 16, dropout: 0, targets: ['query', 'value'], layers: [0, 1, 3, 5], rankByLayer: { '1': { value: 0 }, '3': { query: 2 }, '5': { value: 4 } } },
      serialAdapter: { placement: 'pfeiffer', size: 32, layers: [0, 1, 3, 5], activation: 'relu', sizeByLayer: { '0': 4, '3': 16 } },
      parallelAdapter: { size: 8, layers: [1, 2, 3], scaling: 4, activation: 'relu', sizeByLayer: { '2': 2 } },
    };
    const study = await writeSyntheticStudy(redis, stack.prefix, { trials: 6, name: 'per-layer test', seed: 3, overrides: { 2: { state: 'complete', metric: 0.9, peft } } });
    const { page, errors } = await open(`/studies/${study.id}`);
    await expect.poll(() => page.getByTestId('trial-count').textContent(), { timeout: 20_000 }).toBe('6 trials');
    await page.locator('[data-testid="trial-row"][data-trial-number="2"]').click();
    const grid = page.getByTestId('trial-detail').getByTestId('config-grid-table');
    await grid.waitFor();
    const expected: Record<string, string[]> = {
      'lora.query': ['8', '8', '', '2', '', '8'],
      'lora.value': ['8', '', '', '8', '', '4'],
      'serial.ffn': ['4', '32', '', '16', '', '32'],
      parallel: ['', '8', '2', '8', '', ''],
    };
    for (const [row, cells] of Object.entries(expected)) {
      expect(await grid.locator(`tr[data-row="${row}"] td`).evaluateAll((tds) => tds.map((td) => td.textContent ?? '')), row).toEqual(cells);
    }
    expect(await grid.locator('tr[data-row="serial.ffn"] td[data-layer="3"]').getAttribute('title')).toBe('Adapter after FFN, layer 3: bottleneck 16');
    // The table's chips name the range of sizes.
    const chips = await page.locator('[data-testid="trial-row"][data-trial-number="2"] .chips').textContent();
    for (const chip of ['LoRA r2–8 Q V', 'Serial 4–32', 'Parallel 2–8']) expect(chips).toContain(chip);
    await page.getByTestId('trial-detail').getByTestId('config-grid').screenshot({ path: shot('per-layer-grid.png') });
    expect(errors).toEqual([]);
  });

  it('summarises the module × layer grid over the Pareto front: share of front trials per cell and their median rank', async () => {
    const study = await writeSyntheticStudy(redis, stack.prefix, { trials: 120, name: 'pareto grid', seed: 3 });
    const trials = await allTrials(study.id);
    const onFront = front(trials);
    expect(onFront.length).toBeGreaterThan(2);
    const { page, errors } = await open(`/studies/${study.id}`);
    const grid = page.getByTestId('pareto-grid-table');
    await grid.waitFor({ timeout: 20_000 });
    const targets = ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'] as const;
    let cellsChecked = 0;
    for (const target of targets) {
      const having = onFront.filter((t) => t.peft.lora!.targets.includes(target));
      const row = grid.locator(`tr[data-row="lora.${target}"]`);
      if (having.length === 0) {
        expect(await row.count()).toBe(0);
        continue;
      }
      for (let layer = 0; layer < 6; layer++) {
        const inLayer = having.filter((t) => t.peft.lora!.layers.includes(layer));
        const cell = row.locator(`td[data-layer="${layer}"]`);
        if (inLayer.length === 0) {
          expect(await cell.textContent()).toBe('');
          continue;
        }
        const ranks = inLayer.map((t) => t.peft.lora!.rank).sort((a, b) => a - b);
        const mid = ranks.length >> 1;
        const med = ranks.length % 2 ? ranks[mid]! : (ranks[mid - 1]! + ranks[mid]!) / 2;
        const title = (await cell.getAttribute('title')) ?? '';
        expect(title).toContain(`layer ${layer}: ${inLayer.length} of ${onFront.length} Pareto trials, median rank ${Number.isInteger(med) ? med : med.toFixed(1)}`);
        expect(await cell.locator('.grid-share').textContent()).toBe(`${Math.round((inLayer.length / onFront.length) * 100)}%${Number.isInteger(med) ? med : med.toFixed(1)}`);
        cellsChecked++;
      }
    }
    expect(cellsChecked).toBeGreaterThan(4);
    await page.getByTestId('pareto-grid-panel').scrollIntoViewIfNeeded();
    await page.getByTestId('pareto-grid-panel').screenshot({ path: shot('pareto-grid.png') });
    expect(errors).toEqual([]);
  });

  it('sorts and filters a 10,000-trial study in under 200 ms, with only the rows in view in the DOM', async () => {
    const study = await writeSyntheticStudy(redis, stack.prefix, { trials: 10_000, name: 'ten thousand', seed: 4 });
    const { page, errors } = await open(`/studies/${study.id}`);
    await expect.poll(() => page.getByTestId('trial-count').textContent(), { timeout: 120_000, interval: 500 }).toBe('10000 trials');
    expect(await page.getByTestId('trial-row').count()).toBeLessThan(60);
    // Time from the click (or keystroke) to the rows being laid out, in the page itself.
    const timeAction = (action: string): Promise<readonly [number, number]> =>
      page.evaluate(async (what) => {
        const start = performance.now();
        if (what.startsWith('sort:')) (document.querySelector(`button[data-sort="${what.slice(5)}"]`) as HTMLButtonElement).click();
        else {
          const [column, value] = what.slice(7).split('=');
          const input = document.querySelector(`input[data-filter="${column}"]`) as HTMLInputElement;
          input.value = value ?? '';
          input.dispatchEvent(new Event('input', { bubbles: true }));
        }
        void document.querySelector('[data-testid="trials-body"]')!.getBoundingClientRect();
        const sync = performance.now() - start;
        await new Promise((resolve) => requestAnimationFrame(() => resolve(undefined)));
        return [sync, performance.now() - start] as const;
      }, action);
    // The page's first paint (its plots of 10,000 trials) is the first-render figure, not a
    // table action's: let it finish before timing.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const timings: [string, number, number][] = [];
    for (const action of ['sort:metric', 'sort:metric', 'sort:trainableParams', 'sort:modules', 'filter:metric=>0.8', 'filter:worker=w-1', 'filter:metric=', 'filter:worker=']) {
      const [sync, painted] = await timeAction(action);
      timings.push([action, sync, painted]);
    }
    console.log(`10,000 trials, table action: handled and laid out / next frame (ms)\n${timings.map(([a, s, p]) => `  ${a.padEnd(22)} ${s.toFixed(0).padStart(5)} ${p.toFixed(0).padStart(5)}`).join('\n')}`);
    for (const [, , painted] of timings) expect(painted).toBeLessThan(200);
    expect(await page.getByTestId('trial-row').count()).toBeLessThan(60);
    expect(errors).toEqual([]);
  }, 240_000);

  it('offers per-layer sizes in the form only for the presets that have them, and sends presetOptions.perLayerSizes', async () => {
    const { page, errors } = await open('/new');
    await page.getByTestId('create-study-form').waitFor();
    await expect.poll(() => page.locator('[data-field="preset"] option').count()).toBeGreaterThan(1);
    const box = page.locator('[data-field="presetOptions.perLayerSizes"]');
    await page.locator('[data-field="preset"]').selectOption('lora');
    expect(await box.isHidden()).toBe(true);
    await page.locator('[data-field="preset"]').selectOption('autopeft-lora');
    expect(await box.isVisible()).toBe(true);
    await box.check();
    await page.locator('[data-field="task.baseModel"]').fill('no-such-model');
    await page.locator('[data-field="budget.maxTrials"]').fill('2');
    const [request] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/api/studies') && r.method() === 'POST'), page.getByTestId('submit-study').click()]);
    expect(request.postDataJSON()).toMatchObject({ preset: 'autopeft-lora', presetOptions: { perLayerSizes: true } });
    await expect.poll(() => page.locator('[data-error-for="task.baseModel"]').isVisible()).toBe(true);
    await page.getByTestId('create-study-form').screenshot({ path: shot('create-study-per-layer.png') });
    // Switching to a preset without the option unchecks it: the spec never carries it there.
    await page.locator('[data-field="preset"]').selectOption('survey');
    expect(await box.isHidden()).toBe(true);
    const [second] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/api/studies') && r.method() === 'POST'), page.getByTestId('submit-study').click()]);
    expect((second.postDataJSON() as Record<string, unknown>).presetOptions).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('creates a study from the form: the API’s message beside a bad field, an upload as its dataset, and the study runs; its trial files download intact', async () => {
    const { page, errors } = await open('/');
    await page.getByTestId('new-study').click();
    const form = page.getByTestId('create-study-form');
    await form.waitFor();
    await expect.poll(() => page.locator('[data-field="preset"] option').count()).toBeGreaterThan(1);
    await page.locator('[data-field="name"]').fill('from the form');
    await page.locator('[data-field="preset"]').selectOption('lora');
    await page.locator('[data-field="task.baseModel"]').fill('no-such-model');
    await page.locator('[data-field="budget.maxTrials"]').fill('2');
    await page.locator('[data-field="budget.maxParallel"]').fill('1');
    const training: Record<string, string> = { steps: '4', batchSize: '8', evalEvery: '2', maxSeqLength: '16', trainExamples: '32', devExamples: '16' };
    for (const [k, v] of Object.entries(training)) await page.locator(`[data-field="training.${k}"]`).fill(v);

    // A bad field: the API's own message, beside that field.
    const submitOnce = async (): Promise<{ spec: unknown; field: string; message: string }> => {
      const [request] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/api/studies') && r.method() === 'POST'), page.getByTestId('submit-study').click()]);
      const spec: unknown = request.postDataJSON();
      const answer = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      expect(answer.status).toBe(400);
      const { error } = (await answer.json()) as { error: { field: string; message: string } };
      return { spec, ...error };
    };
    const bad = await submitOnce();
    expect(bad.field).toBe('task.baseModel');
    const modelError = page.locator('[data-error-for="task.baseModel"]');
    await expect.poll(() => modelError.textContent()).toBe(bad.message);
    expect(await page.locator('[data-field="task.baseModel"]').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: shot('create-study-error.png'), fullPage: true });

    await page.locator('[data-field="task.baseModel"]').fill('brown-bert-small');
    await page.locator('[data-field="budget.maxTrials"]').fill('0');
    const tooFew = await submitOnce();
    expect(tooFew.field).toBe('budget.maxTrials');
    await expect.poll(() => page.locator('[data-error-for="budget.maxTrials"]').textContent()).toBe(tooFew.message);
    expect(await modelError.isHidden()).toBe(true);
    await page.locator('[data-field="budget.maxTrials"]').fill('2');

    // A file the API refuses: its message beside the upload field.
    const broken = Buffer.from('text,label\n"never closed,spam\nfine,ham\n');
    await page.locator('[data-field="upload"]').setInputFiles({ name: 'broken.csv', mimeType: 'text/csv', buffer: broken });
    await page.getByTestId('upload-button').click();
    const refused = (await (await stack.api('/api/datasets?name=broken', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: broken })).json()) as { error: { message: string } };
    expect(refused.error.message).toMatch(/^broken, line 2/);
    await expect.poll(() => page.locator('[data-error-for="upload"]').textContent(), { timeout: 15_000 }).toBe(refused.error.message);

    // Upload a dataset from the page; it becomes the study's dataset.
    const lines = ['text,label'];
    for (let i = 0; i < 120; i++) lines.push(i % 2 ? `cheap pills offer ${i} win money now,spam` : `meeting notes for project ${i} attached,ham`);
    await page.locator('[data-field="upload"]').setInputFiles({ name: 'tiny-mail.csv', mimeType: 'text/csv', buffer: Buffer.from(lines.join('\n')) });
    await page.getByTestId('upload-button').click();
    await expect.poll(() => page.getByTestId('upload-status').textContent(), { timeout: 20_000 }).toMatch(/^Uploaded tiny-mail/);
    expect(await page.locator('[data-field="task.dataset"]').inputValue()).toMatch(/^upload:/);
    await page.getByTestId('submit-study').click();
    await page.waitForURL((url) => url.hash.startsWith('#/studies/'), { timeout: 20_000 });
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/studies/', ''));
    const view = (await (await stack.api(`/api/studies/${id}`)).json()) as { spec: { name: string; task: { dataset: string }; training: Record<string, number>; budget: { maxTrials: number } } };
    expect(view.spec.name).toBe('from the form');
    expect(view.spec.task.dataset).toMatch(/^upload:/);
    expect(view.spec.training.steps).toBe(4);
    expect(view.spec.budget.maxTrials).toBe(2);

    // It runs to the end.
    await expect.poll(() => page.getByTestId('study-state').textContent(), { timeout: 240_000, interval: 1000 }).toMatch(/completed/);
    await expect.poll(() => page.locator('[data-testid="trial-row"][data-state="complete"]').count(), { timeout: 15_000 }).toBe(2);

    // The detail panel lists the trained trial's files; each download is the API's file.
    await page.locator('[data-testid="trial-row"][data-trial-number="0"]').click();
    const detail = page.getByTestId('trial-detail');
    const listing = (await (await stack.api(`/api/studies/${id}/trials/0/files`)).json()) as TrialFiles;
    expect(listing.files.map((f) => f.name)).toContain('autopeft/adapter_weights.safetensors');
    expect(listing.files[listing.files.length - 1]).toMatchObject({ name: 'bundle.zip', kind: 'bundle', path: `/api/studies/${id}/trials/0/bundle.zip` });
    await expect.poll(() => detail.locator('[data-testid="trial-file"]').count(), { timeout: 15_000 }).toBe(listing.files.length);
    for (const file of listing.files.filter((f) => f.kind === 'artifact')) {
      const got = await downloadText(page, () => detail.locator(`[data-file="${file.name}"]`).click());
      const expected = Buffer.from(await (await stack.api(file.path)).arrayBuffer());
      expect(got.bytes.length).toBe(file.bytes);
      expect(got.bytes.equals(expected)).toBe(true);
    }
    // The bundle, offered first: the API's ZIP, byte for byte, with its folders and README.
    expect(await detail.locator('[data-testid="trial-file"]').first().getAttribute('data-file')).toBe('bundle.zip');
    expect(await detail.getByTestId('trial-bundle').textContent()).toMatch(/^Download bundle\.zip hf-peft\/, adapterhub\/ and autopeft\/ folders/);
    const bundle = await downloadText(page, () => detail.locator('[data-file="bundle.zip"]').click());
    expect(bundle.name).toMatch(/-trial-0\.zip$/);
    expect(bundle.bytes.equals(Buffer.from(await (await stack.api(`/api/studies/${id}/trials/0/bundle.zip`)).arrayBuffer()))).toBe(true);
    const zipDir = mkdtempSync(path.join(tmpdir(), 'autopeft-dash-bundle-'));
    try {
      writeFileSync(path.join(zipDir, 'b.zip'), bundle.bytes);
      const names = execFileSync('unzip', ['-Z1', path.join(zipDir, 'b.zip')], { encoding: 'utf8' }).trim().split('\n');
      // The READMEs, then every stored file of the trial (LoRA: the PEFT folder has its model card).
      expect(names).toEqual(['README.md', 'hf-peft/README.md', ...listing.files.filter((f) => f.kind === 'artifact').map((f) => f.name).sort()]);
      expect(execFileSync('unzip', ['-p', path.join(zipDir, 'b.zip'), 'README.md'], { encoding: 'utf8' })).toContain('model = PeftModel.from_pretrained(base, "hf-peft")');
    } finally {
      rmSync(zipDir, { recursive: true, force: true });
    }
    await detail.getByTestId('detail-downloads').screenshot({ path: shot('trial-detail-downloads.png') });
    const weights = listing.files.find((f) => f.name === 'autopeft/adapter_weights.safetensors')!;
    expect(weights.bytes).toBeGreaterThan(100);
    await page.screenshot({ path: shot('created-study-detail.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 300_000);
});
