/**
 * Study specs: the schema a submitted spec must match, defaults, and the checks that need
 * knowledge of the available datasets and base models. Every error names the field.
 */
import { z } from 'zod';
import { validateSpace, InvalidSearchSpaceError } from '../search/space.js';
import type { SearchSpace } from '../search/space.js';
import { defaultLoraSpace, validateLoraSpace } from '../search/lora-space.js';
import { ALGORITHMS } from '../search/sampler.js';
import type { EncoderShape, MetricName } from '../search/types.js';
import { METRIC_NAMES } from '../workers/train/metrics.js';
import type { StudySpec } from './types.js';

/** A spec that cannot run; `field` is the dotted path of the offending field. */
export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
  }
}

const distributionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('categorical'), choices: z.array(z.union([z.number(), z.string(), z.boolean()])).min(1) }),
  z.strictObject({ type: z.literal('int'), low: z.number().int(), high: z.number().int(), log: z.boolean().optional() }),
  z.strictObject({ type: z.literal('float'), low: z.number(), high: z.number(), log: z.boolean().optional() }),
]);

const specSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).default('study'),
  task: z.strictObject({
    dataset: z.string().min(1),
    baseModel: z.string().min(1),
    /** Defaults to the dataset's own metric. */
    metric: z.enum(METRIC_NAMES as [MetricName, ...MetricName[]]).optional(),
  }),
  searchSpace: z.record(z.string(), distributionSchema).optional(),
  algorithm: z
    .strictObject({ name: z.enum(ALGORITHMS).default('random'), seed: z.number().int().min(0).max(2 ** 31 - 1).default(0) })
    .default({ name: 'random', seed: 0 }),
  budget: z.strictObject({
    maxTrials: z.number().int().min(1).max(10_000),
    maxParallel: z.number().int().min(1).max(256).default(1),
  }),
  training: z
    .strictObject({
      steps: z.number().int().min(1).max(1_000_000).default(100),
      batchSize: z.number().int().min(1).max(1024).default(16),
      learningRate: z.number().positive().max(1).default(1e-3),
      evalEvery: z.number().int().min(1).default(25),
      maxSeqLength: z.number().int().min(4).max(4096).default(64),
      trainExamples: z.number().int().min(2).max(1_000_000).default(512),
      devExamples: z.number().int().min(1).max(1_000_000).default(256),
    })
    .default({ steps: 100, batchSize: 16, learningRate: 1e-3, evalEvery: 25, maxSeqLength: 64, trainExamples: 512, devExamples: 256 }),
});

/** What a study needs to know of its dataset. */
export interface DatasetFacts {
  kind: 'classification' | 'regression';
  /** Outputs of the task head: the number of classes, or 1 for regression. */
  outputs: number;
  metrics: readonly MetricName[];
  defaultMetric: MetricName;
}

/** What spec validation needs to know about the installation. */
export interface SpecContext {
  /**
   * Facts of the dataset a reference names.
   * @throws InvalidSpecError-worthy problems as an Error whose message says what is wrong.
   */
  describeDataset: (ref: string) => Promise<DatasetFacts>;
  baseModelShape: (name: string) => EncoderShape | undefined;
  baseModels: readonly string[];
}

/** A checked spec and the facts of its dataset. */
export interface ParsedSpec {
  spec: StudySpec;
  dataset: DatasetFacts;
}

/**
 * Parses and checks a submitted spec, filling defaults (the metric from the dataset).
 * @throws InvalidSpecError naming the first offending field.
 */
export async function parseStudySpec(input: unknown, context: SpecContext): Promise<ParsedSpec> {
  const parsed = specSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      throw new InvalidSpecError([...path, key].join('.'), 'unknown field');
    }
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    throw new InvalidSpecError(path.join('.') || '(spec)', missing ? 'is required' : issue.message);
  }
  const spec = parsed.data;
  const shape = context.baseModelShape(spec.task.baseModel);
  if (!shape) {
    throw new InvalidSpecError('task.baseModel', `unknown base model "${spec.task.baseModel}"; available: ${context.baseModels.join(', ')}`);
  }
  if (spec.training.maxSeqLength > shape.maxPositions) {
    throw new InvalidSpecError('training.maxSeqLength', `must be at most ${shape.maxPositions}, the positions of base model "${spec.task.baseModel}"`);
  }
  if (spec.budget.maxParallel > spec.budget.maxTrials) spec.budget.maxParallel = spec.budget.maxTrials;
  const searchSpace: SearchSpace = spec.searchSpace ?? defaultLoraSpace(shape);
  try {
    validateSpace(searchSpace);
    validateLoraSpace(searchSpace, shape);
  } catch (error) {
    if (error instanceof InvalidSearchSpaceError) {
      throw new InvalidSpecError(error.parameter ? `searchSpace.${error.parameter}` : 'searchSpace', error.problem);
    }
    throw error;
  }
  let dataset: DatasetFacts;
  try {
    dataset = await context.describeDataset(spec.task.dataset);
  } catch (error) {
    throw new InvalidSpecError('task.dataset', error instanceof Error ? error.message : String(error));
  }
  const metric = spec.task.metric ?? dataset.defaultMetric;
  if (!dataset.metrics.includes(metric)) {
    throw new InvalidSpecError('task.metric', `"${metric}" does not apply to dataset "${spec.task.dataset}"; use one of ${dataset.metrics.join(', ')}`);
  }
  return { spec: { ...spec, task: { ...spec.task, metric }, searchSpace }, dataset };
}
