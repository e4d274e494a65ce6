/** (IA)3 (Liu et al. 2022): learned vectors scaling keys, values and the FFN activation. */
import { ia3Spec } from '../../search/methods/ia3.js';
import type { Ia3Config } from '../../search/types.js';
import { TUNER_PREFIX, modulePattern, storedWeight } from '../export/hf-peft-parts.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { Ia3Module } from '../peft/ia3.js';
import { leaveOut } from './lora.js';
import type { PeftMethod } from './method.js';

export const ia3Method: PeftMethod<Ia3Config> = {
  ...ia3Spec,
  salt: 0x1a3,
  build: (config, ctx) => new Ia3Module(ctx.tf, config, ctx.shape),
  merge: 'merges',
  hfPeft: {
    write(config, { backbone, weights }) {
      const prefix = `${TUNER_PREFIX}${backbone}encoder.layer.`;
      const tensors: TensorToWrite[] = [];
      for (const layer of config.layers) {
        for (const t of ['key', 'value'] as const) {
          const v = storedWeight(weights, `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[t]}.ia3_l`);
          tensors.push({ name: `${prefix}${layer}.${PROJECTION_MODULE_PATHS[t]}.ia3_l`, shape: [v.data.length, 1], data: v.data });
        }
        const ffn = storedWeight(weights, `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS.ffnOut}.ia3_l`);
        tensors.push({ name: `${prefix}${layer}.${PROJECTION_MODULE_PATHS.ffnOut}.ia3_l`, shape: [1, ffn.data.length], data: ffn.data });
      }
      return {
        config: {
          peft_type: 'IA3',
          target_modules: modulePattern(['key', 'value', 'ffnOut'], config.layers),
          feedforward_modules: modulePattern(['ffnOut'], config.layers),
          fan_in_fan_out: false,
          modules_to_save: ['classifier', 'score'],
          init_ia3_weights: true,
        },
        tensors,
        headPrefix: TUNER_PREFIX,
      };
    },
  },
  adapterHub: {
    position: 4,
    children(config, ctx) {
      ctx.warnings.push('(IA)3: adapters scales the output of intermediate.dense (before GELU); this model scales the activation after GELU');
      return [
        {
          architecture: 'lora',
          selfattn_lora: true,
          intermediate_lora: true,
          output_lora: false,
          leave_out: leaveOut(config.layers, ctx.shape),
          r: 1,
          alpha: 1,
          dropout: 0.0,
          attn_matrices: ['k', 'v'],
          composition_mode: 'scale',
          init_weights: 'ia3',
          use_gating: false,
        },
      ];
    },
    // adapters' IA3 module has only `lora_B` `[out, 1]`, on key, value and intermediate.dense.
    tensors: (config, { backbone, name, weights }) =>
      config.layers.flatMap((layer) =>
        (['key', 'value', 'ffnOut'] as const).map((t) => {
          const v = storedWeight(weights, `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[t]}.ia3_l`);
          const module = t === 'ffnOut' ? PROJECTION_MODULE_PATHS.ffnIn : PROJECTION_MODULE_PATHS[t];
          return { name: `${backbone}encoder.layer.${layer}.${module}.loras.${name}.lora_B`, shape: [v.data.length, 1], data: v.data };
        }),
      ),
  },
};
