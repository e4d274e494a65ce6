/**
 * Pure statistics behind the search views: the optimisation history with its running best, the
 * hypervolume after each trial, and the empirical distribution of the metric. No DOM here, so
 * the unit tests call these directly.
 */

import { defaultReferencePoint, dominates, hypervolume, toMinimization, type Direction } from '../../../search/pareto.js';

/** One finished trial's objective values as the search sees them. */
export interface ObjectivePoint {
  number: number;
  /** The task metric (maximised, as presetObjectives has it). */
  metric: number;
  /** Trainable parameters (minimised; the search's second objective, a raw count). */
  params: number;
}

/** The study's objective directions: metric up, trainable parameters down (search/presets.ts presetObjectives). */
export const STUDY_DIRECTIONS: readonly Direction[] = ['maximize', 'minimize'];

/** One step of the optimisation history. */
export interface HistoryStep {
  number: number;
  value: number;
  /** Best value among this and every earlier point. */
  best: number;
}

/** The metric in trial order with its running best (maximised). `points` must be sorted by number. */
export function runningBest(points: readonly { number: number; value: number }[]): HistoryStep[] {
  const steps: HistoryStep[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (p.value > best) best = p.value;
    steps.push({ number: p.number, value: p.value, best });
  }
  return steps;
}

/**
 * The hypervolume reference in minimisation form, as the search uses it (scheduler/propose.ts):
 * the study's stored reference (its spec's `objectives.referencePoint`, else the majority-class
 * level and the largest configuration, search/reference-point.ts), else the spec's point, else
 * what the sampler falls back to before either is known (search/samplers/bo.ts): the worst
 * observed value of each objective plus 10 % of its range. Undefined when there is nothing.
 */
export function studyReference(
  points: readonly ObjectivePoint[],
  stored: readonly [number, number] | undefined,
  specPoint?: readonly [number, number],
): number[] | undefined {
  const raw = stored ?? specPoint;
  if (raw) return toMinimization(raw, STUDY_DIRECTIONS);
  if (points.length === 0) return undefined;
  return defaultReferencePoint(points.map((p) => toMinimization([p.metric, p.params], STUDY_DIRECTIONS)));
}

/** Where a study's hypervolume reference comes from: its spec, the default, or the fallback before either (see {@link studyReference}). */
export type ReferenceSource = 'spec' | 'default' | 'fallback';

/** Each {@link ReferenceSource} in words, for the report and the page. */
export const REFERENCE_SOURCES: Readonly<Record<ReferenceSource, string>> = {
  spec: "the study's objectives.referencePoint",
  default: 'majority-class level and largest configuration of the space',
  fallback: 'worst complete trial + 10 % of the range',
};

/**
 * The hypervolume dominated by the first k points, for every k (one value per point, in the
 * order given). The front is kept incrementally: a dominated point leaves the volume as it was,
 * so 10,000 trials cost one dominance scan each plus an exact 2-D volume per front change.
 */
export function hypervolumeHistory(points: readonly ObjectivePoint[], reference: readonly number[]): { number: number; volume: number }[] {
  let front: number[][] = [];
  let volume = 0;
  const out: { number: number; volume: number }[] = [];
  for (const p of points) {
    const y = toMinimization([p.metric, p.params], STUDY_DIRECTIONS);
    const inside = y.every((v, d) => v < reference[d]!);
    const covered = front.some((f) => dominates(f, y) || f.every((v, d) => v === y[d]));
    if (inside && !covered) {
      front = front.filter((f) => !dominates(y, f));
      front.push(y);
      volume = hypervolume(front, reference);
    }
    out.push({ number: p.number, volume });
  }
  return out;
}

/** The empirical CDF of `values`: each distinct value with the fraction of values at or below it. */
export function ecdf(values: readonly number[]): { value: number; fraction: number }[] {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const out: { value: number; fraction: number }[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    if (i + 1 < sorted.length && sorted[i + 1] === v) continue;
    out.push({ value: v, fraction: (i + 1) / sorted.length });
  }
  return out;
}

/** One bin of a histogram: [lo, hi) (the last bin includes hi). */
export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

/** A histogram of `values` in `bins` equal-width bins over their range (one bin when all are equal). */
export function histogram(values: readonly number[], bins: number): Bin[] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return [];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of finite) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const n = hi > lo ? Math.max(1, Math.floor(bins)) : 1;
  const width = (hi - lo) / n;
  const out: Bin[] = Array.from({ length: n }, (_, i) => ({ lo: lo + i * width, hi: i === n - 1 ? hi : lo + (i + 1) * width, count: 0 }));
  for (const v of finite) {
    const k = width > 0 ? Math.min(n - 1, Math.floor((v - lo) / width)) : 0;
    out[k]!.count++;
  }
  return out;
}
