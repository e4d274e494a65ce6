/**
 * The one schema of a trial's training settings. The API checks a submitted spec's `training`
 * with it, the scheduler checks each trial's settings before it enqueues them, and the worker
 * checks a job's settings before it trains: all three accept and refuse the same values.
 * Plain zod, no I/O, so every side may import it.
 */
import { z } from 'zod';
import type { TrainingConfig } from './types.js';

/** The settings a study spec gives every trial (the seeds are the scheduler's). */
export const trainingSettingsSchema = z.strictObject({
  steps: z.number().int().min(1).max(1_000_000).default(100),
  batchSize: z.number().int().min(1).max(1024).default(16),
  learningRate: z.number().positive().max(1).default(1e-3),
  evalEvery: z.number().int().min(1).default(25),
  /** Tokens per example; the base model's positions bound it further (checked where the shape is known). */
  maxSeqLength: z.number().int().min(4).max(4096).default(64),
  trainExamples: z.number().int().min(2).max(1_000_000).default(512),
  devExamples: z.number().int().min(1).max(1_000_000).default(256),
  weightDecay: z.number().min(0).max(1).optional(),
  // Warm-up must leave at least one step of the schedule after it (a ratio of 1 never trains at full rate).
  warmupRatio: z.number().min(0).lt(1).optional(),
  maxGradNorm: z.number().min(0).max(1e6).optional(),
  schedule: z.enum(['linear', 'constant']).optional(),
  earlyStoppingPatience: z.number().int().min(0).max(1_000_000).optional(),
});

/** The training settings of one trial job: a spec's settings plus the seeds the scheduler chose. */
export const trialTrainingSchema = trainingSettingsSchema.extend({
  seed: z.number().int(),
  dataSeed: z.number().int(),
});

// The schema and the plain type describe the same object (a compile error if they drift apart).
const _sameShape: z.ZodType<TrainingConfig, z.input<typeof trialTrainingSchema>> = trialTrainingSchema;
void _sameShape;

/** The defaults a spec's `training` takes when it is left out. */
export const DEFAULT_TRAINING_SETTINGS = trainingSettingsSchema.parse({});

/** A problem found by one of the schemas: the dotted field under `training` and what is wrong. */
export interface TrainingProblem {
  field: string;
  message: string;
}

/**
 * The first problem of trial training settings (seeds included), or undefined when they pass
 * {@link trialTrainingSchema}. The worker and the scheduler use it; the API reports the same
 * zod issues through the spec schema.
 */
export function trialTrainingProblem(training: unknown): TrainingProblem | undefined {
  const parsed = trialTrainingSchema.safeParse(training);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return { field: issue.keys[0] ?? '', message: 'unknown field' };
  return { field: issue.path.map(String).join('.'), message: issue.message };
}
