/**
 * The pure method registry: one spec per configuration key of `PeftConfig`, in the order the
 * encoder applies the modules. Counting, validation, labels and layers read it; the search, the
 * scheduler and the dashboard import it (and nothing of the workers' build code). The build
 * registry (workers/methods/registry.ts) extends each spec with its module, merge and exports.
 */
import type { EncoderShape, PeftConfig } from '../types.js';
import { adaloraSpec } from './adalora.js';
import { bitfitSpec } from './bitfit.js';
import { doraSpec } from './dora.js';
import { fourierftSpec } from './fourierft.js';
import { fullFineTuningSpec } from './full-fine-tuning.js';
import { gatesSpec } from './gates.js';
import { ia3Spec } from './ia3.js';
import { layerNormSpec } from './layer-norm.js';
import { loraFaSpec } from './lora-fa.js';
import { loraSpec } from './lora.js';
import { parallelAdapterSpec } from './parallel-adapter.js';
import { pissaSpec } from './pissa.js';
import { prefixSpec } from './prefix.js';
import { promptTuningSpec } from './prompt-tuning.js';
import { rocoftSpec } from './rocoft.js';
import { serialAdapterSpec } from './serial-adapter.js';
import type { Chip, MethodConfig, MethodKey, MethodSpec, ParamCounts, SpecRegistry } from './spec.js';
import { veraSpec } from './vera.js';

export const METHOD_SPECS: SpecRegistry = {
  bitfit: bitfitSpec,
  lora: loraSpec,
  ia3: ia3Spec,
  prefix: prefixSpec,
  parallelAdapter: parallelAdapterSpec,
  serialAdapter: serialAdapterSpec,
  promptTuning: promptTuningSpec,
  loraFa: loraFaSpec,
  dora: doraSpec,
  pissa: pissaSpec,
  adalora: adaloraSpec,
  vera: veraSpec,
  fourierft: fourierftSpec,
  rocoft: rocoftSpec,
  layerNorm: layerNormSpec,
  full: fullFineTuningSpec,
  gates: gatesSpec,
};

/** Every method key, in registry order. */
export const METHOD_KEYS = Object.keys(METHOD_SPECS) as MethodKey[];

/** One present method of a configuration: its key, its spec and its configuration. */
export interface PresentSpec<K extends MethodKey = MethodKey> {
  key: K;
  spec: MethodSpec<MethodConfig<K>>;
  config: MethodConfig<K>;
}

/** The methods a configuration uses, in registry order. */
export function presentSpecs(peft: PeftConfig): PresentSpec[] {
  const present: PresentSpec[] = [];
  for (const key of METHOD_KEYS) {
    const config = peft[key];
    if (config !== undefined) present.push({ key, spec: METHOD_SPECS[key] as MethodSpec<typeof config>, config } as PresentSpec);
  }
  return present;
}

/** Both closed-form counts of the PEFT modules of a configuration (the task head excluded). */
export function countMethods(peft: PeftConfig, shape: EncoderShape): ParamCounts {
  const total: ParamCounts = { stored: 0, training: 0 };
  for (const { spec, config } of presentSpecs(peft)) {
    const counts = spec.count(config, shape, peft);
    total.stored += counts.stored;
    total.training += counts.training;
  }
  return total;
}

/** Dashboard chips of every method of a configuration. */
export function methodChips(peft: PeftConfig): Chip[] {
  return presentSpecs(peft).flatMap(({ spec, config }) => spec.chips(config));
}

/** Every layer some method of the configuration sits in. */
export function methodLayers(peft: PeftConfig): number[] {
  return [...new Set(presentSpecs(peft).flatMap(({ spec, config }) => spec.layers(config)))];
}

/** Runs every method's configuration check (throws `InvalidTrialError` naming the field). */
export function validatePeft(peft: PeftConfig, shape: EncoderShape): void {
  for (const { spec, config } of presentSpecs(peft)) spec.validate(config, shape, peft);
}
