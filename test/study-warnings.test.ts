/** The honest warnings of a study: learned nothing, or every trial scored the same. */
import { describe, expect, it } from 'vitest';
import { noiseBand, studyWarnings } from '../scheduler/study-warnings.js';
import type { TrialRecord } from '../scheduler/types.js';

const trial = (number: number, metric: number | undefined, majorityBaseline: number, devExamples: number, state: TrialRecord['state'] = 'complete'): TrialRecord => ({
  number,
  state,
  params: {},
  peft: {},
  training: { steps: 300, batchSize: 16, learningRate: 0.003, evalEvery: 75, maxSeqLength: 64, trainExamples: 4096, devExamples } as TrialRecord['training'],
  trainableParams: 1000 + number,
  trainablePercent: 0.1,
  reports: [],
  attempts: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  ...(metric !== undefined ? { metric } : {}),
  majorityBaseline,
});

describe('study warnings', () => {
  it('says a study learned nothing when every trial is within noise of the majority class (the issue: 24 trials at F1 0.000)', () => {
    const trials = Array.from({ length: 24 }, (_, i) => trial(i, 0, 0, 256));
    const warnings = studyWarnings(trials, 'f1', true);
    expect(warnings.map((w) => w.code)).toEqual(['no-learning', 'equal-metrics']);
    expect(warnings[0]!.message).toContain('best f1 0.0000, baseline 0.0000 ± 0.063');
    expect(warnings[0]!.advice).toMatch(/training\.steps.*learningRate.*trainExamples/);
  });

  it('uses two standard errors of the dev set as the noise band', () => {
    expect(noiseBand(256)).toBeCloseTo(0.0625, 6);
    // Accuracy 0.74 on 100 dev examples against a majority of 0.66: within 0.1, a warning...
    expect(studyWarnings([trial(0, 0.74, 0.66, 100), trial(1, 0.7, 0.66, 100)], 'accuracy', false).map((w) => w.code)).toEqual(['no-learning']);
    // ...but not with 1,000 dev examples (band 0.032).
    expect(studyWarnings([trial(0, 0.74, 0.66, 1000), trial(1, 0.7, 0.66, 1000)], 'accuracy', false)).toEqual([]);
  });

  it('says nothing for the demo study (dev F1 0.823-0.826 on 1,024 examples, majority F1 0)', () => {
    const demo = [trial(0, 0.826, 0, 1024), trial(1, 0.81, 0, 1024), trial(2, 0.79, 0, 1024), trial(3, 0.705, 0, 1024)];
    expect(studyWarnings(demo, 'f1', true)).toEqual([]);
  });

  it('waits for two complete trials while the study runs, and ignores failed and pruned ones', () => {
    expect(studyWarnings([trial(0, 0, 0, 64)], 'f1', false)).toEqual([]);
    expect(studyWarnings([trial(0, 0, 0, 64)], 'f1', true).map((w) => w.code)).toEqual(['no-learning']);
    expect(studyWarnings([trial(0, 0, 0, 64), trial(1, undefined, 0, 64, 'failed'), trial(2, 0.9, 0, 64, 'pruned')], 'f1', false)).toEqual([]);
  });

  it('says when all metrics are equal even if they beat the baseline', () => {
    const warnings = studyWarnings([trial(0, 0.9, 0.5, 512), trial(1, 0.9, 0.5, 512), trial(2, 0.9, 0.5, 512)], 'accuracy', true);
    expect(warnings.map((w) => w.code)).toEqual(['equal-metrics']);
    expect(warnings[0]!.message).toContain('all 3 complete trials scored the same accuracy (0.9000)');
  });
});
