/**
 * The report's arithmetic and its rule for comparisons, on plain trial records: the selection of
 * what is re-evaluated (Pareto-optimal search trials, at most K, plus every complete baseline),
 * the 95 % Student-t interval, and "X beats baseline Y" only for disjoint intervals.
 */
import { describe, expect, it } from 'vitest';
import { buildReport, reportCsv, reportMarkdown, seedStats, studentT975 } from '../scheduler/report.js';
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

/**
 * The 2-D hypervolume of (metric ↑, params ↓) against `[metric, params]`, by a sweep over the
 * parameter axis written here (not search/pareto.ts's): at each parameter count the dominated
 * height is the best metric of the points at or below it.
 */
function sweptVolume(points: readonly { metric: number; params: number }[], reference: [number, number]): number {
  const inside = points.filter((p) => p.metric > reference[0] && p.params < reference[1]).sort((a, b) => a.params - b.params);
  let best = reference[0];
  let area = 0;
  inside.forEach((p, i) => {
    best = Math.max(best, p.metric);
    area += ((inside[i + 1]?.params ?? reference[1]) - p.params) * (best - reference[0]);
  });
  return area;
}

describe('report', () => {
  it("says where a configuration acts with each LoRA target's own rank", () => {
    const rankPerTarget = { query: 8, key: 2, value: 4, attentionOutput: 16 };
    const t = trial(0, 0.9, 100, { peft: { lora: { rank: 16, alpha: 32, dropout: 0, targets: ['query', 'key', 'value', 'attentionOutput'], layers: [0, 1], rankPerTarget } } });
    const repeat = { ...t, number: 1, reevaluation: { of: 0, seed: 1 } };
    const study = {
      id: 's', spec: { name: 'r', task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' }, preset: 'lora', searchSpace: {}, algorithm: { name: 'random', seed: 7 }, objectives: {}, pruner: { type: 'none' }, budget: { maxTrials: 1, maxParallel: 1 }, reevaluation: { configurations: 1, seeds: 1 }, training },
      state: 'completed', createdAt: '', updatedAt: '', baseShape: shape, baseParams: 1000, headOutputs: 2,
    } as StudyRecord;
    expect(buildReport(study, [t, repeat]).rows[0]!.where).toBe('LoRA Q8 K2 V4 O16 · layers 0–1');
  });

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

  it('clips an interval to the metric\'s range, and only there', () => {
    // Two seeds: t = 12.706, so 0.97 ± 12.706 · 0.0141 / √2 would reach 1.097.
    const high = seedStats([0.96, 0.98], [0, 1]);
    expect(high.interval![0]).toBeCloseTo(0.97 - (12.706 * 0.02) / Math.SQRT2 / Math.SQRT2, 12);
    expect(high.interval![1]).toBe(1);
    const low = seedStats([-0.9, -0.7], [-1, 1]);
    expect(low.interval![0]).toBe(-1);
    expect(low.interval![1]).toBeCloseTo(-0.8 + (12.706 * 0.2) / 2, 12);
    // Inside the range nothing moves.
    expect(seedStats([0.4, 0.5, 0.6], [0, 1]).interval).toEqual(seedStats([0.4, 0.5, 0.6]).interval);
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
    const repeats = [1, 2, 0].flatMap((of, i) =>
      metrics[of]!.map((m, s) => trial(6 + 3 * i + s, m, search[of]!.trainableParams, { reevaluation: { of, seed: s + 1 }, peft: search[of]!.peft, dev: { examples: 1209, splitSize: 1209 }, majorityBaseline: 0.62 })),
    );
    for (const t of search) t.dev = { examples: 16, splitSize: 1209 };
    const study: StudyRecord = {
      id: 's',
      spec: {
        name: 'r', task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' }, preset: 'lora', searchSpace: {}, algorithm: { name: 'random', seed: 7 },
        objectives: {}, pruner: { type: 'none' }, baselines: ['lora'], budget: { maxTrials: 6, maxParallel: 1 }, reevaluation: { configurations: 2, seeds: 3 }, training,
      },
      state: 'completed', createdAt: '', updatedAt: '', baseShape: shape, baseParams: 1000, headOutputs: 2,
      reference: { point: [0.5, 5000], source: 'default' },
    };
    // Once re-evaluated, the targets stay the same (re-evaluations are never candidates).
    expect(reevaluationTargets([...search, ...repeats], 2).map((t) => t.number)).toEqual([1, 2, 0]);
    const report = buildReport(study, [...search, ...repeats]);
    expect(report.rows.map((r) => r.label)).toEqual(['trial 1', 'trial 2', 'LoRA r8']);
    expect(report.rows[2]).toMatchObject({ kind: 'baseline', storedParams: loraParams, baselineSettings: BASELINES.lora.settings, searchMetric: 0.7, layers: [0, 1] });
    expect(report.rows[0]!.splits.dev!.mean).toBeCloseTo(0.91, 12);
    // Trial 1 [0.885, 0.935] lies above LoRA [0.685, 0.735]; trial 2's wide interval overlaps it.
    expect(report.comparisons.map((c) => `${c.configuration} > ${c.baseline}`)).toEqual(['trial 1 > LoRA r8']);
    // The levels and sizes are the dev column's (the re-evaluations' whole split), the search's subset beside them.
    expect(report.levels).toEqual({ majorityClass: 0.62, chance: 0.5 });
    expect(report.settings).toMatchObject({ searchDevExamples: 16, devExamples: 1209, devSplitSize: 1209, maxDevExamples: 2000 });
    expect(report.notes[0]).toBe('re-evaluated on the whole dev split (1209 examples)');
    expect(report.notes[1]).toMatch(/study's dev subset \(training\.devExamples: 16 examples\)/);
    expect(reportMarkdown(report)).toContain('| Configuration | Where it acts | Stored params | Trainable % | Search (1 seed, dev subset of 16) | dev (whole split, 1209) mean ± std | dev 95 % interval | dev n (seeds) |');
    expect(reportCsv(report).split('\n')[0]).toBe('configuration,kind,trial,where,stored_params,trainable_percent,search_dev_examples,search_metric,dev_examples,dev_n,dev_mean,dev_std,dev_ci_low,dev_ci_high');
    // A split over the cap: the report says how many of how many.
    const capped = buildReport(study, [...search, ...repeats.map((t) => ({ ...t, dev: { examples: 2000, splitSize: 5294 } }))]);
    expect(capped.notes[0]).toMatch(/^re-evaluated on 2000 of the dev split's 5294 examples \(the cap REEVALUATION_MAX_DEV_EXAMPLES = 2000/);
    expect(reportMarkdown(capped)).toContain('| dev (2000 of 5294) mean ± std |');
    expect(report.settings.dataSeed).toBe(7);
    expect(reportCsv(report).split('\n')[3]).toMatch(/^LoRA r8,baseline,0,/);

    // The search's hypervolume after each finished search trial (1..5: the baseline and the re-evaluations are not search
    // trials; pruned trial 5 leaves it as it was), against the study's reference, recomputed here from the trials.
    const hv = report.hypervolume!;
    expect(hv.reference).toEqual([0.5, 5000]);
    expect(hv.source).toBe('default');
    expect(hv.steps.map((st) => [st.trial, st.state])).toEqual([[1, 'complete'], [2, 'complete'], [3, 'complete'], [4, 'complete'], [5, 'pruned']]);
    const searchComplete = search.filter((t) => t.baseline === undefined && t.state === 'complete');
    for (const st of hv.steps) {
      const upTo = searchComplete.filter((t) => t.number <= st.trial).map((t) => ({ metric: t.metric!, params: t.trainableParams }));
      expect(st.volume, `after trial ${st.trial}`).toBeCloseTo(sweptVolume(upTo, [0.5, 5000]), 9);
    }
    // By hand for trial 1 alone: (5000 - 500) x (0.9 - 0.5).
    expect(hv.steps[0]!.volume).toBeCloseTo(1800, 9);
    expect(hv.steps[4]!.volume).toBe(hv.steps[3]!.volume);
    // No warnings on this study; the study's own ones when it has them, before the table.
    expect(report.warnings).toEqual([]);
    const warning = { code: 'no-learning' as const, message: 'every complete trial (5) scored within noise of the majority-class baseline', advice: 'more steps' };
    const warned = buildReport({ ...study, warnings: [warning] }, [...search, ...repeats]);
    expect(warned.warnings).toEqual([warning]);
    const warnedMd = reportMarkdown(warned);
    expect(warnedMd).toContain('> **Warning:** every complete trial (5) scored within noise of the majority-class baseline. What usually helps: more steps.');
    expect(warnedMd.indexOf('**Warning:**')).toBeLessThan(warnedMd.indexOf('| Configuration |'));
    const md = reportMarkdown(report);
    expect(md).toContain('## Hypervolume of the search');
    expect(md).toContain('Reference point: accuracy 0.5, 5000 stored parameters (majority-class level and largest configuration of the space)');
    // Trial 3 is dominated by trial 1 and trial 5 was pruned: neither changes it, so neither has a row but the last.
    expect(md).toMatch(/\| 1 \| 1800 \|/);
    expect(md).not.toMatch(/\| 3 \| /);
    expect(md).toMatch(/\| 5 \| /);

    // Without a stored reference or a spec point, the fallback (worst + 10 %) the search uses, and said so.
    const fallback = buildReport({ ...study, reference: undefined }, [...search, ...repeats]).hypervolume!;
    expect(fallback.source).toBe('fallback');
    const metrics4 = searchComplete.map((t) => t.metric!);
    const params4 = searchComplete.map((t) => t.trainableParams);
    const worstMetric = Math.min(...metrics4) - 0.1 * (Math.max(...metrics4) - Math.min(...metrics4));
    const worstParams = Math.max(...params4) + 0.1 * (Math.max(...params4) - Math.min(...params4));
    expect(fallback.reference[0]).toBeCloseTo(worstMetric, 9);
    expect(fallback.reference[1]).toBeCloseTo(worstParams, 9);
    expect(fallback.steps.at(-1)!.volume).toBeCloseTo(sweptVolume(searchComplete.map((t) => ({ metric: t.metric!, params: t.trainableParams })), [worstMetric, worstParams]), 9);
  });
});
