/**
 * A BERT-shaped post-LN transformer encoder written with tfjs ops, matching Hugging Face BERT's
 * numerics: word + position + token-type embeddings and LayerNorm, self-attention with an
 * additive padding mask, exact-erf GELU, post-LN residual blocks, and a tanh pooler on [CLS].
 *
 * The base weights are plain tensors, never variables, so no optimiser can touch them; PEFT
 * modules add the trainable parts through {@link PeftModule} hooks.
 */
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { PeftModule } from '../peft/peft-module.js';
import { applyProjectionHooks } from '../peft/peft-module.js';
import type { ForwardContext } from './forward-context.js';
import type { EncoderWeights, LayerNormWeights, LinearWeights } from './weights.js';

/** Numerical settings of the encoder. */
export interface EncoderOptions {
  /** Dropout on embeddings and sublayer outputs while training. @defaultValue 0.1 */
  hiddenDropout: number;
  /** Dropout on attention probabilities while training. @defaultValue 0.1 */
  attentionDropout: number;
  /** LayerNorm epsilon (BERT 1e-12, RoBERTa 1e-5). @defaultValue 1e-12 */
  layerNormEps: number;
}

/** BERT's defaults. */
export const BERT_ENCODER_OPTIONS: Readonly<EncoderOptions> = {
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  layerNormEps: 1e-12,
};

/** A batch of token ids and attention masks, both `[batch, seqLength]`. */
export interface EncoderInput {
  /** int32 token ids. */
  ids: Tensor2D;
  /** float32, 1 for real tokens and 0 for padding. */
  mask: Tensor2D;
}

/**
 * Added to attention scores of padding keys. Large enough that softmax gives them exactly 0,
 * small enough to stay finite when added to a score.
 */
const MASKED_SCORE = -1e9;

/** The forward pass of a BERT-shaped encoder over frozen weights. */
export class BertEncoder {
  private readonly transposedKernels = new Map<Tensor2D, Tensor2D>();

  constructor(
    private readonly tf: Tf,
    readonly shape: EncoderShape,
    readonly weights: EncoderWeights,
    readonly options: Readonly<EncoderOptions> = BERT_ENCODER_OPTIONS,
  ) {
    if (shape.hiddenSize % shape.numHeads !== 0) {
      throw new RangeError(`hiddenSize ${shape.hiddenSize} is not divisible by numHeads ${shape.numHeads}`);
    }
  }

  /**
   * The pooled `[CLS]` representation, `[batch, hiddenSize]`. Call inside `tf.tidy` (or a
   * gradient function, which tidies) since intermediates are not disposed here.
   */
  forward(input: EncoderInput, modules: readonly PeftModule[], ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    const [batch, seqLength] = input.ids.shape;
    if (seqLength > this.shape.maxPositions) {
      throw new RangeError(`sequence length ${seqLength} exceeds the model's ${this.shape.maxPositions} positions`);
    }
    // [batch, 1, 1, seq]: broadcast over heads and query positions.
    const scoreMask = tf.reshape(tf.mul(tf.sub(1, input.mask), MASKED_SCORE), [batch, 1, 1, seqLength]) as Tensor4D;
    // Hidden states stay flattened to [batch * seq, hidden] so every projection is one 2-D matMul.
    let hidden = this.embed(input.ids, ctx);
    for (let layer = 0; layer < this.shape.numLayers; layer++) {
      hidden = this.layer(layer, hidden, batch, seqLength, scoreMask, modules, ctx);
    }
    const cls = tf.reshape(tf.slice(tf.reshape(hidden, [batch, seqLength, -1]), [0, 0, 0], [batch, 1, -1]), [batch, -1]) as Tensor2D;
    return tf.tanh(this.dense(cls, this.weights.pooler));
  }

  private embed(ids: Tensor2D, ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    const w = this.weights;
    const [batch, seqLength] = ids.shape;
    const words = tf.reshape(tf.gather(w.wordEmbeddings, tf.reshape(ids, [-1])), [batch, seqLength, -1]);
    const positions = tf.slice(w.positionEmbeddings, [0, 0], [seqLength, -1]);
    // Single-segment input: every token has type 0, so its embedding is one broadcast row.
    const tokenType = tf.slice(w.tokenTypeEmbeddings, [0, 0], [1, -1]);
    const summed = tf.reshape(tf.add(tf.add(words, positions), tokenType), [batch * seqLength, -1]) as Tensor2D;
    return ctx.dropout(this.layerNorm(summed, w.embeddingsLayerNorm), this.options.hiddenDropout);
  }

  private layer(
    index: number,
    x: Tensor2D,
    batch: number,
    seqLength: number,
    scoreMask: Tensor4D,
    modules: readonly PeftModule[],
    ctx: ForwardContext,
  ): Tensor2D {
    const tf = this.tf;
    const w = this.weights.layers[index]!;
    const project = (projection: LoraTarget, input: Tensor2D, weights: LinearWeights): Tensor2D =>
      applyProjectionHooks(modules, { layer: index, projection }, input, this.dense(input, weights), ctx);

    const heads = this.shape.numHeads;
    const headSize = this.shape.hiddenSize / heads;
    // [tokens, hidden] -> [batch, heads, seq, headSize]
    const splitHeads = (t: Tensor2D): Tensor4D =>
      tf.transpose(tf.reshape(t, [batch, seqLength, heads, headSize]), [0, 2, 1, 3]);
    // Scaling the queries (seq x headSize values per head) is cheaper than scaling the scores (seq x seq).
    const query = splitHeads(tf.mul(project('query', x, w.query), 1 / Math.sqrt(headSize)));
    const key = splitHeads(project('key', x, w.key));
    const value = splitHeads(project('value', x, w.value));
    const scores = tf.add(tf.matMul(query, key, false, true), scoreMask);
    const probs = ctx.dropout(tf.softmax(scores), this.options.attentionDropout);
    const context = tf.reshape(tf.transpose(tf.matMul(probs, value), [0, 2, 1, 3]), [batch * seqLength, -1]) as Tensor2D;
    const attended = ctx.dropout(project('attentionOutput', context, w.attentionOutput), this.options.hiddenDropout);
    const h = this.layerNorm(tf.add(attended, x), w.attentionLayerNorm);

    const intermediate = this.gelu(project('ffnIn', h, w.ffnIn));
    const ffnOut = ctx.dropout(project('ffnOut', intermediate, w.ffnOut), this.options.hiddenDropout);
    return this.layerNorm(tf.add(ffnOut, h), w.outputLayerNorm);
  }

  /**
   * `x @ kernel + bias` with a hand-written gradient for `x` only. The kernel is frozen, so its
   * gradient (half the backward work of a projection) is never computed; and the input gradient
   * `dy @ kernel^T` multiplies by a stored transposed copy, because the wasm backend's matMul
   * is several times slower with `transposeB` than without.
   */
  private dense(x: Tensor2D, weights: LinearWeights): Tensor2D {
    const tf = this.tf;
    const kernelT = this.transposedKernel(weights.kernel);
    const op = tf.customGrad((...inputs) => {
      const input = inputs[0] as Tensor2D;
      return {
        value: tf.add(tf.matMul(input, weights.kernel), weights.bias) as Tensor2D,
        gradFunc: (dy: Tensor2D) => tf.matMul(dy, kernelT),
      };
    });
    return op(x);
  }

  /** The kernel's transpose, made once per kernel and kept until {@link dispose}. */
  private transposedKernel(kernel: Tensor2D): Tensor2D {
    let transposed = this.transposedKernels.get(kernel);
    if (!transposed) {
      // keep: the first call usually happens inside a tidy, which must not free the cache.
      transposed = this.tf.keep(this.tf.transpose(kernel));
      this.transposedKernels.set(kernel, transposed);
    }
    return transposed;
  }

  /** Frees the tensors this encoder derived from its weights (not the weights themselves). */
  dispose(): void {
    for (const tensor of this.transposedKernels.values()) tensor.dispose();
    this.transposedKernels.clear();
  }

  /** LayerNorm over the last axis (biased variance, epsilon inside the square root, as BERT). */
  private layerNorm(x: Tensor2D, weights: LayerNormWeights): Tensor2D {
    const tf = this.tf;
    const { mean, variance } = tf.moments(x, -1, true);
    const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.options.layerNormEps)));
    return tf.add(tf.mul(normalised, weights.gamma), weights.beta);
  }

  /** GELU in its exact form `0.5 x (1 + erf(x / sqrt 2))` (BERT's `hidden_act: "gelu"`). */
  private gelu<T extends Tensor>(x: T): T {
    const tf = this.tf;
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }
}
