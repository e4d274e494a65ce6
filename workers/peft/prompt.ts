/**
 * Prompt tuning (Lester et al. 2021): `length` learned input embeddings prepended to every
 * sequence (before the first real token, as Hugging Face PEFT does; they get positions and token
 * type 0 like any token). Initialised from N(0, 0.02^2), BERT's embedding initialiser.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, PromptTuningConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { createRng, normalArray } from '../random.js';
import { trainable } from './common.js';
import type { PeftModule } from './peft-module.js';
import { validatePrompt } from '../../search/methods/prompt-tuning.js';


/** Prompt tuning. */
export class PromptTuningModule implements PeftModule {
  readonly kind = 'promptTuning' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly embeddings: Variable;

  constructor(tf: Tf, readonly config: PromptTuningConfig, shape: EncoderShape, seed: number) {
    validatePrompt(config);
    this.embeddings = trainable(tf, normalArray(createRng(seed), config.length * shape.hiddenSize, 0.02), [config.length, shape.hiddenSize]);
    this.variables = new Map([['prompt_embeddings', this.embeddings]]);
  }

  promptEmbeddings(): Tensor2D {
    return this.embeddings as Tensor2D;
  }

  dispose(): void {
    this.embeddings.dispose();
  }
}
