/**
 * Text-classification datasets as the workers see them: labelled texts in a fixed train/dev
 * split, plus deterministic sampling helpers.
 */
import { createRng, permutation } from '../random.js';

/** One labelled text; `label` indexes the dataset's `labels`. */
export interface Example {
  text: string;
  label: number;
}

/** A text-classification dataset with a fixed train/dev split. */
export interface Dataset {
  name: string;
  /** Label names; label 1 is the positive class of binary F1. */
  labels: string[];
  train: Example[];
  dev: Example[];
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
 * the count). Different seeds give different subsets; the same seed always the same one.
 */
export function takeSubset<T>(items: readonly T[], n: number, seed: number): T[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`subset size must be a non-negative integer, got ${n}`);
  const order = permutation(createRng(seed), items.length);
  return order.slice(0, Math.min(n, items.length)).map((i) => items[i]!);
}
