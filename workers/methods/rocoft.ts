/** RoCoFT (Kowsher et al. 2024): k trainable rows or columns of chosen weight matrices. */
import { rocoftSpec } from '../../search/methods/rocoft.js';
import type { RocoftConfig } from '../../search/types.js';
import { RocoftModule } from '../peft/rocoft.js';
import { noAdapterHub } from './lora.js';
import type { PeftMethod } from './method.js';

export const rocoftMethod: PeftMethod<RocoftConfig> = {
  ...rocoftSpec,
  salt: 0x20cf,
  build: (config, ctx) => new RocoftModule(ctx.tf, config, ctx.shape),
  merge: 'merges',
  hfPeft: { refusal: 'Hugging Face PEFT has no RoCoFT' },
  adapterHub: noAdapterHub('RoCoFT'),
};
