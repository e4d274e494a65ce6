/**
 * The report's arithmetic and its rule for comparisons, on plain trial records: the selection of
 * what is re-evaluated (Pareto-optimal search trials, at most K, plus every complete baseline),
 * the 95 % Student-t interval, and "X beats baseline Y" only for disjoint intervals.
 */
import { describe, expect, it } from 'vitest';
import { buildReport, reportCsv, seedStats, studentT975 } from '../scheduler/report.js';
import { reevaluationPlan, reevaluationTargets } from '../scheduler/reevaluation.js';
import type { StudyRecord, TrialRecord } from '../scheduler/types.js';
import { BASELINES } from '../search/baselines.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import { BASE_MODELS } from '../workers/models/catalog.js';

const shape = BASE_MODELS['tiny-random']!.shape;
const training = { steps: 4, batchSize: 8, learningRate: 0.003, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16 };

function trial(number: number, metric: number, params: number, extra: Partial<TrialRecord> = {}): TrialRecord {
  return {
    number,
    state: 'complete',
    params: { n: number },
    peft: { lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query'], layers: [1] } },
    training: { ...training, seed: number, dataSeed: 7 },
    trainableParams: params,
    trainablePercent: params / 1000,
    reports: [],
    metric,
    majorityBaseline: 0.6,
    attempts: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('report', () => {
  it('uses the Student t quantiles and the sample standard deviation', () => {
    expect(studentT975(1)).toBe(12.706);
    expect(studentT975(2)).toBe(4.303);
    expect(studentT975(9)).toBe(2.262);
    const stats = seedStats([0.7, 0.8, 0.9]);
    expect(stats.mean).toBeCloseTo(0.8, 12);
    expect(stats.std).toBeCloseTo(0.1, 12);
    expect(stats.interval![0]).toBeCloseTo(0.8 - (4.303 * 0.1) / Math.sqrt(3), 12);
    expect(seedStats([0.5])).toEqual({ n: 1, values: [0.5], mean: 0.5 });
  });

  it('re-evaluates the K best of the front and every complete baseline, and compares only disjoint intervals', () => {
    const lora = BASELINES.lora.config(shape);
    const loraParams = countPeftParams(lora, shape) + countHeadParams(shape, 2);
    const search: TrialRecord[] = [
      trial(0, 0.7, loraParams, { baseline: 'lora', peft: lora, params: {} }),
      trial(1, 0.9, 500), // front
      trial(2, 0.8, 300), // front
      trial(3, 0.85, 600), // dominated by 1
      trial(4, 0.6, 100), // front, lowest metric: left out with K = 2
      trial(5, 0.99, 50, { state: 'pruned' }), // not complete: never re-evaluated
    ];
    expect(reevaluationTargets(search, 2).map((t) => t.number)).toEqual([1, 2, 0]);
    expect(reevaluationTargets(search, 0)).toEqual([]);
    expect(reevaluationPlan(search, { configurations: 2, seeds: 2 })).toEqual([
      { of: 1, seed: 1 }, { of: 1, seed: 2 }, { of: 2, seed: 1 }, { of: 2, seed: 2 }, { of: 0, seed: 1 }, { of: 0, seed: 2 },
    ]);
    const metrics: Record<number, number[]> = { 1: [0.9, 0.91, 0.92], 2: [0.7, 0.8, 0.9], 0: [0.7, 0.71, 0.72] };
    const repeats = [1, 2, 0].flatMap((of, i) => metrics[of]!.map((m, s) => trial(6 + 3 * i + s, m, search[of]!.trainableParams, { reevaluation: { of, seed: s + 1 }, peft: search[of]!.peft })));
    const study: StudyRecord = {
      id: 's',
      spec: {
        name: 'r', task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' }, preset: 'lora', searchSpace: {}, algorithm: { name: 'random', seed: 7 },
        objectives: {}, pruner: { type: 'none' }, baselines: ['lora'], budget: { maxTrials: 6, maxParallel: 1 }, reevaluation: { configurations: 2, seeds: 3 }, training,
      },
      state: 'completed', createdAt: '', updatedAt: '', baseShape: shape, baseParams: 1000, headOutputs: 2,
    };
    // Once re-evaluated, the targets stay the same (re-evaluations are never candidates).
    expect(reevaluationTargets([...search, ...repeats], 2).map((t) => t.number)).toEqual([1, 2, 0]);
    const report = buildReport(study, [...search, ...repeats]);
    expect(report.rows.map((r) => r.label)).toEqual(['trial 1', 'trial 2', 'LoRA r8']);
    expect(report.rows[2]).toMatchObject({ kind: 'baseline', storedParams: loraParams, baselineSettings: BASELINES.lora.settings, searchMetric: 0.7, layers: [0, 1] });
    expect(report.rows[0]!.splits.dev!.mean).toBeCloseTo(0.91, 12);
    // Trial 1 [0.885, 0.935] lies above LoRA [0.685, 0.735]; trial 2's wide interval overlaps it.
    expect(report.comparisons.map((c) => `${c.configuration} > ${c.baseline}`)).toEqual(['trial 1 > LoRA r8']);
    expect(report.levels).toEqual({ majorityClass: 0.6, chance: 0.5 });
    expect(report.settings.dataSeed).toBe(7);
    expect(reportCsv(report).split('\n')[3]).toMatch(/^LoRA r8,baseline,0,/);
  });
});
