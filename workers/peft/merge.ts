/**
 * Folding linear PEFT modules into the base weights. Each module says how through its
 * `mergeProjection` / `mergeLayerNorm` hooks (LoRA adds `(alpha/r) A B`, (IA)3 scales the
 * kernel's columns and the bias or its rows, BitFit replaces biases, ...), applied in module
 * order, the order the forward hooks run in. The merged model computes the same function with
 * no extra work per token. A module without merge hooks, or one that refuses (gated LoRA, whose
 * gate depends on the input), stays unmerged.
 */
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { LORA_TARGETS } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { BertEncoder } from '../model/encoder.js';
import type { EncoderLayerWeights, EncoderWeights } from '../model/weights.js';
import type { MergedLayerNorm, MergedLinear, PeftModule } from './peft-module.js';

/** An encoder with modules merged into its weights. */
export interface MergedModel {
  /** Runs on the merged weights; pass it {@link modules}, not the original list. */
  encoder: BertEncoder;
  /** The modules that could not merge (adapters, prefixes, prompts, gated LoRA). */
  modules: PeftModule[];
  /** Frees the merged tensors (the shared base tensors and the modules stay). */
  dispose(): void;
}

/** Whether a module folds into the base weights. */
export function isMergeable(module: PeftModule): boolean {
  return (module.mergeProjection !== undefined || module.mergeLayerNorm !== undefined) && module.mergeRefusal?.() === undefined;
}

/** Merges every mergeable module of `modules` into a copy of `encoder`'s weights. */
export function mergePeftModules(tf: Tf, encoder: BertEncoder, modules: readonly PeftModule[]): MergedModel {
  const mergeable = modules.filter(isMergeable);
  const remaining = modules.filter((m) => !isMergeable(m));
  const created: Tensor[] = [];
  const base = encoder.weights;
  // A merged tensor is kept past the tidy; a base tensor passed through is shared, not copied.
  const keepIfNew = <T extends Tensor>(t: T, original: T): T => {
    if (t === original) return t;
    // A clone: the merged weights must outlive the modules whose variables they may be.
    const kept = tf.keep(tf.clone(t));
    created.push(kept);
    return kept;
  };
  const layers: EncoderLayerWeights[] = base.layers.map((w, layer) => {
    const merged: EncoderLayerWeights = { ...w };
    tf.tidy(() => {
      for (const projection of LORA_TARGETS) {
        let linear: MergedLinear = { kernel: w[projection].kernel, bias: w[projection].bias };
        for (const module of mergeable) if (module.mergeProjection) linear = module.mergeProjection(tf, layer, projection, linear);
        const kernel = linear.inputScale ? tf.mul<Tensor2D>(linear.kernel, tf.reshape(linear.inputScale, [-1, 1])) : linear.kernel;
        merged[projection] = { kernel: keepIfNew(kernel, w[projection].kernel), bias: keepIfNew<Tensor1D>(linear.bias, w[projection].bias) };
      }
      for (const site of ['attentionLayerNorm', 'outputLayerNorm'] as const) {
        let norm: MergedLayerNorm = { gamma: w[site].gamma, beta: w[site].beta };
        for (const module of mergeable) if (module.mergeLayerNorm) norm = module.mergeLayerNorm(layer, site, norm);
        merged[site] = { gamma: keepIfNew(norm.gamma, w[site].gamma), beta: keepIfNew(norm.beta, w[site].beta) };
      }
    });
    return merged;
  });
  const weights: EncoderWeights = { ...base, layers };
  const mergedEncoder = new BertEncoder(tf, encoder.shape, weights, encoder.options);
  return {
    encoder: mergedEncoder,
    modules: remaining,
    dispose: () => {
      mergedEncoder.dispose();
      for (const tensor of created) tensor.dispose();
    },
  };
}
