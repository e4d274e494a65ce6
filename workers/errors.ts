/**
 * Named errors of the workers. Their `name` survives a trip through the queue, so the caller
 * (the BullMQ processor, the scheduler) can tell an input no retry will fix from a transient
 * failure by matching on `err.name`.
 */

/** The trial's input is unusable (unknown dataset or model, impossible configuration). */
export class InvalidTrialError extends Error {
  override name = 'InvalidTrialError';
}

/** The trial was stopped through its AbortSignal before it finished. */
export class TrialAbortedError extends Error {
  override name = 'TrialAbortedError';
}

/**
 * This host cannot run the trial (the base model missing under its model root, a broken
 * backend): another host may. Counts toward stopping the worker, never fails the trial by itself.
 */
export class HostFaultError extends Error {
  override name = 'HostFaultError';
}

/**
 * The trial's estimated memory exceeds this worker's limit (AUTOPEFT_TRIAL_MAX_MEMORY): a
 * resource fault of the trial, refused before anything is allocated.
 */
export class TrialTooLargeError extends RangeError {
  override name = 'TrialTooLargeError';
}

/**
 * Whose fault a failed trial is:
 * - `invalid`: the trial's configuration or input ({@link InvalidTrialError}); fails the same
 *   way everywhere, so it fails at once;
 * - `resource`: the trial ran out of room while training (a RangeError such as an array too
 *   large, "out of memory", the wasm heap's "memory access out of bounds",
 *   {@link TrialTooLargeError}); the trial's fault, though a larger host might manage it;
 * - `host`: {@link HostFaultError}; this host's fault;
 * - `unknown`: anything else; may be either.
 */
export type FailureKind = 'invalid' | 'resource' | 'host' | 'unknown';

/** Messages of allocation failures that reach us as plain Errors (wasm traps, allocators, tfjs). */
const RESOURCE_MESSAGE = /memory access out of bounds|out of memory|\bOOM\b|allocation failed|Cannot enlarge memory|Invalid typed array length|Invalid array length|Maximum call stack size exceeded/i;

/** Classifies a trial's failure (see {@link FailureKind}); matches on `name` so errors from other realms count too. */
export function failureKind(error: unknown): FailureKind {
  if (!(error instanceof Error)) return 'unknown';
  if (error instanceof InvalidTrialError || error.name === 'InvalidTrialError' || error.name === 'DatasetError' || error.name === 'DataPathError') return 'invalid';
  if (error instanceof HostFaultError || error.name === 'HostFaultError') return 'host';
  if (error instanceof RangeError || error.name === 'RangeError' || error.name === 'TrialTooLargeError') return 'resource';
  if (RESOURCE_MESSAGE.test(error.message)) return 'resource';
  return 'unknown';
}
