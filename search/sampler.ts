/**
 * Samplers propose the next points of a study. The contract is ask/tell in the style of
 * Optuna: `ask` is given the whole history (pending trials included), so a sampler keeps no
 * state of its own and a restarted scheduler continues identically. Adding an algorithm is a
 * file in samplers/, one case below and one entry in SAMPLER_NAMES (the conformance suite
 * picks it up from there).
 */
import type { Sampler } from './ask.js';
import { AutoSampler } from './samplers/auto.js';
import { MoboSampler } from './samplers/bo.js';
import { RegularizedEvolutionSampler } from './samplers/evolution.js';
import { Nsga2Sampler } from './samplers/nsga2.js';
import { LatinHypercubeSampler, RandomSampler } from './samplers/random.js';

export type { AskRequest, ObjectiveSpec, Observed, Sampler, TrialObservation } from './ask.js';
export { AskContext, DEFAULT_OBJECTIVES } from './ask.js';
export { RandomSampler, LatinHypercubeSampler } from './samplers/random.js';
export { MoboSampler } from './samplers/bo.js';
export { Nsga2Sampler } from './samplers/nsga2.js';
export { RegularizedEvolutionSampler } from './samplers/evolution.js';
export { AutoSampler } from './samplers/auto.js';

/** Every algorithm the search offers. */
export const SAMPLER_NAMES = ['auto', 'random', 'lhs', 'bo', 'nsga2', 'evolution'] as const;

/** Any algorithm name. */
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** The sampler for an algorithm name. */
export function createSampler(name: SamplerName): Sampler {
  switch (name) {
    case 'auto':
      return new AutoSampler();
    case 'random':
      return new RandomSampler();
    case 'lhs':
      return new LatinHypercubeSampler();
    case 'bo':
      return new MoboSampler();
    case 'nsga2':
      return new Nsga2Sampler();
    case 'evolution':
      return new RegularizedEvolutionSampler();
  }
}
