/**
 * Multi-objective Bayesian optimisation. One GP (Matérn-5/2 ARD, fitted hyperparameters) per
 * objective that is not computed; objectives with a closed form (trainable parameters) enter
 * exactly. The acquisition is the exact expected hypervolume improvement (see ehvi.ts); with
 * one modelled objective it is a 1-D integral over the metric. Pending trials and earlier
 * picks of the same batch are fantasised at their posterior mean (kriging believer). The
 * acquisition is optimised by random candidates plus local search from the Pareto points and
 * the best candidates. The first trials come from a Latin hypercube.
 */
import type { AskRequest, Sampler } from '../ask.js';
import { AskContext } from '../ask.js';
import type { PointEncoder } from '../encoding.js';
import { createEncoder } from '../encoding.js';
import { HypervolumeImprovement } from '../ehvi.js';
import type { GaussianProcess } from '../gp.js';
import { fitGaussianProcess } from '../gp.js';
import { neighbour } from '../mutation.js';
import { defaultReferencePoint, paretoFront, toMinimization } from '../pareto.js';
import { samplePoint } from '../space.js';
import type { SearchPoint } from '../types.js';
import { latinHypercubePoint } from './random.js';

/** Options of the BO sampler. */
export interface BoOptions {
  /** Trials from the Latin-hypercube design before the GP takes over. @defaultValue parameters + 1, clamped to [5, 10] */
  initialTrials?: number;
  /** Acquisition evaluations per proposal (scaled down for large histories). @defaultValue 1500 */
  evaluations?: number;
  /** Points used to fit GP hyperparameters. @defaultValue 64 */
  maxFitPoints?: number;
  /** Adam steps per start of the hyperparameter fit. @defaultValue 60 */
  fitIterations?: number;
  /**
   * Extra noise variance (in standard deviations² of the metric) of a pruned trial's value:
   * it still pulls the model down, but less than a finished trial. @defaultValue 0.25
   */
  prunedNoise?: number;
}

/** The fitted surrogate state of one ask. */
class Surrogate {
  private readonly models = new Map<number, GaussianProcess>();
  private readonly front: number[][] = [];
  private improvement: HypervolumeImprovement;
  readonly reference: number[];

  constructor(
    private readonly context: AskContext,
    private readonly encoder: PointEncoder,
    options: BoOptions,
  ) {
    const observed = context.observed;
    const inputs = observed.map((o) => encoder.encode(o.point));
    for (const [d, objective] of context.objectives.entries()) {
      if (objective.compute) continue;
      const gp = fitGaussianProcess(
        inputs,
        observed.map((o) => o.y[d]!),
        { maxFitPoints: options.maxFitPoints ?? 64, iterations: options.fitIterations ?? 60 },
        observed.map((o) => (o.pruned ? (options.prunedNoise ?? 0.25) : 0)),
      );
      this.models.set(d, gp);
    }
    const raw = context.request.referencePoint;
    this.reference = raw ? toMinimization(raw, context.objectives.map((o) => o.direction)) : defaultReferencePoint(observed.map((o) => o.y));
    // The front uses posterior means for modelled objectives, which damps lucky noise.
    for (const [i, o] of observed.entries()) this.front.push(o.y.map((v, d) => this.models.get(d)?.predict(inputs[i]!).mean ?? v));
    for (const trial of context.pending) this.fantasise(trial.point, false);
    this.improvement = new HypervolumeImprovement(this.front, this.reference);
  }

  /** Conditions every model on its posterior mean at `point` (kriging believer). */
  fantasise(point: SearchPoint, rebuild = true): void {
    const x = this.encoder.encode(point);
    const vector = this.computed(point);
    for (const [d, gp] of this.models) {
      const mean = gp.predict(x).mean;
      vector[d] = mean;
      gp.addObservation(x, mean);
    }
    this.front.push(vector);
    if (rebuild) this.improvement = new HypervolumeImprovement(this.front, this.reference);
  }

  private computed(point: SearchPoint): number[] {
    return this.context.objectives.map((o) => (o.compute ? (o.direction === 'maximize' ? -o.compute(point) : o.compute(point)) : 0));
  }

  /** Expected hypervolume improvement of a point, and the summed posterior deviation. */
  acquisition(point: SearchPoint): { value: number; spread: number } {
    const mean = this.computed(point);
    const sd = mean.map(() => 0);
    for (let d = 0; d < mean.length; d++) if (sd[d] === 0 && !this.models.has(d) && mean[d]! >= this.reference[d]!) return { value: 0, spread: 0 };
    const x = this.encoder.encode(point);
    let spread = 0;
    for (const [d, gp] of this.models) {
      const p = gp.predict(x);
      mean[d] = p.mean;
      sd[d] = Math.sqrt(p.variance);
      spread += sd[d]!;
    }
    return { value: this.improvement.expected(mean, sd), spread };
  }

  /** Points of the observed Pareto front. */
  paretoPoints(): SearchPoint[] {
    const observed = this.context.observed;
    return paretoFront(observed.map((o) => o.y)).map((i) => observed[i]!.point);
  }

  /** Number of conditioning points of the models. */
  conditioningSize(): number {
    return this.front.length;
  }
}

/** GP-based multi-objective BO with exact EHVI. */
export class MoboSampler implements Sampler {
  readonly name = 'bo';
  constructor(private readonly options: BoOptions = {}) {}

  ask(request: AskRequest): SearchPoint[] {
    const context = new AskContext(request);
    const parameters = Object.keys(request.space).length;
    const initial = this.options.initialTrials ?? Math.min(10, Math.max(5, parameters + 1));
    const encoder = createEncoder(request.space);
    let surrogate: Surrogate | undefined;
    return request.numbers.map((number) => {
      if (number < initial || context.observed.length < 2) return context.propose(latinHypercubePoint(context, number, initial, 'bo-init'));
      surrogate ??= new Surrogate(context, encoder, this.options);
      const point = this.optimise(context, surrogate, encoder, number);
      context.propose(point);
      surrogate.fantasise(point);
      return point;
    });
  }

  private optimise(context: AskContext, surrogate: Surrogate, encoder: PointEncoder, number: number): SearchPoint {
    const random = context.stream('bo', number);
    const n = surrogate.conditioningSize();
    const modelled = context.objectives.filter((o) => !o.compute).length;
    const cost = Math.max(1, modelled) * (n * n * 0.5 + n * encoder.dims);
    const budget = Math.round(Math.min(this.options.evaluations ?? 1500, Math.max(300, 6e7 / cost)));
    let evaluations = 0;
    let best: { point: SearchPoint; value: number; spread: number } | undefined;
    const evaluate = (point: SearchPoint): number => {
      if (!context.acceptable(point) || context.isSeen(point)) return -1;
      evaluations++;
      const { value, spread } = surrogate.acquisition(point);
      if (!best || value > best.value || (value === best.value && spread > best.spread)) best = { point, value, spread };
      return value;
    };
    const pool: { point: SearchPoint; value: number }[] = [];
    for (let i = 0; i < budget * 0.4 && evaluations < budget * 0.4; i++) {
      const point = samplePoint(context.space, random);
      const value = evaluate(point);
      if (value >= 0) pool.push({ point, value });
    }
    pool.sort((a, b) => b.value - a.value);
    const front = surrogate.paretoPoints();
    const starts = [
      ...pool.slice(0, 5).map((c) => ({ point: c.point, value: c.value })),
      ...Array.from({ length: Math.min(6, front.length) }, () => ({ point: front[Math.floor(random() * front.length)]!, value: 0 })),
    ];
    let round = 0;
    while (evaluations < budget && starts.length > 0) {
      const start = starts[round++ % starts.length]!;
      let current = start;
      let stalls = 0;
      while (evaluations < budget && stalls < 2) {
        let moved = false;
        for (let k = 0; k < 12 && evaluations < budget; k++) {
          const candidate = neighbour(context.space, current.point, random, 0.1);
          const value = evaluate(candidate);
          if (value > current.value) {
            current = { point: candidate, value };
            moved = true;
          }
        }
        stalls = moved ? 0 : stalls + 1;
      }
      if (round > 50) break;
    }
    // With no expected improvement anywhere, `best` is the candidate the models know least.
    return best ? best.point : context.randomPoint(random);
  }
}
