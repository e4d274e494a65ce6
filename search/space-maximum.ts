/**
 * The largest value of a function (a configuration's parameter count) over the valid points of
 * a search space, found by coordinate ascent: start from the point that takes every parameter's
 * largest choice, change one parameter at a time to each of its values, keep every improvement,
 * and repeat until no single change improves. Seeded random points are a floor, and a further
 * start where one beats the ascent's end. Pure and deterministic for its seed.
 *
 * A change that switches parameters on re-optimises those before it is judged, an inactive
 * parameter is tried with every parent its condition needs switched on at once, and children are
 * changed before their parents, so a subtree is judged at its best. That reaches the exact maximum
 * of the presets' parameter counts (each grows with every size and switch, or picks among
 * families); for an arbitrary function it is a local maximum at least as large as every sampled
 * point.
 */
import { deriveRandom } from './random.js';
import { conditionClauses, conditionOrder, dropInactive, isActive, pointKey, samplePoint } from './space.js';
import type { Distribution, ParamValue, SearchSpace } from './space.js';
import type { SearchPoint } from './types.js';

/** Random points drawn as a floor (and further starts of the ascent). */
export const MAXIMUM_SAMPLES = 256;

/** Best sampled points the ascent starts from, besides the largest-choice point. */
const SAMPLED_STARTS = 3;

/** Values tried for a numeric parameter of a wide range (its bounds among them). */
const GRID_VALUES = 33;

/** Rounds of the ascent at most (each strictly improves, so this only bounds a pathological space). */
const MAX_ROUNDS = 100;

/** The best point found and its value. */
export interface SpaceMaximum {
  point: SearchPoint;
  value: number;
}

/** Options of {@link maximiseOverSpace}. */
export interface MaximiseOptions {
  /** Seed of the sampled points. */
  seed: number;
  /** Random points drawn. @defaultValue MAXIMUM_SAMPLES */
  samples?: number;
}

/** A value for every parameter, active or not: the inactive ones wait for their parent to switch them on. */
type Assignment = Record<string, ParamValue>;

/**
 * The valid point of the space with the largest finite `objective`, or undefined if no valid
 * point is found.
 */
export function maximiseOverSpace(space: SearchSpace, objective: (point: SearchPoint) => number, isValid: (point: SearchPoint) => boolean, options: MaximiseOptions): SpaceMaximum | undefined {
  const ascent = new Ascent(space, objective, isValid);
  const greedy: Assignment = {};
  for (const [name, dist] of Object.entries(space)) greedy[name] = largestChoice(dist);

  const random = deriveRandom(options.seed, 'space-maximum');
  // The best few distinct sampled points, best first (ties keep the first drawn, so they follow from the seed).
  const starts: SpaceMaximum[] = [];
  for (let i = 0; i < (options.samples ?? MAXIMUM_SAMPLES); i++) {
    const point = samplePoint(space, random);
    const found = ascent.better(point, starts.length < SAMPLED_STARTS ? undefined : starts[starts.length - 1]);
    if (!found || starts.some((s) => pointKey(s.point) === pointKey(point))) continue;
    const at = starts.findIndex((s) => found.value > s.value);
    starts.splice(at === -1 ? starts.length : at, 0, found);
    starts.length = Math.min(starts.length, SAMPLED_STARTS);
  }

  let best = ascent.climb(greedy);
  // A sampled point that beats that local maximum lies in another basin: climb from it too (its
  // inactive parameters at their largest choice). In the presets none does, which keeps this fast.
  for (const start of starts) {
    if (best !== undefined && !(start.value > best.value)) continue;
    const found = ascent.climb({ ...greedy, ...start.point });
    if (found && (best === undefined || found.value > best.value)) best = found;
  }
  return best;
}

/** The choice expected to count most: the largest number, `true` for a switch, else the last choice. */
function largestChoice(dist: Distribution): ParamValue {
  if (dist.type !== 'categorical') return dist.high;
  const numbers = dist.choices.filter((c): c is number => typeof c === 'number');
  if (numbers.length > 0) return Math.max(...numbers);
  if (dist.choices.includes(true)) return true;
  return dist.choices[dist.choices.length - 1]!;
}

/** The values a parameter is tried at: every choice, every integer of a small range, else a grid with the bounds. */
function candidateValues(dist: Distribution): ParamValue[] {
  if (dist.type === 'categorical') return dist.choices;
  if (dist.type === 'int' && dist.high - dist.low < GRID_VALUES) return Array.from({ length: dist.high - dist.low + 1 }, (_, i) => dist.low + i);
  const values = new Set<number>([dist.low, dist.high]);
  for (let i = 1; i < GRID_VALUES - 1; i++) {
    const u = i / (GRID_VALUES - 1);
    const x = dist.log ? Math.exp(Math.log(dist.low) + u * (Math.log(dist.high) - Math.log(dist.low))) : dist.low + u * (dist.high - dist.low);
    values.add(dist.type === 'int' ? Math.round(x) : x);
  }
  return [...values];
}

/** Coordinate ascent over one space and objective. */
class Ascent {
  /** Children first: a parent is changed once its subtrees are at their best. */
  private readonly order: string[];
  /** Each parameter's values to try. */
  private readonly candidates = new Map<string, ParamValue[]>();
  /** The parameters whose activity depends on each parameter (its descendants), in condition order. */
  private readonly descendants = new Map<string, string[]>();

  constructor(
    private readonly space: SearchSpace,
    private readonly objective: (point: SearchPoint) => number,
    private readonly isValid: (point: SearchPoint) => boolean,
  ) {
    const order = conditionOrder(space);
    this.order = [...order].reverse();
    for (const name of order) this.candidates.set(name, candidateValues(space[name]!));
    const parents = new Map(order.map((name) => [name, space[name]!.condition ? conditionClauses(space[name]!.condition).map((c) => c.parent) : []]));
    for (const name of order) {
      const below = new Set<string>();
      // Condition order puts every parent first, so one pass collects the descendants.
      for (const other of order) if (parents.get(other)!.some((p) => p === name || below.has(p))) below.add(other);
      this.descendants.set(name, [...below]);
    }
  }

  /**
   * The point and its value when it is valid and beats `than`, else undefined. Validity is
   * asked only of a point that would win: most tried points do not, and some presets' checks
   * cost as much as the count.
   */
  better(point: SearchPoint, than: SpaceMaximum | undefined): SpaceMaximum | undefined {
    let value: number;
    try {
      value = this.objective(point);
    } catch (error) {
      // An invalid point may not map to a configuration at all; a valid one must.
      if (!this.isValid(point)) return undefined;
      throw error;
    }
    if (!Number.isFinite(value) || (than !== undefined && !(value > than.value))) return undefined;
    return this.isValid(point) ? { point, value } : undefined;
  }

  /** The local maximum reached from `start`. */
  climb(start: Assignment): SpaceMaximum | undefined {
    return this.improve(start, this.order).best;
  }

  /**
   * Changes each active parameter of `names` (in turn, to each of its values) and switches on
   * each inactive one, while that improves the best valid point; a change that switches
   * parameters on first re-optimises them.
   */
  private improve(start: Assignment, names: readonly string[]): { assignment: Assignment; point: SearchPoint; best: SpaceMaximum | undefined } {
    // Owned copies, changed in place for the common move: most tried moves are undone at once.
    let assignment = { ...start };
    let point = dropInactive(this.space, assignment);
    // A copy: `point` is the working copy that moves change in place.
    let best = this.better({ ...point }, undefined);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let improved = false;
      for (const name of names) {
        const descendants = this.descendants.get(name)!;
        if (point[name] === undefined) {
          // An inactive parameter: switch on what it needs (a condition may need several parents
          // at once). At the top only, so nested re-optimisations stay within what they woke.
          const next = names === this.order ? this.activated(assignment, name) : undefined;
          if (!next) continue;
          const moved = this.move(assignment, point, next, this.order, best);
          if (moved) ({ assignment, point, best } = moved);
          improved ||= moved !== undefined;
          continue;
        }
        for (const value of this.candidates.get(name)!) {
          const current = assignment[name]!;
          if (value === current) continue;
          if (descendants.length === 0) {
            // Nothing hangs on it: the point changes in this one value.
            assignment[name] = value;
            point[name] = value;
            const found = this.better(point, best);
            if (found) {
              best = { point: { ...point }, value: found.value };
              improved = true;
            } else {
              assignment[name] = current;
              point[name] = current;
            }
            continue;
          }
          const moved = this.move(assignment, point, { ...assignment, [name]: value }, descendants, best);
          if (moved) ({ assignment, point, best } = moved);
          improved ||= moved !== undefined;
        }
      }
      if (!improved) break;
    }
    return { assignment, point, best };
  }

  /**
   * The move from `assignment` (whose point is `point`) to `next`, with the parameters it
   * switches on (among `affected`) re-optimised first; undefined unless it beats `best`.
   */
  private move(assignment: Assignment, point: SearchPoint, next: Assignment, affected: readonly string[], best: SpaceMaximum | undefined): { assignment: Assignment; point: SearchPoint; best: SpaceMaximum } | undefined {
    const woken = affected.filter((n) => point[n] === undefined && isActive(this.space, next, n));
    const reached = woken.length > 0 ? this.improve(next, this.order.filter((n) => woken.includes(n))) : { assignment: next, point: dropInactive(this.space, next) };
    const found = this.better(reached.point, best);
    return found ? { assignment: reached.assignment, point: { ...reached.point }, best: found } : undefined;
  }

  /**
   * A copy of `assignment` in which `name` is active: each clause's parent (made active first)
   * keeps its value if the clause allows it, else takes the allowed value it would take at its
   * largest, else the clause's first. Undefined if clauses on the same parent disagree.
   */
  private activated(assignment: Assignment, name: string): Assignment | undefined {
    const next = { ...assignment };
    const require = (child: string): void => {
      const condition = this.space[child]!.condition;
      if (!condition) return;
      for (const clause of conditionClauses(condition)) {
        require(clause.parent);
        if (clause.values.includes(next[clause.parent]!)) continue;
        const largest = largestChoice(this.space[clause.parent]!);
        next[clause.parent] = clause.values.includes(largest) ? largest : clause.values[0]!;
      }
    };
    require(name);
    return isActive(this.space, next, name) ? next : undefined;
  }
}
