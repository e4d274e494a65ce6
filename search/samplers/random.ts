/**
 * Random search and a Latin-hypercube initial design. Trial n's point depends only on the
 * seed, n and the points already in the history (which it avoids duplicating).
 */
import type { AskRequest, Sampler } from '../ask.js';
import { AskContext, permutation } from '../ask.js';
import { deriveRandom } from '../random.js';
import { pointFromUnit } from '../space.js';
import type { SearchPoint } from '../types.js';

/** Uniform random search (rejection of invalid and duplicate points). */
export class RandomSampler implements Sampler {
  readonly name = 'random';

  ask(request: AskRequest): SearchPoint[] {
    const context = new AskContext(request);
    return request.numbers.map((number) => context.propose(context.randomPoint(context.stream('random', number))));
  }
}

/**
 * Trial `number`'s point of a scrambled Latin hypercube: trials come in blocks of
 * `blockSize`; within a block each parameter's unit interval is cut into `blockSize` strata
 * visited in a seeded random order, with a seeded jitter inside the stratum. Categorical
 * parameters thus see their choices in near-equal shares. Falls back to a random point when
 * the design point is invalid or already taken.
 */
export function latinHypercubePoint(context: AskContext, number: number, blockSize: number, tag = 'lhs'): SearchPoint {
  const size = Math.max(1, Math.floor(blockSize));
  const block = Math.floor(number / size);
  const index = number % size;
  const seed = context.request.seed;
  const jitter = deriveRandom(seed, tag, 'jitter', number);
  const point = pointFromUnit(context.space, (name) => (permutation(size, deriveRandom(seed, tag, block, name))[index]! + jitter()) / size);
  if (context.acceptable(point) && !context.isSeen(point)) return point;
  return context.randomPoint(context.stream(tag, number));
}

/** Options of the Latin-hypercube sampler. */
export interface LhsOptions {
  /** Points per hypercube. @defaultValue the study budget (at most 64), else 16 */
  blockSize?: number;
}

/** A quasi-random space-filling design: consecutive blocks of scrambled Latin hypercubes. */
export class LatinHypercubeSampler implements Sampler {
  readonly name = 'lhs';
  constructor(private readonly options: LhsOptions = {}) {}

  ask(request: AskRequest): SearchPoint[] {
    const context = new AskContext(request);
    const blockSize = this.options.blockSize ?? (request.budget ? Math.min(64, request.budget) : 16);
    return request.numbers.map((number) => context.propose(latinHypercubePoint(context, number, blockSize)));
  }
}
