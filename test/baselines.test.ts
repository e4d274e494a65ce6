/**
 * Baselines in a study: the spec names them (or gets the standard set when its budget has
 * room), each is refused with the field named when it cannot run, they train first with the
 * study's own settings as trials of the budget, and the Pareto plot marks and names them.
 */
import { describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import { BASELINE_NAMES, BASELINES, DEFAULT_BASELINES_MIN_TRIALS } from '../search/baselines.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { useStackAndBrowser } from './helpers/stack-and-browser.js';
import { waitFor } from './helpers/stack.js';

const task = { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' };
const training = { steps: 4, batchSize: 8, learningRate: 0.003, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16 };
const shape = BASE_MODELS['tiny-random']!.shape;

describe('baselines', () => {
  const suite = useStackAndBrowser(2);

  const submit = (spec: Record<string, unknown>) => suite.stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'baselines', task, training, ...spec }) });
  const fieldOf = async (response: Response): Promise<{ status: number; field?: string; message?: string }> => {
    const body = (await response.json()) as { error?: { field?: string; message?: string } };
    return { status: response.status, ...body.error };
  };

  it('are refused naming the field when they cannot run, and default to the standard set only when the budget has room', async () => {
    expect(await fieldOf(await submit({ baselines: ['lora', 'dora'], budget: { maxTrials: 6 } }))).toMatchObject({ status: 400, field: 'baselines.1' });
    expect(await fieldOf(await submit({ baselines: ['lora', 'lora'], budget: { maxTrials: 6 } }))).toMatchObject({ status: 400, field: 'baselines.1', message: expect.stringMatching(/listed twice/) });
    expect(await fieldOf(await submit({ baselines: ['lora', 'bitfit'], budget: { maxTrials: 2 } }))).toMatchObject({ status: 400, field: 'baselines', message: expect.stringMatching(/leave none of budget\.maxTrials \(2\) to the search/) });
    // tiny-random has 128 positions: MAM's 30-vector prefix leaves 98, not 100.
    const mam = await fieldOf(await submit({ baselines: ['mam'], budget: { maxTrials: 3 }, training: { ...training, maxSeqLength: 100 } }));
    expect(mam).toMatchObject({ status: 400, field: 'baselines.0', message: expect.stringMatching(/take 30 of the base model's 128 positions, which leaves 98 for the input, not training\.maxSeqLength 100/) });

    const view = async (response: Response): Promise<StudyView> => {
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      const study = (await (await suite.stack.api(`/api/studies/${id}`)).json()) as StudyView;
      await suite.stack.api(`/api/studies/${id}/cancel`, { method: 'POST' });
      return study;
    };
    expect((await view(await submit({ budget: { maxTrials: 4 } }))).spec.baselines).toEqual([]);
    expect((await view(await submit({ budget: { maxTrials: DEFAULT_BASELINES_MIN_TRIALS } }))).spec.baselines).toEqual(BASELINE_NAMES);
  });

  it('train first, with their documented configurations, and are marked and named on the Pareto plot', async () => {
    const response = await submit({ name: 'with baselines', baselines: ['lora', 'bitfit', 'pfeiffer', 'full'], algorithm: { name: 'random', seed: 3 }, pruner: { type: 'none' }, budget: { maxTrials: 6, maxParallel: 2 } });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    const study = await waitFor(
      async () => {
        const v = (await (await suite.stack.api(`/api/studies/${id}`)).json()) as StudyView;
        return v.state === 'completed' || v.state === 'failed' ? v : undefined;
      },
      120_000,
      'the study to finish',
    );
    expect(study.state, study.error).toBe('completed');
    expect(study.trials.map((t) => t.baseline)).toEqual(['lora', 'bitfit', 'pfeiffer', 'full', undefined, undefined]);
    expect(study.trials.every((t) => t.state === 'complete' && t.error === undefined)).toBe(true);
    const head = countHeadParams(shape, 2);
    for (const t of study.trials.slice(0, 4)) {
      const config = BASELINES[t.baseline!].config(shape);
      expect(t.peft).toEqual(config);
      expect(t.params).toEqual({});
      expect(t.trainableParams).toBe(countPeftParams(config, shape) + head);
      // The study's own training settings and seeds, as any trial of it.
      expect(t.training.learningRate).toBe(training.learningRate);
      expect(t.training.steps).toBe(training.steps);
    }
    // The documented settings: LoRA r8 (capped at d) alpha 16 on query and value of every layer; Pfeiffer at d/16.
    expect(study.trials[0]!.peft.lora).toMatchObject({ rank: 8, alpha: 16, targets: ['query', 'value'], layers: [0, 1] });
    expect(study.trials[2]!.peft.serialAdapter).toMatchObject({ placement: 'pfeiffer', size: shape.hiddenSize / 16 });
    // Full fine-tuning stores every layer weight: the scheduler's closed form agreed with the worker's live count (no error above).
    expect(study.trials[3]!.peft.full).toEqual({ layers: [0, 1] });
    expect(study.trials[3]!.trainableParams).toBe(2 * (4 * 64 * 64 + 2 * 64 * 256 + 9 * 64 + 256) + head);
    expect(study.trials.slice(4).every((t) => Object.keys(t.params).length > 0)).toBe(true);

    if (!suite.browser) return;
    const page = await suite.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${suite.stack.url}/?token=${suite.stack.token}#/studies/${id}`);
    const plot = page.getByTestId('pareto-plot');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="pareto-plot"]')?.getAttribute('data-drawn') ?? 0) === 6);
    expect(await plot.getAttribute('data-baselines')).toBe('4');
    const labels = (await plot.getAttribute('data-baseline-labels'))!.split('|').filter(Boolean);
    expect(labels.length).toBeGreaterThanOrEqual(2);
    for (const label of labels) expect(['LoRA r8', 'BitFit', 'Pfeiffer adapter', 'full fine-tuning']).toContain(label);
    await page.getByTestId('pareto-host').screenshot({ path: 'test/artifacts/baselines-pareto.png' });
    // The table says which rows are baselines.
    expect(await page.getByTestId('baseline-tag').count()).toBe(4);
    // Every other view draws the study too: a baseline has no point of the space, and no view trips on it.
    await page.waitForFunction(() => document.querySelector('[data-testid="search-views"]')?.getAttribute('data-pending') === '0');
    await page.screenshot({ path: 'test/artifacts/baselines-page.png', fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
