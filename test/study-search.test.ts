import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

const shape = BASE_MODELS['tiny-random']!.shape;

describe('studies driven by the search presets, samplers and pruners', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const runStudy = async (spec: unknown): Promise<StudyView> => {
    const response = await stack.api(`/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    return waitFor(async () => {
      const view = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
      return view.state === 'completed' ? view : undefined;
    }, 240_000, `study ${id} to complete`);
  };

  it('proposes AutoPEFT hybrids with Bayesian optimisation, within the trainable-parameter cap', async () => {
    const study = await runStudy({
      name: 'autopeft hybrid',
      task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
      preset: 'autopeft',
      algorithm: { name: 'bo', seed: 5 },
      budget: { maxTrials: 4, maxParallel: 2 },
      objectives: { maxTrainablePercent: 2 },
      training: { steps: 6, batchSize: 8, learningRate: 0.003, evalEvery: 3, maxSeqLength: 32, trainExamples: 64, devExamples: 32 },
    });
    expect(study.trials).toHaveLength(4);
    for (const trial of study.trials) {
      expect(trial.state).toBe('complete');
      // Serial adapter, parallel adapter and prefix share one set of layers (AutoPEFT's layer switches).
      const { serialAdapter, parallelAdapter, prefix } = trial.peft;
      const layerSets = [serialAdapter?.layers, parallelAdapter?.layers, prefix?.layers].filter((l) => l !== undefined).map((l) => JSON.stringify(l));
      expect(layerSets.length).toBeGreaterThan(0);
      expect(new Set(layerSets).size).toBe(1);
      expect(trial.trainableParams).toBe(countPeftParams(trial.peft, shape) + countHeadParams(shape, 2));
      expect(trial.trainablePercent).toBeLessThanOrEqual(2);
    }
  });

  it('prunes trials that fall behind, keeping their last report, and gives their slots to new trials', async () => {
    const study = await runStudy({
      name: 'pruned lora',
      task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
      preset: 'lora',
      searchSpace: {
        'lora.rank': { type: 'categorical', choices: [4] },
        // From too small to learn anything to large: the first trials tell them apart.
        'training.learningRate': { type: 'float', low: 1e-6, high: 3e-2, log: true },
      },
      algorithm: { name: 'random', seed: 2 },
      budget: { maxTrials: 5, maxParallel: 1 },
      pruner: { type: 'median', minTrials: 1 },
      // Long enough (seconds) for a stop request to reach the worker mid-trial.
      training: { steps: 160, batchSize: 16, evalEvery: 40, maxSeqLength: 32, trainExamples: 512, devExamples: 128, warmupRatio: 0, schedule: 'constant' },
    });
    const summary = study.trials.map((t) => `${t.number} ${t.state} lr=${t.training.learningRate.toExponential(1)} ${t.reports.map((r) => `${r.step}:${r.value.toFixed(3)}`).join(' ')}`).join('\n');
    expect(study.trials, summary).toHaveLength(5);
    const pruned = study.trials.filter((t) => t.state === 'pruned');
    expect(pruned.length, summary).toBeGreaterThan(0);
    for (const trial of pruned) {
      expect(trial.reports.length, summary).toBeGreaterThan(0);
      expect(trial.reports.length, summary).toBeLessThan(4);
      expect(trial.metric).toBe(trial.reports.at(-1)!.value);
    }
    for (const trial of study.trials.filter((t) => t.state === 'complete')) expect(trial.reports.length).toBe(4);
  });
});
