/**
 * The hypervolume reference point a study uses when its spec gives none: the metric's reference
 * is the dataset's majority-class level (a configuration that does not beat it has found nothing,
 * so it adds no volume), and the parameter reference is the largest configuration of the space
 * (every configuration the search may propose adds volume for being smaller). The "worst seen
 * plus 10 %" rule it replaces moved with the data and let poor trials define the box.
 */
import { deriveRandom } from './random.js';
import { samplePoint } from './space.js';
import type { SearchSpace } from './space.js';
import type { SearchPoint } from './types.js';

/** Points sampled to find the largest configuration of a space. */
export const LARGEST_SAMPLES = 2048;

/**
 * The largest value of `size` over the space's valid points: the point with every numeric
 * parameter at its upper bound and every choice at its last option (where presets put the largest
 * choice), and {@link LARGEST_SAMPLES} seeded random points, for spaces where size is not
 * monotone in the parameters. Undefined if no valid point is found.
 */
export function largestConfiguration(space: SearchSpace, size: (point: SearchPoint) => number, isValid: (point: SearchPoint) => boolean, seed: number): number | undefined {
  const corner: SearchPoint = {};
  for (const [name, dist] of Object.entries(space)) corner[name] = dist.type === 'categorical' ? dist.choices[dist.choices.length - 1]! : dist.high;
  const random = deriveRandom(seed, 'largest-configuration');
  let largest: number | undefined;
  const consider = (point: SearchPoint): void => {
    if (!isValid(point)) return;
    const value = size(point);
    if (Number.isFinite(value) && (largest === undefined || value > largest)) largest = value;
  };
  consider(corner);
  for (let i = 0; i < LARGEST_SAMPLES; i++) consider(samplePoint(space, random));
  return largest;
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
