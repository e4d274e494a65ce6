/**
 * One trial, start to finish: data, base model, PEFT modules and head, AdamW training with a
 * linear warm-up/decay schedule, gradient clipping and dropout, periodic dev evaluation with
 * optional early stopping, and the result the scheduler records.
 */
import { hostname } from 'node:os';
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { countBaseParams, countPeftParams, headParamCount } from '../../search/param-count.js';
import { trialTrainingProblem } from '../../search/training-schema.js';
import { describeEstimate, estimateTrialMemory, evalBatchSize, formatBytes } from '../../search/trial-memory.js';
import type { IntermediateReport, MetricName, TrainingConfig } from '../../search/types.js';
import type { SelectedBackend, Tf } from '../backend.js';
import { currentBackend, selectBackend } from '../backend.js';
import type { Dataset, Example } from '../data/dataset.js';
import { metricsFor, takeSubset } from '../data/dataset.js';
import type { DatasetContext } from '../data/registry.js';
import { loadDataset } from '../data/registry.js';
import { InvalidTrialError, TrialAbortedError, TrialTooLargeError } from '../errors.js';
import type { TrialJobData, TrialJobResult } from '../job-types.js';
import type { BaseModel } from '../model/base-model.js';
import { getBaseModel } from '../model/base-model.js';
import type { EncoderInput } from '../model/encoder.js';
import type { EncodedBatch } from '../model/encoding.js';
import type { ForwardContext } from '../model/forward-context.js';
import { inferenceContext, trainingContext } from '../model/forward-context.js';
import type { HeadKind } from '../model/head.js';
import { SequenceClassificationHead } from '../model/head.js';
import { buildPeftModules, storedPeftWeights } from '../peft/build.js';
import type { PeftModule } from '../peft/peft-module.js';
import { createRng, deriveSeed, permutation } from '../random.js';
import { AdamW, linearSchedule } from './adamw.js';
import { encodedSets } from './encoded-cache.js';
import { peftTrainingStep } from './peft-step.js';
import { evaluateMetrics, majorityBaseline } from './metrics.js';

/**
 * Optimisation settings beyond {@link TrainingConfig}. A job may carry them as extra fields of
 * `training` (until TrainingConfig declares them); missing ones take these defaults.
 */
export interface OptimizerSettings {
  /** Decoupled AdamW weight decay of matrices. @defaultValue 0.01 */
  weightDecay: number;
  /** Fraction of the steps spent warming the learning rate up from 0. @defaultValue 0.06 */
  warmupRatio: number;
  /** Global gradient-norm clip; 0 turns it off. @defaultValue 1 */
  maxGradNorm: number;
  /** `linear`: decay to 0 at the last step after warm-up; `constant`: no decay. @defaultValue 'linear' */
  schedule: 'linear' | 'constant';
  /**
   * Stop after this many evaluations in a row without a new best dev value; 0 never stops
   * early. @defaultValue 0
   */
  earlyStoppingPatience: number;
}

/** The defaults of {@link OptimizerSettings}. */
export const DEFAULT_OPTIMIZER_SETTINGS: Readonly<OptimizerSettings> = {
  weightDecay: 0.01,
  warmupRatio: 0.06,
  maxGradNorm: 1,
  schedule: 'linear',
  earlyStoppingPatience: 0,
};

/** What {@link TrainTrialOptions.onTrainedWeights} receives besides the weights. */
export interface TrainedModelInfo {
  baseModel: BaseModel;
  headKind: HeadKind;
  /** Outputs of the head: classes, or 1 for regression. */
  outputs: number;
  dataset: Dataset;
}

/** Options of {@link trainTrial}. */
export interface TrainTrialOptions {
  /** Backend to run on. @defaultValue the process's selected backend, else a fresh default selection */
  backend?: SelectedBackend;
  /** Where uploaded and file datasets come from. */
  datasetContext?: DatasetContext;
  /** Called after each evaluation with every report so far (awaited before training goes on). */
  onReport?: (reports: IntermediateReport[]) => void | Promise<void>;
  /** Called after each step with the training loss (reading it costs a sync; omit when unused). */
  onLoss?: (step: number, loss: number) => void;
  /**
   * Called once after the last step with the trained adapter as an export keeps it (PEFT
   * modules' stored weights, e.g. prefix-tuning's MLP output rather than the MLP, and the head)
   * under Hugging Face-style names, e.g. to save it. The tensors are freed when the returned
   * promise settles, so copy what you need.
   */
  onTrainedWeights?: (weights: ReadonlyMap<string, Tensor>, info: TrainedModelInfo) => void | Promise<void>;
  /** Aborting stops the trial at the next step or evaluation batch with {@link TrialAbortedError}. */
  signal?: AbortSignal;
  /** Recorded in the result. @defaultValue `hostname:pid` */
  workerName?: string;
  /**
   * Refuse (with {@link TrialTooLargeError}, before allocating) a trial whose estimated memory
   * (search/trial-memory.ts) exceeds this many bytes. @defaultValue no limit
   */
  maxMemoryBytes?: number;
}

// Salts separating the random streams a trial derives from its one seed.
const STREAM = { trainSubset: 1, devSubset: 2, batchOrder: 3, head: 4, peft: 5, dropout: 6 } as const;

/**
 * The optimiser settings of a job: its optional `training` fields over the defaults. The
 * values are checked by the shared training schema (search/training-schema.ts), the one the
 * API and the scheduler use, so a value the API accepted is never refused here.
 * @throws InvalidTrialError naming the field when the settings fail that schema.
 */
export function optimizerSettings(training: TrainingConfig): OptimizerSettings {
  const problem = trialTrainingProblem(training);
  if (problem) throw new InvalidTrialError(`Invalid training configuration: ${problem.field}: ${problem.message}`);
  const settings: OptimizerSettings = { ...DEFAULT_OPTIMIZER_SETTINGS };
  for (const key of Object.keys(DEFAULT_OPTIMIZER_SETTINGS) as (keyof OptimizerSettings)[]) {
    if (training[key] !== undefined) Object.assign(settings, { [key]: training[key] });
  }
  return settings;
}

/** What the schema cannot know: the base model's positions bound the sequence length. */
function validateSequenceLength(training: TrainingConfig, model: BaseModel, promptLength: number, prefixLength: number): void {
  // A prefix takes the first positions too: the real tokens are numbered after it (see BertEncoder.embed).
  const maxLength = model.maxSequenceLength - promptLength - prefixLength;
  if (training.maxSeqLength > maxLength) {
    const taken = [promptLength > 0 ? `${promptLength} positions go to the prompt` : '', prefixLength > 0 ? `${prefixLength} positions go to the prefix` : ''].filter(Boolean).join(', ');
    const prompt = taken ? ` (${taken})` : '';
    throw new InvalidTrialError(`Invalid training configuration: maxSeqLength must be at most ${maxLength} for base model "${model.name}"${prompt}, got ${training.maxSeqLength}`);
  }
}

/** Refuses a trial that would not fit this worker's memory limit, naming the estimate's parts. */
function checkMemory(data: TrialJobData, model: BaseModel, outputs: number, dataset: Dataset, maxBytes: number): void {
  const training = {
    ...data.training,
    trainExamples: Math.min(data.training.trainExamples, dataset.train.length),
    devExamples: Math.min(data.training.devExamples, dataset.dev.length),
  };
  const estimate = estimateTrialMemory({ shape: model.shape, peft: data.peft, training, headOutputs: outputs });
  if (estimate.total > maxBytes) {
    throw new TrialTooLargeError(
      `this trial needs an estimated ${describeEstimate(estimate, training, model.shape)}; that is more than this worker's AUTOPEFT_TRIAL_MAX_MEMORY (${formatBytes(maxBytes)})`,
    );
  }
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  throw new TrialAbortedError(`${what} aborted${detail ? `: ${detail}` : ''}`);
}

/** Lets timers and I/O run (queue lock renewal, abort events) between synchronous tfjs steps. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Rows `indices` of an encoded set, as input tensors. `trim` cuts the columns after the longest
 * row's last real token: padding keys get zero attention and padding rows never reach the
 * first token, so an evaluation gives the same predictions on fewer positions.
 */
function batchTensors(tf: Tf, encoded: EncodedBatch, indices: readonly number[], withTypes: boolean, trim = false): EncoderInput {
  const full = encoded.seqLength;
  let s = full;
  if (trim) {
    s = 1;
    for (const row of indices) {
      for (let j = full - 1; j >= s; j--) {
        if (encoded.mask[row * full + j] !== 0) {
          s = j + 1;
          break;
        }
      }
    }
  }
  const ids = new Int32Array(indices.length * s);
  const mask = new Float32Array(indices.length * s);
  const types = withTypes ? new Int32Array(indices.length * s) : undefined;
  indices.forEach((row, i) => {
    ids.set(encoded.ids.subarray(row * full, row * full + s), i * s);
    mask.set(encoded.mask.subarray(row * full, row * full + s), i * s);
    types?.set(encoded.typeIds.subarray(row * full, row * full + s), i * s);
  });
  return {
    ids: tf.tensor2d(ids, [indices.length, s], 'int32'),
    mask: tf.tensor2d(mask, [indices.length, s]),
    typeIds: types ? tf.tensor2d(types, [indices.length, s], 'int32') : undefined,
  };
}

function disposeBatch(tf: Tf, batch: EncoderInput): void {
  tf.dispose([batch.ids, batch.mask, ...(batch.typeIds ? [batch.typeIds] : [])]);
}

/** Training targets: one-hot rows for classification, a column of values for regression. */
function targetTensor(tf: Tf, labels: readonly number[], outputs: number, regression: boolean): Tensor2D {
  if (regression) return tf.tensor2d(Float32Array.from(labels), [labels.length, 1]);
  const values = new Float32Array(labels.length * outputs);
  labels.forEach((label, i) => {
    values[i * outputs + label] = 1;
  });
  return tf.tensor2d(values, [labels.length, outputs]);
}

/** An endless sequence of training batches: seeded reshuffles of the training set per epoch. */
function* batchIndices(count: number, batchSize: number, seed: number): Generator<number[]> {
  let order: number[] = [];
  let cursor = 0;
  let epoch = 0;
  for (;;) {
    const batch: number[] = [];
    while (batch.length < batchSize) {
      if (cursor === order.length) {
        order = permutation(createRng(deriveSeed(seed, epoch++)), count);
        cursor = 0;
      }
      batch.push(order[cursor++]!);
    }
    yield batch;
  }
}

/**
 * Compares live parameter counts with the closed forms, each with its own: what trains with the
 * `training` form, what the adapter stores with the `stored` form the search ranks
 * configurations by. A mismatch is a bug in one of them, never a property of the trial, so it
 * is a plain Error.
 */
function checkParamCounts(label: string, data: TrialJobData, model: BaseModel, outputs: number, live: { training: number; stored: number }): void {
  const head = headParamCount(model.headKind, model.shape.hiddenSize, outputs);
  for (const mode of ['training', 'stored'] as const) {
    const expected = countPeftParams(data.peft, model.shape, mode) + head;
    if (live[mode] !== expected) throw new Error(`${label}: live ${mode} parameters ${live[mode]} differ from the closed form ${expected}`);
  }
  const d = model.shape.hiddenSize;
  const expectedBase = countBaseParams(model.shape) - (model.encoder.weights.pooler ? 0 : d * d + d);
  if (model.baseParams !== expectedBase) {
    throw new Error(`${label}: live base parameters ${model.baseParams} differ from the closed form ${expectedBase}`);
  }
}

/** Scalars of the stored form of the modules plus the head (what a download of the adapter holds). */
function liveStoredCount(tf: Tf, modules: readonly PeftModule[], head: SequenceClassificationHead): number {
  const stored = storedPeftWeights(tf, modules);
  const count = [...stored.values()].reduce((sum, t) => sum + t.size, 0);
  tf.dispose([...stored.values()]);
  return count + [...head.variables.values()].reduce((sum, v) => sum + v.size, 0);
}

/** Dev predictions without dropout: class ids, or values for regression; `checkAbort` runs before each batch. */
async function predictDev(
  tf: Tf,
  model: BaseModel,
  modules: readonly PeftModule[],
  head: SequenceClassificationHead,
  devBatches: readonly EncoderInput[],
  regression: boolean,
  checkAbort: () => void,
  firstTokenOnly: boolean,
): Promise<number[]> {
  const predictions: number[] = [];
  const ctx = inferenceContext();
  for (const batch of devBatches) {
    checkAbort();
    const predicted = tf.tidy(() => {
      const output = head.forward(model.encoder, model.encoder.encode(batch, modules, ctx, firstTokenOnly), ctx);
      return regression ? tf.reshape(output, [-1]) : tf.argMax(output, -1);
    });
    try {
      predictions.push(...(await predicted.data()));
    } finally {
      predicted.dispose();
    }
  }
  return predictions;
}

/**
 * Trains and evaluates one trial and returns its result. Deterministic for a given
 * `training.seed` on a given backend. Throws `InvalidTrialError` for unknown datasets or models
 * and impossible configurations, `TrialAbortedError` when `signal` aborts. Every tensor it
 * creates is freed before it returns or throws (the per-process base model cache aside), and
 * the number of live tensors stays constant from step to step.
 */
export async function trainTrial(data: TrialJobData, options: TrainTrialOptions = {}): Promise<TrialJobResult> {
  const { training, task } = data;
  const label = `Trial ${data.studyId}#${data.trialNumber}`;
  const backend = options.backend ?? currentBackend() ?? (await selectBackend());
  const tf = backend.tf;
  const settings = optimizerSettings(training);

  const model = getBaseModel(tf, task.baseModel);
  validateSequenceLength(training, model, data.peft.promptTuning?.length ?? 0, data.peft.prefix?.length ?? 0);
  const dataset = await loadDataset(task.dataset, options.datasetContext);
  const regression = dataset.kind === 'regression';
  const metrics: MetricName[] = dataset.metrics ?? metricsFor(dataset.kind ?? 'classification', dataset.labels.length);
  if (!metrics.includes(task.metric)) {
    throw new InvalidTrialError(`Metric "${String(task.metric)}" does not apply to dataset "${task.dataset}"; its metrics: ${metrics.join(', ')}`);
  }
  throwIfAborted(options.signal, label);
  // Timed from here: the dataset is loaded once per process, so its cost is not the trial's.
  const started = performance.now();
  const outputs = regression ? 1 : dataset.labels.length;
  if (options.maxMemoryBytes !== undefined) checkMemory(data, model, outputs, dataset, options.maxMemoryBytes);
  const trainSet: Example[] = takeSubset(dataset.train, training.trainExamples, deriveSeed(training.dataSeed, STREAM.trainSubset));
  const devSet: Example[] = takeSubset(dataset.dev, training.devExamples, deriveSeed(training.dataSeed, STREAM.devSubset));
  const trainLabels = trainSet.map((e) => e.label);
  const devLabels = devSet.map((e) => e.label);
  const hasPairs = [...trainSet, ...devSet].some((e) => e.textPair !== undefined);
  const encode = (set: readonly Example[]): EncodedBatch =>
    model.tokenizer.encodeBatch(set.map((e) => e.text), training.maxSeqLength, hasPairs ? set.map((e) => e.textPair) : undefined);
  // Later trials of a study on this worker reuse the tokenised subsets (same split, size, seed).
  const detail = (n: number, stream: number): string => `${n}/${training.dataSeed}/${stream}/${training.maxSeqLength}/${hasPairs}`;
  const trainEncoded = encodedSets.get({ source: dataset.train, tokenizer: model.tokenizer, detail: detail(training.trainExamples, STREAM.trainSubset) }, () => encode(trainSet));
  const devEncoded = encodedSets.get({ source: dataset.dev, tokenizer: model.tokenizer, detail: detail(training.devExamples, STREAM.devSubset) }, () => encode(devSet));

  const modules: PeftModule[] = buildPeftModules(tf, data.peft, model.shape, deriveSeed(training.seed, STREAM.peft), {
    weights: model.encoder.weights,
  });
  let head: SequenceClassificationHead | undefined;
  let optimizer: AdamW | undefined;
  const devBatches: EncoderInput[] = [];
  try {
    head = new SequenceClassificationHead(
      tf,
      model.headKind,
      model.shape.hiddenSize,
      outputs,
      deriveSeed(training.seed, STREAM.head),
      model.encoder.options.hiddenDropout,
    );
    const trainable: Variable[] = [...modules.flatMap((m) => [...m.variables.values()]), ...head.variables.values()];
    const trainableParams = trainable.reduce((total, variable) => total + variable.size, 0);
    const storedParams = liveStoredCount(tf, modules, head);
    checkParamCounts(label, data, model, outputs, { training: trainableParams, stored: storedParams });

    const evalBatch = evalBatchSize(training.maxSeqLength);
    for (let start = 0; start < devSet.length; start += evalBatch) {
      const rows = Array.from({ length: Math.min(evalBatch, devSet.length - start) }, (_, i) => start + i);
      devBatches.push(batchTensors(tf, devEncoded, rows, hasPairs, true));
    }
    const trainedHead = head;
    // The head reads the first token; UniPELT gates average over positions, so they need all.
    const firstTokenOnly = !Object.values(data.peft.gates ?? {}).some(Boolean);
    const evaluate = async (): Promise<Record<string, number>> => {
      const predictions = await predictDev(tf, model, modules, trainedHead, devBatches, regression, () => throwIfAborted(options.signal, label), firstTokenOnly);
      return evaluateMetrics(metrics, predictions, devLabels);
    };
    const lossOf = (batch: EncoderInput, targets: Tensor2D, ctx: ForwardContext): Scalar => {
      const output = trainedHead.forward(model.encoder, model.encoder.encode(batch, modules, ctx), ctx);
      return (regression ? tf.losses.meanSquaredError(targets, output) : tf.losses.softmaxCrossEntropy(targets, output)) as Scalar;
    };

    optimizer = new AdamW(tf, trainable, { weightDecay: settings.weightDecay, maxGradNorm: settings.maxGradNorm });
    const warmup = Math.floor(settings.warmupRatio * training.steps);
    const reports: IntermediateReport[] = [];
    let best: { value: number; metrics: Record<string, number> } | undefined;
    let sinceBest = 0;
    const batches = batchIndices(trainSet.length, training.batchSize, deriveSeed(training.seed, STREAM.batchOrder));
    for (let step = 1; step <= training.steps; step++) {
      throwIfAborted(options.signal, label);
      const rows = batches.next().value as number[];
      const batch = batchTensors(tf, trainEncoded, rows, hasPairs);
      const targets = targetTensor(tf, rows.map((r) => trainLabels[r]!), outputs, regression);
      const ctx = trainingContext(tf, deriveSeed(training.seed, STREAM.dropout, step));
      const multiplier = settings.schedule === 'linear' ? linearSchedule(step - 1, training.steps, warmup) : step - 1 < warmup ? (step - 1) / warmup : 1;
      try {
        const position = { step, totalSteps: training.steps };
        const cost = peftTrainingStep(tf, optimizer, modules, () => lossOf(batch, targets, ctx), training.learningRate * multiplier, position, options.onLoss !== undefined);
        if (cost) {
          const [loss] = await cost.data();
          cost.dispose();
          options.onLoss?.(step, loss ?? Number.NaN);
        }
      } finally {
        disposeBatch(tf, batch);
        targets.dispose();
      }

      if (step % training.evalEvery === 0 || step === training.steps) {
        const values = await evaluate();
        const value = values[task.metric]!;
        reports.push({ step, value });
        if (!best || value > best.value) {
          best = { value, metrics: values };
          sinceBest = 0;
        } else {
          sinceBest++;
        }
        await options.onReport?.([...reports]);
        if (settings.earlyStoppingPatience > 0 && sinceBest >= settings.earlyStoppingPatience) break;
      }
      await yieldToEventLoop();
    }

    if (options.onTrainedWeights) {
      const stored = storedPeftWeights(tf, modules);
      try {
        const named = new Map<string, Tensor>([...stored, ...trainedHead.variables]);
        await options.onTrainedWeights(named, { baseModel: model, headKind: model.headKind, outputs, dataset });
      } finally {
        tf.dispose([...stored.values()]);
      }
    }

    return {
      metric: best!.value,
      metrics: best!.metrics,
      reports,
      trainableParams,
      storedParams,
      baseParams: model.baseParams,
      majorityBaseline: majorityBaseline(trainLabels, devLabels, task.metric),
      devExamples: devSet.length,
      devSplitSize: dataset.dev.length,
      backend: backend.name,
      worker: options.workerName ?? `${hostname()}:${process.pid}`,
      trainSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer?.dispose();
    head?.dispose();
    for (const module of modules) module.dispose();
    for (const batch of devBatches) disposeBatch(tf, batch);
  }
}
