/**
 * Admission of a search space at submit: does it yield configurations that can run? The space
 * is sampled (seeded, so the answer is reproducible) with the preset's validity check and the
 * study's parameter constraint; then the largest configuration found is grown one parameter
 * at a time to the space's worst case, whose estimated memory must fit the limit. Pure: the
 * API calls it with the base model's shape and its configured limit.
 */
import type { Preset } from './presets.js';
import { validatePeft } from './methods/registry.js';
import { countBaseParams, countHeadParams, countPeftParams } from './param-count.js';
import { deriveRandom } from './random.js';
import type { ParamValue, SearchSpace } from './space.js';
import { pointProblem, repairPoint, samplePoint } from './space.js';
import { positionsTaken } from './positions.js';
import { describeEstimate, estimateTrialMemory, formatBytes } from './trial-memory.js';
import type { TrialMemoryEstimate, TrialMemoryInput } from './trial-memory.js';
import type { EncoderShape, PeftConfig, SearchPoint } from './types.js';

/** Random draws made at submit to find valid configurations. */
export const ADMISSION_DRAWS = 300;

/** A spec that cannot run; `field` is the dotted spec field to change (e.g. `searchSpace.serialAdapter.size`). */
export class InadmissibleSpecError extends Error {
  override readonly name = 'InadmissibleSpecError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

/** What {@link admitSearchSpace} needs. */
export interface AdmissionRequest {
  preset: Preset;
  /** A space that passed validateSpace and the preset's checkSpace. */
  space: SearchSpace;
  shape: EncoderShape;
  headOutputs: number;
  training: TrialMemoryInput['training'];
  /** The study's constraint on trainable parameters, as a percentage of the base model. */
  maxTrainablePercent?: number;
  /** Largest estimated memory of one trial, in bytes. */
  maxMemoryBytes: number;
  /** Seed of the draws. @defaultValue 0 */
  seed?: number;
}

/** What admission found. */
export interface Admission {
  /** Valid configurations among the draws. */
  validDraws: number;
  /** The space's largest configuration found and its estimate. */
  worstPoint: SearchPoint;
  worstEstimate: TrialMemoryEstimate;
}

/** Memory-relevant training settings a user can lower, with their smallest values. */
const TRAINING_LEVERS = { batchSize: 1, maxSeqLength: 4, trainExamples: 2, devExamples: 1 } as const;

/**
 * Checks that the space yields valid configurations within the constraint and that its worst
 * configuration fits the memory limit.
 * @throws InadmissibleSpecError naming the field to change and why.
 */
export function admitSearchSpace(request: AdmissionRequest): Admission {
  const { preset, space, shape } = request;
  const random = deriveRandom(request.seed ?? 0, 'admission');
  const drawn: SearchPoint[] = [];
  for (let i = 0; i < ADMISSION_DRAWS; i++) drawn.push(samplePoint(space, random));
  const valid = drawn.filter((point) => preset.isValid(point));
  if (valid.length === 0) {
    throw new InadmissibleSpecError('searchSpace', `none of ${ADMISSION_DRAWS} random draws is a valid configuration of preset "${preset.name}", which needs ${preset.validity}`);
  }
  // The methods' own checks (the registry's), so a point no worker could build is refused here.
  for (const point of valid) {
    try {
      validatePeft(preset.toConfig(point, shape).peft, shape);
    } catch (error) {
      throw new InadmissibleSpecError('searchSpace', `the point ${JSON.stringify(point)} maps to a configuration its method refuses: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const headParams = countHeadParams(shape, request.headOutputs);
  const paramsOf = (point: SearchPoint): number => countPeftParams(preset.toConfig(point, shape).peft, shape) + headParams;
  const maxParams = request.maxTrainablePercent === undefined ? Infinity : (request.maxTrainablePercent / 100) * countBaseParams(shape);
  const admissible = (point: SearchPoint): boolean => preset.isValid(point) && paramsOf(point) <= maxParams;
  const allowed = valid.filter((point) => paramsOf(point) <= maxParams);
  if (allowed.length === 0) {
    const smallest = Math.min(...valid.map(paramsOf));
    const percent = (100 * smallest) / countBaseParams(shape);
    throw new InadmissibleSpecError(
      'objectives.maxTrainablePercent',
      `every valid configuration drawn trains more than ${request.maxTrainablePercent}% of the base model (the smallest of ${valid.length}: ${percent.toPrecision(3)}%)`,
    );
  }

  // A prompt and a prefix take positions before the real tokens: with the longest input they must fit.
  const longest = allowed.reduce((a, b) => (positionsTaken(preset.toConfig(b, shape).peft) > positionsTaken(preset.toConfig(a, shape).peft) ? b : a));
  const taken = positionsTaken(preset.toConfig(longest, shape).peft);
  if (taken + request.training.maxSeqLength > shape.maxPositions) {
    throw new InadmissibleSpecError(
      'training.maxSeqLength',
      `the configuration ${JSON.stringify(longest)} takes ${taken} of the base model's ${shape.maxPositions} positions for its prompt and prefix, which leaves ${Math.max(0, shape.maxPositions - taken)} for the input, not ${request.training.maxSeqLength}: ` +
        `lower maxSeqLength to at most ${Math.max(0, shape.maxPositions - taken)}, or give a searchSpace with shorter prefixes or prompts`,
    );
  }

  const estimate = (point: SearchPoint, training = request.training): TrialMemoryEstimate =>
    estimateTrialMemory({ shape, peft: preset.toConfig(point, shape).peft, training, headOutputs: request.headOutputs });
  let worst = allowed.reduce((a, b) => (estimate(b).total > estimate(a).total ? b : a));
  // Random draws may miss the corner of the space: grow the worst point one parameter at a time.
  for (const name of Object.keys(space).sort()) {
    for (const value of candidateValues(space, name)) {
      const next = variant(space, worst, name, value, random);
      if (next && admissible(next) && estimate(next).total > estimate(worst).total) worst = next;
    }
  }
  const worstEstimate = estimate(worst);
  if (worstEstimate.total > request.maxMemoryBytes) {
    throw new InadmissibleSpecError(
      culprit(request, worst, estimate, admissible, random),
      `one trial of the space's largest configuration (${JSON.stringify(worst)}) needs an estimated ${describeEstimate(worstEstimate, request.training, shape)}; ` +
        `that is more than AUTOPEFT_TRIAL_MAX_MEMORY (${formatBytes(request.maxMemoryBytes)})`,
    );
  }
  return { validDraws: valid.length, worstPoint: worst, worstEstimate };
}

/**
 * Checks one baseline's configuration as a trial of this study: its methods accept it, its
 * prompt and prefix leave room for the input, and it fits the memory limit.
 * @returns the problem, or undefined when it can run
 */
export function baselineProblem(peft: PeftConfig, request: Omit<AdmissionRequest, 'preset' | 'space' | 'seed' | 'maxTrainablePercent'>): string | undefined {
  const { shape } = request;
  try {
    validatePeft(peft, shape);
  } catch (error) {
    return `its configuration does not build on this base model: ${error instanceof Error ? error.message : String(error)}`;
  }
  const taken = positionsTaken(peft);
  if (taken + request.training.maxSeqLength > shape.maxPositions) {
    return `its prompt and prefix take ${taken} of the base model's ${shape.maxPositions} positions, which leaves ${Math.max(0, shape.maxPositions - taken)} for the input, not training.maxSeqLength ${request.training.maxSeqLength}`;
  }
  const estimate = estimateTrialMemory({ shape, peft, training: request.training, headOutputs: request.headOutputs });
  if (estimate.total > request.maxMemoryBytes) {
    return `one trial needs an estimated ${describeEstimate(estimate, request.training, shape)}; that is more than AUTOPEFT_TRIAL_MAX_MEMORY (${formatBytes(request.maxMemoryBytes)})`;
  }
  return undefined;
}

/** Choices tried one by one for extremes; past this, the numeric extremes and the first choices. */
const MAX_CANDIDATES = 64;

/** The values of a parameter worth trying for extremes: its choices (a bounded number), or the bounds. */
function candidateValues(space: SearchSpace, name: string): ParamValue[] {
  const dist = space[name]!;
  if (dist.type !== 'categorical') return [dist.low, dist.high];
  if (dist.choices.length <= MAX_CANDIDATES) return dist.choices;
  const numbers = dist.choices.filter((c): c is number => typeof c === 'number');
  const extremes = numbers.length > 0 ? [Math.min(...numbers), Math.max(...numbers)] : [];
  return [...new Set([...extremes, ...dist.choices.slice(0, MAX_CANDIDATES)])];
}

/** The point with one parameter changed, conditions repaired; undefined if that leaves the space. */
function variant(space: SearchSpace, point: SearchPoint, name: string, value: ParamValue, random: () => number): SearchPoint | undefined {
  if (point[name] === undefined || point[name] === value) return undefined;
  const next = repairPoint(space, { ...point, [name]: value }, random);
  return pointProblem(space, next) === undefined ? next : undefined;
}

/**
 * The field whose smallest value lowers the worst configuration's estimate most: a search-space
 * parameter, a training setting, or the base model itself when even its frozen weights do not fit.
 */
function culprit(
  request: AdmissionRequest,
  worst: SearchPoint,
  estimate: (point: SearchPoint, training?: AdmissionRequest['training']) => TrialMemoryEstimate,
  admissible: (point: SearchPoint) => boolean,
  random: () => number,
): string {
  const base = estimate(worst);
  if (base.baseWeights > request.maxMemoryBytes) return 'task.baseModel';
  let best = { field: 'training.batchSize', total: base.total };
  for (const name of Object.keys(request.space).sort()) {
    for (const value of candidateValues(request.space, name)) {
      const next = variant(request.space, worst, name, value, random);
      if (!next || !admissible(next)) continue;
      const total = estimate(next).total;
      if (total < best.total) best = { field: `searchSpace.${name}`, total };
    }
  }
  for (const [setting, smallest] of Object.entries(TRAINING_LEVERS) as [keyof typeof TRAINING_LEVERS, number][]) {
    if (request.training[setting] <= smallest) continue;
    const total = estimate(worst, { ...request.training, [setting]: smallest }).total;
    if (total < best.total) best = { field: `training.${setting}`, total };
  }
  return best.field;
}
