/** PiSSA (Meng et al. 2024): LoRA initialised from the principal singular vectors, residual frozen. */
import { pissaSpec } from '../../search/methods/pissa.js';
import type { PissaConfig } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';
import { PissaModule } from '../peft/pissa.js';
import { leaveOut, loraAdapterHubChild, loraFactorTensors, loraHubTensors, loraPeftConfig } from './lora.js';
import type { PeftMethod } from './method.js';

/** The stored form as a plain LoRA: rank 2r, alpha 2 alpha (the same alpha / r). */
const asPlainLora = (config: PissaConfig): PissaConfig => ({ ...config, rank: 2 * config.rank, alpha: 2 * config.alpha });

export const pissaMethod: PeftMethod<PissaConfig> = {
  ...pissaSpec,
  salt: 0x915a,
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('PiSSA needs the base weights to decompose them');
    return new PissaModule(ctx.tf, config, ctx.shape, ctx.weights, ctx.mode);
  },
  merge: 'merges',
  // PEFT's own conversion of a PiSSA adapter (path_initial_model_for_weight_conversion) gives this rank-2r LoRA.
  hfPeft: { write: (config, ctx) => ({ config: loraPeftConfig(asPlainLora(config)), tensors: loraFactorTensors(asPlainLora(config), ctx, 'pissa'), headPrefix: 'base_model.model.' }) },
  adapterHub: {
    position: 3,
    children: (config, ctx) => [loraAdapterHubChild(asPlainLora(config), leaveOut(config.layers, ctx.shape), false)],
    tensors: (config, ctx) => loraHubTensors(asPlainLora(config), ctx, 'pissa'),
  },
};
