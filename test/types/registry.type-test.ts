/**
 * Type test, checked by `tsc --noEmit` (npm run typecheck): a configuration key without a
 * method in the registry does not compile. Nothing here runs.
 */
import type { MethodRegistry } from '../../workers/methods/method.js';
import { PEFT_METHODS } from '../../workers/methods/registry.js';
import type { SpecRegistry } from '../../search/methods/spec.js';
import { METHOD_SPECS } from '../../search/methods/registry.js';
import type { PeftConfig } from '../../search/types.js';

/** The registry covers every key of PeftConfig. */
export const complete: MethodRegistry = PEFT_METHODS;

/** PeftConfig with one key more, which no method describes. */
type WithUnregisteredKey = PeftConfig & { unregistered?: { layers: number[] } };

// @ts-expect-error -- `unregistered` has no method: the registry must have a record for every configuration key.
export const incomplete: MethodRegistry<WithUnregisteredKey> = PEFT_METHODS;

// @ts-expect-error -- a registry that leaves a key of PeftConfig out does not compile either.
export const missingLora: MethodRegistry = { ...PEFT_METHODS, lora: undefined };

/** The pure registry covers every key too: a spec missing from search/methods/registry.ts does not compile. */
export const completeSpecs: SpecRegistry = METHOD_SPECS;

// @ts-expect-error -- `unregistered` has no spec either.
export const incompleteSpecs: SpecRegistry<WithUnregisteredKey> = METHOD_SPECS;

// @ts-expect-error -- a build record must carry its spec's fields: a spec alone is not a method.
export const specIsNotAMethod: MethodRegistry = METHOD_SPECS;
