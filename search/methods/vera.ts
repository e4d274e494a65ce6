/** VeRA (Kopiczko et al. 2024), the pure half: shared frozen random projections, trainable scaling vectors. */
import { loraTargetDims } from '../target-dims.js';
import type { EncoderShape, VeraConfig } from '../types.js';
import { checkLayers, checkPositiveInt, checkSeed, checkTargets, failer } from './checks.js';
import { targetChip, targetRows } from './lora.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a VeRA configuration cannot be built. */
export function validateVera(config: VeraConfig, shape: EncoderShape): void {
  const fail = failer('VeRA');
  checkPositiveInt(fail, 'rank', config.rank);
  checkTargets(fail, config.targets);
  checkLayers(fail, config.layers, shape);
  checkSeed(fail, 'projectionSeed', config.projectionSeed);
  if (config.dInitial !== undefined && !Number.isFinite(config.dInitial)) fail(`dInitial must be a finite number, got ${config.dInitial}`);
}

export const veraSpec: MethodSpec<VeraConfig> = {
  title: 'VeRA',
  paradigm: 'reparameterised',
  validate: validateVera,
  count(config, shape) {
    // lambda_d (r) and lambda_b (d_out) per projection; the shared projections are the seed.
    const n = config.targets.reduce((sum, t) => sum + config.rank + loraTargetDims(t, shape).dOut, 0) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: targetRows('vera', 'VeRA', 'shared rank', config, () => config.rank), notes: [`VeRA projection seed ${config.projectionSeed}`] }),
  chips: (config) => [targetChip(`VeRA r${config.rank}`, `VeRA shared rank ${config.rank}, projection seed ${config.projectionSeed}`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ vera: { rank: 4, targets: ['query', 'value', 'ffnIn'], layers: [0, 1], projectionSeed: 0 } }),
};
