/** LoRA-FA (Zhang et al. 2023): LoRA with A frozen at its random initialisation; only B trains. */
import { loraFaSpec } from '../../search/methods/lora-fa.js';
import type { LoraFaConfig } from '../../search/types.js';
import { LoraModule } from '../peft/lora.js';
import { leaveOut, loraAdapterHubChild, loraFactorTensors, loraHubTensors, loraPeftConfig } from './lora.js';
import type { PeftMethod } from './method.js';

export const loraFaMethod: PeftMethod<LoraFaConfig> = {
  ...loraFaSpec,
  salt: 0x10fa,
  build: (config, ctx) => new LoraModule(ctx.tf, config, ctx.shape, ctx.seed, { kind: 'loraFa', stem: 'lora_fa', freezeA: true, mode: ctx.mode }),
  merge: 'merges',
  // A LoRA-FA adapter is a LoRA adapter; the frozen A only changes how it trained.
  hfPeft: { write: (config, ctx) => ({ config: loraPeftConfig(config), tensors: loraFactorTensors(config, ctx, 'lora_fa'), headPrefix: 'base_model.model.' }) },
  adapterHub: {
    position: 3,
    children: (config, ctx) => [loraAdapterHubChild(config, leaveOut(config.layers, ctx.shape), false)],
    tensors: (config, ctx) => loraHubTensors(config, ctx, 'lora_fa'),
  },
};
