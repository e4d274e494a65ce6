/** BitFit (Ben Zaken et al. 2022): the base model's biases of chosen layers train. */
import type { BitFitConfig } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';
import { BitFitModule, validateBitFit } from '../peft/bitfit.js';
import type { PeftMethod } from './method.js';

export const bitfitMethod: PeftMethod<BitFitConfig> = {
  title: 'BitFit',
  paradigm: 'selective',
  salt: 0xb17f,
  validate: validateBitFit,
  count(config, shape) {
    // Six projection biases (4d + d_ff + d) and two LayerNorm shifts (2d) per layer.
    const n = (7 * shape.hiddenSize + shape.intermediateSize) * config.layers.length;
    return { stored: n, training: n };
  },
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('BitFit needs the base weights to copy its biases from');
    return new BitFitModule(ctx.tf, config, ctx.shape, ctx.weights);
  },
  merge: 'merges',
  hfPeft: { refusal: 'Hugging Face PEFT has no BitFit' },
  adapterHub: { refusal: 'BitFit has no adapters configuration; its trained biases are only in the project export' },
  chips: () => [{ label: 'BitFit', title: 'base biases train' }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ bitfit: { layers: [0, 1] } }),
};
