/**
 * LayerNorm tuning (Zhao et al. 2023): the scale and shift of both LayerNorms of the chosen
 * layers train, as copies of the base values (the shared base tensors are never modified).
 */
import type { Tensor1D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LayerNormTuningConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { EncoderWeights } from '../model/weights.js';
import type { LayerNormSite, MergedLayerNorm, PeftModule } from './peft-module.js';
import { validateLayerNormTuning } from '../../search/methods/layer-norm.js';

/** Module paths of the two LayerNorms of a layer, within `encoder.layer.{i}`. */
export const LAYER_NORM_PATHS: Readonly<Record<LayerNormSite, string>> = {
  attentionLayerNorm: 'attention.output.LayerNorm',
  outputLayerNorm: 'output.LayerNorm',
};

/** Both LayerNorm sites of a layer. */
export const LAYER_NORM_SITES: readonly LayerNormSite[] = ['attentionLayerNorm', 'outputLayerNorm'];


/** Our name of a trained LayerNorm parameter: `encoder.layer.0.output.LayerNorm.ln_tuning.weight`. */
export const lnTuningName = (layer: number, site: LayerNormSite, param: 'weight' | 'bias'): string => `encoder.layer.${layer}.${LAYER_NORM_PATHS[site]}.ln_tuning.${param}`;

/** LayerNorm tuning on the configured layers. */
export class LayerNormTuningModule implements PeftModule {
  readonly kind = 'layerNorm' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly norms = new Map<string, { gamma: Variable; beta: Variable }>();

  constructor(tf: Tf, readonly config: LayerNormTuningConfig, shape: EncoderShape, weights: EncoderWeights) {
    validateLayerNormTuning(config, shape);
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const site of LAYER_NORM_SITES) {
        const base = weights.layers[layer]![site];
        // clone: the variables must own their values, never alias the shared base tensors.
        const gamma = tf.tidy(() => tf.variable(tf.clone(base.gamma), true));
        const beta = tf.tidy(() => tf.variable(tf.clone(base.beta), true));
        variables.set(lnTuningName(layer, site, 'weight'), gamma);
        variables.set(lnTuningName(layer, site, 'bias'), beta);
        this.norms.set(`${layer}/${site}`, { gamma, beta });
      }
    }
    this.variables = variables;
  }

  layerNormGamma(layer: number, site: LayerNormSite): Tensor1D | undefined {
    return this.norms.get(`${layer}/${site}`)?.gamma as Tensor1D | undefined;
  }

  layerNormBias(layer: number, site: LayerNormSite): Tensor1D | undefined {
    return this.norms.get(`${layer}/${site}`)?.beta as Tensor1D | undefined;
  }

  mergeLayerNorm(layer: number, site: LayerNormSite, norm: MergedLayerNorm): MergedLayerNorm {
    const trained = this.norms.get(`${layer}/${site}`);
    return trained ? { gamma: trained.gamma as Tensor1D, beta: trained.beta as Tensor1D } : norm;
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
