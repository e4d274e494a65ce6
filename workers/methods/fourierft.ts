/** FourierFT (Gao et al. 2024): trainable coefficients at random spectral positions, inverse 2-D DFT. */
import type { FourierFtConfig } from '../../search/types.js';
import { TUNER_PREFIX, modulePattern, peftModulePath, projectionPath, storedWeight } from '../export/hf-peft-parts.js';
import { FourierFtModule, validateFourierFt } from '../peft/fourierft.js';
import { noAdapterHub, targetChip } from './lora.js';
import type { PeftMethod } from './method.js';

export const fourierftMethod: PeftMethod<FourierFtConfig> = {
  title: 'FourierFT',
  paradigm: 'reparameterised',
  salt: 0xf0f7,
  validate: validateFourierFt,
  count(config) {
    // n coefficients per projection; the positions are the seed.
    const n = config.frequencies * config.targets.length * config.layers.length;
    return { stored: n, training: n };
  },
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
  chips: (config) => [targetChip(`FourierFT n${config.frequencies}`, `FourierFT ${config.frequencies} coefficients, scaling ${config.scaling}`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ fourierft: { frequencies: 24, scaling: 40, targets: ['query', 'ffnOut'], layers: [0, 2], locationSeed: 777 } }),
};
