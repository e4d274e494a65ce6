/** BitFit (Ben Zaken et al. 2022): the base model's biases of chosen layers train. */
import { bitfitSpec } from '../../search/methods/bitfit.js';
import type { BitFitConfig } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';
import { BitFitModule } from '../peft/bitfit.js';
import type { PeftMethod } from './method.js';

export const bitfitMethod: PeftMethod<BitFitConfig> = {
  ...bitfitSpec,
  salt: 0xb17f,
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('BitFit needs the base weights to copy its biases from');
    return new BitFitModule(ctx.tf, config, ctx.shape, ctx.weights);
  },
  merge: 'merges',
  hfPeft: { refusal: 'Hugging Face PEFT has no BitFit' },
  adapterHub: { refusal: 'BitFit has no adapters configuration; its trained biases are only in the project export' },
};
