/** RoCoFT (Kowsher et al. 2024), the pure half: k trainable rows or columns of chosen weight matrices. */
import { loraTargetDims } from '../target-dims.js';
import type { EncoderShape, RocoftConfig } from '../types.js';
import { checkLayers, checkPositiveInt, checkTargets, failer } from './checks.js';
import { targetChip, targetRows } from './lora.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a RoCoFT configuration cannot be built. */
export function validateRocoft(config: RocoftConfig, shape: EncoderShape): void {
  const fail = failer('RoCoFT');
  checkPositiveInt(fail, 'k', config.k);
  if (config.mode !== 'row' && config.mode !== 'column') fail(`mode must be "row" or "column", got "${String(config.mode)}"`);
  checkTargets(fail, config.targets);
  checkLayers(fail, config.layers, shape);
  for (const target of config.targets) {
    const { dIn, dOut } = loraTargetDims(target, shape);
    const limit = config.mode === 'row' ? dOut : dIn;
    if (config.k > limit) fail(`k ${config.k} exceeds the ${limit} ${config.mode}s of ${target}`);
  }
}

export const rocoftSpec: MethodSpec<RocoftConfig> = {
  title: 'RoCoFT',
  paradigm: 'selective',
  validate: validateRocoft,
  count(config, shape) {
    // A row of a PyTorch [out, in] weight has d_in entries; a column d_out.
    const n = config.targets.reduce((sum, t) => {
      const { dIn, dOut } = loraTargetDims(t, shape);
      return sum + config.k * (config.mode === 'row' ? dIn : dOut);
    }, 0);
    return { stored: n * config.layers.length, training: n * config.layers.length };
  },
  grid: (config) => ({ rows: targetRows('rocoft', 'RoCoFT', config.mode === 'row' ? 'rows' : 'columns', config, () => config.k), notes: [] }),
  chips: (config) => [targetChip(`RoCoFT ${config.k}-${config.mode}`, `RoCoFT, ${config.k} trainable ${config.mode}s per matrix`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ rocoft: { k: 2, mode: 'row', targets: ['query', 'ffnIn', 'ffnOut'], layers: [0, 1] } }),
};
