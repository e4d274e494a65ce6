/**
 * What a forward pass needs besides its inputs: whether it is training, and a reproducible
 * source of dropout masks.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { createRng, deriveSeed } from '../random.js';

/** Per-pass state shared by the encoder, the PEFT modules and the head. */
export interface ForwardContext {
  readonly training: boolean;
  /**
   * Inverted dropout: zeroes each element with probability `rate` and scales the rest by
   * `1 / (1 - rate)` while training; returns `x` itself otherwise.
   */
  dropout<T extends Tensor>(x: T, rate: number): T;
}

/** A context for evaluation: no dropout. */
export function inferenceContext(): ForwardContext {
  return { training: false, dropout: (x) => x };
}

/**
 * A context for one training step. Masks are drawn in JavaScript from a stream seeded by
 * `seed` (derive it from the trial seed and the step), so a step's dropout is the same on every
 * run and every backend; it is also cheaper than tfjs's own seeded random op.
 */
export function trainingContext(tf: Tf, seed: number): ForwardContext {
  let call = 0;
  return {
    training: true,
    dropout<T extends Tensor>(x: T, rate: number): T {
      if (rate <= 0) return x;
      if (rate >= 1) throw new RangeError(`dropout rate must be below 1, got ${rate}`);
      const rng = createRng(deriveSeed(seed, call++));
      const keep = 1 / (1 - rate);
      const mask = new Float32Array(x.size);
      for (let i = 0; i < mask.length; i++) mask[i] = rng() < rate ? 0 : keep;
      return tf.mul(x, tf.tensor(mask, x.shape)) as T;
    },
  };
}
