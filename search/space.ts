/**
 * Search spaces: named parameters, each with a distribution (a tagged union as in the study
 * spec) and optionally a condition that makes it active only for some values of a parent.
 * Construction checks every distribution and names what is wrong.
 */
import type { SearchPoint } from './types.js';

/** A value a parameter can take. */
export type ParamValue = number | string | boolean;

/** One clause of a condition: `parent` is active and takes one of `values`. */
export interface ConditionClause {
  parent: string;
  values: ParamValue[];
}

/**
 * Makes a parameter active only when `parent` is active and takes one of `values`
 * (e.g. `serialAdapter.size` matters only when `serialAdapter.on` is true), and every clause
 * of `and` holds as well (a per-layer size needs both its layer and its module on). Inactive
 * parameters are absent from a point.
 */
export interface Condition extends ConditionClause {
  and?: ConditionClause[];
}

/** The clauses of a condition, its own first. */
export function conditionClauses(condition: Condition): ConditionClause[] {
  return [{ parent: condition.parent, values: condition.values }, ...(condition.and ?? [])];
}

/** A distribution of one parameter. */
export type Distribution = (
  | { type: 'categorical'; choices: ParamValue[] }
  | { type: 'int'; low: number; high: number; log?: boolean }
  | { type: 'float'; low: number; high: number; log?: boolean }
) & { condition?: Condition };

/** A search space: parameter name to distribution. */
export type SearchSpace = Record<string, Distribution>;

/** A search space that does not hold together; `parameter` names the culprit ('' for the whole space). */
export class InvalidSearchSpaceError extends Error {
  override readonly name = 'InvalidSearchSpaceError';
  constructor(
    readonly parameter: string,
    readonly problem: string,
  ) {
    super(parameter ? `${parameter}: ${problem}` : problem);
  }
}

/** Whether `value` is a value the distribution can produce. */
export function inDistribution(dist: Distribution, value: ParamValue): boolean {
  if (dist.type === 'categorical') return dist.choices.includes(value);
  if (typeof value !== 'number' || !(value >= dist.low && value <= dist.high)) return false;
  return dist.type === 'float' || Number.isInteger(value);
}

/** Checks every distribution and condition of a space; throws InvalidSearchSpaceError naming the first problem. */
export function validateSpace(space: SearchSpace): void {
  const names = Object.keys(space);
  if (names.length === 0) throw new InvalidSearchSpaceError('', 'the search space has no parameters');
  for (const name of names) {
    const dist = space[name]!;
    if (dist.type === 'categorical') {
      if (dist.choices.length === 0) throw new InvalidSearchSpaceError(name, `a categorical parameter needs at least one choice`);
      if (new Set(dist.choices).size !== dist.choices.length) throw new InvalidSearchSpaceError(name, 'categorical choices must be distinct');
    } else {
      if (!Number.isFinite(dist.low) || !Number.isFinite(dist.high)) {
        throw new InvalidSearchSpaceError(name, `bounds must be finite numbers, but got (low=${dist.low}, high=${dist.high})`);
      }
      if (!(dist.low <= dist.high)) {
        throw new InvalidSearchSpaceError(name, `low <= high must hold, but got (low=${dist.low}, high=${dist.high})`);
      }
      if (dist.type === 'int' && (!Number.isInteger(dist.low) || !Number.isInteger(dist.high))) {
        throw new InvalidSearchSpaceError(name, `an int parameter needs integer bounds, but got (low=${dist.low}, high=${dist.high})`);
      }
      if (dist.log && dist.low <= 0) {
        throw new InvalidSearchSpaceError(name, `a log-scaled parameter needs low > 0, but got low=${dist.low}`);
      }
    }
    if (dist.condition) validateCondition(space, name, dist.condition);
  }
  conditionOrder(space);
}

function validateCondition(space: SearchSpace, name: string, condition: Condition): void {
  for (const clause of conditionClauses(condition)) validateClause(space, name, clause);
}

function validateClause(space: SearchSpace, name: string, condition: ConditionClause): void {
  const parent = space[condition.parent];
  if (condition.parent === name) throw new InvalidSearchSpaceError(name, 'a parameter cannot be conditioned on itself');
  if (!parent) throw new InvalidSearchSpaceError(name, `the condition's parent "${condition.parent}" is not a parameter of the space`);
  if (parent.type === 'float') throw new InvalidSearchSpaceError(name, `the condition's parent "${condition.parent}" must be categorical or int, not float`);
  if (condition.values.length === 0) throw new InvalidSearchSpaceError(name, 'a condition needs at least one activating value');
  for (const value of condition.values) {
    if (!inDistribution(parent, value)) {
      throw new InvalidSearchSpaceError(name, `the condition value ${JSON.stringify(value)} is not a value of parent "${condition.parent}"`);
    }
  }
}

const orderCache = new WeakMap<SearchSpace, string[]>();
const sortedCache = new WeakMap<SearchSpace, string[]>();

/** The space's parameter names in sorted order (kept per space: sampling asks for them at every draw). */
function sortedNames(space: SearchSpace): string[] {
  let names = sortedCache.get(space);
  if (!names) sortedCache.set(space, (names = Object.keys(space).sort()));
  return names;
}

/**
 * Parameter names with every parent before its children (ties in sorted-name order).
 * @throws InvalidSearchSpaceError if conditions form a cycle.
 */
export function conditionOrder(space: SearchSpace): string[] {
  const cached = orderCache.get(space);
  if (cached) return cached;
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new InvalidSearchSpaceError(name, 'conditions form a cycle');
    state.set(name, 'visiting');
    const condition = space[name]?.condition;
    for (const { parent } of condition ? conditionClauses(condition) : []) if (space[parent]) visit(parent);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(space).sort()) visit(name);
  orderCache.set(space, order);
  return order;
}

/** Drops the parameters whose condition does not hold (in parent-first order); keeps the rest. */
export function dropInactive(space: SearchSpace, full: SearchPoint): SearchPoint {
  const point: SearchPoint = {};
  for (const name of conditionOrder(space)) {
    const value = full[name];
    if (value === undefined) continue;
    const condition = space[name]!.condition;
    // Parents come first, so `point` already holds exactly the active ones.
    if (condition && !conditionClauses(condition).every((c) => point[c.parent] !== undefined && c.values.includes(point[c.parent]!))) continue;
    point[name] = value;
  }
  // The same as sorting the point's keys: they are names of the space.
  const sorted: SearchPoint = {};
  for (const name of sortedNames(space)) if (point[name] !== undefined) sorted[name] = point[name];
  return sorted;
}

/** Whether a parameter is active given the values of the point (its parent chain active and matching). */
export function isActive(space: SearchSpace, point: SearchPoint, name: string): boolean {
  const condition = space[name]?.condition;
  if (!condition) return true;
  return conditionClauses(condition).every((c) => {
    const parentValue = point[c.parent];
    return parentValue !== undefined && c.values.includes(parentValue) && isActive(space, point, c.parent);
  });
}

/** Maps a uniform draw u in [0, 1) to a value of the distribution. */
export function valueAt(dist: Distribution, u: number): ParamValue {
  switch (dist.type) {
    case 'categorical':
      return dist.choices[Math.min(dist.choices.length - 1, Math.floor(u * dist.choices.length))]!;
    case 'float':
      return dist.log ? Math.exp(Math.log(dist.low) + u * (Math.log(dist.high) - Math.log(dist.low))) : dist.low + u * (dist.high - dist.low);
    case 'int': {
      if (dist.log) {
        const value = Math.exp(Math.log(dist.low) + u * (Math.log(dist.high + 1) - Math.log(dist.low)));
        return Math.min(dist.high, Math.max(dist.low, Math.floor(value)));
      }
      return Math.min(dist.high, dist.low + Math.floor(u * (dist.high - dist.low + 1)));
    }
  }
}

/** The position in [0, 1] of a numeric value inside its bounds (log-scaled when the distribution is). */
export function unitOf(dist: Extract<Distribution, { type: 'int' | 'float' }>, value: number): number {
  const high = dist.type === 'int' && dist.log ? dist.high + 1 : dist.high;
  if (high === dist.low) return 0;
  const u = dist.log ? (Math.log(value) - Math.log(dist.low)) / (Math.log(high) - Math.log(dist.low)) : (value - dist.low) / (high - dist.low);
  return Math.min(1, Math.max(0, u));
}

/**
 * Builds a point from one uniform number per parameter (inactive parameters dropped).
 * `unit` gives the draw of a parameter by name.
 */
export function pointFromUnit(space: SearchSpace, unit: (name: string) => number): SearchPoint {
  const full: SearchPoint = {};
  for (const name of sortedNames(space)) full[name] = valueAt(space[name]!, unit(name));
  return dropInactive(space, full);
}

/** Draws one point of the space from a uniform generator: one draw per parameter in sorted-name order. */
export function samplePoint(space: SearchSpace, random: () => number): SearchPoint {
  const draws = new Map<string, number>();
  for (const name of sortedNames(space)) draws.set(name, random());
  return pointFromUnit(space, (name) => draws.get(name)!);
}

/** Fills active parameters a point lacks with random values and drops inactive ones. */
export function repairPoint(space: SearchSpace, point: SearchPoint, random: () => number): SearchPoint {
  const full: SearchPoint = { ...point };
  for (const name of conditionOrder(space)) {
    if (full[name] === undefined && isActive(space, full, name)) full[name] = valueAt(space[name]!, random());
  }
  return dropInactive(space, full);
}

/** Names the first way a point does not belong to the space, or undefined if it does. */
export function pointProblem(space: SearchSpace, point: SearchPoint): string | undefined {
  for (const name of Object.keys(point)) if (!space[name]) return `${name}: not a parameter of the space`;
  for (const name of conditionOrder(space)) {
    const active = isActive(space, point, name);
    const value = point[name];
    if (active && value === undefined) return `${name}: active but missing`;
    if (!active && value !== undefined) return `${name}: inactive but present`;
    if (value !== undefined && !inDistribution(space[name]!, value)) return `${name}: ${JSON.stringify(value)} is outside its distribution`;
  }
  return undefined;
}

/** A canonical string of a point (sorted keys), to detect duplicates. */
export function pointKey(point: SearchPoint): string {
  return JSON.stringify(Object.keys(point).sort().map((k) => [k, point[k]]));
}
