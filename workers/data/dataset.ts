/**
 * Datasets as the workers see them: labelled texts (or text pairs) in a fixed train/dev split,
 * with the metrics that apply, plus deterministic sampling helpers.
 */
import type { MetricName } from '../../search/types.js';
import { createRng, permutation } from '../random.js';

/** Whether a task predicts a class or a real value. */
export type TaskKind = 'classification' | 'regression';

/**
 * One labelled example. For classification `label` indexes the dataset's `labels`; for
 * regression it is the real-valued target. `textPair` is the second segment of a sentence-pair
 * task (e.g. the hypothesis of RTE).
 */
export interface Example {
  text: string;
  textPair?: string;
  label: number;
}

/** A dataset with a fixed train/dev split. */
export interface Dataset {
  name: string;
  kind: TaskKind;
  /** Class names, index = class id (label 1 is the positive class of binary F1); empty for regression. */
  labels: string[];
  train: Example[];
  dev: Example[];
  /** The metric a study on this dataset uses unless its spec names another. */
  defaultMetric: MetricName;
  /** Every metric that applies to this dataset, `defaultMetric` first. */
  metrics: MetricName[];
}

/** The metrics that apply to a task of that kind and label count, the usual default first. */
export function metricsFor(kind: TaskKind, labelCount: number): MetricName[] {
  if (kind === 'regression') return ['pearson', 'spearman'];
  return labelCount === 2 ? ['accuracy', 'f1', 'matthews'] : ['accuracy', 'macroF1', 'matthews'];
}

/** Outputs of a task head: one per class, or a single real value for regression. */
export function outputCount(dataset: { kind?: TaskKind; labels: readonly unknown[] }): number {
  return dataset.kind === 'regression' ? 1 : dataset.labels.length;
}

/**
 * Splits examples into train and dev after a seeded shuffle, so the split is the same in every
 * process and on every host.
 */
export function splitTrainDev<T>(items: readonly T[], devFraction: number, seed: number): { train: T[]; dev: T[] } {
  if (!(devFraction > 0 && devFraction < 1)) {
    throw new RangeError(`devFraction must be in (0, 1), got ${devFraction}`);
  }
  const order = permutation(createRng(seed), items.length);
  const devCount = Math.round(items.length * devFraction);
  const pick = (indices: number[]): T[] => indices.map((i) => items[i]!);
  return { dev: pick(order.slice(0, devCount)), train: pick(order.slice(devCount)) };
}

/**
 * A deterministic subset of `n` examples for `seed` (all of them, reordered, when `n` exceeds
 * the count). Different seeds give different subsets; the same seed always the same one, and
 * for one seed a smaller subset is a prefix of a larger one.
 */
export function takeSubset<T>(items: readonly T[], n: number, seed: number): T[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`subset size must be a non-negative integer, got ${n}`);
  const order = permutation(createRng(seed), items.length);
  return order.slice(0, Math.min(n, items.length)).map((i) => items[i]!);
}

/**
 * A deterministic `fraction` of the items for `seed` (rounded, but at least one item of a
 * non-empty list), for multi-fidelity training. For one seed the subsets are nested: the 10%
 * subset is the first part of the 50% subset, so a cheap evaluation sees data the full one sees.
 */
export function takeFraction<T>(items: readonly T[], fraction: number, seed: number): T[] {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`fraction must be in (0, 1], got ${fraction}`);
  const n = items.length === 0 ? 0 : Math.max(1, Math.round(items.length * fraction));
  return takeSubset(items, n, seed);
}

/** Counts of each class id among the examples (index = class id). */
export function labelCounts(examples: readonly Example[], labelCount: number): number[] {
  const counts = new Array<number>(labelCount).fill(0);
  for (const e of examples) counts[e.label] = (counts[e.label] ?? 0) + 1;
  return counts;
}
