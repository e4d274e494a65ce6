/** Prefix-tuning (Li & Liang 2021): learned keys and values prepended in chosen layers. */
import { prefixSpec } from '../../search/methods/prefix.js';
import type { PrefixTuningConfig } from '../../search/types.js';
import { storedWeight } from '../export/hf-peft-parts.js';
import { PrefixTuningModule } from '../peft/prefix.js';
import { leaveOut } from './lora.js';
import { torchLinear } from '../export/adapterhub-parts.js';
import type { TensorToWrite } from '../model/safetensors.js';
import type { PeftMethod } from './method.js';
import { PROMPT_HEAD_PREFIX, promptLearningFields } from './prompt-parts.js';

export const prefixMethod: PeftMethod<PrefixTuningConfig> = {
  ...prefixSpec,
  salt: 0x9ef1,
  build: (config, ctx) => new PrefixTuningModule(ctx.tf, config, ctx.shape, ctx.seed, { mode: ctx.mode, gated: ctx.gates.prefix === true }),
  merge: { refusal: 'prefixes extend the attention, which no weight matrix expresses' },
  hfPeft: {
    unsupported: (config, shape) =>
      config.layers.length !== shape.numLayers
        ? `Hugging Face PEFT prefix-tuning covers every layer; this prefix is on layers ${config.layers.join(', ')} of ${shape.numLayers}`
        : undefined,
    write(config, { shape, weights }) {
      const d = shape.hiddenSize;
      const p = config.length;
      const width = 2 * shape.numLayers * d;
      const table = new Float32Array(p * width);
      // Columns [2l d, (2l+1) d) hold layer l's keys, the next d its values (PEFT's past_key_values layout).
      for (let layer = 0; layer < shape.numLayers; layer++) {
        const key = storedWeight(weights, `encoder.layer.${layer}.attention.self.prefix_key`).data;
        const value = storedWeight(weights, `encoder.layer.${layer}.attention.self.prefix_value`).data;
        for (let t = 0; t < p; t++) {
          table.set(key.subarray(t * d, (t + 1) * d), t * width + 2 * layer * d);
          table.set(value.subarray(t * d, (t + 1) * d), t * width + (2 * layer + 1) * d);
        }
      }
      return {
        config: {
          ...promptLearningFields(shape),
          peft_type: 'PREFIX_TUNING',
          num_virtual_tokens: p,
          encoder_hidden_size: config.reparamSize > 0 ? config.reparamSize : d,
          // The MLP's output is what is stored, so PEFT loads it as a plain prefix table.
          prefix_projection: false,
        },
        tensors: [{ name: 'prompt_embeddings', shape: [p, width], data: table }],
        headPrefix: PROMPT_HEAD_PREFIX,
      };
    },
  },
  adapterHub: {
    position: 0,
    children: (config, ctx) => {
      ctx.warnings.push('prefix-tuning: adapters numbers the real tokens from 0; this model, like Hugging Face PEFT (past_key_values), numbers them after the prefix');
      return [
        {
          architecture: 'prefix_tuning',
          encoder_prefix: true,
          cross_prefix: true,
          leave_out: leaveOut(config.layers, ctx.shape),
          // Flat: the MLP's output is what is stored (adapters' own `eject()` form).
          flat: true,
          prefix_length: config.length,
          bottleneck_size: config.reparamSize === 0 ? 512 : config.reparamSize,
          non_linearity: 'tanh',
          dropout: 0.0,
          use_gating: ctx.gates.prefix === true,
          shared_gating: true,
        },
      ];
    },
    tensors(config, { shape, backbone, name, weights, gates }) {
      // FlatPrefixTuning's `control_trans` is [p, n, 2, heads, head size] flattened over the n
      // layers that have the prefix, in order: the same table as PEFT's, restricted to them.
      const d = shape.hiddenSize;
      const p = config.length;
      const layers = [...config.layers].sort((a, b) => a - b);
      const width = 2 * layers.length * d;
      const table = new Float32Array(p * width);
      layers.forEach((layer, j) => {
        const key = storedWeight(weights, `encoder.layer.${layer}.attention.self.prefix_key`).data;
        const value = storedWeight(weights, `encoder.layer.${layer}.attention.self.prefix_value`).data;
        for (let t = 0; t < p; t++) {
          table.set(key.subarray(t * d, (t + 1) * d), t * width + 2 * j * d);
          table.set(value.subarray(t * d, (t + 1) * d), t * width + (2 * j + 1) * d);
        }
      });
      const tensors: TensorToWrite[] = [{ name: `${backbone}prefix_tuning.prefix_tunings.${name}.self_prefix.control_trans`, shape: [table.length], data: table }];
      if (gates.prefix === true) {
        for (const layer of layers) {
          tensors.push(...torchLinear(weights, `encoder.layer.${layer}.attention.self.prefix_gate`, `${backbone}encoder.layer.${layer}.attention.self.prefix_tuning.prefix_gates.${name}`));
        }
      }
      return tensors;
    },
  },
};
