/**
 * Operations of a training step that a backend may run as one kernel each: layer
 * normalisation, exact GELU, seeded dropout and the AdamW update. Composed from tfjs ops they
 * cost 5 to 20 kernels each (and as many again backward); a backend that registers the kernels
 * named here (the native kernels of workers/native do, on wasm) runs each in one pass. On
 * every other backend the same functions compose tfjs ops, so the model code calls them
 * without knowing which path runs.
 *
 * Kernel contracts (all float32):
 * - `AutopeftLayerNorm` {x [rows, cols], gamma [cols], beta [cols]}, attrs {eps} → y;
 *   `AutopeftLayerNormGrad` {dy, x, gamma}, attrs {eps} → [dx, dgamma, dbeta].
 * - `AutopeftGelu` {x} → x Φ(x); `AutopeftGeluGrad` {dy, x} → dy (Φ(x) + x φ(x)).
 * - `AutopeftDropout` {x}, attrs {rate, seed} → x times the mask that {@link dropoutMask}
 *   draws for `seed` (bit for bit); applied to the output gradient it gives the input gradient.
 * - `AutopeftAdamW` {param, grad, m, v, scale (one float)}, attrs {@link AdamWStepSettings}
 *   → [param, m, v] after one AdamW step (no gradient: it is the optimiser).
 * - `AutopeftAttention` {q [batch * seqQ, d], k, v [batch * seqK, d], mask (batch * seqK
 *   additive scores)}, attrs {@link AttentionSettings} → context [batch * seqQ, d]:
 *   `dropout(softmax(scale q_h k_h^T + mask)) v_h` for each example and head h (column block
 *   h of d), the dropout mask that {@link dropoutMask} draws for `seed` over the probabilities
 *   `[batch, heads, seqQ, seqK]`; `AutopeftAttentionGrad` {dy, q, k, v, mask}, same attrs →
 *   [dq, dk, dv].
 * - `AutopeftSumSquares` {x0, x1, ...} (any float32 shapes) → one float, the sum of the squares
 *   of all their elements (no gradient: it measures gradients).
 * - `AutopeftProjection` {x [rows, dIn], kernel [dIn, dOut], bias [dOut]} → `x kernel + bias`;
 *   `AutopeftLoraProjection` {x, kernel, bias, loraInput [rows, dIn], loraA [dIn, r],
 *   loraB [r, dOut]}, attrs {scale} → `x kernel + bias + scale (loraInput loraA) loraB` (LoRA
 *   beside its frozen projection); `AutopeftLoraGrad` {dy, loraInput, loraA, loraB}, attrs
 *   {scale} → [dLoraInput, dLoraA, dLoraB].
 */
import type { NamedAttrMap, Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { createRng } from '../random.js';

/** Kernel names of the fused operations. */
export const FUSED_KERNEL = {
  layerNorm: 'AutopeftLayerNorm',
  layerNormGrad: 'AutopeftLayerNormGrad',
  gelu: 'AutopeftGelu',
  geluGrad: 'AutopeftGeluGrad',
  dropout: 'AutopeftDropout',
  adamw: 'AutopeftAdamW',
  attention: 'AutopeftAttention',
  attentionGrad: 'AutopeftAttentionGrad',
  sumSquares: 'AutopeftSumSquares',
  projection: 'AutopeftProjection',
  loraProjection: 'AutopeftLoraProjection',
  loraGrad: 'AutopeftLoraGrad',
} as const;

/** A kernel name of {@link FUSED_KERNEL}. */
export type FusedKernelName = (typeof FUSED_KERNEL)[keyof typeof FUSED_KERNEL];

/** Every fused kernel name. */
export const FUSED_KERNEL_NAMES: readonly FusedKernelName[] = Object.values(FUSED_KERNEL);

/** Whether the active backend has every named kernel. */
function backendHas(tf: Tf, ...names: FusedKernelName[]): boolean {
  const backend = tf.getBackend();
  return names.every((name) => tf.getKernel(name, backend) !== undefined);
}

/** tfjs instances whose gradient registry knows the fused kernels. */
const gradientsRegistered = new WeakSet<object>();

/**
 * Registers the gradients of the fused kernels (backend-independent: each calls the backend's
 * gradient kernel). Idempotent; called before the first fused op runs.
 */
function registerFusedGradients(tf: Tf): void {
  if (gradientsRegistered.has(tf)) return;
  gradientsRegistered.add(tf);
  tf.registerGradient({
    kernelName: FUSED_KERNEL.layerNorm,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, saved, attrs) => {
      const [x, gamma] = saved as [Tensor, Tensor];
      // One kernel computes all three gradients. It runs here, not in the per-input functions:
      // tfjs calls each of those inside its own tidy, which would free the other two outputs.
      const [dx, dgamma, dbeta] = tf.engine().runKernel(FUSED_KERNEL.layerNormGrad, { dy: dy as Tensor, x, gamma }, attrs) as Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });
  tf.registerGradient({
    kernelName: FUSED_KERNEL.gelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved as [Tensor];
      return { x: () => tf.engine().runKernel(FUSED_KERNEL.geluGrad, { dy: dy as Tensor, x }) as Tensor };
    },
  });
  tf.registerGradient({
    kernelName: FUSED_KERNEL.attention,
    inputsToSave: ['q', 'k', 'v', 'mask'],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, mask] = saved as [Tensor, Tensor, Tensor, Tensor];
      // One kernel computes the three gradients (see the layer-norm gradient for why here).
      const [dq, dk, dv] = tf.engine().runKernel(FUSED_KERNEL.attentionGrad, { dy: dy as Tensor, q, k, v, mask }, attrs) as Tensor[];
      return { q: () => dq!, k: () => dk!, v: () => dv!, mask: () => tf.zerosLike(mask) };
    },
  });
  // The projection's gradients are lazy per input: tfjs asks only for those on a path to a
  // trainable variable, so a frozen kernel's (as costly as the forward product) is never formed.
  const projectionGradients = (dy: Tensor, x: Tensor, kernel: Tensor) => ({
    x: () => tf.matMul(dy as Tensor2D, kernel as Tensor2D, false, true),
    kernel: () => tf.matMul(x as Tensor2D, dy as Tensor2D, true, false),
    bias: () => tf.sum(dy, 0),
  });
  tf.registerGradient({
    kernelName: FUSED_KERNEL.projection,
    inputsToSave: ['x', 'kernel'],
    gradFunc: (dy, saved) => {
      const [x, kernel] = saved as [Tensor, Tensor];
      return projectionGradients(dy as Tensor, x, kernel);
    },
  });
  tf.registerGradient({
    kernelName: FUSED_KERNEL.loraProjection,
    inputsToSave: ['x', 'kernel', 'loraInput', 'loraA', 'loraB'],
    gradFunc: (dy, saved, attrs) => {
      const [x, kernel, loraInput, loraA, loraB] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor];
      // One kernel for the update's three gradients (see the layer-norm gradient for why here).
      const [dInput, dA, dB] = tf.engine().runKernel(FUSED_KERNEL.loraGrad, { dy: dy as Tensor, loraInput, loraA, loraB }, attrs) as Tensor[];
      return { ...projectionGradients(dy as Tensor, x, kernel), loraInput: () => dInput!, loraA: () => dA!, loraB: () => dB! };
    },
  });
  tf.registerGradient({
    kernelName: FUSED_KERNEL.dropout,
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.engine().runKernel(FUSED_KERNEL.dropout, { x: dy as Tensor }, attrs) as Tensor }),
  });
}

function runFused<T extends Tensor>(tf: Tf, name: FusedKernelName, inputs: Record<string, Tensor>, attrs: NamedAttrMap = {}): T {
  registerFusedGradients(tf);
  return tf.engine().runKernel(name, inputs, attrs) as T;
}

/**
 * Layer normalisation over the last axis (biased variance, epsilon inside the square root, as
 * BERT), then `* gamma + beta`. Gradients flow to x, gamma and beta.
 */
export function layerNorm(tf: Tf, x: Tensor2D, gamma: Tensor1D, beta: Tensor1D, eps: number): Tensor2D {
  const cols = x.shape[1];
  const fusable =
    x.dtype === 'float32' && gamma.dtype === 'float32' && beta.dtype === 'float32' && gamma.shape[0] === cols && beta.shape[0] === cols;
  if (fusable && backendHas(tf, FUSED_KERNEL.layerNorm, FUSED_KERNEL.layerNormGrad)) {
    return runFused<Tensor2D>(tf, FUSED_KERNEL.layerNorm, { x, gamma, beta }, { eps });
  }
  const { mean, variance } = tf.moments(x, -1, true);
  const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normalised, gamma), beta);
}

/** GELU in its exact form `0.5 x (1 + erf(x / sqrt 2))` (BERT's `hidden_act: "gelu"`). */
export function gelu<T extends Tensor>(tf: Tf, x: T): T {
  if (x.dtype === 'float32' && backendHas(tf, FUSED_KERNEL.gelu, FUSED_KERNEL.geluGrad)) {
    return runFused<T>(tf, FUSED_KERNEL.gelu, { x });
  }
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/**
 * The inverted-dropout mask for `seed`: element i is 0 when the i-th draw of `createRng(seed)`
 * is below `rate`, else `1 / (1 - rate)`.
 */
export function dropoutMask(count: number, rate: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(count);
  for (let i = 0; i < count; i++) mask[i] = rng() < rate ? 0 : keep;
  return mask;
}

/**
 * Inverted dropout of `x` with the mask of `seed` (see {@link dropoutMask}); `rate` in [0, 1).
 * The mask depends only on the seed and the size, so every backend drops the same elements.
 */
export function seededDropout<T extends Tensor>(tf: Tf, x: T, rate: number, seed: number): T {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  if (x.dtype === 'float32' && backendHas(tf, FUSED_KERNEL.dropout)) {
    return runFused<T>(tf, FUSED_KERNEL.dropout, { x }, { rate, seed: seed >>> 0 });
  }
  return tf.mul(x, tf.tensor(dropoutMask(x.size, rate, seed), x.shape)) as T;
}

/** The shape and settings of one {@link attention} call. */
export interface AttentionSettings {
  /** Examples; queries have `batch * seqQ` rows, keys and values `batch * seqK`. */
  batch: number;
  heads: number;
  /** Factor on the scores, `1 / sqrt(headSize)`. */
  scale: number;
  /** Dropout on the attention probabilities (0: none) and its mask seed. */
  rate: number;
  seed: number;
}

/**
 * Multi-head self-attention from projected queries, keys and values (`[batch * length,
 * hidden]`, heads side by side in the hidden axis): softmax of the scaled scores plus the
 * additive key `mask` (`batch * seqK` values, e.g. `[batch, 1, 1, seqK]`), dropout on the
 * probabilities, times the values; the context in the queries' layout. Gradients flow to q, k
 * and v. One kernel for all heads where the backend has it; composed ops elsewhere, with the
 * same dropout mask.
 */
export function attention(tf: Tf, q: Tensor2D, k: Tensor2D, v: Tensor2D, mask: Tensor, settings: AttentionSettings): Tensor2D {
  const { batch, heads, scale, rate, seed } = settings;
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  const hidden = q.shape[1];
  const seqQ = q.shape[0] / batch;
  const seqK = k.shape[0] / batch;
  const fusable =
    [q, k, v, mask].every((t) => t.dtype === 'float32') &&
    hidden % heads === 0 &&
    k.shape[1] === hidden &&
    v.shape[0] === k.shape[0] &&
    v.shape[1] === hidden &&
    mask.size === batch * seqK;
  if (fusable && seqK > 0 && backendHas(tf, FUSED_KERNEL.attention, FUSED_KERNEL.attentionGrad)) {
    return runFused<Tensor2D>(tf, FUSED_KERNEL.attention, { q, k, v, mask }, { batch, heads, scale, rate, seed: seed >>> 0 });
  }
  const headSize = hidden / heads;
  // [batch * length, hidden] -> [batch, heads, length, headSize]
  const split = (t: Tensor, length: number): Tensor =>
    tf.transpose(tf.reshape(t, [batch, length, heads, headSize]), [0, 2, 1, 3]);
  // Scaling the queries (seq x headSize values per head) is cheaper than scaling the scores (seq x seq).
  const scores = tf.add(tf.matMul(split(tf.mul(q, scale), seqQ), split(k, seqK), false, true), tf.reshape(mask, [batch, 1, 1, seqK]));
  const probs = seededDropout(tf, tf.softmax(scores), rate, seed);
  return tf.reshape(tf.transpose(tf.matMul(probs, split(v, seqK)), [0, 2, 1, 3]), [batch * seqQ, hidden]) as Tensor2D;
}

/** A low-rank update `scale (input a) b` of a projection's output (LoRA's, ungated). */
export interface LowRankUpdate {
  /** The update's input `[rows, dIn]`: the projection's, after the update's own dropout. */
  input: Tensor2D;
  /** `[dIn, rank]` and `[rank, dOut]`. */
  a: Tensor2D;
  b: Tensor2D;
  scale: number;
}

/**
 * Whether the active backend runs a projection (with a low-rank update, if `withUpdate`) as one
 * kernel, {@link fusedProjection}. Where it does not, the caller composes tfjs ops.
 */
export function projectionFusable(tf: Tf, withUpdate: boolean): boolean {
  return withUpdate
    ? backendHas(tf, FUSED_KERNEL.loraProjection, FUSED_KERNEL.loraGrad)
    : backendHas(tf, FUSED_KERNEL.projection);
}

/**
 * `x kernel + bias`, plus `scale (input a) b` when an update is given, in one kernel (check
 * {@link projectionFusable} first). Gradients flow to every input; each is computed only when
 * something trainable needs it, so a frozen kernel costs no gradient product.
 */
export function fusedProjection(tf: Tf, x: Tensor2D, kernel: Tensor2D, bias: Tensor1D, update?: LowRankUpdate): Tensor2D {
  const [rows, dIn] = x.shape;
  const dOut = kernel.shape[1];
  if (kernel.shape[0] !== dIn || bias.size !== dOut) {
    throw new RangeError(`projection: x [${x.shape.join(', ')}], kernel [${kernel.shape.join(', ')}] and bias [${bias.shape.join(', ')}] do not fit`);
  }
  if (!update) return runFused<Tensor2D>(tf, FUSED_KERNEL.projection, { x, kernel, bias });
  const { input, a, b, scale } = update;
  const rank = a.shape[1];
  if (input.shape[0] !== rows || input.shape[1] !== dIn || a.shape[0] !== dIn || b.shape[0] !== rank || b.shape[1] !== dOut) {
    throw new RangeError(`projection: update input [${input.shape.join(', ')}], A [${a.shape.join(', ')}] and B [${b.shape.join(', ')}] do not fit a ${dIn} -> ${dOut} projection of ${rows} rows`);
  }
  return runFused<Tensor2D>(tf, FUSED_KERNEL.loraProjection, { x, kernel, bias, loraInput: input, loraA: a, loraB: b }, { scale });
}

/**
 * The global L2 norm of a list of tensors (gradient clipping): one kernel over all of them
 * where the backend has it, else a sum of squares per tensor and their sum. A scalar.
 */
export function globalNorm(tf: Tf, tensors: readonly Tensor[]): Tensor {
  if (tensors.length > 0 && tensors.every((t) => t.dtype === 'float32') && backendHas(tf, FUSED_KERNEL.sumSquares)) {
    const inputs = Object.fromEntries(tensors.map((t, i) => [`x${i}`, t]));
    return tf.sqrt(tf.engine().runKernel(FUSED_KERNEL.sumSquares, inputs, { count: tensors.length }) as Tensor);
  }
  const squares = tensors.map((g) => tf.sum(tf.square(g)));
  return tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares));
}

/** The numbers of one AdamW step (see {@link adamwStep}). */
export interface AdamWStepSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Decoupled weight decay as a factor on the parameter: `1 - learningRate * weightDecay`, or 1. */
  keep: number;
  /** Bias corrections `1 - beta1^t` and `1 - beta2^t`. */
  correction1: number;
  correction2: number;
}

/**
 * One AdamW step of a parameter: with `g = grad * scale` (the clip factor),
 * `m' = beta1 m + (1 - beta1) g`, `v' = beta2 v + (1 - beta2) g^2`, and
 * `param' = keep param - lr (m' / c1) / (sqrt(v' / c2) + eps)`. Returns the new tensors; the
 * caller assigns them to its variables.
 */
export function adamwStep(
  tf: Tf,
  param: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  scale: Tensor | number,
  settings: AdamWStepSettings,
): { param: Tensor; m: Tensor; v: Tensor } {
  const { learningRate, beta1, beta2, epsilon, keep, correction1, correction2 } = settings;
  const allFloat = [param, grad, m, v].every((t) => t.dtype === 'float32');
  if (allFloat && backendHas(tf, FUSED_KERNEL.adamw)) {
    const scaleTensor = typeof scale === 'number' ? tf.scalar(scale) : scale;
    const [p, m2, v2] = tf.engine().runKernel(FUSED_KERNEL.adamw, { param, grad, m, v, scale: scaleTensor }, {
      learningRate,
      beta1,
      beta2,
      epsilon,
      keep,
      correction1,
      correction2,
    }) as Tensor[];
    if (typeof scale === 'number') scaleTensor.dispose();
    return { param: p!, m: m2!, v: v2! };
  }
  const g = scale === 1 ? grad : tf.mul(grad, scale);
  const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
  const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
  const update = tf.div(tf.div(nextM, correction1), tf.add(tf.sqrt(tf.div(nextV, correction2)), epsilon));
  const decayed = keep === 1 ? param : tf.mul(param, keep);
  return { param: tf.sub(decayed, tf.mul(update, learningRate)), m: nextM, v: nextV };
}
