/**
 * The checks the methods' `validate` functions share. They throw the workers' `InvalidTrialError`
 * (workers/errors.ts, a leaf of plain error classes): the same error for a configuration refused
 * at submit and one refused by a worker.
 */
import { InvalidTrialError } from '../../workers/errors.js';
import type { EncoderShape, LoraTarget } from '../types.js';
import { LORA_TARGETS } from '../types.js';

/** Throws {@link InvalidTrialError} prefixed with the module's name. */
export function failer(what: string): (message: string) => never {
  return (message: string): never => {
    throw new InvalidTrialError(`Invalid ${what} configuration: ${message}`);
  };
}

/** Layers must be distinct indices of the model (a repeat would break the closed-form count). */
export function checkLayers(fail: (message: string) => never, layers: readonly number[], shape: EncoderShape): void {
  if (!Array.isArray(layers)) fail('layers must be a list of layer indices');
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= shape.numLayers) {
      fail(`layer ${layer} is outside 0..${shape.numLayers - 1}`);
    }
  }
  if (new Set(layers).size !== layers.length) fail(`layers repeat: ${layers.join(', ')}`);
}

/** Target projections must be known, distinct and at least one. */
export function checkTargets(fail: (message: string) => never, targets: readonly LoraTarget[]): void {
  if (!Array.isArray(targets) || targets.length === 0) fail('targets must not be empty');
  for (const target of targets) {
    if (!LORA_TARGETS.includes(target)) fail(`unknown target "${String(target)}"; known: ${LORA_TARGETS.join(', ')}`);
  }
  if (new Set(targets).size !== targets.length) fail(`targets repeat: ${targets.join(', ')}`);
}

/** A positive integer size, named in the error. */
export function checkPositiveInt(fail: (message: string) => never, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) fail(`${name} must be a positive integer, got ${value}`);
}

/** A seed PyTorch's generator takes: an integer in [0, 2^32). */
export function checkSeed(fail: (message: string) => never, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) fail(`${name} must be an integer in [0, 2^32), got ${value}`);
}
