/**
 * Folding linear PEFT modules into the base weights: LoRA (`W + (alpha/r) A B`), (IA)3 (output
 * scaling scales the kernel's columns and the bias; input scaling its rows) and BitFit (the
 * trained biases replace the base ones). The merged model computes the same function with no
 * extra work per token. Gated LoRA depends on the input and is left unmerged.
 */
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { LORA_TARGETS } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { BertEncoder } from '../model/encoder.js';
import type { EncoderLayerWeights, EncoderWeights } from '../model/weights.js';
import { BitFitModule } from './bitfit.js';
import { Ia3Module } from './ia3.js';
import { LoraModule } from './lora.js';
import type { PeftModule } from './peft-module.js';

/** An encoder with modules merged into its weights. */
export interface MergedModel {
  /** Runs on the merged weights; pass it {@link modules}, not the original list. */
  encoder: BertEncoder;
  /** The modules that could not merge (adapters, prefixes, prompts, gated LoRA). */
  modules: PeftModule[];
  /** Frees the merged tensors (the shared base tensors and the modules stay). */
  dispose(): void;
}

function isMergeable(module: PeftModule): boolean {
  if (module instanceof LoraModule) return !module.isGated;
  return module instanceof Ia3Module || module instanceof BitFitModule;
}

/** Merges every mergeable module of `modules` into a copy of `encoder`'s weights. */
export function mergePeftModules(tf: Tf, encoder: BertEncoder, modules: readonly PeftModule[]): MergedModel {
  const mergeable = modules.filter(isMergeable);
  const remaining = modules.filter((m) => !isMergeable(m));
  const created: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => {
    created.push(t);
    return t;
  };
  const base = encoder.weights;
  const layers: EncoderLayerWeights[] = base.layers.map((w, layer) => {
    const merged: EncoderLayerWeights = { ...w };
    // Intermediates are freed by the tidy; what the merged weights hold is kept explicitly.
    tf.tidy(() => {
      for (const projection of LORA_TARGETS) {
        let kernel: Tensor2D = w[projection].kernel;
        let bias: Tensor1D = w[projection].bias;
        let inputScale: Tensor1D | undefined;
        for (const module of mergeable) {
          if (module instanceof BitFitModule) {
            bias = module.biasOverride(layer, projection) ?? bias;
          } else if (module instanceof LoraModule) {
            const delta = module.mergedDelta(layer, projection);
            if (delta) kernel = tf.add<Tensor2D>(kernel, delta);
          } else if (module instanceof Ia3Module) {
            const scale = module.outputScale(layer, projection);
            if (scale) {
              kernel = tf.mul<Tensor2D>(kernel, scale);
              bias = tf.mul<Tensor1D>(bias, scale);
            }
            const input = module.inputScale(layer, projection);
            if (input) inputScale = inputScale ? tf.mul<Tensor1D>(inputScale, input) : input;
          }
        }
        // Input scaling acts before every other hook, so it scales the accumulated kernel's rows.
        if (inputScale) kernel = tf.mul<Tensor2D>(kernel, tf.reshape(inputScale, [-1, 1]));
        if (kernel !== w[projection].kernel || bias !== w[projection].bias) {
          merged[projection] = {
            kernel: kernel === w[projection].kernel ? kernel : keep(tf.keep(kernel)),
            bias: bias === w[projection].bias ? bias : keep(tf.keep(tf.clone(bias))),
          };
        }
      }
      for (const site of ['attentionLayerNorm', 'outputLayerNorm'] as const) {
        for (const module of mergeable) {
          const beta = module instanceof BitFitModule ? module.layerNormBias(layer, site) : undefined;
          if (beta) merged[site] = { gamma: w[site].gamma, beta: keep(tf.keep(tf.clone(beta))) };
        }
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
