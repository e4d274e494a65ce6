/**
 * Search spaces: named parameters, each with a distribution (a tagged union as in the study
 * spec). Construction checks every distribution and names what is wrong.
 */
import type { SearchPoint } from './types.js';

/** A distribution of one parameter. */
export type Distribution =
  | { type: 'categorical'; choices: (number | string | boolean)[] }
  | { type: 'int'; low: number; high: number; log?: boolean }
  | { type: 'float'; low: number; high: number; log?: boolean };

/** A search space: parameter name to distribution. */
export type SearchSpace = Record<string, Distribution>;

/** A search space that does not hold together; `parameter` names the culprit ('' for the whole space). */
export class InvalidSearchSpaceError extends Error {
  override readonly name = 'InvalidSearchSpaceError';
  constructor(
    readonly parameter: string,
    readonly problem: string,
  ) {
    super(parameter ? `${parameter}: ${problem}` : problem);
  }
}

/** Checks every distribution of a space; throws InvalidSearchSpaceError naming the first problem. */
export function validateSpace(space: SearchSpace): void {
  const names = Object.keys(space);
  if (names.length === 0) throw new InvalidSearchSpaceError('', 'the search space has no parameters');
  for (const name of names) {
    const dist = space[name]!;
    if (dist.type === 'categorical') {
      if (dist.choices.length === 0) throw new InvalidSearchSpaceError(name, `a categorical parameter needs at least one choice`);
      continue;
    }
    if (!(dist.low <= dist.high)) {
      throw new InvalidSearchSpaceError(name, `low <= high must hold, but got (low=${dist.low}, high=${dist.high})`);
    }
    if (dist.type === 'int' && (!Number.isInteger(dist.low) || !Number.isInteger(dist.high))) {
      throw new InvalidSearchSpaceError(name, `an int parameter needs integer bounds, but got (low=${dist.low}, high=${dist.high})`);
    }
    if (dist.log && dist.low <= 0) {
      throw new InvalidSearchSpaceError(name, `a log-scaled parameter needs low > 0, but got low=${dist.low}`);
    }
  }
}

/** Maps a uniform draw u in [0, 1) to a value of the distribution. */
export function valueAt(dist: Distribution, u: number): number | string | boolean {
  switch (dist.type) {
    case 'categorical':
      return dist.choices[Math.min(dist.choices.length - 1, Math.floor(u * dist.choices.length))]!;
    case 'float':
      return dist.log ? Math.exp(Math.log(dist.low) + u * (Math.log(dist.high) - Math.log(dist.low))) : dist.low + u * (dist.high - dist.low);
    case 'int': {
      if (dist.log) {
        const value = Math.exp(Math.log(dist.low) + u * (Math.log(dist.high + 1) - Math.log(dist.low)));
        return Math.min(dist.high, Math.max(dist.low, Math.floor(value)));
      }
      return Math.min(dist.high, dist.low + Math.floor(u * (dist.high - dist.low + 1)));
    }
  }
}

/** Draws one point of the space from a uniform generator, parameters in sorted-name order. */
export function samplePoint(space: SearchSpace, random: () => number): SearchPoint {
  const point: SearchPoint = {};
  for (const name of Object.keys(space).sort()) point[name] = valueAt(space[name]!, random());
  return point;
}
