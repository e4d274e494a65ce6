/**
 * Seeded pseudo-random numbers in plain JavaScript. Everything a trial draws at random (data
 * subsets, batch order, weight initialisation) comes from here rather than from tfjs, so the same
 * seed gives the same numbers on every backend and every tfjs version.
 */

/** A source of uniform floats in [0, 1). */
export type Rng = () => number;

/**
 * Mixes several integers into one 32-bit seed, so that derived streams (e.g. "layer 3, target
 * value of trial seed 7") are independent of each other yet reproducible.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // Fold in both 32-bit halves so seeds above 2^32 still matter.
    const lo = part >>> 0;
    const hi = Math.floor(part / 0x100000000) >>> 0;
    h = Math.imul(h ^ lo, 0x85ebca6b);
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h >>> 0;
}

/** Mulberry32: tiny, fast and good enough for shuffles and initialisation (not cryptography). */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` draws from a normal distribution N(0, std^2), by the Box-Muller transform. */
export function normalArray(rng: Rng, count: number, std: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u1 = 1 - rng();
    const u2 = rng();
    const radius = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** `count` draws from the uniform distribution on [-limit, limit). */
export function uniformArray(rng: Rng, count: number, limit: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng() * 2 - 1) * limit;
  return out;
}

/** A permutation of 0..n-1 (Fisher-Yates). */
export function permutation(rng: Rng, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}
