/** Prefix-tuning (Li & Liang 2021): learned keys and values prepended in chosen layers. */
import { prefixSpec } from '../../search/methods/prefix.js';
import type { PrefixTuningConfig } from '../../search/types.js';
import { storedWeight } from '../export/hf-peft-parts.js';
import { PrefixTuningModule } from '../peft/prefix.js';
import { leaveOut } from './lora.js';
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
    children: (config, ctx) => [
      {
        architecture: 'prefix_tuning',
        encoder_prefix: true,
        cross_prefix: true,
        leave_out: leaveOut(config.layers, ctx.shape),
        flat: config.reparamSize === 0,
        prefix_length: config.length,
        bottleneck_size: config.reparamSize === 0 ? 512 : config.reparamSize,
        non_linearity: 'tanh',
        dropout: 0.0,
        use_gating: ctx.gates.prefix === true,
        shared_gating: true,
      },
    ],
  },
};
