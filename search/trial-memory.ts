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
import { bottleneckSizeAt } from './methods/adapters.js';
import { loraRankAt } from './methods/lora.js';
import { countBaseParams, countPeftParams, headParamCount, loraTargetDims } from './param-count.js';
import type { EncoderShape, LoraTarget, PeftConfig, TrainingConfig } from './types.js';
import { LORA_TARGETS } from './types.js';

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
  /**
   * What methods keep beside their trainable weights: VeRA's shared projections, FourierFT's
   * cosine and sine bases, PiSSA's frozen initial factors, AdaLoRA's importance scores.
   */
  methodConstants: number;
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

/** Floats the methods of a configuration hold besides their trainable weights (see {@link TrialMemoryEstimate.methodConstants}). */
function methodConstantFloats(peft: PeftConfig, shape: EncoderShape): number {
  let floats = 0;
  const { vera, fourierft, pissa, adalora } = peft;
  if (vera) {
    // One A [r, max d_in] and one B [max d_out, r] for every layer and target.
    const dims = vera.targets.map((t) => loraTargetDims(t, shape));
    floats += vera.rank * (Math.max(...dims.map((d) => d.dIn)) + Math.max(...dims.map((d) => d.dOut)));
  }
  if (fourierft) {
    // cos and sin bases of n positions, [d_in, n] and [n, d_out], once per distinct weight shape.
    const shapes = new Set(fourierft.targets.map((t) => loraTargetDims(t, shape)).map(({ dIn, dOut }) => `${dIn}x${dOut}`));
    for (const key of shapes) {
      const [dIn, dOut] = key.split('x').map(Number) as [number, number];
      floats += 2 * fourierft.frequencies * (dIn + dOut);
    }
  }
  // PiSSA's A0 and B0 while training: the same size as what trains.
  if (pissa) floats += countPeftParams({ pissa }, shape, 'training');
  // AdaLoRA's smoothed sensitivity and uncertainty of every trained value.
  if (adalora) floats += 2 * countPeftParams({ adalora }, shape, 'training');
  return floats;
}

/**
 * Floats one token of one layer adds for the PEFT modules active there; with `only`, just the
 * projection methods' share on those projections (the last layer of a first-token evaluation
 * still runs its keys and values over every token).
 */
function peftLayerFloatsPerToken(peft: PeftConfig, shape: EncoderShape, layer: number, only?: readonly LoraTarget[]): number {
  const d = shape.hiddenSize;
  let floats = 0;
  const { lora, serialAdapter, parallelAdapter, ia3 } = peft;
  if (!only) {
    if (serialAdapter?.layers.includes(layer)) floats += (serialAdapter.placement === 'houlsby' ? 2 : 1) * (3 * bottleneckSizeAt(serialAdapter, layer) + 3 * d);
    if (parallelAdapter?.layers.includes(layer)) floats += 3 * bottleneckSizeAt(parallelAdapter, layer) + 3 * d;
    if (ia3?.layers.includes(layer)) floats += 2 * d + shape.intermediateSize;
  }
  const sites = (m: { layers: number[]; targets: LoraTarget[] } | undefined): LoraTarget[] =>
    m?.layers.includes(layer) ? m.targets.filter((t) => !only || only.includes(t)) : [];
  const dOut = (t: LoraTarget): number => loraTargetDims(t, shape).dOut;
  for (const t of sites(lora)) {
    // A per-layer rank of 0 leaves the projection without factors in this layer.
    const rank = loraRankAt(lora!, layer, t);
    if (rank > 0) floats += 2 * rank + 3 * dOut(t);
  }
  // The low-rank relatives: a down projection (and its scaled copy), the update and its sum;
  // VeRA's scaled down projection; FourierFT's cosine and sine projections with their scaled copies.
  const { loraFa, dora, pissa, adalora, vera, fourierft } = peft;
  for (const t of sites(loraFa)) floats += 2 * loraFa!.rank + 3 * dOut(t);
  for (const t of sites(dora)) floats += 2 * dora!.rank + 5 * dOut(t);
  for (const t of sites(pissa)) floats += 4 * pissa!.rank + 4 * dOut(t);
  for (const t of sites(adalora)) floats += 3 * adalora!.initRank + 3 * dOut(t);
  for (const t of sites(vera)) floats += 2 * vera!.rank + 3 * dOut(t);
  for (const t of sites(fourierft)) floats += 5 * fourierft!.frequencies + 4 * dOut(t);
  // Full fine-tuning: each projection's delta product and the sums with it and its bias delta.
  const { full } = peft;
  if (full?.layers.includes(layer)) for (const t of LORA_TARGETS.filter((p) => !only || only.includes(p))) floats += 2 * dOut(t);
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
      // Keys and values with their biases, and the projection methods' work on them.
      floats += 8 * shape.hiddenSize + peftLayerFloatsPerToken(peft, shape, layer, ['key', 'value']);
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
    methodConstants: BYTES * methodConstantFloats(peft, shape),
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
  const peft = estimate.trainableWeights + estimate.gradients + estimate.optimizerState + estimate.methodConstants;
  return (
    `${formatBytes(estimate.total)}: base weights ${formatBytes(estimate.baseWeights)}, ` +
    `trainable weights with gradients, optimiser state and method constants ${formatBytes(peft)}, ` +
    `activations at batch ${training.batchSize} × sequence ${training.maxSeqLength} × ${shape.numLayers} layers ${formatBytes(estimate.activations)}, ` +
    `encoded examples ${formatBytes(estimate.data)}`
  );
}
