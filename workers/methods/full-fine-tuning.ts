/**
 * Full fine-tuning: every weight, bias and LayerNorm of the chosen layers trains, as deltas on
 * the frozen base (workers/peft/full-fine-tuning.ts). Its download is the project's own: the
 * deltas under the base's module names (`...query.full_delta.kernel`, `[in, out]`), which
 * `rebuildAdapter` adds to the base weights. Neither PEFT library has a form of it: a fully
 * fine-tuned model is a checkpoint, not an adapter.
 */
import { fullFineTuningSpec } from '../../search/methods/full-fine-tuning.js';
import type { FullFineTuningConfig } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';
import { FullFineTuningModule } from '../peft/full-fine-tuning.js';
import type { PeftMethod } from './method.js';

export const fullFineTuningMethod: PeftMethod<FullFineTuningConfig> = {
  ...fullFineTuningSpec,
  salt: 0xf011,
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('full fine-tuning needs the base weights for its LayerNorms');
    return new FullFineTuningModule(ctx.tf, config, ctx.shape, ctx.weights);
  },
  merge: 'merges',
  hfPeft: { refusal: 'Hugging Face PEFT has no full fine-tuning (a fully fine-tuned model is a checkpoint, not an adapter); the project export holds its weight deltas' },
  adapterHub: { refusal: 'AdapterHub has no full fine-tuning (a fully fine-tuned model is a checkpoint, not an adapter); the project export holds its weight deltas' },
};
