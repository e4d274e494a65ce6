/**
 * Positions a configuration takes from the base model before any real token: a prompt's
 * virtual tokens and a prefix's keys and values (Hugging Face numbers the real tokens after a
 * prefix, and so do we). With the longest input they must fit the model's positions.
 */
import type { EncoderShape, PeftConfig } from './types.js';

/** Positions taken by the configuration's prompt and prefix. */
export function positionsTaken(peft: PeftConfig): number {
  return (peft.promptTuning?.length ?? 0) + (peft.prefix?.length ?? 0);
}

/**
 * The longest prefix a preset's default space offers: half the model's positions, so that inputs
 * of up to the other half still fit (a longer prefix needs a space of the user's own and a
 * shorter maxSeqLength; admission says so).
 */
export function longestDefaultPrefix(shape: EncoderShape): number {
  return Math.floor(shape.maxPositions / 2);
}
