/**
 * The frozen weights of a BERT-shaped encoder, their Hugging Face names, and their seeded
 * random initialisation (for base models without stored weights).
 *
 * Kernels are stored `[in, out]` (the TensorFlow layout, so `x @ kernel` needs no transpose).
 * Names follow a bare Hugging Face `BertModel` (`encoder.layer.0.attention.self.query`), with
 * `.kernel` for `[in, out]` matrices: a loader of PyTorch checkpoints maps `X.weight` `[out, in]`
 * to `X.kernel` by transposing, and keeps embeddings (`.weight`) and LayerNorms as they are.
 */
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { createRng, deriveSeed, normalArray } from '../random.js';

/** A dense projection `x @ kernel + bias`. */
export interface LinearWeights {
  /** `[in, out]`. */
  kernel: Tensor2D;
  /** `[out]`. */
  bias: Tensor1D;
}

/** LayerNorm scale and shift. */
export interface LayerNormWeights {
  gamma: Tensor1D;
  beta: Tensor1D;
}

/** One post-LN transformer layer. */
export interface EncoderLayerWeights {
  query: LinearWeights;
  key: LinearWeights;
  value: LinearWeights;
  attentionOutput: LinearWeights;
  attentionLayerNorm: LayerNormWeights;
  ffnIn: LinearWeights;
  ffnOut: LinearWeights;
  outputLayerNorm: LayerNormWeights;
}

/** All weights of the base encoder (embeddings, layers, pooler); never trained. */
export interface EncoderWeights {
  wordEmbeddings: Tensor2D;
  positionEmbeddings: Tensor2D;
  tokenTypeEmbeddings: Tensor2D;
  embeddingsLayerNorm: LayerNormWeights;
  layers: EncoderLayerWeights[];
  /** BERT's pooler; absent in checkpoints saved without one (e.g. RobertaForSequenceClassification). */
  pooler?: LinearWeights;
}

/** Hugging Face module path of each projection PEFT can target, within `encoder.layer.{i}`. */
export const PROJECTION_MODULE_PATHS: Readonly<Record<LoraTarget, string>> = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  attentionOutput: 'attention.output.dense',
  ffnIn: 'intermediate.dense',
  ffnOut: 'output.dense',
};

/** Every weight tensor under its Hugging Face-style name, in a fixed order. */
export function namedWeights(weights: EncoderWeights): Map<string, Tensor1D | Tensor2D> {
  const named = new Map<string, Tensor1D | Tensor2D>();
  const linear = (prefix: string, w: LinearWeights): void => {
    named.set(`${prefix}.kernel`, w.kernel);
    named.set(`${prefix}.bias`, w.bias);
  };
  const layerNorm = (prefix: string, w: LayerNormWeights): void => {
    named.set(`${prefix}.weight`, w.gamma);
    named.set(`${prefix}.bias`, w.beta);
  };
  named.set('embeddings.word_embeddings.weight', weights.wordEmbeddings);
  named.set('embeddings.position_embeddings.weight', weights.positionEmbeddings);
  named.set('embeddings.token_type_embeddings.weight', weights.tokenTypeEmbeddings);
  layerNorm('embeddings.LayerNorm', weights.embeddingsLayerNorm);
  weights.layers.forEach((layer, i) => {
    const p = `encoder.layer.${i}`;
    linear(`${p}.${PROJECTION_MODULE_PATHS.query}`, layer.query);
    linear(`${p}.${PROJECTION_MODULE_PATHS.key}`, layer.key);
    linear(`${p}.${PROJECTION_MODULE_PATHS.value}`, layer.value);
    linear(`${p}.${PROJECTION_MODULE_PATHS.attentionOutput}`, layer.attentionOutput);
    layerNorm(`${p}.attention.output.LayerNorm`, layer.attentionLayerNorm);
    linear(`${p}.${PROJECTION_MODULE_PATHS.ffnIn}`, layer.ffnIn);
    linear(`${p}.${PROJECTION_MODULE_PATHS.ffnOut}`, layer.ffnOut);
    layerNorm(`${p}.output.LayerNorm`, layer.outputLayerNorm);
  });
  if (weights.pooler) linear('pooler.dense', weights.pooler);
  return named;
}

/** Number of scalars in all base weights; equals `countBaseParams(shape)`. */
export function countWeights(weights: EncoderWeights): number {
  let total = 0;
  for (const tensor of namedWeights(weights).values()) total += tensor.size;
  return total;
}

/** Frees every base weight tensor. */
export function disposeWeights(weights: EncoderWeights): void {
  for (const tensor of namedWeights(weights).values()) tensor.dispose();
}

/**
 * BERT's initialisation from a seed: matrices N(0, 0.02^2), biases 0, LayerNorm gamma 1 and
 * beta 0. Numbers come from a JavaScript PRNG (one seeded stream per matrix, in a fixed
 * order), so the model is identical on every backend and every tfjs version.
 */
export function createRandomWeights(tf: Tf, shape: EncoderShape, seed: number): EncoderWeights {
  const d = shape.hiddenSize;
  let stream = 0;
  const matrix = (rows: number, cols: number): Tensor2D =>
    tf.tensor2d(normalArray(createRng(deriveSeed(seed, stream++)), rows * cols, 0.02), [rows, cols]);
  const vector = (size: number, value: number): Tensor1D => tf.tensor1d(new Float32Array(size).fill(value));
  const linear = (dIn: number, dOut: number): LinearWeights => ({ kernel: matrix(dIn, dOut), bias: vector(dOut, 0) });
  const layerNorm = (): LayerNormWeights => ({ gamma: vector(d, 1), beta: vector(d, 0) });
  return {
    wordEmbeddings: matrix(shape.vocabSize, d),
    positionEmbeddings: matrix(shape.maxPositions, d),
    tokenTypeEmbeddings: matrix(shape.typeVocabSize, d),
    embeddingsLayerNorm: layerNorm(),
    layers: Array.from({ length: shape.numLayers }, () => ({
      query: linear(d, d),
      key: linear(d, d),
      value: linear(d, d),
      attentionOutput: linear(d, d),
      attentionLayerNorm: layerNorm(),
      ffnIn: linear(d, shape.intermediateSize),
      ffnOut: linear(shape.intermediateSize, d),
      outputLayerNorm: layerNorm(),
    })),
    pooler: linear(d, d),
  };
}
