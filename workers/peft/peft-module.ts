/**
 * The seam between the encoder and PEFT modules. The encoder calls each hook at its place in a
 * layer; a module implements the hooks it needs and owns its trainable variables. Adding a
 * method (adapters, prefix-tuning, (IA)3, BitFit, prompt tuning) means implementing this
 * interface, plus at most one new hook and its single call site in the encoder.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { LoraTarget } from '../../search/types.js';
import type { ForwardContext } from '../model/forward-context.js';

/** A projection of one layer: where a linear hook applies. */
export interface ProjectionSite {
  /** Zero-based layer index. */
  layer: number;
  projection: LoraTarget;
}

/** A PEFT module plugged into the encoder. */
export interface PeftModule {
  /** Method name, e.g. `lora`. */
  readonly kind: string;
  /**
   * Trainable variables by name. Names follow the Hugging Face module paths of the encoder
   * (e.g. `encoder.layer.0.attention.self.query.lora_A.kernel`), ready for export.
   */
  readonly variables: ReadonlyMap<string, Variable>;
  /**
   * Adjusts a projection's output `W0 x + b` (`[tokens, dOut]`) given its input `x`
   * (`[tokens, dIn]`): LoRA adds `B A x`, (IA)3 would scale, BitFit would add a bias delta.
   * Returns `output` unchanged at sites the module does not touch.
   */
  adjustProjection?(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D;
  /** Frees the module's variables. */
  dispose(): void;
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
