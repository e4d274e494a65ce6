/**
 * Type test, checked by `tsc --noEmit` (npm run typecheck): a configuration key without a
 * method in the registry does not compile. Nothing here runs.
 */
import type { MethodRegistry } from '../../workers/methods/method.js';
import { PEFT_METHODS } from '../../workers/methods/registry.js';
import type { PeftConfig } from '../../search/types.js';

/** The registry covers every key of PeftConfig. */
export const complete: MethodRegistry = PEFT_METHODS;

/** PeftConfig with one key more, which no method describes. */
type WithUnregisteredKey = PeftConfig & { unregistered?: { layers: number[] } };

// @ts-expect-error -- `unregistered` has no method: the registry must have a record for every configuration key.
export const incomplete: MethodRegistry<WithUnregisteredKey> = PEFT_METHODS;

// @ts-expect-error -- a registry that leaves a key of PeftConfig out does not compile either.
export const missingLora: MethodRegistry = { ...PEFT_METHODS, lora: undefined };
