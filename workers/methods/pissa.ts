/** PiSSA (Meng et al. 2024): LoRA initialised from the principal singular vectors, residual frozen. */
import type { PissaConfig } from '../../search/types.js';
import { InvalidTrialError } from '../errors.js';
import { PissaModule, validatePissa } from '../peft/pissa.js';
import { leaveOut, loraAdapterHubChild, loraFactorTensors, loraPeftConfig, perSiteCount, targetChip } from './lora.js';
import type { PeftMethod } from './method.js';

/** The stored form as a plain LoRA: rank 2r, alpha 2 alpha (the same alpha / r). */
const asPlainLora = (config: PissaConfig): PissaConfig => ({ ...config, rank: 2 * config.rank, alpha: 2 * config.alpha });

export const pissaMethod: PeftMethod<PissaConfig> = {
  title: 'PiSSA',
  paradigm: 'reparameterised',
  salt: 0x915a,
  validate: validatePissa,
  count: (config, shape) => ({
    // Stored: the rank-2r LoRA relative to the original weights (trained and initial factors).
    stored: perSiteCount(config, shape, ({ dIn, dOut }, r) => 2 * r * (dIn + dOut)),
    training: perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut)),
  }),
  build(config, ctx) {
    if (!ctx.weights) throw new InvalidTrialError('PiSSA needs the base weights to decompose them');
    return new PissaModule(ctx.tf, config, ctx.shape, ctx.weights, ctx.mode);
  },
  merge: 'merges',
  // PEFT's own conversion of a PiSSA adapter (path_initial_model_for_weight_conversion) gives this rank-2r LoRA.
  hfPeft: { write: (config, ctx) => ({ config: loraPeftConfig(asPlainLora(config)), tensors: loraFactorTensors(asPlainLora(config), ctx, 'pissa'), headPrefix: 'base_model.model.' }) },
  adapterHub: { position: 3, children: (config, ctx) => [loraAdapterHubChild(asPlainLora(config), leaveOut(config.layers, ctx.shape), false)] },
  chips: (config) => [targetChip(`PiSSA r${config.rank}`, `PiSSA rank ${config.rank}, alpha ${config.alpha} (stored as LoRA rank ${2 * config.rank})`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ pissa: { rank: 2, alpha: 2, targets: ['query', 'ffnIn'], layers: [0, 1] } }),
};
