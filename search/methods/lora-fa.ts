/** LoRA-FA (Zhang et al. 2023), the pure half: LoRA with A frozen at its random initialisation; only B trains. */
import type { LoraFaConfig } from '../types.js';
import { perSiteCount, targetChip, targetRows, validateLoraConfig } from './lora.js';
import type { MethodSpec } from './spec.js';

export const loraFaSpec: MethodSpec<LoraFaConfig> = {
  title: 'LoRA-FA',
  paradigm: 'reparameterised',
  validate: (config, shape) => validateLoraConfig(config, shape, 'LoRA-FA'),
  // The frozen A is stored (the update needs it) but never trains.
  count: (config, shape) => ({
    stored: perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut)),
    training: perSiteCount(config, shape, ({ dOut }, r) => r * dOut),
  }),
  grid: (config) => ({ rows: targetRows('loraFa', 'LoRA-FA', 'rank', config, () => config.rank), notes: [`LoRA-FA alpha ${config.alpha}, A frozen`] }),
  chips: (config) => [targetChip(`LoRA-FA r${config.rank}`, `LoRA-FA rank ${config.rank}, alpha ${config.alpha}, A frozen`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ loraFa: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'ffnIn'], layers: [0, 2] } }),
};
