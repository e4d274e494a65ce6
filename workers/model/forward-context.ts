/**
 * What a forward pass needs besides its inputs: whether it is training, and a reproducible
 * source of dropout masks.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { deriveSeed } from '../random.js';
import { seededDropout } from './fused-ops.js';

/** Per-pass state shared by the encoder, the PEFT modules and the head. */
export interface ForwardContext {
  readonly training: boolean;
  /**
   * Inverted dropout: zeroes each element with probability `rate` and scales the rest by
   * `1 / (1 - rate)` while training; returns `x` itself otherwise.
   */
  dropout<T extends Tensor>(x: T, rate: number): T;
  /**
   * For a fused op that applies dropout inside itself (attention): the rate and mask seed that
   * a {@link ForwardContext.dropout} call at this point would use, consuming the seed as that
   * call would; rate 0 when dropout is off. A context without it has no such dropout.
   */
  dropoutDraw?(rate: number): { rate: number; seed: number };
}

/** A context for evaluation: no dropout. */
export function inferenceContext(): ForwardContext {
  return { training: false, dropout: (x) => x, dropoutDraw: () => ({ rate: 0, seed: 0 }) };
}

/**
 * A context for one training step. Each dropout's mask comes from a stream seeded by `seed`
 * (derive it from the trial seed and the step) and the call's position in the pass, so a step's
 * dropout is the same on every run and every backend (in JavaScript, or natively where the
 * backend has the fused kernel; see fused-ops.ts).
 */
export function trainingContext(tf: Tf, seed: number): ForwardContext {
  let call = 0;
  return {
    training: true,
    dropout<T extends Tensor>(x: T, rate: number): T {
      // seededDropout checks the rate; a rate of 0 (or below) is dropout turned off.
      return rate <= 0 ? x : seededDropout(tf, x, rate, deriveSeed(seed, call++));
    },
    dropoutDraw(rate: number): { rate: number; seed: number } {
      return rate <= 0 ? { rate: 0, seed: 0 } : { rate, seed: deriveSeed(seed, call++) };
    },
  };
}
