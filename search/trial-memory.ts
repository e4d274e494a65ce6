/**
 * A closed-form estimate of the memory one trial needs, from the base model's shape, the PEFT
 * configuration and the training settings alone. The API refuses a spec whose largest
 * configuration does not fit AUTOPEFT_TRIAL_MAX_MEMORY, and a worker refuses a trial that does
 * not fit its own limit, instead of running out of memory mid-training (the wasm backend's
 * heap ends at 4 GiB, after which every allocation fails with "memory access out of bounds").
 *
 * The estimate counts float32 tensors: the frozen base weights (and the transposed copies of
 * the layer kernels the encoder keeps for its backward pass), the trainable weights with their
 * gradients and AdamW's two moments, the activations the gradient tape keeps for a training
 * batch (every layer's intermediate tensors at batch × sequence, attention scores at
 * batch × heads × sequence × keys) or held during an evaluation batch, whichever is larger,
 * and the encoded examples. It is meant as an upper bound within a small factor, not an exact
 * figure.
 */
import { countBaseParams, countPeftParams, headParamCount, loraTargetDims } from './param-count.js';
import type { EncoderShape, PeftConfig, TrainingConfig } from './types.js';

/** Bytes of one float32 or int32 value. */
const BYTES = 4;

/**
 * Dev examples per evaluation batch (workers/train/train-trial.ts uses the same): 64, and more
 * for short sequences, up to 256, as long as a batch holds at most 16,384 tokens (larger batches
 * amortise the per-kernel overhead of a forward pass).
 */
export function evalBatchSize(seqLength: number): number {
  return Math.min(256, Math.max(64, Math.floor(16384 / Math.max(1, seqLength))));
}

/**
 * Default limit of one trial's estimated memory, in bytes: 3 GiB, below the wasm32 heap's
 * 4 GiB so that the allocator's slack and the JavaScript side still fit.
 */
export const DEFAULT_TRIAL_MAX_MEMORY = 3 * 2 ** 30;

/** What {@link estimateTrialMemory} needs. */
export interface TrialMemoryInput {
  shape: EncoderShape;
  peft: PeftConfig;
  training: Pick<TrainingConfig, 'batchSize' | 'maxSeqLength' | 'trainExamples' | 'devExamples'>;
  /** Outputs of the task head (classes, or 1 for regression). */
  headOutputs: number;
}

/** The estimate, in bytes, by part. */
export interface TrialMemoryEstimate {
  total: number;
  /** Frozen base weights and the encoder's transposed kernel copies. */
  baseWeights: number;
  /** Trainable weights (PEFT modules in their training form, and the head). */
  trainableWeights: number;
  gradients: number;
  /** AdamW's first and second moments. */
  optimizerState: number;
  /** The larger of a training batch's taped activations and an evaluation batch's. */
  activations: number;
  /** Encoded training and dev examples. */
  data: number;
}

/** Floats one token of one layer keeps alive in a forward pass (the base encoder's share). */
function baseLayerFloatsPerToken(shape: EncoderShape, keys: number): number {
  const d = shape.hiddenSize;
  // Projections, head splits, residuals, LayerNorm intermediates and dropout masks: about 31
  // vectors of width d; the FFN's intermediate with GELU's pieces: about 7 of width f; the
  // attention scores, mask sum, softmax and dropout: about 5 per head and key.
  return 31 * d + 7 * shape.intermediateSize + 5 * shape.numHeads * keys;
}

/** Floats one token of one layer adds for the PEFT modules active there. */
function peftLayerFloatsPerToken(peft: PeftConfig, shape: EncoderShape, layer: number): number {
  const d = shape.hiddenSize;
  let floats = 0;
  const { lora, serialAdapter, parallelAdapter, ia3 } = peft;
  if (serialAdapter?.layers.includes(layer)) floats += (serialAdapter.placement === 'houlsby' ? 2 : 1) * (3 * serialAdapter.size + 3 * d);
  if (parallelAdapter?.layers.includes(layer)) floats += 3 * parallelAdapter.size + 3 * d;
  if (lora?.layers.includes(layer)) {
    for (const target of lora.targets) floats += 2 * (lora.rankPerTarget?.[target] ?? lora.rank) + 3 * loraTargetDims(target, shape).dOut;
  }
  if (ia3?.layers.includes(layer)) floats += 2 * d + shape.intermediateSize;
  return floats;
}

/**
 * Floats a forward pass keeps per token over the whole encoder. With `firstTokenLastLayer` (an
 * evaluation without UniPELT gates, see BertEncoder.encode) the last layer keeps only its keys
 * and values per token.
 */
function forwardFloatsPerToken(peft: PeftConfig, shape: EncoderShape, seqLength: number, firstTokenLastLayer = false): number {
  const prompt = peft.promptTuning?.length ?? 0;
  let floats = 12 * shape.hiddenSize;
  for (let layer = 0; layer < shape.numLayers; layer++) {
    if (firstTokenLastLayer && layer === shape.numLayers - 1) {
      // Keys and values with their biases, and a PEFT module's update of each.
      floats += 8 * shape.hiddenSize;
      continue;
    }
    const prefix = peft.prefix?.layers.includes(layer) ? peft.prefix.length : 0;
    floats += baseLayerFloatsPerToken(shape, seqLength + prompt + prefix) + peftLayerFloatsPerToken(peft, shape, layer);
  }
  return floats;
}

/** The estimated memory of one trial, by part. Pure and cheap: the API calls it for many points. */
export function estimateTrialMemory(input: TrialMemoryInput): TrialMemoryEstimate {
  const { shape, peft, training } = input;
  const d = shape.hiddenSize;
  const layerKernels = shape.numLayers * (4 * d * d + 2 * d * shape.intermediateSize);
  const baseWeights = BYTES * (countBaseParams(shape) + layerKernels);
  const trainable = countPeftParams(peft, shape, 'training') + headParamCount(shape.headKind ?? 'bert', d, input.headOutputs);
  const seqLength = training.maxSeqLength + (peft.promptTuning?.length ?? 0);
  const perToken = BYTES * forwardFloatsPerToken(peft, shape, training.maxSeqLength);
  // The backward pass adds gradients of the activations while the taped ones are still held.
  const trainBatch = 1.5 * perToken * training.batchSize * seqLength;
  const firstTokenOnly = !Object.values(peft.gates ?? {}).some(Boolean);
  const evalPerToken = BYTES * forwardFloatsPerToken(peft, shape, training.maxSeqLength, firstTokenOnly);
  const evalBatch = evalPerToken * Math.min(evalBatchSize(training.maxSeqLength), training.devExamples) * seqLength;
  // ids (int32), mask (float32), token types (int32) per token; the dev set also as tensors.
  const data = 3 * BYTES * training.maxSeqLength * (training.trainExamples + 2 * training.devExamples);
  const parts = {
    baseWeights,
    trainableWeights: BYTES * trainable,
    gradients: BYTES * trainable,
    optimizerState: 2 * BYTES * trainable,
    activations: Math.max(trainBatch, evalBatch),
    data,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), ...parts };
}

/** Bytes in binary units for messages, e.g. `3.0 GiB`, `412 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** A one-line account of an estimate, for error messages. */
export function describeEstimate(estimate: TrialMemoryEstimate, training: TrialMemoryInput['training'], shape: EncoderShape): string {
  const peft = estimate.trainableWeights + estimate.gradients + estimate.optimizerState;
  return (
    `${formatBytes(estimate.total)}: base weights ${formatBytes(estimate.baseWeights)}, ` +
    `trainable weights with gradients and optimiser state ${formatBytes(peft)}, ` +
    `activations at batch ${training.batchSize} × sequence ${training.maxSeqLength} × ${shape.numLayers} layers ${formatBytes(estimate.activations)}, ` +
    `encoded examples ${formatBytes(estimate.data)}`
  );
}
