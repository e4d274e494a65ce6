/**
 * The seam between the encoder and PEFT modules. The encoder calls each hook at its place in a
 * layer; a module implements the hooks it needs and owns its trainable variables. Every method
 * of the registry (methods/registry.ts) builds a module implementing some of these hooks, so any
 * mix of them runs in one model.
 *
 * Hook order inside one layer (post-LN BERT/RoBERTa), for sublayer `s` with input `x`:
 * `biasOverride` -> `adjustProjectionInput` -> dense -> `adjustProjection` (per projection);
 * `attentionPrefix` extends keys and values; after the sublayer's output dense and dropout give
 * `z`: `z += sublayerBranch(x)` (parallel adapters), `z = adaptSublayerOutput(z, x)` (serial
 * adapters), then `LN(z + x)` with `layerNormGamma` and `layerNormBias` as scale and shift.
 * The merge hooks (`mergeProjection`, `mergeLayerNorm`) fold a module into the base weights in
 * the same module order. Two training hooks act around the optimiser rather than in the
 * forward pass (workers/train/peft-step.ts runs them): `regularizationLoss` adds a term to the
 * loss, `afterOptimizerStep` sees each step's gradients and may change the module's variables
 * (AdaLoRA uses both: its orthogonality penalty, and its rank allocation that masks singular values).
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs';
import type { LoraTarget, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import type { LowRankUpdate } from '../model/fused-ops.js';

/** Shape of the current pass, which per-example operations (gates, prefixes) need. */
export interface PassShape {
  batch: number;
  /** Tokens per example, prompt tokens included. */
  seqLength: number;
}

/** A projection of one layer: where a linear hook applies. */
export interface ProjectionSite extends PassShape {
  /** Zero-based layer index. */
  layer: number;
  projection: LoraTarget;
  /**
   * Input of the sublayer the projection belongs to, `[tokens, hidden]`: the layer input for
   * query/key/value/attention output, the FFN input for the two FFN projections (gates read it).
   */
  blockInput: Tensor2D;
}

/** The two residual sublayers of a layer. */
export type Sublayer = 'attention' | 'ffn';

/** One sublayer of one layer: where adapters apply. */
export interface SublayerSite extends PassShape {
  layer: number;
  sublayer: Sublayer;
}

/** The LayerNorms of a layer whose shift BitFit can train. */
export type LayerNormSite = 'attentionLayerNorm' | 'outputLayerNorm';

/** Learned keys and values prepended in one layer: `[1 or batch, p, hidden]` each. */
export interface AttentionPrefix {
  key: Tensor3D;
  value: Tensor3D;
}

/**
 * A projection's linear map while modules fold into it: `y = kernel^T (inputScale * x) + bias`.
 * `inputScale` (from (IA)3 on the FFN activation) multiplies the kernel's rows at the end.
 */
export interface MergedLinear {
  kernel: Tensor2D;
  bias: Tensor1D;
  inputScale?: Tensor1D;
}

/** A LayerNorm's affine parameters while modules fold into them. */
export interface MergedLayerNorm {
  gamma: Tensor1D;
  beta: Tensor1D;
}

/** What {@link PeftModule.afterOptimizerStep} gets after each optimiser step. */
export interface OptimizerStepInfo {
  /** The step just taken, from 1. */
  step: number;
  /** The steps the trial trains in all. */
  totalSteps: number;
  /**
   * This step's gradients of the module's variables, by the module's own names, as the
   * optimiser applied them (the loss's regularisers included, after gradient clipping, as a
   * PyTorch trainer's `p.grad` is when a hook runs after `optimizer.step()`). A variable off the
   * loss's path this step is absent. Freed after the hook returns.
   */
  gradients: ReadonlyMap<string, Tensor>;
}

/** A PEFT module plugged into the encoder. */
export interface PeftModule {
  /** Its method's configuration key, e.g. `lora`. */
  readonly kind: keyof PeftConfig;
  /**
   * Trainable variables by name. Names follow the Hugging Face module paths of the encoder
   * (e.g. `encoder.layer.0.attention.self.query.lora_A.kernel`), kernels `[in, out]`.
   */
  readonly variables: ReadonlyMap<string, Variable>;
  /**
   * The tensors an exported adapter keeps, by name (new tensors: the caller disposes them).
   * Defaults to copies of {@link variables}; prefix-tuning returns the output of its
   * reparameterising MLP instead of the MLP.
   */
  storedWeights?(): Map<string, Tensor>;
  /** Replaces a projection's base bias (BitFit). */
  biasOverride?(layer: number, projection: LoraTarget): Tensor1D | undefined;
  /** Replaces a LayerNorm's base shift (BitFit). */
  layerNormBias?(layer: number, site: LayerNormSite): Tensor1D | undefined;
  /** Transforms a projection's input before the dense ((IA)3 on the FFN activation). */
  adjustProjectionInput?(site: ProjectionSite, input: Tensor2D, ctx: ForwardContext): Tensor2D;
  /**
   * Adjusts a projection's output `W0 x + b` (`[tokens, dOut]`) given its input `x`
   * (`[tokens, dIn]`): LoRA adds `B A x`, (IA)3 scales. Returns `output` itself at sites the
   * module does not touch.
   */
  adjustProjection?(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D;
  /**
   * What {@link adjustProjection} adds at this site, when it is a plain low-rank update `scale
   * (x' A) B` (ungated LoRA; x' its own dropout of the input): the encoder then adds it inside
   * the projection's own kernel and skips this module's {@link adjustProjection} there. Must
   * draw from `ctx` exactly what {@link adjustProjection} would; undefined where it is not such
   * an update (then nothing may be drawn).
   */
  lowRankUpdate?(site: ProjectionSite, input: Tensor2D, ctx: ForwardContext): LowRankUpdate | undefined;
  /** Keys and values to prepend in a layer's self-attention (prefix-tuning), or undefined. */
  attentionPrefix?(layer: number, layerInput: Tensor2D, shape: PassShape, ctx: ForwardContext): AttentionPrefix | undefined;
  /** A term added to a sublayer's output before the residual, computed from the sublayer input (parallel adapter). */
  sublayerBranch?(site: SublayerSite, sublayerInput: Tensor2D, ctx: ForwardContext): Tensor2D | undefined;
  /**
   * Transforms a sublayer's output `z` before `LN(z + x)` (serial adapters). `layerNorm` is the
   * sublayer's own (frozen) LayerNorm, for AdapterHub's `original_ln_before`.
   */
  adaptSublayerOutput?(
    site: SublayerSite,
    output: Tensor2D,
    sublayerInput: Tensor2D,
    layerNorm: (t: Tensor2D) => Tensor2D,
    ctx: ForwardContext,
  ): Tensor2D;
  /** Learned input embeddings `[p, hidden]` prepended to every sequence (prompt tuning). */
  promptEmbeddings?(): Tensor2D | undefined;
  /**
   * How many cached key/value positions precede the input (prefix-tuning's length): the real
   * tokens' position ids start after them, as Hugging Face BERT/RoBERTa do with
   * `past_key_values` (`past_key_values_length`).
   */
  pastLength?(): number;
  /** Replaces a LayerNorm's base scale (LayerNorm tuning). */
  layerNormGamma?(layer: number, site: LayerNormSite): Tensor1D | undefined;
  /**
   * Folds the module into one projection's linear map, in module order (the order the hooks
   * run in). Returns `linear` itself at sites the module does not touch. Runs inside a tidy.
   */
  mergeProjection?(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear;
  /** Folds the module into a LayerNorm's parameters (BitFit's shifts, LayerNorm tuning). */
  mergeLayerNorm?(layer: number, site: LayerNormSite, norm: MergedLayerNorm): MergedLayerNorm;
  /**
   * A scalar added to the training loss (AdaLoRA's orthogonality penalty), or undefined. Called
   * inside the loss closure on every training step, so its gradients reach the variables.
   */
  regularizationLoss?(): Scalar | undefined;
  /**
   * Called after every optimiser step, inside a tidy, with that step's gradients (AdaLoRA scores
   * importance and masks singular values here). It may assign to its variables; state it keeps
   * across steps must be variables or kept tensors it disposes itself.
   */
  afterOptimizerStep?(info: OptimizerStepInfo): void;
  /** Why this instance cannot merge although its method can (gated LoRA), or undefined. */
  mergeRefusal?(): string | undefined;
  /** Frees the module's variables. */
  dispose(): void;
}

/** Runs every module's projection-input hook, in module order. */
export function applyProjectionInputHooks(
  modules: readonly PeftModule[],
  site: ProjectionSite,
  input: Tensor2D,
  ctx: ForwardContext,
): Tensor2D {
  let result = input;
  for (const module of modules) {
    if (module.adjustProjectionInput) result = module.adjustProjectionInput(site, result, ctx);
  }
  return result;
}

/**
 * The low-rank update a projection's kernel can add itself, and the modules whose projection
 * hooks still run after it: only the first module with a projection hook may hand its update
 * over, since a later one adds after earlier hooks changed the output ((IA)3 scales it).
 */
export function takeLowRankUpdate(
  modules: readonly PeftModule[],
  site: ProjectionSite,
  input: Tensor2D,
  ctx: ForwardContext,
): { update: LowRankUpdate; rest: PeftModule[] } | undefined {
  const first = modules.find((module) => module.adjustProjection !== undefined);
  const update = first?.lowRankUpdate?.(site, input, ctx);
  return first && update ? { update, rest: modules.filter((module) => module !== first) } : undefined;
}

/** Runs every module's projection hook, in module order, on one projection's output. */
export function applyProjectionHooks(
  modules: readonly PeftModule[],
  site: ProjectionSite,
  input: Tensor2D,
  output: Tensor2D,
  ctx: ForwardContext,
): Tensor2D {
  let result = output;
  for (const module of modules) {
    if (module.adjustProjection) result = module.adjustProjection(site, input, result, ctx);
  }
  return result;
}

/** Total scalars in the modules' trainable variables. */
export function countModuleParams(modules: readonly PeftModule[]): number {
  let total = 0;
  for (const module of modules) {
    for (const variable of module.variables.values()) total += variable.size;
  }
  return total;
}
