/**
 * The ask/tell contract shared by every sampler. `ask` receives the whole history (pending
 * trials included), so a sampler keeps no state of its own: the same seed and history give
 * the same proposals, and a restarted scheduler continues identically.
 */
import type { Direction } from './pareto.js';
import { deriveRandom } from './random.js';
import type { SearchSpace } from './space.js';
import { pointKey, samplePoint } from './space.js';
import { predictFinal } from './pruners.js';
import type { IntermediateReport, SearchPoint } from './types.js';

/** One trial as the search sees it. */
export interface TrialObservation {
  number: number;
  point: SearchPoint;
  /** A pruned trial with `values` (its last report) counts as an observation like a complete one. */
  state: 'pending' | 'complete' | 'pruned' | 'failed';
  /** Raw objective values when complete or pruned (e.g. [metric, trainable params]). */
  values?: number[];
  /**
   * The intermediate reports of the metric (the first objective that is not computed). With
   * them, a pruned trial's metric is its final value predicted from its curve and those of the
   * complete trials (pruners.ts predictFinal) rather than its last report, which understates
   * every trial stopped early.
   */
  reports?: IntermediateReport[];
}

/** One objective of the study. */
export interface ObjectiveSpec {
  direction: Direction;
  /**
   * Computes the objective exactly from the point (e.g. trainable parameters in closed form).
   * A computed objective is never modelled, and samplers check its constraint before proposing.
   */
  compute?: (point: SearchPoint) => number;
  /** Constraint: the raw value must not exceed this (checked for computed objectives only). */
  max?: number;
}

/** The default objectives: maximise the task metric, minimise trainable parameters. */
export const DEFAULT_OBJECTIVES: readonly ObjectiveSpec[] = [{ direction: 'maximize' }, { direction: 'minimize' }];

/** What a sampler is asked. */
export interface AskRequest {
  space: SearchSpace;
  seed: number;
  history: TrialObservation[];
  /** Trial numbers the points are for, one point each. */
  numbers: number[];
  /** @defaultValue DEFAULT_OBJECTIVES (values[i] of the history belong to objectives[i]) */
  objectives?: readonly ObjectiveSpec[];
  /** Rejects points that cannot be built (e.g. every module off); they are never proposed. */
  isValid?: (point: SearchPoint) => boolean;
  /** Hypervolume reference point in raw units (default: the sampler's own; BO's is designReferencePoint in pareto.ts). */
  referencePoint?: number[];
  /** Total trials of the study, when known: sizes initial designs and populations. */
  budget?: number;
}

/** A search algorithm that proposes points from the history. */
export interface Sampler {
  readonly name: string;
  ask(request: AskRequest): SearchPoint[];
}

/** An observation in minimisation form. */
export interface Observed {
  number: number;
  point: SearchPoint;
  /** Objective values, all to be minimised (maximised ones negated; computed ones recomputed). */
  y: number[];
  /** Whether the values are a pruned trial's last report (a lower-fidelity observation). */
  pruned: boolean;
}

/** The per-ask view of a request that every sampler shares. */
export class AskContext {
  readonly objectives: readonly ObjectiveSpec[];
  readonly observed: Observed[] = [];
  readonly pending: TrialObservation[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly request: AskRequest) {
    this.objectives = request.objectives ?? DEFAULT_OBJECTIVES;
    const metric = this.objectives.findIndex((o) => !o.compute);
    const curves = request.history.filter((t) => t.state === 'complete' && t.reports && t.reports.length > 0).map((t) => ({ reports: t.reports! }));
    for (const trial of [...request.history].sort((a, b) => a.number - b.number)) {
      this.seen.add(pointKey(trial.point));
      if (trial.state === 'pending') this.pending.push(trial);
      else if (trial.state !== 'failed') {
        let values = trial.values;
        if (trial.state === 'pruned' && metric >= 0 && values && trial.reports?.length) {
          const prediction = predictFinal({ reports: trial.reports }, curves, this.objectives[metric]!.direction === 'maximize' ? 1 : -1);
          if (prediction) values = values.map((v, i) => (i === metric ? prediction.mean : v));
        }
        const y = this.objectiveVector(trial.point, values);
        if (y) this.observed.push({ number: trial.number, point: trial.point, y, pruned: trial.state === 'pruned' });
      }
    }
  }

  get space(): SearchSpace {
    return this.request.space;
  }

  /** Minimisation values of a point: computed objectives recomputed, the others taken from `values`. */
  objectiveVector(point: SearchPoint, values?: number[]): number[] | undefined {
    const y: number[] = [];
    for (const [i, objective] of this.objectives.entries()) {
      const raw = objective.compute ? objective.compute(point) : values?.[i];
      if (raw === undefined || !Number.isFinite(raw)) return undefined;
      y.push(objective.direction === 'maximize' ? -raw : raw);
    }
    return y;
  }

  /** Valid for the space's preset and within every constraint on computed objectives. */
  acceptable(point: SearchPoint): boolean {
    if (this.request.isValid && !this.request.isValid(point)) return false;
    for (const objective of this.objectives) {
      if (objective.compute && objective.max !== undefined && objective.compute(point) > objective.max) return false;
    }
    return true;
  }

  /** Whether the point is already in the history or proposed in this ask. */
  isSeen(point: SearchPoint): boolean {
    return this.seen.has(pointKey(point));
  }

  /** Records a proposal so later proposals of this ask avoid it. */
  propose(point: SearchPoint): SearchPoint {
    this.seen.add(pointKey(point));
    return point;
  }

  /**
   * An acceptable point not yet seen, drawn from `random`; after `tries` draws it settles for
   * an acceptable duplicate (small discrete spaces run out).
   * @throws RangeError when no acceptable point turns up at all.
   */
  randomPoint(random: () => number, tries = 2000): SearchPoint {
    let fallback: SearchPoint | undefined;
    for (let i = 0; i < tries; i++) {
      const point = samplePoint(this.space, random);
      if (!this.acceptable(point)) continue;
      if (!this.isSeen(point)) return point;
      fallback ??= point;
    }
    if (fallback) return fallback;
    throw new RangeError(`no valid point found in ${tries} random draws; the space or its constraints admit (almost) nothing`);
  }

  /** The stream of random numbers for one purpose of one trial. */
  stream(algorithm: string, number: number, ...keys: (string | number)[]): () => number {
    return deriveRandom(this.request.seed, algorithm, number, ...keys);
  }
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
export function permutation(n: number, random: () => number): number[] {
  const items = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

