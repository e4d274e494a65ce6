/**
 * Seeded pseudo-random numbers. Every draw is a pure function of its seeds, so a sampler's
 * proposals can be recomputed from the study seed and the trial number alone.
 */

/** 32-bit FNV-1a hash of a string; used to turn names and seeds into stream seeds. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A generator of uniform numbers in [0, 1) (mulberry32), deterministic for its seed. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An independent stream for one purpose (e.g. one trial) derived from a base seed. */
export function deriveRandom(seed: number, ...keys: (string | number)[]): () => number {
  return createRandom(hashString(`${seed}/${keys.join('/')}`));
}
