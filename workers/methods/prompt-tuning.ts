/** Prompt tuning (Lester et al. 2021): learned input embeddings prepended to every sequence. */
import { promptTuningSpec } from '../../search/methods/prompt-tuning.js';
import type { PromptTuningConfig } from '../../search/types.js';
import { storedWeight } from '../export/hf-peft-parts.js';
import { PromptTuningModule } from '../peft/prompt.js';
import type { PeftMethod } from './method.js';
import { PROMPT_HEAD_PREFIX, promptLearningFields } from './prompt-parts.js';

export const promptTuningMethod: PeftMethod<PromptTuningConfig> = {
  ...promptTuningSpec,
  salt: 0x9707,
  build: (config, ctx) => new PromptTuningModule(ctx.tf, config, ctx.shape, ctx.seed),
  merge: { refusal: 'prompt tokens lengthen the sequence, which no weight matrix expresses' },
  hfPeft: {
    write(config, { shape, weights }) {
      const prompt = storedWeight(weights, 'prompt_embeddings');
      return {
        config: {
          ...promptLearningFields(shape),
          peft_type: 'PROMPT_TUNING',
          num_virtual_tokens: config.length,
          prompt_tuning_init: 'RANDOM',
          prompt_tuning_init_text: null,
          tokenizer_name_or_path: null,
          tokenizer_kwargs: null,
        },
        tensors: [{ name: 'prompt_embeddings', shape: prompt.shape, data: prompt.data }],
        headPrefix: PROMPT_HEAD_PREFIX,
      };
    },
  },
  adapterHub: {
    position: 5,
    children(config, ctx) {
      ctx.warnings.push('prompt tuning: adapters prepends the prompt after the embedding layer (no position embedding, no LayerNorm); this model, like Hugging Face PEFT, prepends it to the word embeddings');
      return [{ architecture: 'prompt_tuning', prompt_length: config.length, prompt_init: 'random_uniform', prompt_init_text: null, combine: 'prefix' }];
    },
    tensors(_config, { backbone, name, weights }) {
      const prompt = storedWeight(weights, 'prompt_embeddings');
      return [{ name: `${backbone}prompt_tuning.prompt_tunings.${name}.prompt_embedding.weight`, shape: prompt.shape, data: prompt.data }];
    },
  },
};
