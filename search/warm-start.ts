/**
 * Warm starts: configurations a user enqueues (evaluated first, in order, like Optuna's
 * `enqueue_trial`) and another study's trials as prior observations. Pure helpers; the
 * scheduler stores the configurations with the study and asks the sampler for the rest.
 */
import type { TrialObservation } from './ask.js';
import type { SearchSpace } from './space.js';
import { pointProblem } from './space.js';
import type { SearchPoint } from './types.js';

/** What is wrong with one enqueued configuration: the parameter (or '' for the whole point) and why. */
export interface ConfigurationProblem {
  index: number;
  parameter: string;
  message: string;
}

/**
 * The first problem of the enqueued configurations: a parameter outside the space, a missing
 * or inactive one, a value outside its distribution, a point the preset cannot build, or a
 * repeat of an earlier configuration.
 */
export function configurationsProblem(space: SearchSpace, configurations: readonly SearchPoint[], isValid: (point: SearchPoint) => boolean): ConfigurationProblem | undefined {
  const seen = new Map<string, number>();
  for (const [index, point] of configurations.entries()) {
    const problem = pointProblem(space, point);
    if (problem) {
      const colon = problem.indexOf(': ');
      return { index, parameter: problem.slice(0, colon), message: problem.slice(colon + 2) };
    }
    if (!isValid(point)) return { index, parameter: '', message: 'the preset cannot build this configuration (e.g. every module is off)' };
    const key = JSON.stringify(Object.keys(point).sort().map((k) => [k, point[k]]));
    const earlier = seen.get(key);
    if (earlier !== undefined) return { index, parameter: '', message: `repeats configuration ${earlier}` };
    seen.set(key, index);
  }
  return undefined;
}

/**
 * Prior observations: another study's finished trials, numbered −n … −1 so they sort before
 * this study's own and never collide with them. Samplers treat them as history (BO counts them
 * toward its initial design).
 */
export function priorObservations(trials: readonly Pick<TrialObservation, 'point' | 'state' | 'values' | 'reports'>[]): TrialObservation[] {
  const finished = trials.filter((t) => (t.state === 'complete' || t.state === 'pruned') && t.values);
  return finished.map((t, i) => ({ ...t, number: i - finished.length }));
}

/** A finished study as a warm start sees it. */
export interface WarmStartSource {
  space: SearchSpace;
  baseModel: string;
  /** Its trials with values [metric (maximised), trainable parameters (minimised)]. */
  trials: readonly Pick<TrialObservation, 'point' | 'state' | 'values' | 'reports'>[];
}

/**
 * What another study gives a new one: when both search the same space on the same base model,
 * its finished trials as prior observations; otherwise (another task or space) its Pareto
 * configurations (complete trials no other complete trial dominates in metric and parameters,
 * in trial order) that are valid points of the new space, to be re-run first.
 */
export function warmStartFrom(source: WarmStartSource, target: { space: SearchSpace; baseModel: string; isValid: (point: SearchPoint) => boolean }): { priors: TrialObservation[]; configurations: SearchPoint[] } {
  const canonical = (space: SearchSpace): string => JSON.stringify(Object.keys(space).sort().map((k) => [k, space[k]]));
  if (source.baseModel === target.baseModel && canonical(source.space) === canonical(target.space)) return { priors: priorObservations(source.trials), configurations: [] };
  const complete = source.trials.filter((t) => t.state === 'complete' && t.values && t.values.length >= 2);
  const dominated = (a: number[], b: number[]): boolean => b[0]! >= a[0]! && b[1]! <= a[1]! && (b[0]! > a[0]! || b[1]! < a[1]!);
  const front = complete.filter((t) => !complete.some((o) => dominated(t.values!, o.values!)));
  const configurations: SearchPoint[] = [];
  const seen = new Set<string>();
  for (const t of front) {
    const key = JSON.stringify(Object.keys(t.point).sort().map((k) => [k, t.point[k]]));
    if (seen.has(key) || pointProblem(target.space, t.point) || !target.isValid(t.point)) continue;
    seen.add(key);
    configurations.push(t.point);
  }
  return { priors: [], configurations };
}
