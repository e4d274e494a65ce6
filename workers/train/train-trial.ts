/**
 * One trial, start to finish: data, base model, PEFT modules and head, Adam training with
 * periodic dev evaluation, and the result the scheduler records.
 */
import { hostname } from 'node:os';
import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { countBaseParams, countHeadParams, countPeftParams } from '../../search/param-count.js';
import type { IntermediateReport, TrainingConfig } from '../../search/types.js';
import type { SelectedBackend, Tf } from '../backend.js';
import { currentBackend, selectBackend } from '../backend.js';
import type { Example } from '../data/dataset.js';
import { takeSubset } from '../data/dataset.js';
import { loadDataset } from '../data/registry.js';
import { InvalidTrialError, TrialAbortedError } from '../errors.js';
import type { TrialJobData, TrialJobResult } from '../job-types.js';
import type { BaseModel } from '../model/base-model.js';
import { getBaseModel } from '../model/base-model.js';
import type { EncoderInput } from '../model/encoder.js';
import type { ForwardContext } from '../model/forward-context.js';
import { inferenceContext, trainingContext } from '../model/forward-context.js';
import { ClassificationHead } from '../model/head.js';
import type { EncodedBatch } from '../model/tokenizer.js';
import { buildPeftModules } from '../peft/build.js';
import type { PeftModule } from '../peft/peft-module.js';
import { createRng, deriveSeed, permutation } from '../random.js';
import { classificationMetrics, majorityBaseline } from './metrics.js';

/** Options of {@link trainTrial}. */
export interface TrainTrialOptions {
  /** Backend to run on. @defaultValue the process's selected backend, else a fresh default selection */
  backend?: SelectedBackend;
  /** Called after each evaluation with every report so far (awaited before training goes on). */
  onReport?: (reports: IntermediateReport[]) => void | Promise<void>;
  /** Called after each step with the training loss (reading it costs a sync; omit when unused). */
  onLoss?: (step: number, loss: number) => void;
  /**
   * Called once after the last step with every trainable tensor (PEFT modules and head) under
   * its Hugging Face-style name, e.g. to save the adapter. The tensors are freed when the
   * returned promise settles, so copy what you need.
   */
  onTrainedWeights?: (weights: ReadonlyMap<string, Tensor>) => void | Promise<void>;
  /** Aborting stops the trial at the next step or evaluation batch with {@link TrialAbortedError}. */
  signal?: AbortSignal;
  /** Recorded in the result. @defaultValue `hostname:pid` */
  workerName?: string;
}

/** Dev examples per forward pass during evaluation: larger batches amortise per-op overhead. */
const EVAL_BATCH_SIZE = 64;

// Salts separating the random streams a trial derives from its one seed.
const STREAM = { trainSubset: 1, devSubset: 2, batchOrder: 3, head: 4, peft: 5, dropout: 6 } as const;

function validateTraining(training: TrainingConfig, model: BaseModel): void {
  const fail = (message: string): never => {
    throw new InvalidTrialError(`Invalid training configuration: ${message}`);
  };
  const positiveInts: (keyof TrainingConfig)[] = ['steps', 'batchSize', 'evalEvery', 'trainExamples', 'devExamples'];
  for (const field of positiveInts) {
    const value = training[field];
    if (!Number.isInteger(value) || value < 1) fail(`${field} must be a positive integer, got ${value}`);
  }
  if (!(Number.isFinite(training.learningRate) && training.learningRate > 0)) {
    fail(`learningRate must be positive, got ${training.learningRate}`);
  }
  if (!Number.isInteger(training.seed)) fail(`seed must be an integer, got ${training.seed}`);
  const maxPositions = model.shape.maxPositions;
  if (!Number.isInteger(training.maxSeqLength) || training.maxSeqLength < 2 || training.maxSeqLength > maxPositions) {
    fail(`maxSeqLength must be an integer in 2..${maxPositions} for base model "${model.name}", got ${training.maxSeqLength}`);
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

/** Rows `indices` of an encoded set, as input tensors. */
function batchTensors(tf: Tf, encoded: EncodedBatch, indices: readonly number[]): EncoderInput {
  const s = encoded.seqLength;
  const ids = new Int32Array(indices.length * s);
  const mask = new Float32Array(indices.length * s);
  indices.forEach((row, i) => {
    ids.set(encoded.ids.subarray(row * s, (row + 1) * s), i * s);
    mask.set(encoded.mask.subarray(row * s, (row + 1) * s), i * s);
  });
  return { ids: tf.tensor2d(ids, [indices.length, s], 'int32'), mask: tf.tensor2d(mask, [indices.length, s]) };
}

function oneHot(tf: Tf, labels: readonly number[], numLabels: number): Tensor2D {
  const values = new Float32Array(labels.length * numLabels);
  labels.forEach((label, i) => {
    values[i * numLabels + label] = 1;
  });
  return tf.tensor2d(values, [labels.length, numLabels]);
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
 * Compares live parameter counts with the closed forms the search ranks configurations by; a
 * mismatch is a bug in one of them, never a property of the trial, so it is a plain Error.
 */
function checkParamCounts(label: string, data: TrialJobData, model: BaseModel, numLabels: number, trainable: number): void {
  const expected = countPeftParams(data.peft, model.shape) + countHeadParams(model.shape, numLabels);
  if (trainable !== expected) {
    throw new Error(`${label}: live trainable parameters ${trainable} differ from the closed form ${expected}`);
  }
  const expectedBase = countBaseParams(model.shape);
  if (model.baseParams !== expectedBase) {
    throw new Error(`${label}: live base parameters ${model.baseParams} differ from the closed form ${expectedBase}`);
  }
}

/** Every metric on the dev batches, without dropout; `checkAbort` runs before each batch. */
async function evaluateDev(
  tf: Tf,
  model: BaseModel,
  modules: readonly PeftModule[],
  head: ClassificationHead,
  devBatches: readonly EncoderInput[],
  devLabels: readonly number[],
  checkAbort: () => void,
): Promise<Record<string, number>> {
  const predictions: number[] = [];
  const ctx = inferenceContext();
  for (const batch of devBatches) {
    checkAbort();
    const predicted = tf.tidy(() => tf.argMax(head.forward(model.encoder.forward(batch, modules, ctx), ctx), -1));
    try {
      predictions.push(...(await predicted.data()));
    } finally {
      predicted.dispose();
    }
  }
  return classificationMetrics(predictions, devLabels);
}

/**
 * Trains and evaluates one trial and returns its result. Deterministic for a given
 * `training.seed` on a given backend. Throws `InvalidTrialError` for unknown datasets or models
 * and impossible configurations, `TrialAbortedError` when `signal` aborts. Every tensor it
 * creates is freed before it returns or throws (the per-process base model cache aside).
 */
export async function trainTrial(data: TrialJobData, options: TrainTrialOptions = {}): Promise<TrialJobResult> {
  const { training, task } = data;
  const label = `Trial ${data.studyId}#${data.trialNumber}`;
  const backend = options.backend ?? currentBackend() ?? (await selectBackend());
  const tf = backend.tf;
  if (task.metric !== 'accuracy' && task.metric !== 'f1') {
    throw new InvalidTrialError(`Unknown metric "${String(task.metric)}"; known metrics: accuracy, f1`);
  }

  const model = getBaseModel(tf, task.baseModel);
  validateTraining(training, model);
  const dataset = await loadDataset(task.dataset);
  throwIfAborted(options.signal, label);
  // Timed from here: the dataset is loaded once per process, so its cost is not the trial's.
  const started = performance.now();
  const numLabels = dataset.labels.length;
  const trainSet: Example[] = takeSubset(dataset.train, training.trainExamples, deriveSeed(training.dataSeed, STREAM.trainSubset));
  const devSet: Example[] = takeSubset(dataset.dev, training.devExamples, deriveSeed(training.dataSeed, STREAM.devSubset));
  const trainLabels = trainSet.map((e) => e.label);
  const devLabels = devSet.map((e) => e.label);
  const trainEncoded = model.tokenizer.encodeBatch(trainSet.map((e) => e.text), training.maxSeqLength);
  const devEncoded = model.tokenizer.encodeBatch(devSet.map((e) => e.text), training.maxSeqLength);

  const modules: PeftModule[] = buildPeftModules(tf, data.peft, model.shape, deriveSeed(training.seed, STREAM.peft));
  let head: ClassificationHead | undefined;
  let optimizer: ReturnType<Tf['train']['adam']> | undefined;
  const devBatches: EncoderInput[] = [];
  try {
    head = new ClassificationHead(
      tf,
      model.shape.hiddenSize,
      numLabels,
      deriveSeed(training.seed, STREAM.head),
      model.encoder.options.hiddenDropout,
    );
    const trainable: Variable[] = [...modules.flatMap((m) => [...m.variables.values()]), ...head.variables.values()];
    const trainableParams = trainable.reduce((total, variable) => total + variable.size, 0);
    checkParamCounts(label, data, model, numLabels, trainableParams);

    for (let start = 0; start < devSet.length; start += EVAL_BATCH_SIZE) {
      const rows = Array.from({ length: Math.min(EVAL_BATCH_SIZE, devSet.length - start) }, (_, i) => start + i);
      devBatches.push(batchTensors(tf, devEncoded, rows));
    }
    const trainedHead = head;
    const evaluate = (): Promise<Record<string, number>> =>
      evaluateDev(tf, model, modules, trainedHead, devBatches, devLabels, () => throwIfAborted(options.signal, label));
    const lossOf = (batch: EncoderInput, targets: Tensor2D, ctx: ForwardContext): Scalar => {
      const logits = trainedHead.forward(model.encoder.forward(batch, modules, ctx), ctx);
      return tf.losses.softmaxCrossEntropy(targets, logits) as Scalar;
    };

    optimizer = tf.train.adam(training.learningRate);
    const reports: IntermediateReport[] = [];
    let best: { value: number; metrics: Record<string, number> } | undefined;
    const batches = batchIndices(trainSet.length, training.batchSize, deriveSeed(training.seed, STREAM.batchOrder));
    for (let step = 1; step <= training.steps; step++) {
      throwIfAborted(options.signal, label);
      const rows = batches.next().value as number[];
      const batch = batchTensors(tf, trainEncoded, rows);
      const targets = oneHot(tf, rows.map((r) => trainLabels[r]!), numLabels);
      const ctx = trainingContext(tf, deriveSeed(training.seed, STREAM.dropout, step));
      try {
        const cost = optimizer.minimize(() => lossOf(batch, targets, ctx), options.onLoss !== undefined, trainable);
        if (cost) {
          const [loss] = await cost.data();
          cost.dispose();
          options.onLoss?.(step, loss ?? Number.NaN);
        }
      } finally {
        tf.dispose([batch.ids, batch.mask, targets]);
      }

      if (step % training.evalEvery === 0 || step === training.steps) {
        const metrics = await evaluate();
        const value = metrics[task.metric]!;
        reports.push({ step, value });
        if (!best || value > best.value) best = { value, metrics };
        await options.onReport?.([...reports]);
      }
      await yieldToEventLoop();
    }

    if (options.onTrainedWeights) {
      const named = new Map<string, Tensor>([...modules.flatMap((m) => [...m.variables]), ...trainedHead.variables]);
      await options.onTrainedWeights(named);
    }

    return {
      metric: best!.value,
      metrics: best!.metrics,
      reports,
      trainableParams,
      baseParams: model.baseParams,
      majorityBaseline: majorityBaseline(trainLabels, devLabels, task.metric),
      backend: backend.name,
      worker: options.workerName ?? `${hostname()}:${process.pid}`,
      trainSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    optimizer?.dispose();
    head?.dispose();
    for (const module of modules) module.dispose();
    for (const batch of devBatches) tf.dispose([batch.ids, batch.mask]);
  }
}
