/**
 * Closed-form parameter counts. The search uses them to know a configuration's size without
 * building a model; the workers' live counts must agree with them exactly.
 */
import type { EncoderShape, HeadKind, LoraTarget, PeftConfig } from './types.js';

/** Input and output width of a LoRA target projection. */
export function loraTargetDims(target: LoraTarget, shape: EncoderShape): { dIn: number; dOut: number } {
  const d = shape.hiddenSize;
  switch (target) {
    case 'ffnIn':
      return { dIn: d, dOut: shape.intermediateSize };
    case 'ffnOut':
      return { dIn: shape.intermediateSize, dOut: d };
    default:
      return { dIn: d, dOut: d };
  }
}

/**
 * When the parameters are counted: `stored` is what the trained adapter keeps (the search's
 * objective); `training` also counts what exists only while training (prefix-tuning's
 * reparameterising MLP), which is what a live count of trainable tensors sees.
 */
export type CountMode = 'stored' | 'training';

/** Parameters of one bottleneck adapter insertion of width m: `2dm + d + m`. */
export function bottleneckParams(hiddenSize: number, size: number): number {
  return 2 * hiddenSize * size + hiddenSize + size;
}

/** Trainable parameters of the PEFT modules alone (the task head excluded). */
export function countPeftParams(peft: PeftConfig, shape: EncoderShape, mode: CountMode = 'stored'): number {
  const d = shape.hiddenSize;
  let total = 0;
  const { lora, serialAdapter, parallelAdapter, prefix, ia3, bitfit, promptTuning, gates } = peft;
  if (lora) {
    const perLayer = lora.targets.reduce((sum, target) => {
      const { dIn, dOut } = loraTargetDims(target, shape);
      return sum + (lora.rankPerTarget?.[target] ?? lora.rank) * (dIn + dOut);
    }, 0);
    total += perLayer * lora.layers.length;
  }
  if (serialAdapter) {
    const insertions = serialAdapter.placement === 'houlsby' ? 2 : 1;
    total += insertions * bottleneckParams(d, serialAdapter.size) * serialAdapter.layers.length;
  }
  if (parallelAdapter) total += bottleneckParams(d, parallelAdapter.size) * parallelAdapter.layers.length;
  if (prefix) {
    const layers = prefix.layers.length;
    const b = prefix.reparamSize;
    total +=
      mode === 'training' && b > 0
        ? prefix.length * d + (d * b + b) + (b * 2 * layers * d + 2 * layers * d)
        : 2 * prefix.length * d * layers;
  }
  if (ia3) total += (2 * d + shape.intermediateSize) * ia3.layers.length;
  if (bitfit) total += (7 * d + shape.intermediateSize) * bitfit.layers.length;
  if (promptTuning) total += promptTuning.length * d;
  if (gates) {
    // One gate (d + 1) per gated module instance: per LoRA target, per serial-adapter insertion, per prefix.
    const gate = d + 1;
    if (gates.lora && lora) total += gate * lora.targets.length * lora.layers.length;
    if (gates.serialAdapter && serialAdapter) {
      total += gate * (serialAdapter.placement === 'houlsby' ? 2 : 1) * serialAdapter.layers.length;
    }
    if (gates.prefix && prefix) total += gate * prefix.layers.length;
  }
  return total;
}

/** Trainable parameters of a task head with `outputs` outputs: `d k + k` (bert), `d^2 + d + d k + k` (roberta). */
export function headParamCount(kind: HeadKind, hiddenSize: number, outputs: number): number {
  const classifier = hiddenSize * outputs + outputs;
  return kind === 'roberta' ? hiddenSize * hiddenSize + hiddenSize + classifier : classifier;
}

/** Trainable parameters of the task head the encoder's family uses (see {@link EncoderShape.headKind}). */
export function countHeadParams(shape: EncoderShape, numLabels: number): number {
  return headParamCount(shape.headKind ?? 'bert', shape.hiddenSize, numLabels);
}

/** Parameters of the base encoder (embeddings, layers, pooler), without any task head. */
export function countBaseParams(shape: EncoderShape): number {
  const d = shape.hiddenSize;
  const ff = shape.intermediateSize;
  const embeddings = (shape.vocabSize + shape.maxPositions + shape.typeVocabSize) * d + 2 * d;
  const attention = 4 * (d * d + d) + 2 * d;
  const feedForward = d * ff + ff + ff * d + d + 2 * d;
  const pooler = d * d + d;
  return embeddings + shape.numLayers * (attention + feedForward) + pooler;
}
