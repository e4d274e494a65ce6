/**
 * BitFit (Ben Zaken et al. 2022): the base model's biases of the chosen layers train — the
 * query, key, value, attention-output, FFN-in and FFN-out biases and both LayerNorm shifts.
 * Each is a trainable copy initialised from the base value; the cached base tensors are shared
 * by every trial of the process and are never modified.
 */
import type { Tensor1D, Variable } from '@tensorflow/tfjs';
import type { BitFitConfig, EncoderShape, LoraTarget } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { EncoderWeights } from '../model/weights.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { LAYER_NORM_PATHS, LAYER_NORM_SITES } from './layer-norm-tuning.js';
import type { LayerNormSite, MergedLayerNorm, MergedLinear, PeftModule } from './peft-module.js';
import { validateBitFit } from '../../search/methods/bitfit.js';



/** BitFit on the configured layers. */
export class BitFitModule implements PeftModule {
  readonly kind = 'bitfit' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly biases = new Map<string, Variable>();

  constructor(tf: Tf, readonly config: BitFitConfig, shape: EncoderShape, weights: EncoderWeights) {
    validateBitFit(config, shape);
    const variables = new Map<string, Variable>();
    const copy = (name: string, key: string, base: Tensor1D): void => {
      // clone: the variable must own its value, never alias the shared base tensor.
      const variable = tf.tidy(() => tf.variable(tf.clone(base), true));
      variables.set(name, variable);
      this.biases.set(key, variable);
    };
    for (const layer of config.layers) {
      const w = weights.layers[layer]!;
      for (const projection of LORA_TARGETS) {
        copy(`encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[projection]}.bias`, `${layer}/${projection}`, w[projection].bias);
      }
      for (const site of LAYER_NORM_SITES) {
        copy(`encoder.layer.${layer}.${LAYER_NORM_PATHS[site]}.bias`, `${layer}/${site}`, w[site].beta);
      }
    }
    this.variables = variables;
  }

  biasOverride(layer: number, projection: LoraTarget): Tensor1D | undefined {
    return this.biases.get(`${layer}/${projection}`) as Tensor1D | undefined;
  }

  layerNormBias(layer: number, site: LayerNormSite): Tensor1D | undefined {
    return this.biases.get(`${layer}/${site}`) as Tensor1D | undefined;
  }

  mergeProjection(_tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const bias = this.biasOverride(layer, projection);
    return bias ? { ...linear, bias } : linear;
  }

  mergeLayerNorm(layer: number, site: LayerNormSite, norm: MergedLayerNorm): MergedLayerNorm {
    const beta = this.layerNormBias(layer, site);
    return beta ? { ...norm, beta } : norm;
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
