/**
 * A short `survey`-preset study on the bundled model: it completes with trials from every
 * family, every trial's stored count is the closed form, and no trial carries a count error
 * (the hybrid family trains prefix-tuning through its MLP, whose training count differs from
 * what it stores).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { SURVEY_FAMILIES } from '../search/survey-preset.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { startStack } from './helpers/stack.js';
import type { TestStack } from './helpers/stack.js';
import { familyOf, runSurveyStudy } from './helpers/survey-study.js';

const bundled = BASE_MODELS['brown-bert-small'];

describe.skipIf(!bundled)('a survey-preset study on the bundled model', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack(1);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('runs to completion with trials from every family and no count errors', async () => {
    const study = await runSurveyStudy(stack, { maxTrials: 5, steps: 4, trainExamples: 32, devExamples: 32 }, 300_000);
    const summary = study.trials.map((t) => `${t.number} ${t.state} ${familyOf(t)} ${t.trainableParams} ${t.error ?? ''}`).join('\n');
    expect(study.trials, summary).toHaveLength(5);
    expect(new Set(study.trials.map(familyOf)), summary).toEqual(new Set(SURVEY_FAMILIES));
    const shape = bundled!.shape;
    for (const trial of study.trials) {
      expect(trial.state, summary).toBe('complete');
      expect(trial.error, summary).toBeUndefined();
      expect(trial.trainableParams).toBe(countPeftParams(trial.peft, shape, 'stored') + countHeadParams(shape, 2));
    }
    const hybrid = study.trials.find((t) => familyOf(t) === 'hybrid')!;
    // Prefix-tuning trains more than it stores: the two counts differ, and neither is an error.
    expect(countPeftParams(hybrid.peft, shape, 'training')).toBeGreaterThan(countPeftParams(hybrid.peft, shape, 'stored'));
    expect(hybrid.peft.prefix).toBeDefined();
  });
});
