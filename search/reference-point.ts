/**
 * The hypervolume reference point a study uses when its spec gives none: the metric's reference
 * is the dataset's majority-class level (a configuration that does not beat it has found nothing,
 * so it adds no volume), and the parameter reference is the largest configuration of the space
 * (every configuration the search may propose adds volume for being smaller). The "worst seen
 * plus 10 %" rule it replaces moved with the data and let poor trials define the box.
 */
import { maximiseOverSpace } from './space-maximum.js';
import type { SearchSpace } from './space.js';
import type { SearchPoint } from './types.js';

/**
 * The largest value of `size` over the space's valid points (see {@link maximiseOverSpace}:
 * coordinate ascent from the point with every size at its largest and every switch on, and from
 * the best of 2,048 seeded random points). Undefined if no valid point is found.
 */
export function largestConfiguration(space: SearchSpace, size: (point: SearchPoint) => number, isValid: (point: SearchPoint) => boolean, seed: number): number | undefined {
  return maximiseOverSpace(space, size, isValid, { seed })?.value;
}

/** A study's reference point (raw units: metric, trainable parameters) and where it came from. */
export interface StudyReference {
  point: [number, number];
  /** `spec`: objectives.referencePoint; `default`: majority-class level and largest configuration. */
  source: 'spec' | 'default';
}

/**
 * The default reference: `[majority-class level, largest configuration]`, or undefined while the
 * majority-class level is not known yet (no trial has finished).
 */
export function defaultReference(majorityLevel: number | undefined, largest: number | undefined): StudyReference | undefined {
  if (majorityLevel === undefined || largest === undefined) return undefined;
  return { point: [majorityLevel, largest], source: 'default' };
}
