/** The dashboard's Pareto front (metric up, trainable share down) against a brute-force one. */
import { describe, expect, it } from 'vitest';
import { paretoNumbers } from '../dashboard/src/pareto.js';
import type { ScoredTrial } from '../dashboard/src/pareto.js';
import type { TrialRecord } from '../scheduler/types.js';
import { createRandom } from '../search/random.js';

const bruteForce = (scored: readonly ScoredTrial[]): Set<number> =>
  new Set(scored.filter((a) => !scored.some((b) => b !== a && b.metric >= a.metric && b.percent <= a.percent && (b.metric > a.metric || b.percent < a.percent))).map((a) => a.trial.number));

describe('dashboard Pareto front', () => {
  it('equals the brute-force front on random studies with ties in both objectives', () => {
    for (let seed = 0; seed < 50; seed++) {
      const random = createRandom(seed);
      // Coarse values make equal metrics, equal shares and equal points common.
      const scored = Array.from({ length: 5 + Math.floor(random() * 200) }, (_, n) => ({ trial: { number: n } as TrialRecord, metric: Math.round(random() * 20) / 20, percent: Math.round(random() * 10) / 10 }));
      expect([...paretoNumbers(scored)].sort((a, b) => a - b)).toEqual([...bruteForce(scored)].sort((a, b) => a - b));
    }
  });

  it('keeps every copy of an equal Pareto-optimal point', () => {
    const t = (number: number, metric: number, percent: number): ScoredTrial => ({ trial: { number } as TrialRecord, metric, percent });
    expect([...paretoNumbers([t(0, 0.8, 1), t(1, 0.8, 1), t(2, 0.7, 1), t(3, 0.9, 2), t(4, 0.8, 2)])].sort()).toEqual([0, 1, 3]);
  });
});
