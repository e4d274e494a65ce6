/**
 * The build registry: one record per configuration key of `PeftConfig` (its pure spec from
 * search/methods/ extended with its build, merge and exports), in the order the encoder applies
 * the modules (which is also the order they merge in). Adding a method is its spec file and its
 * build file, and one line here and one in search/methods/registry.ts; `MethodRegistry` and
 * `SpecRegistry` make a configuration key missing from either a compile error. Counting,
 * validation, chips and layers are the pure registry's (re-exported here for the workers).
 */
import { METHOD_KEYS } from '../../search/methods/registry.js';
import type { PeftConfig } from '../../search/types.js';
import { adaloraMethod } from './adalora.js';
import { bitfitMethod } from './bitfit.js';
import { doraMethod } from './dora.js';
import { fourierftMethod } from './fourierft.js';
import { fullFineTuningMethod } from './full-fine-tuning.js';
import { layerNormMethod } from './layer-norm.js';
import { loraFaMethod } from './lora-fa.js';
import { pissaMethod } from './pissa.js';
import { rocoftMethod } from './rocoft.js';
import { veraMethod } from './vera.js';
import { gatesMethod } from './gates.js';
import { ia3Method } from './ia3.js';
import { loraMethod } from './lora.js';
import type { MethodConfig, MethodKey, MethodRegistry, PeftMethod } from './method.js';
import { parallelAdapterMethod } from './parallel-adapter.js';
import { prefixMethod } from './prefix.js';
import { promptTuningMethod } from './prompt-tuning.js';
import { serialAdapterMethod } from './serial-adapter.js';

export const PEFT_METHODS: MethodRegistry = {
  bitfit: bitfitMethod,
  lora: loraMethod,
  ia3: ia3Method,
  prefix: prefixMethod,
  parallelAdapter: parallelAdapterMethod,
  serialAdapter: serialAdapterMethod,
  promptTuning: promptTuningMethod,
  loraFa: loraFaMethod,
  dora: doraMethod,
  pissa: pissaMethod,
  adalora: adaloraMethod,
  vera: veraMethod,
  fourierft: fourierftMethod,
  rocoft: rocoftMethod,
  layerNorm: layerNormMethod,
  full: fullFineTuningMethod,
  gates: gatesMethod,
};

export { METHOD_KEYS, countMethods, methodChips, methodLayers, validatePeft } from '../../search/methods/registry.js';

/** One present method of a configuration: its key, its record and its configuration. */
export interface PresentMethod<K extends MethodKey = MethodKey> {
  key: K;
  method: PeftMethod<MethodConfig<K>>;
  config: MethodConfig<K>;
}

/** The methods a configuration uses, in registry order. */
export function presentMethods(peft: PeftConfig): PresentMethod[] {
  const present: PresentMethod[] = [];
  for (const key of METHOD_KEYS) {
    const config = peft[key];
    if (config !== undefined) present.push({ key, method: PEFT_METHODS[key] as PeftMethod<typeof config>, config } as PresentMethod);
  }
  return present;
}
