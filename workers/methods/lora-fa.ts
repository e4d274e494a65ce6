/** LoRA-FA (Zhang et al. 2023): LoRA with A frozen at its random initialisation; only B trains. */
import type { LoraFaConfig } from '../../search/types.js';
import { LoraModule, validateLoraConfig } from '../peft/lora.js';
import { leaveOut, loraAdapterHubChild, loraFactorTensors, loraPeftConfig, perSiteCount, targetChip } from './lora.js';
import type { PeftMethod } from './method.js';

export const loraFaMethod: PeftMethod<LoraFaConfig> = {
  title: 'LoRA-FA',
  paradigm: 'reparameterised',
  salt: 0x10fa,
  validate: (config, shape) => validateLoraConfig(config, shape, 'LoRA-FA'),
  // The frozen A is stored (the update needs it) but never trains.
  count: (config, shape) => ({
    stored: perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut)),
    training: perSiteCount(config, shape, ({ dOut }, r) => r * dOut),
  }),
  build: (config, ctx) => new LoraModule(ctx.tf, config, ctx.shape, ctx.seed, { kind: 'loraFa', stem: 'lora_fa', freezeA: true, mode: ctx.mode }),
  merge: 'merges',
  // A LoRA-FA adapter is a LoRA adapter; the frozen A only changes how it trained.
  hfPeft: { write: (config, ctx) => ({ config: loraPeftConfig(config), tensors: loraFactorTensors(config, ctx, 'lora_fa'), headPrefix: 'base_model.model.' }) },
  adapterHub: { position: 3, children: (config, ctx) => [loraAdapterHubChild(config, leaveOut(config.layers, ctx.shape), false)] },
  chips: (config) => [targetChip(`LoRA-FA r${config.rank}`, `LoRA-FA rank ${config.rank}, alpha ${config.alpha}, A frozen`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ loraFa: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'ffnIn'], layers: [0, 2] } }),
};
