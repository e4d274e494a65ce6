/**
 * Pruners: pure decisions whether a running trial should stop, from its intermediate reports
 * and those of every other trial (Optuna-like: one question, no state). A pruned trial keeps
 * its last report, which the samplers then use as its observed metric.
 *
 * Rungs (successive halving, ASHA, Hyperband): with minimum resource r, reduction factor η and
 * minimum early-stopping rate s, rung k sits at step r·η^(s+k). A trial reaches rung k with
 * its first report at a step ≥ that; its value there is its rung-k value. A trial is judged
 * against the rung-k values of the other trials (running, complete or pruned).
 *
 * Curve dominance (`paretoCurve`): the complete trials' curves give a regression of the final
 * (best) value on a partial curve (its value at the step, and its last rise), with the spread of
 * its leave-one-out errors; a trial stops when even an optimistic prediction of its final value,
 * paired with its known cost, is dominated by a complete trial (as good or better, at no more
 * cost). It never stops a trial that could still extend the front, which is what the search
 * keeps; ranking rungs do.
 */
import { nonDominatedSort } from './pareto.js';
import type { IntermediateReport } from './types.js';

/** A trial as a pruner sees it. */
export interface TrialReports {
  number: number;
  state: 'running' | 'complete' | 'pruned' | 'failed';
  /** Intermediate evaluations in step order. */
  reports: IntermediateReport[];
  /** The trial's known cost (e.g. trainable parameters), used by Pareto-aware rungs. */
  cost?: number;
}

interface Common {
  /** @defaultValue 'maximize' */
  direction?: 'maximize' | 'minimize';
}

interface RungCommon extends Common {
  /** Step of the first rung (before the early-stopping rate is applied). */
  minResource: number;
  /** η: about one trial in η goes on at each rung. @defaultValue 3 */
  reductionFactor?: number;
  /**
   * 'metric' ranks rung values alone; 'pareto' ranks (value, cost) by non-dominated sorting
   * (then value), so cheap trials with a lower metric are not all stopped. @defaultValue 'metric'
   */
  rank?: 'metric' | 'pareto';
}

/** Configuration of a pruner (a tagged union as in the study spec). */
export type PrunerConfig =
  | { type: 'none' }
  | (Common & {
      type: 'median';
      /** Reports before this step never prune. @defaultValue 0 */
      warmupSteps?: number;
      /** Other finished (complete or pruned) trials needed before pruning. @defaultValue 5 */
      minTrials?: number;
    })
  | (RungCommon & {
      /**
       * Synchronous successive halving, decided lazily: trials form cohorts of `bracketSize`
       * consecutive numbers; at rung k a trial is stopped once at least ⌊bracketSize / η^(k+1)⌋
       * (≥ 1) cohort members have a better rung-k value, i.e. exactly when synchronous SH would
       * not promote it. Until then it runs on.
       */
      type: 'successiveHalving';
      bracketSize: number;
      minEarlyStoppingRate?: number;
    })
  | (RungCommon & {
      /**
       * ASHA: at each newly reached rung the trial goes on only if it is in the top
       * max(1, ⌊n / η⌋) of the n rung values recorded so far (itself included).
       */
      type: 'asha';
      minEarlyStoppingRate?: number;
      /** No pruning at a rung before this many trials have reached it. @defaultValue 0 */
      bootstrapCount?: number;
    })
  | (Common & {
      /**
       * Curve dominance: stop a trial once (predicted final + optimism · sd, cost) is dominated
       * by a complete trial's (final, cost). Costs missing count as equal (then it is "cannot
       * beat the best complete trial").
       */
      type: 'paretoCurve';
      /** Reports before this step never prune. @defaultValue 0 */
      minResource?: number;
      /** Complete trials with curves needed before pruning (at least 3). @defaultValue 4 */
      minTrials?: number;
      /** Standard deviations of the prediction added before comparing. @defaultValue 2 */
      optimism?: number;
    })
  | (RungCommon & {
      /**
       * Hyperband: brackets s = 0..⌊log_η(maxResource / minResource)⌋, each ASHA with early-
       * stopping rate s; trial n joins a bracket by n modulo the total, in proportion to
       * Hyperband's bracket sizes ⌈(s_max + 1) η^(s_max−s) / (s_max − s + 1)⌉, and competes within it only.
       */
      type: 'hyperband';
      maxResource: number;
    });

/** A pruner's kind. */
export type PrunerType = PrunerConfig['type'];

/** A config that cannot work; `field` names the culprit. */
export class InvalidPrunerError extends Error {
  override readonly name = 'InvalidPrunerError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** Checks a pruner config; throws InvalidPrunerError naming the first problem. */
export function validatePruner(config: PrunerConfig): void {
  if (config.type === 'paretoCurve') {
    if (config.minTrials !== undefined && !(config.minTrials >= 3)) throw new InvalidPrunerError('minTrials', `must be >= 3, but got ${config.minTrials}`);
    if (config.optimism !== undefined && !(config.optimism >= 0)) throw new InvalidPrunerError('optimism', `must be >= 0, but got ${config.optimism}`);
    if (config.minResource !== undefined && !(config.minResource >= 0)) throw new InvalidPrunerError('minResource', `must be >= 0, but got ${config.minResource}`);
    return;
  }
  if (config.type === 'none' || config.type === 'median') {
    if (config.type === 'median' && config.minTrials !== undefined && !(config.minTrials >= 1)) throw new InvalidPrunerError('minTrials', `must be >= 1, but got ${config.minTrials}`);
    return;
  }
  if (!(config.minResource >= 1)) throw new InvalidPrunerError('minResource', `must be >= 1, but got ${config.minResource}`);
  if (config.reductionFactor !== undefined && !(config.reductionFactor >= 2)) {
    throw new InvalidPrunerError('reductionFactor', `must be >= 2, but got ${config.reductionFactor}`);
  }
  if (config.type === 'successiveHalving' && !(config.bracketSize >= 2)) throw new InvalidPrunerError('bracketSize', `must be >= 2, but got ${config.bracketSize}`);
  if (config.type === 'hyperband' && !(config.maxResource > config.minResource)) {
    throw new InvalidPrunerError('maxResource', `must exceed minResource (${config.minResource}), but got ${config.maxResource}`);
  }
}

/** The value a pruned trial keeps: its last report. */
export function lastReportValue(trial: Pick<TrialReports, 'reports'>): number | undefined {
  return trial.reports[trial.reports.length - 1]?.value;
}

/** Should `trial` (running, with a new report) stop now? `trials` may include `trial` itself. */
export function shouldPrune(trial: TrialReports, trials: readonly TrialReports[], config: PrunerConfig): boolean {
  if (trial.reports.length === 0) return false;
  const others = trials.filter((t) => t.number !== trial.number && t.state !== 'failed');
  const sign = config.type !== 'none' && config.direction === 'minimize' ? -1 : 1;
  switch (config.type) {
    case 'none':
      return false;
    case 'median':
      return medianRule(trial, others, config.warmupSteps ?? 0, config.minTrials ?? 5, sign);
    case 'asha':
      return asha(trial, others, config, config.minEarlyStoppingRate ?? 0, sign);
    case 'successiveHalving':
      return successiveHalving(trial, others, config, sign);
    case 'paretoCurve':
      return curveDominated(trial, others, config, sign);
    case 'hyperband': {
      const bracket = hyperbandBracket(trial.number, config);
      const peers = others.filter((t) => hyperbandBracket(t.number, config) === bracket);
      return asha(trial, peers, config, bracket, sign);
    }
  }
}

function medianRule(trial: TrialReports, others: readonly TrialReports[], warmup: number, minTrials: number, sign: number): boolean {
  const step = trial.reports[trial.reports.length - 1]!.step;
  if (step < warmup) return false;
  const bestUpTo = (t: TrialReports): number | undefined => {
    const values = t.reports.filter((r) => r.step <= step).map((r) => sign * r.value);
    return values.length ? Math.max(...values) : undefined;
  };
  const finished = others.filter((t) => t.state === 'complete' || t.state === 'pruned');
  if (finished.length < minTrials) return false;
  const values = others.map(bestUpTo).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (values.length < minTrials) return false;
  const mid = values.length / 2;
  const median = values.length % 2 ? values[Math.floor(mid)]! : (values[mid - 1]! + values[mid]!) / 2;
  return bestUpTo(trial)! < median;
}

function rungStep(config: RungCommon, rate: number, k: number): number {
  return config.minResource * (config.reductionFactor ?? 3) ** (rate + k);
}

/** A trial's value at each rung it reached (index = rung). */
function rungValues(trial: TrialReports, config: RungCommon, rate: number, sign: number): number[] {
  const values: number[] = [];
  for (let k = 0; ; k++) {
    const at = trial.reports.find((r) => r.step >= rungStep(config, rate, k));
    if (!at) return values;
    values.push(sign * at.value);
  }
}

interface RungRecord {
  value: number;
  cost: number;
  self: boolean;
}

/** Position of the trial's record among the rung's records (0 = best), by value or Pareto rank. */
function position(records: RungRecord[], rank: 'metric' | 'pareto'): { index: number; better: number } {
  const order = records.map((_, i) => i);
  if (rank === 'pareto') {
    const fronts = nonDominatedSort(records.map((r) => [-r.value, r.cost]));
    const frontOf = new Map<number, number>();
    fronts.forEach((front, f) => front.forEach((i) => frontOf.set(i, f)));
    order.sort((a, b) => frontOf.get(a)! - frontOf.get(b)! || records[b]!.value - records[a]!.value);
    const self = records.findIndex((r) => r.self);
    const better = records.filter((_, i) => frontOf.get(i)! < frontOf.get(self)! || (frontOf.get(i) === frontOf.get(self) && records[i]!.value > records[self]!.value)).length;
    // A record no other record dominates always goes on: it may extend the front.
    return { index: frontOf.get(self) === 0 ? 0 : order.indexOf(self), better: frontOf.get(self) === 0 ? 0 : better };
  }
  const self = records.find((r) => r.self)!;
  const better = records.filter((r) => r.value > self.value).length;
  return { index: better, better };
}

function asha(trial: TrialReports, others: readonly TrialReports[], config: RungCommon & { bootstrapCount?: number }, rate: number, sign: number): boolean {
  const mine = rungValues(trial, config, rate, sign);
  if (mine.length === 0) return false;
  const k = mine.length - 1;
  // Decide only at the report that reaches rung k; a trial promoted past it earlier runs on.
  const previous = trial.reports.slice(0, -1);
  if (previous.some((r) => r.step >= rungStep(config, rate, k))) return false;
  const records: RungRecord[] = [{ value: mine[k]!, cost: trial.cost ?? 0, self: true }];
  for (const other of others) {
    const values = rungValues(other, config, rate, sign);
    if (values.length > k) records.push({ value: values[k]!, cost: other.cost ?? 0, self: false });
  }
  if (records.length < (config.bootstrapCount ?? 0)) return false;
  const keep = Math.max(1, Math.floor(records.length / (config.reductionFactor ?? 3)));
  return position(records, config.rank ?? 'metric').index >= keep;
}

function successiveHalving(trial: TrialReports, others: readonly TrialReports[], config: RungCommon & { bracketSize: number; minEarlyStoppingRate?: number }, sign: number): boolean {
  const rate = config.minEarlyStoppingRate ?? 0;
  const cohort = Math.floor(trial.number / config.bracketSize);
  const peers = others.filter((t) => Math.floor(t.number / config.bracketSize) === cohort);
  const mine = rungValues(trial, config, rate, sign);
  const eta = config.reductionFactor ?? 3;
  for (let k = 0; k < mine.length; k++) {
    const keep = Math.max(1, Math.floor(config.bracketSize / eta ** (k + 1)));
    const records: RungRecord[] = [{ value: mine[k]!, cost: trial.cost ?? 0, self: true }];
    for (const peer of peers) {
      const values = rungValues(peer, config, rate, sign);
      if (values.length > k) records.push({ value: values[k]!, cost: peer.cost ?? 0, self: false });
    }
    if (position(records, config.rank ?? 'metric').better >= keep) return true;
  }
  return false;
}

/** The Hyperband bracket (= early-stopping rate) of trial `number`. */
export function hyperbandBracket(number: number, config: RungCommon & { maxResource: number }): number {
  const eta = config.reductionFactor ?? 3;
  const sMax = Math.max(0, Math.floor(Math.log(config.maxResource / config.minResource) / Math.log(eta) + 1e-9));
  // The most aggressive bracket (rate 0) gets the most trials, as in Hyperband.
  const sizes = Array.from({ length: sMax + 1 }, (_, s) => Math.ceil(((sMax + 1) * eta ** (sMax - s)) / (sMax - s + 1)));
  let slot = number % sizes.reduce((a, b) => a + b, 0);
  for (const [s, size] of sizes.entries()) {
    if (slot < size) return s;
    slot -= size;
  }
  return 0;
}

/** A prediction of a trial's final (best) value from its partial curve, in the reports' units. */
export interface FinalPrediction {
  mean: number;
  /**
   * Standard deviation of the regression's leave-one-out errors, each complete trial predicted
   * from the others (a floor of 1e-3 of the values' spread).
   */
  sd: number;
}

/** Value of the first report at or after `step`, and of the one before it. */
function at(trial: Pick<TrialReports, 'reports'>, step: number, sign: number): { value: number; rise: number } | undefined {
  const i = trial.reports.findIndex((r) => r.step >= step);
  if (i < 0) return undefined;
  const value = sign * trial.reports[i]!.value;
  return { value, rise: i > 0 ? value - sign * trial.reports[i - 1]!.value : 0 };
}

function bestValue(trial: Pick<TrialReports, 'reports'>, sign: number): number {
  return Math.max(...trial.reports.map((r) => sign * r.value));
}

/** Solves a small symmetric positive definite system by Gaussian elimination. */
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    if (Math.abs(m[c]![c]!) < 1e-14) return undefined;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k] = m[r]![k]! - f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * Predicts the final (best) value of `trial` from its curve so far, by least squares over the
 * complete trials: final ≈ a + b · value(t) (+ c · rise(t) with at least 6 of them), where t is
 * the trial's last report step and rise the change since the report before. The mean is never
 * below the trial's best so far. Undefined with fewer than 3 complete trials reaching t.
 * `sign` −1 for minimised metrics (the result is then in the reports' units too).
 */
export function predictFinal(trial: Pick<TrialReports, 'reports'>, complete: readonly Pick<TrialReports, 'reports'>[], sign = 1): FinalPrediction | undefined {
  const last = trial.reports[trial.reports.length - 1];
  if (!last) return undefined;
  const mine = at(trial, last.step, sign)!;
  const rows: { value: number; rise: number; final: number }[] = [];
  for (const c of complete) {
    const point = at(c, last.step, sign);
    if (point) rows.push({ ...point, final: bestValue(c, sign) });
  }
  if (rows.length < 3) return undefined;
  const features = (r: { value: number; rise: number }): number[] => (rows.length >= 6 ? [1, r.value, r.rise] : [1, r.value]);
  const p = features(rows[0]!).length;
  const xtx = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const xty = new Array<number>(p).fill(0);
  for (const r of rows) {
    const f = features(r);
    for (let i = 0; i < p; i++) {
      xty[i] = xty[i]! + f[i]! * r.final;
      for (let j = 0; j < p; j++) xtx[i]![j] = xtx[i]![j]! + f[i]! * f[j]!;
    }
  }
  // A little ridge on the slopes keeps near-identical curves solvable.
  for (let i = 1; i < p; i++) xtx[i]![i] = xtx[i]![i]! + 1e-6 * rows.length;
  const beta = solve(xtx, xty);
  const finals = rows.map((r) => r.final);
  const spread = Math.max(...finals) - Math.min(...finals);
  const floor = Math.max(1e-3 * spread, 1e-9);
  if (!beta) {
    const mean = finals.reduce((a, b) => a + b, 0) / finals.length;
    return { mean: sign * Math.max(mean, bestValue(trial, sign)), sd: Math.max(spread, floor) };
  }
  const predict = (r: { value: number; rise: number }): number => features(r).reduce((s, f, i) => s + f * beta[i]!, 0);
  // Leave-one-out residuals (e_i / (1 − h_ii), h the hat matrix's diagonal): each complete
  // trial predicted without itself. With few trials the in-sample residuals of a fit can be
  // tiny by chance, and the pruner then trusted an early curve too far (BENCHMARKS.md, issue 17,
  // session 7); an error measured on a trial the fit did not see is not shrunk by the fit.
  const inverse = Array.from({ length: p }, (_, j) => solve(xtx, Array.from({ length: p }, (_, i) => (i === j ? 1 : 0))));
  let press = 0;
  for (const r of rows) {
    const f = features(r);
    let h = 0;
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) h += f[i]! * (inverse[j]?.[i] ?? 0) * f[j]!;
    press += ((r.final - predict(r)) / Math.max(1 - h, 1e-3)) ** 2;
  }
  const sd = Math.max(floor, Math.sqrt(press / rows.length));
  return { mean: sign * Math.max(predict(mine), bestValue(trial, sign)), sd };
}

function curveDominated(trial: TrialReports, others: readonly TrialReports[], config: Extract<PrunerConfig, { type: 'paretoCurve' }>, sign: number): boolean {
  const step = trial.reports[trial.reports.length - 1]!.step;
  if (step < (config.minResource ?? 0)) return false;
  const complete = others.filter((t) => t.state === 'complete' && t.reports.length > 0);
  if (complete.length < (config.minTrials ?? 4)) return false;
  const prediction = predictFinal(trial, complete, sign);
  if (!prediction) return false;
  const optimistic = sign * prediction.mean + (config.optimism ?? 2) * prediction.sd;
  const cost = trial.cost ?? 0;
  return complete.some((c) => (c.cost ?? 0) <= cost && bestValue(c, sign) >= optimistic);
}
