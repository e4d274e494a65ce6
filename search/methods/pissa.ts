/** PiSSA (Meng et al. 2024), the pure half: LoRA initialised from the principal singular vectors, residual frozen. */
import { loraTargetDims } from '../target-dims.js';
import type { EncoderShape, PissaConfig } from '../types.js';
import { failer } from './checks.js';
import { perSiteCount, targetChip, targetRows, validateLoraConfig } from './lora.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a PiSSA configuration cannot be built. */
export function validatePissa(config: PissaConfig, shape: EncoderShape): void {
  validateLoraConfig(config, shape, 'PiSSA');
  const fail = failer('PiSSA');
  for (const target of config.targets) {
    const { dIn, dOut } = loraTargetDims(target, shape);
    if (2 * config.rank > Math.min(dIn, dOut)) fail(`rank ${config.rank} is more than half of min(d_in, d_out) = ${Math.min(dIn, dOut)} of ${target} (its stored form has rank 2r)`);
  }
}

export const pissaSpec: MethodSpec<PissaConfig> = {
  title: 'PiSSA',
  paradigm: 'reparameterised',
  validate: validatePissa,
  count: (config, shape) => ({
    // Stored: the rank-2r LoRA relative to the original weights (trained and initial factors).
    stored: perSiteCount(config, shape, ({ dIn, dOut }, r) => 2 * r * (dIn + dOut)),
    training: perSiteCount(config, shape, ({ dIn, dOut }, r) => r * (dIn + dOut)),
  }),
  grid: (config) => ({ rows: targetRows('pissa', 'PiSSA', 'rank', config, () => config.rank), notes: [`PiSSA alpha ${config.alpha}`] }),
  chips: (config) => [targetChip(`PiSSA r${config.rank}`, `PiSSA rank ${config.rank}, alpha ${config.alpha} (stored as LoRA rank ${2 * config.rank})`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ pissa: { rank: 2, alpha: 2, targets: ['query', 'ffnIn'], layers: [0, 1] } }),
};
