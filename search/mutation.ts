/**
 * Variation operators over mixed spaces, shared by local search (BO) and the evolutionary
 * samplers. Every operator returns a point of the space (conditions repaired).
 */
import type { Distribution, SearchSpace } from './space.js';
import { dropInactive, repairPoint, unitOf, valueAt } from './space.js';
import type { SearchPoint } from './types.js';

/** A standard normal draw (Box-Muller) from a uniform generator. */
export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A new value of one parameter near (numeric) or instead of (categorical) the current one. */
export function mutateValue(dist: Distribution, value: SearchPoint[string] | undefined, random: () => number, scale = 0.15): SearchPoint[string] {
  if (value === undefined) return valueAt(dist, random());
  if (dist.type === 'categorical') {
    const choices = dist.choices;
    if (choices.length === 1) return choices[0]!;
    const index = choices.indexOf(value);
    // Numeric choices are ordered: half the time step to a neighbouring choice.
    if (choices.every((c) => typeof c === 'number') && random() < 0.5) {
      const sorted = [...(choices as number[])].sort((a, b) => a - b);
      const k = sorted.indexOf(value as number);
      const next = k === 0 ? 1 : k === sorted.length - 1 ? k - 1 : random() < 0.5 ? k - 1 : k + 1;
      return sorted[next]!;
    }
    const pick = Math.floor(random() * (choices.length - 1));
    return choices[pick >= index ? pick + 1 : pick]!;
  }
  const u = unitOf(dist, Number(value));
  for (let attempt = 0; attempt < 8; attempt++) {
    let next = u + scale * gaussian(random);
    next = next < 0 ? -next : next > 1 ? 2 - next : next;
    const candidate = valueAt(dist, Math.min(0.999999, Math.max(0, next)));
    if (candidate !== value) return candidate;
  }
  if (dist.type === 'int' && dist.high > dist.low) return Number(value) < dist.high ? Number(value) + 1 : Number(value) - 1;
  return value;
}

/** A neighbour: one active parameter (sometimes two) changed, conditions repaired. */
export function neighbour(space: SearchSpace, point: SearchPoint, random: () => number, scale = 0.15): SearchPoint {
  const names = Object.keys(point).filter((n) => !(space[n]!.type === 'categorical' && (space[n] as { choices: unknown[] }).choices.length < 2));
  if (names.length === 0) return point;
  const next: SearchPoint = { ...point };
  const changes = random() < 0.2 && names.length > 1 ? 2 : 1;
  for (let c = 0; c < changes; c++) {
    const name = names[Math.floor(random() * names.length)]!;
    next[name] = mutateValue(space[name]!, next[name], random, scale);
  }
  return repairPoint(space, dropInactive(space, next), random);
}

/** Each active parameter mutated with probability `rate` (at least one changes). */
export function mutate(space: SearchSpace, point: SearchPoint, random: () => number, rate: number, scale = 0.15): SearchPoint {
  const names = Object.keys(point);
  const next: SearchPoint = { ...point };
  let changed = false;
  for (const name of names) {
    if (random() < rate) {
      next[name] = mutateValue(space[name]!, next[name], random, scale);
      changed = true;
    }
  }
  if (!changed) return neighbour(space, point, random, scale);
  return repairPoint(space, dropInactive(space, next), random);
}

/** Uniform crossover: each parameter from either parent, conditions repaired. */
export function crossover(space: SearchSpace, a: SearchPoint, b: SearchPoint, random: () => number): SearchPoint {
  const child: SearchPoint = {};
  for (const name of Object.keys(space).sort()) {
    const first = random() < 0.5 ? a : b;
    const value = first[name] ?? (first === a ? b : a)[name];
    if (value !== undefined) child[name] = value;
  }
  return repairPoint(space, dropInactive(space, child), random);
}
