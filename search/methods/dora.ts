/** DoRA (Liu et al. 2024), the pure half: magnitude times the column-normalised LoRA-updated weight. */
import type { DoraConfig } from '../types.js';
import { perSiteCount, targetChip, targetRows, validateLoraConfig } from './lora.js';
import type { MethodSpec } from './spec.js';

export const doraSpec: MethodSpec<DoraConfig> = {
  title: 'DoRA',
  paradigm: 'reparameterised',
  validate: (config, shape) => validateLoraConfig(config, shape, 'DoRA'),
  count(config, shape) {
    // LoRA's factors plus one magnitude per output unit.
    const n = perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut) + dOut);
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: targetRows('dora', 'DoRA', 'rank', config, () => config.rank), notes: [`DoRA alpha ${config.alpha}`] }),
  chips: (config) => [targetChip(`DoRA r${config.rank}`, `DoRA rank ${config.rank}, alpha ${config.alpha}`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ dora: { rank: 2, alpha: 4, dropout: 0, targets: ['value', 'ffnOut'], layers: [1, 2] } }),
};
