/**
 * The base encoder's own parameter counts, apart from the PEFT counts (param-count.ts) so that a
 * method's spec (full fine-tuning, which trains whole layers and has a size limit) can read them
 * without importing the registry.
 */
import type { EncoderShape } from './types.js';

/**
 * Parameters of one encoder layer: the six projections' kernels and biases
 * (`4 (d^2 + d) + 2 d f + f + d`) and both LayerNorms' scale and shift (`4 d`).
 */
export function countLayerParams(shape: EncoderShape): number {
  const d = shape.hiddenSize;
  const ff = shape.intermediateSize;
  const attention = 4 * (d * d + d) + 2 * d;
  const feedForward = d * ff + ff + ff * d + d + 2 * d;
  return attention + feedForward;
}

/** Parameters of the base encoder (embeddings, layers, pooler), without any task head. */
export function countBaseParams(shape: EncoderShape): number {
  const d = shape.hiddenSize;
  const embeddings = (shape.vocabSize + shape.maxPositions + shape.typeVocabSize) * d + 2 * d;
  const pooler = d * d + d;
  return embeddings + shape.numLayers * countLayerParams(shape) + pooler;
}
