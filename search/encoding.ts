/**
 * Numeric encoding of mixed points for the surrogate: every feature lies in [0, 1]. Numeric
 * parameters map to their (log-)position in their bounds; categoricals whose choices are all
 * numbers keep their order (one ordinal feature); other categoricals are one-hot (booleans and
 * two-choice categoricals use one 0/1 feature). An inactive parameter encodes as zeros.
 */
import type { SearchSpace } from './space.js';
import { unitOf } from './space.js';
import type { SearchPoint } from './types.js';

/** Turns points of one space into feature vectors. */
export interface PointEncoder {
  /** Number of features. */
  readonly dims: number;
  encode(point: SearchPoint): number[];
}

/** The encoder of a space (parameters in sorted-name order). */
export function createEncoder(space: SearchSpace): PointEncoder {
  const parts: { name: string; offset: number; encode: (value: SearchPoint[string], out: number[], offset: number) => void }[] = [];
  let dims = 0;
  for (const name of Object.keys(space).sort()) {
    const dist = space[name]!;
    const offset = dims;
    if (dist.type !== 'categorical') {
      parts.push({ name, offset, encode: (v, out, o) => (out[o] = unitOf(dist, Number(v))) });
      dims += 1;
    } else if (dist.choices.every((c) => typeof c === 'number')) {
      const sorted = [...(dist.choices as number[])].sort((a, b) => a - b);
      const scale = Math.max(1, sorted.length - 1);
      parts.push({ name, offset, encode: (v, out, o) => (out[o] = sorted.indexOf(v as number) / scale) });
      dims += 1;
    } else if (dist.choices.length <= 2) {
      const on = dist.choices.includes(true) ? true : dist.choices[dist.choices.length - 1];
      parts.push({ name, offset, encode: (v, out, o) => (out[o] = v === on ? 1 : 0) });
      dims += 1;
    } else {
      const choices = dist.choices;
      parts.push({
        name,
        offset,
        encode: (v, out, o) => {
          const k = choices.indexOf(v!);
          if (k >= 0) out[o + k] = 1;
        },
      });
      dims += choices.length;
    }
  }
  return {
    dims,
    encode(point) {
      const out = new Array<number>(dims).fill(0);
      for (const part of parts) {
        const value = point[part.name];
        if (value !== undefined) part.encode(value, out, part.offset);
      }
      return out;
    },
  };
}
