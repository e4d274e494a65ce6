/**
 * Samplers propose the next points of a study. The contract is ask/tell in the style of
 * Optuna: `ask` is given the whole history (pending trials included), so a sampler keeps no
 * state of its own and a restarted scheduler continues identically.
 */
import { deriveRandom } from './random.js';
import { samplePoint } from './space.js';
import type { SearchSpace } from './space.js';
import type { SearchPoint } from './types.js';

/** One trial as the search sees it. */
export interface TrialObservation {
  number: number;
  point: SearchPoint;
  state: 'pending' | 'complete' | 'pruned' | 'failed';
  /** Objective values when complete (e.g. metric, trainable params). */
  values?: number[];
}

/** What a sampler is asked. */
export interface AskRequest {
  space: SearchSpace;
  seed: number;
  history: TrialObservation[];
  /** Trial numbers the points are for, one point each. */
  numbers: number[];
}

/** A search algorithm that proposes points from the history. */
export interface Sampler {
  readonly name: string;
  ask(request: AskRequest): SearchPoint[];
}

/** Uniform random search; trial n's point depends only on the seed and n. */
export class RandomSampler implements Sampler {
  readonly name = 'random';

  ask(request: AskRequest): SearchPoint[] {
    return request.numbers.map((number) => samplePoint(request.space, deriveRandom(request.seed, 'random', number)));
  }
}

/** Names of the available algorithms. */
export const ALGORITHMS = ['random'] as const;

/** An algorithm name. */
export type AlgorithmName = (typeof ALGORITHMS)[number];

/** The sampler for an algorithm name. */
export function createSampler(name: AlgorithmName): Sampler {
  switch (name) {
    case 'random':
      return new RandomSampler();
  }
}
