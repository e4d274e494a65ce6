/** RoCoFT (Kowsher et al. 2024): k trainable rows or columns of chosen weight matrices. */
import { loraTargetDims } from '../../search/target-dims.js';
import type { RocoftConfig } from '../../search/types.js';
import { RocoftModule, validateRocoft } from '../peft/rocoft.js';
import { noAdapterHub, targetChip } from './lora.js';
import type { PeftMethod } from './method.js';

export const rocoftMethod: PeftMethod<RocoftConfig> = {
  title: 'RoCoFT',
  paradigm: 'selective',
  salt: 0x20cf,
  validate: validateRocoft,
  count(config, shape) {
    // A row of a PyTorch [out, in] weight has d_in entries; a column d_out.
    const n = config.targets.reduce((sum, t) => {
      const { dIn, dOut } = loraTargetDims(t, shape);
      return sum + config.k * (config.mode === 'row' ? dIn : dOut);
    }, 0);
    return { stored: n * config.layers.length, training: n * config.layers.length };
  },
  build: (config, ctx) => new RocoftModule(ctx.tf, config, ctx.shape),
  merge: 'merges',
  hfPeft: { refusal: 'Hugging Face PEFT has no RoCoFT' },
  adapterHub: noAdapterHub('RoCoFT'),
  chips: (config) => [targetChip(`RoCoFT ${config.k}-${config.mode}`, `RoCoFT, ${config.k} trainable ${config.mode}s per matrix`, config.targets)],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ rocoft: { k: 2, mode: 'row', targets: ['query', 'ffnIn', 'ffnOut'], layers: [0, 1] } }),
};
