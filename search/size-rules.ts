/** The check of a size parameter of a search space (an adapter bottleneck, a rank, a length), shared by the presets. */
import type { Distribution } from './space.js';
import { InvalidSearchSpaceError } from './space.js';

/** A size parameter: integer values in [min, max] (a float distribution would draw fractional sizes). */
export function checkSizeDistribution(name: string, dist: Distribution, min: number, max: number, what: string): void {
  if (dist.type === 'float') throw new InvalidSearchSpaceError(name, `${what} must be an integer: use an int or categorical distribution, not float`);
  const values = dist.type === 'categorical' ? dist.choices : [dist.low, dist.high];
  for (const value of values) {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new InvalidSearchSpaceError(name, `${what} must be an integer, but got ${JSON.stringify(value)}`);
    if (value < min || value > max) throw new InvalidSearchSpaceError(name, `${what} must be in ${min}..${max} for this base model, but got ${value}`);
  }
}
