/**
 * AdamW (Loshchilov & Hutter 2019) with global-norm gradient clipping and a per-step learning
 * rate, as PyTorch's `AdamW` with `clip_grad_norm_` computes it: decoupled weight decay
 * `p -= lr * wd * p`, then the bias-corrected Adam step. tfjs ships only coupled Adam.
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { adamwStep, globalNorm } from '../model/fused-ops.js';

/** Settings of {@link AdamW}. */
export interface AdamWOptions {
  /** @defaultValue 0.9 */
  beta1: number;
  /** @defaultValue 0.999 */
  beta2: number;
  /** @defaultValue 1e-8 */
  epsilon: number;
  /** Decoupled weight decay of matrices (rank >= 2); vectors (biases, LayerNorm, (IA)3) never decay. @defaultValue 0 */
  weightDecay: number;
  /** Clip gradients to this global L2 norm; 0 turns clipping off. @defaultValue 1 */
  maxGradNorm: number;
}

const DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, maxGradNorm: 1 };

/**
 * The linear schedule of Hugging Face's `get_linear_schedule_with_warmup`: the multiplier of
 * the peak learning rate at 0-based step `index` of `total`, rising from 0 over `warmup` steps,
 * then falling linearly to 0 at `total`.
 */
export function linearSchedule(index: number, total: number, warmup: number): number {
  if (index < warmup) return index / Math.max(1, warmup);
  return Math.max(0, (total - index) / Math.max(1, total - warmup));
}

/** An AdamW optimiser over a fixed list of variables; its state is created up front. */
export class AdamW {
  private readonly options: AdamWOptions;
  private readonly moments: { m: Variable; v: Variable }[];
  private step = 0;

  constructor(
    private readonly tf: Tf,
    private readonly variables: readonly Variable[],
    options: Partial<AdamWOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.moments = variables.map((variable) => ({
      m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
      v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
    }));
  }

  /**
   * One update with learning rate `learningRate`; returns the loss (caller disposes) when
   * `returnLoss`, and the gradient norm before clipping is not read (no sync). `afterStep`, when
   * given, runs after the variables are updated, inside the step's tidy, with the gradients as
   * applied (clipped), keyed by tfjs variable name; they are freed when it returns.
   */
  minimize(loss: () => Scalar, learningRate: number, returnLoss: boolean, afterStep?: (gradients: ReadonlyMap<string, Tensor>) => void): Scalar | undefined {
    const tf = this.tf;
    const { value, grads } = tf.variableGrads(loss, [...this.variables]);
    this.step++;
    const { beta1, beta2, epsilon, weightDecay, maxGradNorm } = this.options;
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      const present = this.variables.map((variable) => grads[variable.name] as Tensor | undefined);
      let clip: Tensor | number = 1;
      if (maxGradNorm > 0) {
        const gradients = present.filter((g): g is Tensor => g !== undefined);
        if (gradients.length > 0) {
          const norm = globalNorm(tf, gradients);
          clip = tf.minimum(1, tf.div(maxGradNorm, tf.add(norm, 1e-6)));
        }
      }
      this.variables.forEach((variable, i) => {
        const raw = present[i];
        if (!raw) return; // not on the loss's path this step
        const { m, v } = this.moments[i]!;
        const keep = weightDecay > 0 && variable.rank >= 2 ? 1 - learningRate * weightDecay : 1;
        const next = adamwStep(tf, variable, raw, m, v, clip, { learningRate, beta1, beta2, epsilon, keep, correction1, correction2 });
        m.assign(next.m);
        v.assign(next.v);
        variable.assign(next.param);
      });
      if (afterStep) {
        const applied = new Map<string, Tensor>();
        this.variables.forEach((variable, i) => {
          const raw = present[i];
          if (raw) applied.set(variable.name, clip === 1 ? raw : tf.mul(raw, clip));
        });
        afterStep(applied);
      }
    });
    tf.dispose(Object.values(grads));
    if (returnLoss) return value;
    value.dispose();
    return undefined;
  }

  /** Frees the optimiser's state. */
  dispose(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
  }
}
