/**
 * Which trials a study retrains once its search ends, and with which seeds: pure functions of the
 * finished search's trials, so every scheduler step (and a restarted scheduler) plans the same
 * re-evaluation trials without storing the plan.
 */
import type { TrainingConfig } from '../search/types.js';
import type { ReevaluationSpec, TrialRecord } from './types.js';

/**
 * The most dev examples a re-evaluation trial scores: the dataset's whole dev split up to this
 * many. The built-in spam-assassin split (1,209) is scored whole; the Brown splits (2,848 and
 * 5,294) are capped, as are large uploads, because every evaluation of a trial (every
 * `training.evalEvery` steps) scores them all: on the bundled model 2,000 examples of 64
 * tokens take some 6 s per evaluation on 2 CPU cores.
 */
export const REEVALUATION_MAX_DEV_EXAMPLES = 2000;

/**
 * A re-evaluation's training settings: the original's (the same training subset, the same data
 * seed), another training seed, and the whole dev split up to {@link REEVALUATION_MAX_DEV_EXAMPLES}
 * (the worker takes at most the split's size) instead of the search's dev subset.
 */
export function reevaluationTraining(original: TrainingConfig, seed: number): TrainingConfig {
  return { ...original, seed, devExamples: REEVALUATION_MAX_DEV_EXAMPLES };
}

/** One planned re-evaluation: trial `of` trained again with seed number `seed` (1..S). */
export interface PlannedReevaluation {
  of: number;
  seed: number;
}

/** Whether a trial was proposed by the search (neither a baseline nor a re-evaluation). */
export function isSearchTrial(trial: TrialRecord): boolean {
  return trial.baseline === undefined && trial.reevaluation === undefined;
}

/**
 * The trials re-evaluated: at most `configurations` Pareto-optimal complete search trials
 * (metric up, stored parameters down; the highest metrics first when the front is larger), then
 * every complete baseline, each in number order. None with `configurations` 0.
 */
export function reevaluationTargets(trials: readonly TrialRecord[], configurations: number): TrialRecord[] {
  if (configurations <= 0) return [];
  const scored = trials.filter((t) => t.state === 'complete' && t.metric !== undefined && t.reevaluation === undefined);
  const search = scored.filter((t) => t.baseline === undefined);
  const dominates = (a: TrialRecord, b: TrialRecord): boolean =>
    a.metric! >= b.metric! && a.trainableParams <= b.trainableParams && (a.metric! > b.metric! || a.trainableParams < b.trainableParams);
  const front = search.filter((t) => !search.some((o) => dominates(o, t)));
  const chosen = [...front].sort((a, b) => b.metric! - a.metric! || a.trainableParams - b.trainableParams || a.number - b.number).slice(0, configurations);
  chosen.sort((a, b) => a.number - b.number);
  return [...chosen, ...scored.filter((t) => t.baseline !== undefined)];
}

/** Every re-evaluation of a study, in the order they are created: each target's seeds 1..S in turn. */
export function reevaluationPlan(trials: readonly TrialRecord[], spec: ReevaluationSpec | undefined): PlannedReevaluation[] {
  if (!spec) return [];
  return reevaluationTargets(trials, spec.configurations).flatMap((t) => Array.from({ length: spec.seeds }, (_, i) => ({ of: t.number, seed: i + 1 })));
}
