/**
 * Regularized (aging) evolution (Real et al. 2019) for several objectives, stateless: the
 * population is the P most recent observed trials before the one being proposed (older ones
 * age out); a tournament of S random members picks the parent by Pareto rank within the
 * population (ties by a per-trial random Chebyshev scalarisation), and the child mutates it.
 */
import type { AskRequest, Sampler } from '../ask.js';
import { AskContext } from '../ask.js';
import { mutate } from '../mutation.js';
import { nonDominatedSort } from '../pareto.js';
import type { SearchPoint } from '../types.js';
import { latinHypercubePoint } from './random.js';

/** Options of regularized evolution. */
export interface EvolutionOptions {
  /** Population size P. @defaultValue budget / 5 clamped to [8, 50], else 20 */
  populationSize?: number;
  /** Tournament size S. @defaultValue max(2, P / 4) */
  sampleSize?: number;
}

/** Regularized evolution over mixed spaces. */
export class RegularizedEvolutionSampler implements Sampler {
  readonly name = 'evolution';
  constructor(private readonly options: EvolutionOptions = {}) {}

  ask(request: AskRequest): SearchPoint[] {
    const context = new AskContext(request);
    const size = this.options.populationSize ?? (request.budget ? Math.min(50, Math.max(8, Math.round(request.budget / 5))) : 20);
    const sampleSize = this.options.sampleSize ?? Math.max(2, Math.round(size / 4));
    return request.numbers.map((number) => {
      const population = context.observed.filter((o) => o.number < number).slice(-size);
      if (number < size || population.length < 2) return context.propose(latinHypercubePoint(context, number, size, 'evolution-init'));
      const random = context.stream('evolution', number);
      const rank = new Map<number, number>();
      for (const [r, front] of nonDominatedSort(population.map((p) => p.y)).entries()) for (const i of front) rank.set(i, r);
      // Chebyshev scalarisation on normalised objectives with weights drawn for this trial.
      const m = population[0]!.y.length;
      const lo = Array.from({ length: m }, (_, d) => Math.min(...population.map((p) => p.y[d]!)));
      const hi = Array.from({ length: m }, (_, d) => Math.max(...population.map((p) => p.y[d]!)));
      const weights = Array.from({ length: m }, () => random() + 1e-3);
      const scalar = (i: number): number =>
        Math.max(...population[i]!.y.map((v, d) => (weights[d]! * (v - lo[d]!)) / (hi[d]! - lo[d]! || 1)));
      const rate = 1 / Math.max(1, Object.keys(context.space).length);
      for (let attempt = 0; attempt < 100; attempt++) {
        let parent = -1;
        for (let s = 0; s < sampleSize; s++) {
          const i = Math.floor(random() * population.length);
          if (parent < 0 || rank.get(i)! < rank.get(parent)! || (rank.get(i) === rank.get(parent) && scalar(i) < scalar(parent))) parent = i;
        }
        const child = mutate(context.space, population[parent]!.point, random, rate, 0.15);
        if (context.acceptable(child) && !context.isSeen(child)) return context.propose(child);
      }
      return context.propose(context.randomPoint(random));
    });
  }
}
