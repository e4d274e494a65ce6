/**
 * Multi-objective Bayesian optimisation. One GP (Matérn-5/2 ARD plus a diagonal quadratic mean
 * whose coefficients are integrated out; fitted hyperparameters) per objective that is not
 * computed; objectives with a closed form (trainable parameters) enter exactly. The acquisition is the exact expected hypervolume improvement (see ehvi.ts); with
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
import type { FactorCache } from '../gp.js';
import { GaussianProcess, fitHyperparameters, outputScale } from '../gp.js';
import { neighbour } from '../mutation.js';
import { designReferencePoint, paretoFront, toMinimization } from '../pareto.js';
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
  /**
   * Extra noise variance (in standard deviations² of the metric) of a prior observation (a
   * warm start's trial of another study, numbered below 0): it measured a related problem, not
   * this one. 1 gave a warm-started DTLZ2 more at 25 and 50 trials but less at 10, and PEFT more
   * at 50 only (BENCHMARKS.md), so the default leaves priors as they are. @defaultValue 0
   */
  priorNoise?: number;
  /**
   * Hyperparameters are refitted when the observations have grown by this fraction since the
   * last refit (at least one observation); in between, the GP is extended incrementally with
   * the last fit's hyperparameters. 0 refits at every ask. @defaultValue 0.05
   */
  refitFraction?: number;
  /**
   * Above this many conditioning points the acquisition takes its variance from the
   * `neighbours` nearest points (its mean stays exact), which keeps an evaluation O(n).
   * @defaultValue 200
   */
  exactVarianceLimit?: number;
  /** Conditioning points of the local variance. @defaultValue 32 */
  neighbours?: number;
  /**
   * The acquisition while no observed point lies inside the reference box. 'log' (default)
   * ranks by the log of the box volume a candidate is expected to dominate, which orders
   * candidates as the plain improvement does wherever that does not underflow; where even the
   * log underflows for every candidate (the model is sure every candidate misses the box), its
   * tail would rank by variance alone, so that proposal improves the front against a moving
   * reference instead. 'moving' always uses the moving reference (the front's nadir plus 10 %
   * of its range) until the box is entered: measured worse (BENCHMARKS.md). 'none': the plain
   * improvement, ties to the largest variance. @defaultValue 'log'
   */
  outsideBox?: 'moving' | 'log' | 'none';
  /**
   * Prior variance (relative to the signal) of the coefficients of a diagonal quadratic mean
   * (per input: linear and squared terms) added to each GP. Without it, an input whose effect
   * is a small bowl gets a long lengthscale from few points, the model is flat along it, and
   * the acquisition sends it to a bound (BENCHMARKS.md: DTLZ2 at 25 evaluations 0.10 against
   * 0.51 with it). 0 turns it off. @defaultValue 1
   */
  quadraticMean?: number;
  /** Memo of Cholesky factors across asks; `null` factorises from scratch. @defaultValue sharedFactorCache */
  factorCache?: FactorCache | null;
}

/**
 * The number of observations whose hyperparameter fit serves `n` observations: the largest
 * r ≤ n of the schedule r₀ = 1, r_{j+1} = r_j + max(1, ⌊fraction · r_j⌋). A pure function of
 * n, so a restarted scheduler refits exactly where an uninterrupted one would.
 */
export function refitSize(n: number, fraction: number): number {
  if (fraction <= 0 || n <= 1) return n;
  let r = 1;
  for (;;) {
    const next = r + Math.max(1, Math.floor(fraction * r));
    if (next > n) return r;
    r = next;
  }
}

/** The fitted surrogate state of one ask. */
class Surrogate {
  private readonly models = new Map<number, GaussianProcess>();
  private readonly front: number[][] = [];
  private improvement: HypervolumeImprovement;
  private readonly neighbours: number;
  /** Whether the acquisition uses the local variance (large conditioning sets). */
  readonly local: () => boolean;
  readonly reference: number[];
  /** The reference the acquisition uses (see BoOptions.outsideBox). */
  private acquisitionReference: number[] = [];

  constructor(
    private readonly context: AskContext,
    private readonly encoder: PointEncoder,
    private readonly options: BoOptions,
  ) {
    const observed = context.observed;
    const inputs = observed.map((o) => encoder.encode(o.point));
    const extraNoise = observed.map((o) => (o.pruned ? (options.prunedNoise ?? 0.25) : 0) + (o.number < 0 ? (options.priorNoise ?? 0) : 0));
    const fitted = refitSize(observed.length, options.refitFraction ?? 0.05);
    for (const [d, objective] of context.objectives.entries()) {
      if (objective.compute) continue;
      const y = observed.map((o) => o.y[d]!);
      const hyper = fitHyperparameters(inputs.slice(0, fitted), y.slice(0, fitted), { maxFitPoints: options.maxFitPoints ?? 64, iterations: options.fitIterations ?? 60, basis: options.quadraticMean ?? 1 }, extraNoise.slice(0, fitted));
      const { mean, std } = outputScale(y);
      this.models.set(d, new GaussianProcess(inputs, y, hyper, mean, std, { extraNoise, ...(options.factorCache !== undefined ? { cache: options.factorCache } : {}) }));
    }
    this.neighbours = options.neighbours ?? 32;
    this.local = () => this.front.length > (options.exactVarianceLimit ?? 200);
    const raw = context.request.referencePoint;
    this.reference = raw ? toMinimization(raw, context.objectives.map((o) => o.direction)) : designReferencePoint(observed.map((o) => o.y));
    // The front uses posterior means for modelled objectives, which damps lucky noise.
    for (const [i, o] of observed.entries()) this.front.push(o.y.map((v, d) => this.models.get(d)?.meanAt(i) ?? v));
    for (const trial of context.pending) this.fantasise(trial.point, false);
    this.improvement = this.rebuild();
  }

  /** Whether the moving reference is in force for this ask (see BoOptions.outsideBox). */
  private moving = false;

  /**
   * Switches to the moving reference for the rest of this ask. Returns false if it changes
   * nothing (the box is entered, or it is already on).
   */
  useMovingReference(): boolean {
    if (this.moving || this.improvement.boxEntered) return false;
    this.moving = true;
    this.improvement = this.rebuild();
    return true;
  }

  private rebuild(): HypervolumeImprovement {
    this.acquisitionReference = this.reference;
    const inside = this.front.some((p) => p.every((v, d) => v < this.reference[d]!));
    if (!inside && (this.options.outsideBox === 'moving' || this.moving)) {
      const front = paretoFront(this.front).map((i) => this.front[i]!);
      this.acquisitionReference = this.reference.map((r, d) => {
        const column = front.map((p) => p[d]!);
        const hi = Math.max(...column);
        const range = hi - Math.min(...column);
        return Math.max(r, hi + 0.1 * (range > 0 ? range : Math.abs(hi) > 0 ? Math.abs(hi) : 1));
      });
    }
    return new HypervolumeImprovement(this.front, this.acquisitionReference);
  }

  /** Conditions every model on its posterior mean at `point` (kriging believer). */
  fantasise(point: SearchPoint, rebuild = true): void {
    const x = this.encoder.encode(point);
    const vector = this.computed(point);
    for (const [d, gp] of this.models) {
      const mean = gp.predictMean(x);
      vector[d] = mean;
      gp.addObservation(x, mean);
    }
    this.front.push(vector);
    if (rebuild) this.improvement = this.rebuild();
  }

  private computed(point: SearchPoint): number[] {
    return this.context.objectives.map((o) => (o.compute ? (o.direction === 'maximize' ? -o.compute(point) : o.compute(point)) : 0));
  }

  /**
   * The acquisition of a point and its summed posterior deviation: the expected hypervolume
   * improvement, or while no observed point lies inside the reference box its logarithm
   * (see HypervolumeImprovement.logExpected), which keeps ranking candidates where the
   * improvement underflows to 0 everywhere. -Infinity: no improvement possible.
   */
  acquisition(point: SearchPoint): { value: number; spread: number } {
    const mean = this.computed(point);
    const sd = mean.map(() => 0);
    for (let d = 0; d < mean.length; d++) if (!this.models.has(d) && mean[d]! >= this.acquisitionReference[d]!) return { value: -Infinity, spread: 0 };
    const x = this.encoder.encode(point);
    let spread = 0;
    const local = this.local();
    for (const [d, gp] of this.models) {
      const p = local ? gp.predictLocal(x, this.neighbours) : gp.predict(x);
      mean[d] = p.mean;
      sd[d] = Math.sqrt(p.variance);
      spread += sd[d]!;
    }
    if (!this.improvement.boxEntered && (this.options.outsideBox ?? 'log') === 'log') return { value: this.improvement.logExpected(mean, sd), spread };
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
    // Prior observations (negative numbers, a warm start) count toward the initial design.
    const priors = request.history.filter((t) => t.number < 0 && t.state !== 'pending' && t.state !== 'failed').length;
    const initial = Math.max(0, (this.options.initialTrials ?? Math.min(10, Math.max(5, parameters + 1))) - priors);
    const encoder = createEncoder(request.space);
    let surrogate: Surrogate | undefined;
    return request.numbers.map((number, k) => {
      if (number < initial || context.observed.length < 2) return context.propose(latinHypercubePoint(context, number, initial, 'bo-init'));
      surrogate ??= new Surrogate(context, encoder, this.options);
      const first = this.optimise(context, surrogate, encoder, number);
      let point = first.point;
      // Outside the box and even the log improvement underflowed for every candidate: the tail
      // would rank by variance alone (corners); improve the front against a moving reference.
      if (first.value < -700 && (this.options.outsideBox ?? 'log') === 'log' && surrogate.useMovingReference()) point = this.optimise(context, surrogate, encoder, number).point;
      context.propose(point);
      // The last pick of the batch conditions nothing after it.
      if (k + 1 < request.numbers.length) surrogate.fantasise(point);
      return point;
    });
  }

  private optimise(context: AskContext, surrogate: Surrogate, encoder: PointEncoder, number: number): { point: SearchPoint; value: number } {
    const random = context.stream('bo', number);
    const n = surrogate.conditioningSize();
    const modelled = context.objectives.filter((o) => !o.compute).length;
    // Flops of one acquisition evaluation, to keep an ask's time bounded as the history grows.
    // A kernel evaluation (distance, sqrt, exp) counts as dims + 20.
    const k = this.options.neighbours ?? 32;
    const kernel = encoder.dims + 20;
    // The quadratic mean's features add a dot product of 2·dims to each kernel the exact
    // variance computes (the local variance pays it on its k points only, and the mean never).
    const basis = (this.options.quadraticMean ?? 1) > 0 ? 2 * encoder.dims : 0;
    const perModel = surrogate.local() ? n * kernel + (k * k * kernel) / 2 + k ** 3 / 6 : n * n * 0.5 + n * (kernel + basis);
    const cost = Math.max(1, modelled) * perModel;
    // About 6·10⁷ flops per ask with exact variances; half that with local ones, whose evaluations
    // cost less but sit in large histories where the rest of the ask (AskContext, factor update) grows too.
    // The floor of 200 binds only beyond 1,200 observations with 3 modelled objectives (300 bound
    // from 560 on with 3, which kept the 3-objective ask over 200 ms at 1,000; BENCHMARKS.md).
    const budget = Math.round(Math.min(this.options.evaluations ?? 1500, Math.max(200, (surrogate.local() ? 3e7 : 6e7) / cost)));
    let evaluations = 0;
    let best: { point: SearchPoint; value: number; spread: number } | undefined;
    const evaluate = (point: SearchPoint): number => {
      if (!context.acceptable(point) || context.isSeen(point)) return -Infinity;
      evaluations++;
      const { value, spread } = surrogate.acquisition(point);
      if (!best || value > best.value || (value === best.value && spread > best.spread)) best = { point, value, spread };
      return value;
    };
    const pool: { point: SearchPoint; value: number }[] = [];
    for (let i = 0; i < budget * 0.4 && evaluations < budget * 0.4; i++) {
      const point = samplePoint(context.space, random);
      const value = evaluate(point);
      if (value > -Infinity) pool.push({ point, value });
    }
    pool.sort((a, b) => b.value - a.value);
    const front = surrogate.paretoPoints();
    const starts = [
      ...pool.slice(0, 5).map((c) => ({ point: c.point, value: c.value })),
      ...Array.from({ length: Math.min(6, front.length) }, () => ({ point: front[Math.floor(random() * front.length)]!, value: -Infinity })),
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
    return best ? { point: best.point, value: best.value } : { point: context.randomPoint(random), value: -Infinity };
  }
}
