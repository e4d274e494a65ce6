/**
 * The default algorithm, chosen per budget and history so a user need not think about it:
 * a Latin hypercube for budgets of at most 10 trials (too few for a surrogate), GP-based
 * multi-objective BO (whose first trials are a Latin hypercube) up to 1,000 observations, and
 * NSGA-II beyond: BO's asks stay fast there (incremental factors, local variances), but the
 * first ask after a restart refactorises in O(n³), about 1.5 s at 1,000 observations.
 */
import type { AskRequest, Sampler } from '../ask.js';
import type { SearchPoint } from '../types.js';
import { MoboSampler } from './bo.js';
import { Nsga2Sampler } from './nsga2.js';
import { LatinHypercubeSampler } from './random.js';

/** Observations beyond which the default switches from BO to NSGA-II. */
export const AUTO_BO_LIMIT = 1000;

/** Picks LHS, BO or NSGA-II per budget and history size. */
export class AutoSampler implements Sampler {
  readonly name = 'auto';

  ask(request: AskRequest): SearchPoint[] {
    if (request.budget !== undefined && request.budget <= 10) return new LatinHypercubeSampler().ask(request);
    const observed = request.history.filter((t) => t.state === 'complete' || t.state === 'pruned').length;
    if (observed > AUTO_BO_LIMIT) return new Nsga2Sampler({ populationSize: 50 }).ask(request);
    return new MoboSampler().ask(request);
  }
}
