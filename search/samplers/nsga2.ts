/**
 * NSGA-II (Deb et al. 2002), stateless: trial n belongs to generation ⌊n / P⌋. The parent
 * population of generation g is rebuilt from the history by replaying elitist survival
 * (non-dominated rank, then crowding distance) over generations 1..g, so any replica that sees
 * the same history proposes the same children. Generation 0 is a Latin hypercube.
 */
import type { AskRequest, Observed, Sampler } from '../ask.js';
import { AskContext } from '../ask.js';
import { crossover, mutate } from '../mutation.js';
import { crowdingDistance, nonDominatedSort } from '../pareto.js';
import type { SearchPoint } from '../types.js';
import { latinHypercubePoint } from './random.js';

/** Options of NSGA-II. */
export interface Nsga2Options {
  /** Population size P. @defaultValue budget / 5 clamped to [8, 50], else 20 */
  populationSize?: number;
  /** Probability of crossover (else the child copies one parent before mutation). @defaultValue 0.9 */
  crossoverProbability?: number;
}

interface Ranked {
  member: Observed;
  rank: number;
  crowding: number;
}

/** Elitist survival: the best `size` by non-dominated rank, ties by crowding distance. */
export function selectSurvivors(candidates: readonly Observed[], size: number): Ranked[] {
  const points = candidates.map((c) => c.y);
  const survivors: Ranked[] = [];
  for (const [rank, front] of nonDominatedSort(points).entries()) {
    const crowding = crowdingDistance(points, front);
    const ranked = front.map((i) => ({ member: candidates[i]!, rank, crowding: crowding.get(i)! }));
    if (survivors.length + ranked.length <= size) survivors.push(...ranked);
    else {
      ranked.sort((a, b) => b.crowding - a.crowding || a.member.number - b.member.number);
      survivors.push(...ranked.slice(0, size - survivors.length));
    }
    if (survivors.length >= size) break;
  }
  return survivors;
}

/** The population size used for a budget. */
export function defaultPopulationSize(budget: number | undefined): number {
  return budget ? Math.min(50, Math.max(8, Math.round(budget / 5))) : 20;
}

/** NSGA-II over mixed spaces: binary tournaments, uniform crossover, per-parameter mutation. */
export class Nsga2Sampler implements Sampler {
  readonly name = 'nsga2';
  constructor(private readonly options: Nsga2Options = {}) {}

  ask(request: AskRequest): SearchPoint[] {
    const context = new AskContext(request);
    const size = this.options.populationSize ?? defaultPopulationSize(request.budget);
    const crossoverProbability = this.options.crossoverProbability ?? 0.9;
    const populations = new Map<number, Ranked[]>();
    const population = (generation: number): Ranked[] => {
      let parents: Ranked[] = [];
      for (let g = 1; g <= generation; g++) {
        const cached = populations.get(g);
        if (cached) {
          parents = cached;
          continue;
        }
        const offspring = context.observed.filter((o) => o.number >= (g - 1) * size && o.number < g * size);
        parents = selectSurvivors([...parents.map((p) => p.member), ...offspring], size);
        populations.set(g, parents);
      }
      return parents;
    };
    return request.numbers.map((number) => {
      const parents = population(Math.floor(number / size));
      if (parents.length < 2) return context.propose(latinHypercubePoint(context, number, size, 'nsga2-init'));
      const random = context.stream('nsga2', number);
      const tournament = (): Ranked => {
        const a = parents[Math.floor(random() * parents.length)]!;
        const b = parents[Math.floor(random() * parents.length)]!;
        if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
        if (a.crowding !== b.crowding) return a.crowding > b.crowding ? a : b;
        return random() < 0.5 ? a : b;
      };
      const rate = 1 / Math.max(1, Object.keys(context.space).length);
      for (let attempt = 0; attempt < 100; attempt++) {
        const first = tournament().member.point;
        const second = tournament().member.point;
        const base = random() < crossoverProbability ? crossover(context.space, first, second, random) : first;
        const child = mutate(context.space, base, random, rate, 0.1);
        if (context.acceptable(child) && !context.isSeen(child)) return context.propose(child);
      }
      return context.propose(context.randomPoint(random));
    });
  }
}
