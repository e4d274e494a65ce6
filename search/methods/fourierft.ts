/** FourierFT (Gao et al. 2024), the pure half: trainable coefficients at random spectral positions. */
import { loraTargetDims } from '../target-dims.js';
import type { EncoderShape, FourierFtConfig } from '../types.js';
import { checkLayers, checkPositiveInt, checkSeed, checkTargets, failer } from './checks.js';
import { targetChip, targetRows } from './lora.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a FourierFT configuration cannot be built. */
export function validateFourierFt(config: FourierFtConfig, shape: EncoderShape): void {
  const fail = failer('FourierFT');
  checkPositiveInt(fail, 'frequencies', config.frequencies);
  if (!Number.isFinite(config.scaling)) fail(`scaling must be a finite number, got ${config.scaling}`);
  checkTargets(fail, config.targets);
  checkLayers(fail, config.layers, shape);
  checkSeed(fail, 'locationSeed', config.locationSeed);
  for (const target of config.targets) {
    const { dIn, dOut } = loraTargetDims(target, shape);
    if (config.frequencies > dIn * dOut) fail(`frequencies ${config.frequencies} exceed the ${dIn * dOut} entries of ${target}`);
  }
}

export const fourierftSpec: MethodSpec<FourierFtConfig> = {
  title: 'FourierFT',
  paradigm: 'reparameterised',
  validate: validateFourierFt,
  count(config) {
    // n coefficients per projection; the positions are the seed.
    const n = config.frequencies * config.targets.length * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: targetRows('fourierft', 'FourierFT', 'coefficients', config, () => config.frequencies), notes: [`FourierFT scaling ${config.scaling}`] }),
  chips: (config) => [targetChip(`FourierFT n${config.frequencies}`, `FourierFT ${config.frequencies} coefficients, scaling ${config.scaling}`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ fourierft: { frequencies: 24, scaling: 40, targets: ['query', 'ffnOut'], layers: [0, 2], locationSeed: 777 } }),
};
