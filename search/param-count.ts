/**
 * Closed-form parameter counts. The search uses them to know a configuration's size without
 * building a model; the workers' live counts must agree with them exactly.
 */
import type { EncoderShape, LoraTarget, PeftConfig } from './types.js';

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

/** Trainable parameters of the PEFT modules alone (the task head excluded). */
export function countPeftParams(peft: PeftConfig, shape: EncoderShape): number {
  let total = 0;
  if (peft.lora) {
    const perLayer = peft.lora.targets.reduce((sum, target) => {
      const { dIn, dOut } = loraTargetDims(target, shape);
      return sum + peft.lora!.rank * (dIn + dOut);
    }, 0);
    total += perLayer * peft.lora.layers.length;
  }
  return total;
}

/** Parameters of a classification head on the pooled output: `d * k + k`. */
export function countHeadParams(shape: EncoderShape, numLabels: number): number {
  return shape.hiddenSize * numLabels + numLabels;
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
