/**
 * Re-evaluation and the report: once the search's budget is spent the study goes
 * `re-evaluating`, retrains its Pareto-optimal configurations and its baselines with other
 * training seeds, then completes; its report's statistics are those of the re-evaluation trials'
 * own metrics, its baseline rows carry the documented settings and closed-form counts, and it has
 * no test column (no built-in dataset has labelled test data). The study runs on the bundled model.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { StudyReport } from '../scheduler/report.js';
import type { StudyView, TrialRecord } from '../scheduler/types.js';
import { BASELINES } from '../search/baselines.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { REEVALUATION_MAX_DEV_EXAMPLES } from '../scheduler/reevaluation.js';
import { loadDataset } from '../workers/data/index.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { useStackAndBrowser } from './helpers/stack-and-browser.js';
import { waitFor } from './helpers/stack.js';

const task = { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'accuracy' };
const training = { steps: 4, batchSize: 8, learningRate: 0.003, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16 };
const shape = BASE_MODELS['brown-bert-small']!.shape;

describe('re-evaluation', () => {
  const suite = useStackAndBrowser(2);

  const submit = (spec: Record<string, unknown>) => suite.stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'reeval', task, training, pruner: { type: 'none' }, ...spec }) });
  const view = async (id: string): Promise<StudyView> => (await (await suite.stack.api(`/api/studies/${id}?trials=1000`)).json()) as StudyView;
  const idOf = async (response: Response): Promise<string> => {
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };

  it('is checked naming the field, and is on by default only for budgets of 30 trials or more', async () => {
    for (const [reevaluation, field] of [
      [{ configurations: 11 }, 'reevaluation.configurations'],
      [{ seeds: 0 }, 'reevaluation.seeds'],
      [{ seeds: 2, extra: 1 }, 'reevaluation.extra'],
    ] as const) {
      const response = await submit({ reevaluation, budget: { maxTrials: 5 } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { field: string } }).error.field).toBe(field);
    }
    const defaults = async (maxTrials: number): Promise<unknown> => {
      const id = await idOf(await submit({ baselines: [], budget: { maxTrials } }));
      const study = await view(id);
      await suite.stack.api(`/api/studies/${id}/cancel`, { method: 'POST' });
      // No report for a study that is not re-evaluated (or not finished), nor for an unknown one.
      expect((await suite.stack.api(`/api/studies/${id}/report`)).status).toBe(409);
      return study.spec.reevaluation;
    };
    expect(await defaults(5)).toEqual({ configurations: 0, seeds: 3 });
    expect(await defaults(30)).toEqual({ configurations: 5, seeds: 3 });
    expect((await suite.stack.api('/api/studies/00000000-0000-4000-8000-000000000000/report')).status).toBe(404);
  });

  it('retrains the Pareto-optimal trials and the baselines with other seeds, through re-evaluating, into a report of their own numbers', async () => {
    const id = await idOf(
      await submit({ baselines: ['lora', 'bitfit'], reevaluation: { configurations: 2, seeds: 2 }, algorithm: { name: 'random', seed: 5 }, budget: { maxTrials: 5, maxParallel: 2 } }),
    );
    const states = new Set<string>();
    let reevaluatingInFlight = 0;
    // Polled often (not waitFor's 250 ms): on tiny shapes the phase can last well under a second.
    let study: StudyView | undefined;
    for (const deadline = Date.now() + 150_000; !study; ) {
      const v = await view(id);
      states.add(v.state);
      if (v.state === 're-evaluating') {
        reevaluatingInFlight = Math.max(reevaluatingInFlight, v.trials.filter((t) => t.state === 'waiting' || t.state === 'running').length);
        // Not ready while the phase runs (a 200 only if the phase ended since the view was read).
        const status = (await suite.stack.api(`/api/studies/${id}/report`)).status;
        if (status !== 409) expect({ status, state: (await view(id)).state }).toEqual({ status: 200, state: 'completed' });
      }
      if (v.state === 'completed' || v.state === 'failed') study = v;
      else if (Date.now() > deadline) throw new Error('timed out waiting for the study to finish');
      else await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(study.state, study.error).toBe('completed');
    expect([...states]).toContain('re-evaluating');
    expect(reevaluatingInFlight).toBeLessThanOrEqual(2);

    const search = study.trials.filter((t) => t.number < 5);
    const repeats = study.trials.filter((t) => t.reevaluation !== undefined);
    expect(search.every((t) => t.reevaluation === undefined && t.state === 'complete')).toBe(true);
    expect(repeats.every((t) => t.number >= 5 && t.state === 'complete' && !t.pruneRequested && t.error === undefined)).toBe(true);
    // Every re-evaluation: the original's configuration and settings, its data seed, another training seed, and the
    // dataset's whole dev split (spam-assassin's is under the cap) instead of the search's dev subset.
    const devSplit = (await loadDataset(task.dataset)).dev.length;
    expect(devSplit).toBeLessThan(REEVALUATION_MAX_DEV_EXAMPLES);
    for (const t of repeats) {
      const original = study.trials[t.reevaluation!.of]!;
      expect(original.reevaluation).toBeUndefined();
      expect(t.peft).toEqual(original.peft);
      const { seed, devExamples, ...rest } = t.training;
      const { seed: originalSeed, devExamples: originalDev, ...originalRest } = original.training;
      expect(rest).toEqual(originalRest);
      expect(seed).not.toBe(originalSeed);
      expect(devExamples).toBe(REEVALUATION_MAX_DEV_EXAMPLES);
      expect(t.dev).toEqual({ examples: devSplit, splitSize: devSplit });
      expect(original.dev).toEqual({ examples: originalDev, splitSize: devSplit });
    }
    expect(new Set(repeats.map((t) => t.training.seed)).size).toBe(repeats.length);

    const response = await suite.stack.api(`/api/studies/${id}/report`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as StudyReport;
    const baselineRows = report.rows.filter((r) => r.kind === 'baseline');
    const foundRows = report.rows.filter((r) => r.kind === 'found');
    expect(baselineRows.map((r) => r.label)).toEqual(['LoRA r8', 'BitFit']);
    expect(foundRows.length).toBeGreaterThanOrEqual(1);
    expect(foundRows.length).toBeLessThanOrEqual(2);
    // The found rows are Pareto-optimal among the search's trials (metric up, stored params down).
    const searchOnly = search.filter((t) => t.baseline === undefined);
    for (const row of foundRows) {
      const t = study.trials[row.trial]!;
      expect(t.baseline).toBeUndefined();
      expect(searchOnly.some((o) => o.metric! >= t.metric! && o.trainableParams <= t.trainableParams && (o.metric! > t.metric! || o.trainableParams < t.trainableParams))).toBe(false);
    }
    // S = 2 seeds for each of the re-evaluated configurations, nothing else.
    expect(repeats.length).toBe(2 * report.rows.length);

    const head = countHeadParams(shape, 2);
    for (const row of report.rows) {
      const own = repeats.filter((t) => t.reevaluation!.of === row.trial).sort((a, b) => a.reevaluation!.seed - b.reevaluation!.seed);
      expect(own.map((t) => t.reevaluation!.seed)).toEqual([1, 2]);
      const values = own.map((t) => t.metric!);
      const mean = (values[0]! + values[1]!) / 2;
      const std = Math.abs(values[0]! - values[1]!) / Math.SQRT2; // the sample std of two values
      const dev = row.splits.dev!;
      expect(dev.n).toBe(2);
      expect(dev.values).toEqual(values);
      expect(dev.mean).toBeCloseTo(mean, 12);
      expect(dev.std).toBeCloseTo(std, 12);
      // t(0.975, 1) = 12.706; clipped to accuracy's [0, 1].
      expect(dev.interval![0]).toBeCloseTo(Math.max(0, mean - (12.706 * std) / Math.SQRT2), 10);
      expect(dev.interval![1]).toBeCloseTo(Math.min(1, mean + (12.706 * std) / Math.SQRT2), 10);
      expect(row.searchMetric).toBe(study.trials[row.trial]!.metric);
      expect('test' in row.splits).toBe(false);
      expect(row.where.length).toBeGreaterThan(0);
      if (row.kind === 'baseline') {
        const config = BASELINES[row.baseline!].config(shape);
        expect(row.baselineSettings).toBe(BASELINES[row.baseline!].settings);
        expect(row.storedParams).toBe(countPeftParams(config, shape) + head);
        expect(row.trainablePercent).toBeCloseTo((100 * row.storedParams) / study.baseParams, 10);
      }
    }
    const lora = baselineRows[0]!;
    expect(lora.modules.join(' ')).toMatch(/LoRA/);
    expect(lora.layers).toEqual([0, 1]);
    // Comparisons only where the intervals are disjoint.
    for (const c of report.comparisons) {
      const x = report.rows.find((r) => r.label === c.configuration)!.splits.dev!.interval!;
      const y = report.rows.find((r) => r.label === c.baseline)!.splits.dev!.interval!;
      expect(x[0]).toBeGreaterThan(y[1]);
    }
    expect(report.splits).toEqual(['dev']);
    expect(report.notes.join(' ')).toMatch(/no labelled test split/);
    expect(report.levels.chance).toBe(0.5);
    // The dev column is the whole dev split, the search column the study's subset, and the report says which.
    expect(report.settings).toMatchObject({ training, reevaluation: { configurations: 2, seeds: 2 }, searchDevExamples: 16, devExamples: devSplit, devSplitSize: devSplit, dataSeed: 5 });
    expect(report.notes[0]).toBe(`re-evaluated on the whole dev split (${devSplit} examples)`);
    // The majority level is the dev column's: measured on the whole split by the re-evaluations.
    expect(report.levels.majorityClass).toBe(repeats[0]!.majorityBaseline);
    // The search's hypervolume after each of its 3 search trials (the 2 baselines are not search trials), against the study's reference.
    expect(report.hypervolume!.reference).toEqual(study.reference!.point);
    expect(report.hypervolume!.steps.map((st) => st.trial)).toEqual([2, 3, 4]);

    const md = await suite.stack.api(`/api/studies/${id}/report.md`);
    expect(md.status).toBe(200);
    expect(md.headers.get('content-disposition')).toMatch(/attachment; filename="?.*report\.md"?/);
    const text = await md.text();
    await mkdir('test/artifacts', { recursive: true });
    await writeFile('test/artifacts/reevaluation-report.md', text);
    expect(text).toContain(`| LoRA r8 (baseline) |`);
    expect(text).toContain(lora.splits.dev!.mean.toFixed(4));
    expect(text).not.toMatch(/test mean/);
    expect(text).toContain(`| Search (1 seed, dev subset of 16) | dev (whole split, ${devSplit}) mean ± std |`);
    expect(text).toContain('## Hypervolume of the search');
    // 4 steps learn nothing: the study's honest warning is the report's too, on the page and in the Markdown.
    expect(study.warnings?.map((w) => w.code)).toContain('no-learning');
    expect(report.warnings).toEqual(study.warnings);
    expect(text).toContain(`> **Warning:** ${study.warnings![0]!.message}`);
    const csv = await suite.stack.api(`/api/studies/${id}/report.csv`);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="?.*report\.csv"?/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('configuration,kind,trial,where,stored_params,trainable_percent,search_dev_examples,search_metric,dev_examples,dev_n,dev_mean,dev_std,dev_ci_low,dev_ci_high');
    expect(lines[1]!.split(',').slice(-6)[0]).toBe(String(devSplit));
    expect(lines.length).toBe(1 + report.rows.length);
    // The summary's best and front ignore the repeats: the best is a search or baseline trial.
    expect(study.summary.bestTrial).toBeLessThan(5);

    // The Report tab: the table, and the Pareto plot of means with interval bars and the baselines marked.
    if (!suite.browser) return;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${suite.stack.url}/?token=${suite.stack.token}#/studies/${id}`);
    const tab = page.getByTestId('report-tab');
    await page.waitForFunction(() => !document.querySelector('[data-testid="report-tab"]')?.hasAttribute('disabled'));
    await tab.click();
    await page.waitForFunction(() => document.querySelector('[data-testid="report-panel"]')?.getAttribute('data-ready') === '1');
    const rows = page.getByTestId('report-table').locator('tbody tr');
    expect(await rows.count()).toBe(report.rows.length);
    expect(await rows.nth(foundRows.length).locator('td').first().textContent()).toMatch(/^LoRA r8/);
    expect(await page.getByTestId('report-dev-mean').nth(foundRows.length).textContent()).toBe(`${lora.splits.dev!.mean.toFixed(3)} ± ${lora.splits.dev!.std!.toFixed(3)}`);
    expect(await page.getByTestId('report-table').locator('th').allTextContents()).not.toContain('test mean ± std');
    const plot = page.getByTestId('report-plot');
    expect(await plot.getAttribute('data-points')).toBe(String(report.rows.length));
    expect(await plot.getAttribute('data-error-bars')).toBe(String(report.rows.length));
    expect(await plot.getAttribute('data-baselines')).toBe('2');
    expect(await plot.locator('.baseline text').allTextContents()).toEqual(['LoRA r8', 'BitFit']);
    // Which examples each column scored, in its heading.
    expect(await page.getByTestId('report-search-head').textContent()).toBe('Search (1 seed, dev subset of 16)');
    expect(await page.getByTestId('report-dev-head').textContent()).toBe(`dev (whole split, ${devSplit}) mean ± std`);
    // The hypervolume history: one point per finished search trial, ending at the report's last value, with the reference named.
    const volume = page.getByTestId('report-hypervolume');
    expect(await volume.getAttribute('data-points')).toBe('3');
    expect(Number(await volume.getAttribute('data-last'))).toBe(report.hypervolume!.steps.at(-1)!.volume);
    expect(await page.getByTestId('report-reference').textContent()).toContain('reference point accuracy');
    expect(await page.getByTestId('report-warning').first().getAttribute('data-code')).toBe(study.warnings![0]!.code);
    await page.getByTestId('report-panel').screenshot({ path: 'test/artifacts/reevaluation-report-tab.png' });
    const [markdown] = await Promise.all([page.waitForEvent('download'), page.getByTestId('report-download-md').click()]);
    expect(markdown.suggestedFilename()).toBe('autopeft-reeval-report.md');
    // The search tab is still there, and its Pareto plot draws the search's trials only (no repeats).
    await page.getByTestId('search-tab').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="pareto-plot"]')?.getAttribute('data-drawn') ?? 0) > 0);
    expect(await page.getByTestId('pareto-plot').getAttribute('data-drawn')).toBe('5');
    expect(await page.getByTestId('budget-done').textContent()).toBe('5 / 5 trials done');
    expect(await page.getByTestId('reevaluation-count').textContent()).toBe(`+ ${repeats.length} re-evaluation trials (outside the budget)`);
    // In the trial table each repeat says whose repeat it is; search trials and baselines do not.
    for (const repeat of repeats) {
      const tag = page.locator(`tr[data-trial-number="${repeat.number}"]`).getByTestId('reevaluation-tag');
      expect(await tag.textContent()).toBe(`re-eval #${repeat.reevaluation!.of}`);
      expect(await tag.getAttribute('title')).toContain(`training seed ${repeat.reevaluation!.seed}`);
    }
    expect(await page.getByTestId('reevaluation-tag').count()).toBe(repeats.length);
    await page.locator('table').filter({ has: page.getByTestId('reevaluation-tag') }).first().screenshot({ path: 'test/artifacts/reevaluation-trial-table.png' });
    expect(await page.getByTestId('study-state').textContent()).toBe('completed');
    expect(errors).toEqual([]);
    await page.close();
  }, 200_000);

  it('creates each planned re-evaluation once across a scheduler restart', async () => {
    // Longer training, so that the restart falls inside the phase.
    const id = await idOf(await submit({ baselines: [], reevaluation: { configurations: 1, seeds: 3 }, algorithm: { name: 'random', seed: 4 }, budget: { maxTrials: 1, maxParallel: 1 }, training: { ...training, steps: 40, evalEvery: 20 } }));
    const phase = await waitFor(async () => {
      const state = (await view(id)).state;
      return state === 'queued' || state === 'running' ? undefined : state;
    }, 60_000, 're-evaluating');
    expect(phase).toBe('re-evaluating');
    await suite.stack.restartScheduler();
    const study = await waitFor(async () => {
      const v = await view(id);
      return v.state === 'completed' || v.state === 'failed' ? v : undefined;
    }, 60_000, 'the study to complete');
    expect(study.state, study.error).toBe('completed');
    expect(study.trials.map((t) => t.reevaluation)).toEqual([undefined, { of: 0, seed: 1 }, { of: 0, seed: 2 }, { of: 0, seed: 3 }]);
    expect((await suite.stack.api(`/api/studies/${id}/report`)).status).toBe(200);
  }, 90_000);

  it('can be cancelled while re-evaluating', async () => {
    const id = await idOf(await submit({ baselines: [], reevaluation: { configurations: 1, seeds: 4 }, algorithm: { name: 'random', seed: 2 }, budget: { maxTrials: 1, maxParallel: 1 }, training: { ...training, steps: 40, evalEvery: 20 } }));
    await waitFor(async () => ((await view(id)).state === 're-evaluating' ? true : undefined), 60_000, 're-evaluating');
    // Still active: it cannot be deleted, only cancelled.
    expect((await suite.stack.api(`/api/studies/${id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await suite.stack.api(`/api/studies/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    const study = await waitFor(async () => {
      const v = await view(id);
      return v.state === 'cancelled' ? v : undefined;
    }, 30_000, 'the study to be cancelled');
    const repeats: TrialRecord[] = study.trials.filter((t) => t.reevaluation !== undefined);
    expect(repeats.length).toBeLessThan(4);
    expect(repeats.some((t) => t.state === 'failed' && t.error === 'study cancelled')).toBe(true);
    expect((await suite.stack.api(`/api/studies/${id}/report`)).status).toBe(409);
  }, 90_000);
});
