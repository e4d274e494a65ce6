/**
 * The method registry: one record per configuration key of `PeftConfig`, in the order the
 * encoder applies the modules (which is also the order they merge in). Adding a method is its
 * file plus one line here; `MethodRegistry` makes a configuration key without a method a
 * compile error.
 */
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import { adaloraMethod } from './adalora.js';
import { bitfitMethod } from './bitfit.js';
import { doraMethod } from './dora.js';
import { fourierftMethod } from './fourierft.js';
import { layerNormMethod } from './layer-norm.js';
import { loraFaMethod } from './lora-fa.js';
import { pissaMethod } from './pissa.js';
import { rocoftMethod } from './rocoft.js';
import { veraMethod } from './vera.js';
import { gatesMethod } from './gates.js';
import { ia3Method } from './ia3.js';
import { loraMethod } from './lora.js';
import type { Chip, MethodConfig, MethodKey, MethodRegistry, ParamCounts, PeftMethod } from './method.js';
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
  gates: gatesMethod,
};

/** Every method key, in registry order. */
export const METHOD_KEYS = Object.keys(PEFT_METHODS) as MethodKey[];

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

/** Both closed-form counts of the PEFT modules of a configuration (the task head excluded). */
export function countMethods(peft: PeftConfig, shape: EncoderShape): ParamCounts {
  const total: ParamCounts = { stored: 0, training: 0 };
  for (const { method, config } of presentMethods(peft)) {
    const counts = method.count(config, shape, peft);
    total.stored += counts.stored;
    total.training += counts.training;
  }
  return total;
}

/** Dashboard chips of every method of a configuration. */
export function methodChips(peft: PeftConfig): Chip[] {
  return presentMethods(peft).flatMap(({ method, config }) => method.chips(config));
}

/** Every layer some method of the configuration sits in. */
export function methodLayers(peft: PeftConfig): number[] {
  return [...new Set(presentMethods(peft).flatMap(({ method, config }) => method.layers(config)))];
}

/** Runs every method's configuration check (throws `InvalidTrialError` naming the field). */
export function validatePeft(peft: PeftConfig, shape: EncoderShape): void {
  for (const { method, config } of presentMethods(peft)) method.validate(config, shape);
}
