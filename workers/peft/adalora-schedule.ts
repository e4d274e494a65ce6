/**
 * AdaLoRA's budget schedule and threshold (Zhang et al. 2023, section 3.3), pure arithmetic:
 * the total rank stays at its initial value for `tinit` steps, falls cubically to the target
 * until `totalSteps - tfinal`, and then stays at the target while the final ranks fine-tune.
 * The definitions follow Hugging Face PEFT's `RankAllocator.budget_schedule` and
 * `mask_to_budget`, so a schedule exported to PEFT behaves the same there.
 */
import type { AdaloraConfig } from '../../search/types.js';

/** A schedule in steps, resolved from a configuration's fractions for a trial of `totalSteps`. */
export interface AdaloraSchedule {
  totalSteps: number;
  /** Steps before the first allocation. */
  tinit: number;
  /** Steps at the end with the final ranks. */
  tfinal: number;
  deltaT: number;
  /** Ranks of every projection together at the start: initRank per projection. */
  initialBudget: number;
  /** Ranks left at the end: targetRank per projection. */
  targetBudget: number;
}

/**
 * The schedule of a configuration with `sites` adapted projections in a trial of `totalSteps`.
 * Both phases are rounded down, so with `initialFraction + finalFraction < 1` the budget always
 * has at least one step to fall (PEFT refuses `tinit >= total_step - tfinal`).
 */
export function adaloraSchedule(config: Pick<AdaloraConfig, 'initRank' | 'targetRank' | 'initialFraction' | 'finalFraction' | 'deltaT'>, sites: number, totalSteps: number): AdaloraSchedule {
  return {
    totalSteps,
    tinit: Math.floor((config.initialFraction ?? 0) * totalSteps),
    tfinal: Math.floor((config.finalFraction ?? 0) * totalSteps),
    deltaT: config.deltaT ?? 1,
    initialBudget: config.initRank * sites,
    targetBudget: config.targetRank * sites,
  };
}

/** The rank budget after step `step` (from 1) and whether that step masks to it. */
export function budgetAt(schedule: AdaloraSchedule, step: number): { budget: number; mask: boolean } {
  const { tinit, tfinal, totalSteps, initialBudget, targetBudget } = schedule;
  if (step <= tinit) return { budget: initialBudget, mask: false };
  if (step > totalSteps - tfinal) return { budget: targetBudget, mask: true };
  const remaining = 1 - (step - tinit) / (totalSteps - tfinal - tinit);
  return { budget: Math.floor((initialBudget - targetBudget) * remaining ** 3 + targetBudget), mask: step % schedule.deltaT === 0 };
}

/**
 * Which triplets stay when `budget` of `scores.length` may: those scoring above the k-th
 * smallest score, k = scores.length - budget (PEFT's `kthvalue` threshold; ties at the
 * threshold are masked together, as there). Every triplet stays when nothing is to go.
 */
export function keepAboveThreshold(scores: ArrayLike<number>, budget: number): boolean[] {
  const k = scores.length - budget;
  if (k <= 0) return Array.from(scores, () => true);
  const threshold = Float64Array.from(scores).sort()[k - 1]!;
  return Array.from(scores, (s) => s > threshold);
}
