/** Fields every Hugging Face PEFT prompt-learning configuration (prefix, prompt tuning) has. */
import type { EncoderShape } from '../../search/types.js';

/** The prompt-learning fields of an encoder of this shape. */
export function promptLearningFields(shape: EncoderShape): Record<string, unknown> {
  return {
    token_dim: shape.hiddenSize,
    num_transformer_submodules: 1,
    num_attention_heads: shape.numHeads,
    num_layers: shape.numLayers,
    modules_to_save: ['classifier', 'score'],
  };
}

/** Where PEFT's prompt-learning models keep `modules_to_save`. */
export const PROMPT_HEAD_PREFIX = 'base_model.';
