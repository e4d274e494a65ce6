/**
 * UniPELT gates (Mao et al. 2022): not a module of their own. LoRA, the serial adapter and
 * prefix-tuning build their gates when the configuration asks for them; this record refuses
 * what a gate cannot do (merging, PEFT) on top of the spec that counts and labels them.
 */
import { gatesSpec } from '../../search/methods/gates.js';
import type { GatesConfig } from '../../search/types.js';
import type { PeftMethod } from './method.js';

export const gatesMethod: PeftMethod<GatesConfig> = {
  ...gatesSpec,
  salt: 0x6a7e,
  build: () => undefined,
  merge: { refusal: 'a gate depends on the input, so the modules it gates stay unmerged' },
  hfPeft: { refusal: 'Hugging Face PEFT has no UniPELT gates' },
  // The gates' weights are written by the modules they gate.
  adapterHub: { position: 6, children: () => [], tensors: () => [] },
};
