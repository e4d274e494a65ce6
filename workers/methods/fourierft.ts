/** FourierFT (Gao et al. 2024): trainable coefficients at random spectral positions, inverse 2-D DFT. */
import { fourierftSpec } from '../../search/methods/fourierft.js';
import type { FourierFtConfig } from '../../search/types.js';
import { TUNER_PREFIX, modulePattern, peftModulePath, projectionPath, storedWeight } from '../export/hf-peft-parts.js';
import { FourierFtModule } from '../peft/fourierft.js';
import { noAdapterHub } from './lora.js';
import type { PeftMethod } from './method.js';

export const fourierftMethod: PeftMethod<FourierFtConfig> = {
  ...fourierftSpec,
  salt: 0xf0f7,
  build: (config, ctx) => new FourierFtModule(ctx.tf, config, ctx.shape),
  merge: 'merges',
  hfPeft: {
    write(config, ctx) {
      const tensors = config.layers.flatMap((layer) =>
        config.targets.map((target) => {
          const c = storedWeight(ctx.weights, `${projectionPath(layer, target)}.fourierft_spectrum`);
          return { name: `${peftModulePath(ctx.backbone, layer, target)}.fourierft_spectrum`, shape: [c.data.length], data: c.data };
        }),
      );
      return {
        config: {
          peft_type: 'FOURIERFT',
          n_frequency: config.frequencies,
          scaling: config.scaling,
          // PEFT redraws the positions with torch.randperm from this seed; ours are the same draws.
          random_loc_seed: config.locationSeed,
          target_modules: modulePattern(config.targets, config.layers),
          n_frequency_pattern: {},
          fan_in_fan_out: false,
          bias: 'none',
          modules_to_save: ['classifier', 'score'],
          init_weights: true,
          layers_to_transform: null,
          layers_pattern: null,
        },
        tensors,
        headPrefix: TUNER_PREFIX,
      };
    },
  },
  adapterHub: noAdapterHub('FourierFT'),
};
