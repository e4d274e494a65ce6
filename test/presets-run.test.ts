/**
 * Every preset's default space runs: a short study of each on the bundled small model, side by
 * side on two workers, ends with every trial complete and none carrying an error (a spurious
 * count mismatch, a configuration a worker refuses, a prefix that does not fit the positions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyView } from '../scheduler/types.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { PRESET_NAMES } from '../search/presets.js';
import { startStack, waitFor } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';

describe('every preset', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack(2);
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('runs its default space to completion with no trial error', async () => {
    const ids = new Map<string, string>();
    for (const preset of PRESET_NAMES) {
      const spec = {
        name: `preset ${preset}`,
        task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'accuracy' },
        preset,
        algorithm: { name: 'random', seed: 5 },
        pruner: { type: 'none' },
        budget: { maxTrials: 4, maxParallel: 1 },
        training: { steps: 2, batchSize: 4, learningRate: 0.002, evalEvery: 2, maxSeqLength: 32, trainExamples: 16, devExamples: 16 },
      };
      const response = await stack.api('/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
      expect(response.status, `${preset}: ${await response.clone().text()}`).toBe(201);
      ids.set(preset, ((await response.json()) as { id: string }).id);
    }
    for (const [preset, id] of ids) {
      const view = await waitFor(
        async () => {
          const study = (await (await stack.api(`/api/studies/${id}`)).json()) as StudyView;
          return study.state === 'completed' || study.state === 'failed' ? study : undefined;
        },
        240_000,
        `the ${preset} study to finish`,
      );
      const problems = view.trials.filter((t) => t.state !== 'complete' || t.error !== undefined).map((t) => `trial ${t.number} ${t.state}: ${t.error ?? ''}`);
      expect(problems, preset).toEqual([]);
      expect(view.state, preset).toBe('completed');
      expect(view.trials).toHaveLength(4);
      // Both counts, each its closed form: stored (the objective) and what the optimiser updated.
      const head = countHeadParams(view.baseShape, 2);
      for (const t of view.trials) {
        expect(t.trainableParams, `${preset} trial ${t.number}`).toBe(countPeftParams(t.peft, view.baseShape, 'stored') + head);
        expect(t.trainingParams, `${preset} trial ${t.number}`).toBe(countPeftParams(t.peft, view.baseShape, 'training') + head);
        // Prefix-tuning trains an MLP it does not store: there the two differ.
        if (t.peft.prefix && t.peft.prefix.reparamSize > 0) expect(t.trainingParams!).toBeGreaterThan(t.trainableParams);
      }
    }
  }, 300_000);
});
