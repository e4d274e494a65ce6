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
