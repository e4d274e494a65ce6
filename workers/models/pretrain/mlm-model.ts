/**
 * A BERT encoder with Hugging Face's masked-language-model head (`BertForMaskedLM`): every base
 * weight trains, the decoder is tied to the word embeddings. Used only to pre-train the bundled
 * base model; trials load the result through the ordinary Hugging Face directory path.
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape } from '../../../search/types.js';
import type { Tf } from '../../backend.js';
import { BertEncoder } from '../../model/encoder.js';
import type { ForwardContext } from '../../model/forward-context.js';
import type { TensorToWrite } from '../../model/safetensors.js';
import type { EncoderWeights, LayerNormWeights, LinearWeights } from '../../model/weights.js';
import { createRandomWeights, namedWeights } from '../../model/weights.js';
import { createRng, deriveSeed, normalArray } from '../../random.js';
import type { MaskedBatch } from './masking.js';

/** The MLM head: `LN(gelu(h W + b))` then logits against the word embeddings plus a bias. */
interface MlmHeadWeights {
  transform: LinearWeights;
  layerNorm: LayerNormWeights;
  bias: Tensor1D;
}

/** An encoder and MLM head whose weights are all trainable variables. */
export class MaskedLanguageModel {
  readonly encoder: BertEncoder;
  readonly head: MlmHeadWeights;
  readonly variables: Variable[];

  constructor(
    private readonly tf: Tf,
    readonly shape: EncoderShape,
    seed: number,
  ) {
    const initial = createRandomWeights(tf, shape, seed);
    const asVariable = <T extends Tensor>(t: T, name: string): T => {
      const v = tf.variable(t, true, `mlm/${name}`);
      t.dispose();
      return v as unknown as T;
    };
    const named = namedWeights(initial);
    const variables = new Map<Tensor, Variable>();
    for (const [name, tensor] of named) {
      if (!name.startsWith('pooler.')) variables.set(tensor, asVariable(tensor, name) as unknown as Variable);
    }
    const v = <T extends Tensor>(t: T): T => variables.get(t) as unknown as T;
    const lin = (w: LinearWeights): LinearWeights => ({ kernel: v(w.kernel), bias: v(w.bias) });
    const ln = (w: LayerNormWeights): LayerNormWeights => ({ gamma: v(w.gamma), beta: v(w.beta) });
    const weights: EncoderWeights = {
      wordEmbeddings: v(initial.wordEmbeddings),
      positionEmbeddings: v(initial.positionEmbeddings),
      tokenTypeEmbeddings: v(initial.tokenTypeEmbeddings),
      embeddingsLayerNorm: ln(initial.embeddingsLayerNorm),
      layers: initial.layers.map((layer) => ({
        query: lin(layer.query),
        key: lin(layer.key),
        value: lin(layer.value),
        attentionOutput: lin(layer.attentionOutput),
        attentionLayerNorm: ln(layer.attentionLayerNorm),
        ffnIn: lin(layer.ffnIn),
        ffnOut: lin(layer.ffnOut),
        outputLayerNorm: ln(layer.outputLayerNorm),
      })),
      // The pooler is not trained by MLM (as in BERT without next-sentence prediction); it is kept
      // so that classification heads find one, like Hugging Face initialising a missing pooler.
      ...(initial.pooler ? { pooler: { kernel: initial.pooler.kernel, bias: initial.pooler.bias } } : {}),
    };
    this.encoder = new BertEncoder(tf, shape, weights, { frozenKernels: false });
    const d = shape.hiddenSize;
    // A stream apart from the encoder's (which uses small stream numbers from the same seed).
    const rng = createRng(deriveSeed(seed, 1_000_003));
    this.head = {
      transform: {
        kernel: tf.variable(tf.tensor2d(normalArray(rng, d * d, 0.02), [d, d]), true, 'mlm/head.transform.kernel'),
        bias: tf.variable(tf.zeros([d]), true, 'mlm/head.transform.bias'),
      },
      layerNorm: {
        gamma: tf.variable(tf.ones([d]), true, 'mlm/head.layer_norm.gamma'),
        beta: tf.variable(tf.zeros([d]), true, 'mlm/head.layer_norm.beta'),
      },
      bias: tf.variable(tf.zeros([shape.vocabSize]), true, 'mlm/head.bias'),
    };
    const headVariables = [this.head.transform.kernel, this.head.transform.bias, this.head.layerNorm.gamma, this.head.layerNorm.beta, this.head.bias];
    this.variables = [...variables.values(), ...(headVariables as unknown as Variable[])];
  }

  /** Logits `[targets, vocab]` at the masked positions of a batch. Call inside a tidy or gradient. */
  logits(batch: MaskedBatch, rows: number, seqLength: number, mask: Tensor2D, ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    const ids = tf.tensor2d(batch.ids, [rows, seqLength], 'int32');
    const { hidden } = this.encoder.encode({ ids, mask }, [], ctx);
    // Rows of the targets, picked by a one-hot matrix product (cheaper than all positions' logits).
    const picks = new Float32Array(batch.positions.length * rows * seqLength);
    batch.positions.forEach((position, i) => (picks[i * rows * seqLength + position] = 1));
    const picked = tf.matMul(tf.tensor2d(picks, [batch.positions.length, rows * seqLength]), hidden);
    const { transform, layerNorm, bias } = this.head;
    const pre = tf.add(tf.matMul(picked, transform.kernel), transform.bias);
    // Exact (erf) GELU, as BERT's `hidden_act: "gelu"`.
    const activated = tf.mul<Tensor2D>(tf.mul(pre, 0.5), tf.add(1, tf.erf(tf.mul(pre, Math.SQRT1_2))));
    const transformed = this.encoder.layerNorm(activated, layerNorm.gamma, layerNorm.beta);
    return tf.add(tf.matMul(transformed, this.encoder.weights.wordEmbeddings, false, true), bias);
  }

  /** Mean cross-entropy of the targets. */
  loss(batch: MaskedBatch, rows: number, seqLength: number, mask: Tensor2D, ctx: ForwardContext): Scalar {
    const tf = this.tf;
    const logits = this.logits(batch, rows, seqLength, mask, ctx);
    const labels = tf.oneHot(tf.tensor1d(batch.targets, 'int32'), this.shape.vocabSize);
    return tf.losses.softmaxCrossEntropy(labels, logits) as Scalar;
  }

  /**
   * Every weight in Hugging Face's `BertForMaskedLM` layout: `bert.`-prefixed encoder weights
   * with `[out, in]` matrices, the pooler, and `cls.predictions.*` (the decoder is tied to the
   * word embeddings, so it is written under both names as `save_pretrained` does).
   */
  async exportTensors(): Promise<TensorToWrite[]> {
    const out: TensorToWrite[] = [];
    const add = async (name: string, tensor: Tensor, transpose: boolean): Promise<void> => {
      const t = transpose ? this.tf.transpose(tensor) : tensor;
      out.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
      if (transpose) t.dispose();
    };
    for (const [name, tensor] of namedWeights(this.encoder.weights)) {
      const isKernel = name.endsWith('.kernel');
      await add(`bert.${isKernel ? name.replace(/\.kernel$/, '.weight') : name}`, tensor, isKernel);
    }
    const { transform, layerNorm, bias } = this.head;
    await add('cls.predictions.transform.dense.weight', transform.kernel, true);
    await add('cls.predictions.transform.dense.bias', transform.bias, false);
    await add('cls.predictions.transform.LayerNorm.weight', layerNorm.gamma, false);
    await add('cls.predictions.transform.LayerNorm.bias', layerNorm.beta, false);
    await add('cls.predictions.bias', bias, false);
    await add('cls.predictions.decoder.bias', bias, false);
    await add('cls.predictions.decoder.weight', this.encoder.weights.wordEmbeddings, false);
    return out;
  }

  /** Frees every weight. */
  dispose(): void {
    for (const v of this.variables) v.dispose();
    this.encoder.weights.pooler?.kernel.dispose();
    this.encoder.weights.pooler?.bias.dispose();
  }
}
