/**
 * Study specs: the schema a submitted spec must match, defaults, and the checks that need
 * knowledge of the available datasets and base models, and admission: a spec is accepted only
 * if its space yields valid configurations whose largest fits the memory limit of one trial
 * (search/admission.ts). Every error names the field.
 */
import { z } from 'zod';
import { admitSearchSpace, baselineProblem, InadmissibleSpecError } from '../search/admission.js';
import type { Admission } from '../search/admission.js';
import { BASELINE_NAMES, BASELINES, defaultBaselines } from '../search/baselines.js';
import type { BaselineName } from '../search/baselines.js';
import { getPreset, PRESET_NAMES } from '../search/presets.js';
import type { PresetName, PresetOptions } from '../search/presets.js';
import { InvalidPrunerError, validatePruner } from '../search/pruners.js';
import { configurationsProblem } from '../search/warm-start.js';
import type { PrunerConfig } from '../search/pruners.js';
import { SAMPLER_NAMES } from '../search/sampler.js';
import type { SamplerName } from '../search/sampler.js';
import { validateSpace, InvalidSearchSpaceError } from '../search/space.js';
import type { SearchSpace } from '../search/space.js';
import { trainingSettingsSchema } from '../search/training-schema.js';
import { DEFAULT_TRIAL_MAX_MEMORY, describeEstimate, estimateTrialMemory, formatBytes } from '../search/trial-memory.js';
import type { EncoderShape, MetricName } from '../search/types.js';
import { METRIC_NAMES } from '../workers/train/metrics.js';
import { REEVALUATION_MAX_DEV_EXAMPLES } from './reevaluation.js';
import type { ReevaluationSpec, StudySpec } from './types.js';

/** Re-evaluation a study gets by default when its budget is large enough (AutoPEFT uses 5 seeds; 3 keeps it affordable). */
export const DEFAULT_REEVALUATION: Readonly<ReevaluationSpec> = { configurations: 5, seeds: 3 };

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

const paramValue = z.union([z.number(), z.string(), z.boolean()]);
const clause = { parent: z.string().min(1), values: z.array(paramValue).min(1) };
/** A parameter that only matters when its parent takes one of `values` (and each `and` clause holds too). */
const condition = z.strictObject({ ...clause, and: z.array(z.strictObject(clause)).min(1).optional() }).optional();

const distributionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('categorical'), choices: z.array(paramValue).min(1), condition }),
  z.strictObject({ type: z.literal('int'), low: z.number().int(), high: z.number().int(), log: z.boolean().optional(), condition }),
  z.strictObject({ type: z.literal('float'), low: z.number(), high: z.number(), log: z.boolean().optional(), condition }),
]);

const direction = z.enum(['maximize', 'minimize']).optional();
const rungFields = {
  direction,
  minResource: z.number().int().min(1),
  reductionFactor: z.number().min(2).optional(),
  rank: z.enum(['metric', 'pareto']).optional(),
};
const prunerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('median'), direction, warmupSteps: z.number().int().min(0).optional(), minTrials: z.number().int().min(1).optional() }),
  z.strictObject({ type: z.literal('successiveHalving'), ...rungFields, bracketSize: z.number().int().min(2), minEarlyStoppingRate: z.number().int().min(0).optional() }),
  z.strictObject({ type: z.literal('asha'), ...rungFields, minEarlyStoppingRate: z.number().int().min(0).optional(), bootstrapCount: z.number().int().min(0).optional() }),
  z.strictObject({ type: z.literal('hyperband'), ...rungFields, maxResource: z.number().int().min(1) }),
  z.strictObject({ type: z.literal('paretoCurve'), direction, minResource: z.number().int().min(0).optional(), minTrials: z.number().int().min(3).optional(), optimism: z.number().min(0).optional() }),
]);

/** The schema of a submitted study spec (before the checks that need the installation). */
export const studySpecSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).default('study'),
  task: z.strictObject({
    dataset: z.string().min(1),
    baseModel: z.string().min(1),
    /** Defaults to the dataset's own metric. */
    metric: z.enum(METRIC_NAMES as [MetricName, ...MetricName[]]).optional(),
  }),
  /** Which family of configurations to search; its default space unless `searchSpace` is given. */
  preset: z.enum(PRESET_NAMES as [PresetName, ...PresetName[]]).default('lora'),
  /**
   * Options of the preset's default space: `perLayerSizes` gives the autopeft presets a size per
   * module per layer (search/presets.ts PresetOptions).
   */
  presetOptions: z.strictObject({ perLayerSizes: z.boolean().optional() }).optional(),
  searchSpace: z.record(z.string(), distributionSchema).optional(),
  algorithm: z
    .strictObject({ name: z.enum(SAMPLER_NAMES as unknown as [SamplerName, ...SamplerName[]]).default('auto'), seed: z.number().int().min(0).max(2 ** 31 - 1).default(0) })
    .default({ name: 'auto', seed: 0 }),
  objectives: z
    .strictObject({
      /** Constraint: never propose configurations training more than this % of the base model. */
      maxTrainablePercent: z.number().positive().max(100).optional(),
      /** Hypervolume reference point [metric, trainable params]. */
      referencePoint: z.tuple([z.number(), z.number().min(0)]).optional(),
    })
    .default({}),
  pruner: prunerSchema.default({ type: 'paretoCurve' }),
  /**
   * Well-known methods at their usual settings, trained first as trials of the budget (see
   * search/baselines.ts); default: the standard set when the budget has room for it, else none.
   */
  baselines: z.array(z.enum(BASELINE_NAMES as [BaselineName, ...BaselineName[]])).max(BASELINE_NAMES.length).optional(),
  /** Configurations evaluated first, in order, before the algorithm proposes any. */
  warmStart: z.union([z.strictObject({ configurations: z.array(z.record(z.string(), paramValue)).min(1) }), z.strictObject({ fromStudy: z.string().min(1) })]).optional(),
  budget: z.strictObject({
    maxTrials: z.number().int().min(1).max(10_000),
    maxParallel: z.number().int().min(1).max(256).default(1),
  }),
  /**
   * Retraining after the search: the `configurations` best Pareto-optimal search trials and every
   * baseline, `seeds` times each; default: on (5, 3) when budget.maxTrials >= 30, else off.
   */
  reevaluation: z
    .strictObject({
      configurations: z.number().int().min(0).max(10).default(DEFAULT_REEVALUATION.configurations),
      seeds: z.number().int().min(1).max(10).default(DEFAULT_REEVALUATION.seeds),
    })
    .optional(),
  training: trainingSettingsSchema.prefault({}),
});

/**
 * Whether a spec without `reevaluation` re-evaluates: only a budget this large, so that the
 * retraining (up to (K + baselines) × S trials) stays a fraction of the search.
 */
export const REEVALUATION_DEFAULT_MIN_TRIALS = 30;

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
  /**
   * The shape of the base model of that name.
   * @throws Error whose message says why there is no such model.
   */
  baseModelShape: (name: string) => Promise<EncoderShape>;
  /**
   * Largest estimated memory of one trial, in bytes (AUTOPEFT_TRIAL_MAX_MEMORY): a spec whose
   * largest configuration needs more is refused. @defaultValue DEFAULT_TRIAL_MAX_MEMORY (3 GiB)
   */
  trialMaxMemoryBytes?: number;
  /** Whether a study of that id exists (checks `warmStart.fromStudy` at submit when given). */
  studyExists?: (id: string) => Promise<boolean>;
}

/** A checked spec, the facts of its dataset and the shape of its base model. */
export interface ParsedSpec {
  spec: StudySpec;
  dataset: DatasetFacts;
  shape: EncoderShape;
}

/**
 * Parses and checks a submitted spec, filling defaults (the metric from the dataset).
 * @throws InvalidSpecError naming the first offending field.
 */
export async function parseStudySpec(input: unknown, context: SpecContext): Promise<ParsedSpec> {
  const parsed = studySpecSchema.safeParse(input, { reportInput: true });
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
  let shape: EncoderShape;
  try {
    shape = await context.baseModelShape(spec.task.baseModel);
  } catch (error) {
    throw new InvalidSpecError('task.baseModel', error instanceof Error ? error.message : String(error));
  }
  if (spec.training.maxSeqLength > shape.maxPositions) {
    throw new InvalidSpecError('training.maxSeqLength', `must be at most ${shape.maxPositions}, the positions of base model "${spec.task.baseModel}"`);
  }
  if (spec.budget.maxParallel > spec.budget.maxTrials) spec.budget.maxParallel = spec.budget.maxTrials;
  const preset = getPreset(spec.preset);
  checkPresetOptions(spec);
  const searchSpace: SearchSpace = spec.searchSpace ?? preset.space(shape, spec.presetOptions);
  try {
    validateSpace(searchSpace);
    preset.checkSpace?.(searchSpace, shape);
  } catch (error) {
    if (error instanceof InvalidSearchSpaceError) {
      throw new InvalidSpecError(error.parameter ? `searchSpace.${error.parameter}` : 'searchSpace', error.problem);
    }
    throw error;
  }
  const warmStart = spec.warmStart;
  if (warmStart && 'fromStudy' in warmStart && context.studyExists && !(await context.studyExists(warmStart.fromStudy))) {
    throw new InvalidSpecError('warmStart.fromStudy', `no study "${warmStart.fromStudy}"`);
  }
  const configurations = warmStart && 'configurations' in warmStart ? warmStart.configurations : [];
  if (configurations.length > spec.budget.maxTrials) {
    throw new InvalidSpecError('warmStart.configurations', `${configurations.length} configurations exceed budget.maxTrials (${spec.budget.maxTrials})`);
  }
  const configurationProblem = configurationsProblem(searchSpace, configurations, (point) => preset.isValid(point));
  if (configurationProblem) {
    const { index, parameter, message } = configurationProblem;
    throw new InvalidSpecError(`warmStart.configurations.${index}${parameter ? `.${parameter}` : ''}`, message);
  }
  try {
    validatePruner(spec.pruner as PrunerConfig);
  } catch (error) {
    if (error instanceof InvalidPrunerError) throw new InvalidSpecError(`pruner.${error.field}`, error.problem);
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
  const reevaluation = spec.reevaluation ?? (spec.budget.maxTrials >= REEVALUATION_DEFAULT_MIN_TRIALS ? { ...DEFAULT_REEVALUATION } : { configurations: 0, seeds: DEFAULT_REEVALUATION.seeds });
  // A re-evaluation trial scores the whole dev split (up to the cap): its memory is checked with that many.
  const reevaluationTrainingSettings = { ...spec.training, devExamples: Math.max(spec.training.devExamples, REEVALUATION_MAX_DEV_EXAMPLES) };
  const maxMemoryBytes = context.trialMaxMemoryBytes ?? DEFAULT_TRIAL_MAX_MEMORY;
  let admission: Admission;
  try {
    admission = admitSearchSpace({
      preset,
      space: searchSpace,
      shape,
      headOutputs: dataset.outputs,
      training: spec.training,
      ...(spec.objectives.maxTrainablePercent !== undefined ? { maxTrainablePercent: spec.objectives.maxTrainablePercent } : {}),
      maxMemoryBytes,
      seed: spec.algorithm.seed,
    });
  } catch (error) {
    if (error instanceof InadmissibleSpecError) throw new InvalidSpecError(error.field, error.problem);
    throw error;
  }
  const reevaluating = reevaluation.configurations > 0;
  if (reevaluating) {
    const estimate = estimateTrialMemory({ shape, peft: preset.toConfig(admission.worstPoint, shape).peft, training: reevaluationTrainingSettings, headOutputs: dataset.outputs });
    if (estimate.total > maxMemoryBytes) {
      throw new InvalidSpecError(
        'reevaluation',
        `a re-evaluation of the space's largest configuration scores up to ${REEVALUATION_MAX_DEV_EXAMPLES} dev examples and needs an estimated ${describeEstimate(estimate, reevaluationTrainingSettings, shape)}; ` +
          `that is more than AUTOPEFT_TRIAL_MAX_MEMORY (${formatBytes(maxMemoryBytes)}): its evaluation batches are larger than the search's (training.devExamples ${spec.training.devExamples}); lower training.maxSeqLength, or set reevaluation.configurations to 0`,
      );
    }
  }
  const baselines = admitBaselines(spec.baselines, configurations.length, shape, dataset.outputs, reevaluating ? reevaluationTrainingSettings : spec.training, spec.budget.maxTrials, maxMemoryBytes);
  return { spec: { ...spec, task: { ...spec.task, metric }, searchSpace, baselines, reevaluation }, dataset, shape };
}

/** Each option set is one the preset has, and shapes the preset's own space (a given searchSpace names its parameters itself). */
function checkPresetOptions(spec: Pick<StudySpec, 'preset' | 'presetOptions'> & { searchSpace?: SearchSpace | undefined }): void {
  const preset = getPreset(spec.preset);
  for (const [option, value] of Object.entries(spec.presetOptions ?? {})) {
    if (value !== true) continue;
    const supported = PRESET_NAMES.filter((name) => getPreset(name).options?.includes(option as keyof PresetOptions));
    if (!preset.options?.includes(option as keyof PresetOptions)) {
      throw new InvalidSpecError(`presetOptions.${option}`, `preset "${preset.name}" has no such option; ${supported.map((n) => `"${n}"`).join(' and ')} ${supported.length === 1 ? 'has' : 'have'} it`);
    }
    if (spec.searchSpace) {
      throw new InvalidSpecError(
        `presetOptions.${option}`,
        "shapes the preset's default space, but the spec gives its own searchSpace: name the per-layer parameters there (serialAdapter.size.<i>, parallelAdapter.size.<i>, lora.rank.<target>.<i>) or drop searchSpace",
      );
    }
  }
}

/**
 * The study's baselines: the spec's, each checked as a trial of this study (a problem is refused
 * naming `baselines.<i>`), or the default set less those this study cannot run. They come first
 * in the budget, so they and the warm-start configurations must leave the search a trial.
 */
function admitBaselines(
  given: BaselineName[] | undefined,
  warmStarts: number,
  shape: EncoderShape,
  headOutputs: number,
  training: StudySpec['training'],
  maxTrials: number,
  maxMemoryBytes: number,
): BaselineName[] {
  const problemOf = (name: BaselineName): string | undefined => baselineProblem(BASELINES[name].config(shape), { shape, headOutputs, training, maxMemoryBytes });
  if (given === undefined) {
    const defaults = defaultBaselines(maxTrials).filter((name) => problemOf(name) === undefined);
    return defaults.length + warmStarts < maxTrials ? defaults : [];
  }
  given.forEach((name, i) => {
    if (given.indexOf(name) !== i) throw new InvalidSpecError(`baselines.${i}`, `"${name}" is listed twice`);
    const problem = problemOf(name);
    if (problem) throw new InvalidSpecError(`baselines.${i}`, `baseline "${name}" cannot run in this study: ${problem}`);
  });
  if (given.length + warmStarts >= maxTrials) {
    throw new InvalidSpecError('baselines', `${given.length} baselines${warmStarts ? ` and ${warmStarts} warm-start configurations` : ''} leave none of budget.maxTrials (${maxTrials}) to the search: each baseline is one trial of the budget`);
  }
  return given;
}
