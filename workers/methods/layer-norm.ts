/** LayerNorm tuning (Zhao et al. 2023): the LayerNorms' scale and shift of chosen layers train. */
import { layerNormSpec } from '../../search/methods/layer-norm.js';
import type { LayerNormTuningConfig } from '../../search/types.js';
import { TUNER_PREFIX, escapeRegExp, storedWeight } from '../export/hf-peft-parts.js';
import { InvalidTrialError } from '../errors.js';
import { LAYER_NORM_PATHS, LAYER_NORM_SITES, LayerNormTuningModule, lnTuningName } from '../peft/layer-norm-tuning.js';
import { noAdapterHub } from './lora.js';
import type { PeftMethod } from './method.js';

export const layerNormMethod: PeftMethod<LayerNormTuningConfig> = {
  ...layerNormSpec,
  salt: 0x1a7e,
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('LayerNorm tuning needs the base weights to copy the LayerNorms from');
    return new LayerNormTuningModule(ctx.tf, config, ctx.shape, ctx.weights);
  },
  merge: 'merges',
  hfPeft: {
    write(config, { backbone, weights }) {
      const tensors = config.layers.flatMap((layer) =>
        LAYER_NORM_SITES.flatMap((site) =>
          (['weight', 'bias'] as const).map((param) => {
            const w = storedWeight(weights, lnTuningName(layer, site, param));
            return { name: `${TUNER_PREFIX}${backbone}encoder.layer.${layer}.${LAYER_NORM_PATHS[site]}.ln_tuning_layers.${param}`, shape: [w.data.length], data: w.data };
          }),
        ),
      );
      const paths = LAYER_NORM_SITES.map((site) => escapeRegExp(LAYER_NORM_PATHS[site])).join('|');
      const layers = [...config.layers].sort((a, b) => a - b).join('|');
      return {
        config: { peft_type: 'LN_TUNING', target_modules: `.*encoder\\.layer\\.(${layers})\\.(${paths})`, modules_to_save: ['classifier', 'score'] },
        tensors,
        headPrefix: TUNER_PREFIX,
      };
    },
  },
  adapterHub: noAdapterHub('LayerNorm tuning'),
};
