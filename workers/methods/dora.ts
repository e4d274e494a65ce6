/** DoRA (Liu et al. 2024): magnitude times the column-normalised LoRA-updated weight. */
import { doraSpec } from '../../search/methods/dora.js';
import type { DoraConfig } from '../../search/types.js';
import { peftModulePath, projectionPath, storedWeight } from '../export/hf-peft-parts.js';
import { InvalidTrialError } from '../errors.js';
import { DoraModule } from '../peft/dora.js';
import { loraFactorTensors, loraPeftConfig, loraSites, noAdapterHub } from './lora.js';
import type { PeftMethod } from './method.js';

export const doraMethod: PeftMethod<DoraConfig> = {
  ...doraSpec,
  salt: 0xd02a,
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('DoRA needs the base weights to normalise them');
    return new DoraModule(ctx.tf, config, ctx.shape, ctx.seed, ctx.weights, ctx.mode);
  },
  merge: 'merges',
  hfPeft: {
    write(config, ctx) {
      const magnitudes = config.layers.flatMap((layer) =>
        loraSites(config).map(({ target }) => {
          const m = storedWeight(ctx.weights, `${projectionPath(layer, target)}.dora_magnitude`);
          // PEFT saves the magnitude without its `.weight` suffix.
          return { name: `${peftModulePath(ctx.backbone, layer, target)}.lora_magnitude_vector`, shape: [m.data.length], data: m.data };
        }),
      );
      return { config: loraPeftConfig(config, { use_dora: true }), tensors: [...loraFactorTensors(config, ctx, 'dora'), ...magnitudes], headPrefix: 'base_model.model.' };
    },
  },
  adapterHub: noAdapterHub('DoRA'),
};
