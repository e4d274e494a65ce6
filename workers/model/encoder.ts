/**
 * A BERT/RoBERTa post-LN transformer encoder written with tfjs ops, matching Hugging Face's
 * numerics: word + absolute position + token-type embeddings and LayerNorm, self-attention
 * with an additive padding mask, exact-erf GELU, post-LN residual blocks, and BERT's tanh
 * pooler on the first token. RoBERTa differs only in its position ids (they start at
 * `padding_idx + 1` and skip padding) and its LayerNorm epsilon. With prefix-tuning the real
 * tokens' positions start after the prefix, as with Hugging Face's `past_key_values`.
 *
 * The base weights are plain tensors, never variables, so no optimiser can touch them; PEFT
 * modules add the trainable parts through {@link PeftModule} hooks.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { LayerNormSite, PeftModule, PassShape, Sublayer } from '../peft/peft-module.js';
import { applyProjectionHooks, applyProjectionInputHooks, takeLowRankUpdate } from '../peft/peft-module.js';
import type { ForwardContext } from './forward-context.js';
import type { LowRankUpdate } from './fused-ops.js';
import { attention, fusedProjection, gelu, layerNorm, projectionFusable } from './fused-ops.js';
import type { EncoderLayerWeights, EncoderWeights, LayerNormWeights } from './weights.js';

/** How position ids are formed. */
export type PositionStyle = 'bert' | 'roberta';

/** Numerical settings of the encoder. */
export interface EncoderOptions {
  /** Dropout on embeddings and sublayer outputs while training. @defaultValue 0.1 */
  hiddenDropout: number;
  /** Dropout on attention probabilities while training. @defaultValue 0.1 */
  attentionDropout: number;
  /** LayerNorm epsilon (BERT 1e-12, RoBERTa 1e-5). @defaultValue 1e-12 */
  layerNormEps: number;
  /**
   * `bert`: positions 0..n-1. `roberta`: position of token t is `paddingId + 1 + (number of
   * non-padding tokens before t)`, and `paddingId` for padding. @defaultValue 'bert'
   */
  positionStyle: PositionStyle;
  /** Id of the padding token (RoBERTa's `padding_idx`, 1). @defaultValue 0 */
  paddingId: number;
  /**
   * Whether projection kernels are frozen (PEFT: no kernel gradients are computed). Full
   * fine-tuning, e.g. as a benchmark baseline, passes variables as weights and sets this false.
   * @defaultValue true
   */
  frozenKernels: boolean;
}

/** BERT's defaults. */
export const BERT_ENCODER_OPTIONS: Readonly<EncoderOptions> = {
  hiddenDropout: 0.1,
  attentionDropout: 0.1,
  layerNormEps: 1e-12,
  positionStyle: 'bert',
  paddingId: 0,
  frozenKernels: true,
};

/** A batch of token ids and attention masks, all `[batch, seqLength]`. */
export interface EncoderInput {
  /** int32 token ids. */
  ids: Tensor2D;
  /** float32, 1 for real tokens and 0 for padding. */
  mask: Tensor2D;
  /** int32 token type (segment) ids; all 0 when absent. */
  typeIds?: Tensor2D;
}

/** The last hidden states of a batch, flattened to `[batch * seqLength, hidden]`. */
export interface EncoderOutput extends PassShape {
  hidden: Tensor2D;
}

/**
 * Added to attention scores of padding keys. Large enough that softmax gives them exactly 0,
 * small enough to stay finite when added to a score.
 */
const MASKED_SCORE = -1e9;

/** The forward pass of a BERT-shaped encoder over frozen weights. */
export class BertEncoder {
  private readonly transposedKernels = new Map<Tensor2D, Tensor2D>();
  readonly options: Readonly<EncoderOptions>;

  constructor(
    private readonly tf: Tf,
    readonly shape: EncoderShape,
    readonly weights: EncoderWeights,
    options: Partial<EncoderOptions> = {},
  ) {
    if (shape.hiddenSize % shape.numHeads !== 0) {
      throw new RangeError(`hiddenSize ${shape.hiddenSize} is not divisible by numHeads ${shape.numHeads}`);
    }
    this.options = { ...BERT_ENCODER_OPTIONS, ...options };
  }

  /**
   * The pooled first-token representation `tanh(W h_0 + b)`, `[batch, hiddenSize]` (BERT's
   * pooler). Call inside `tf.tidy` (or a gradient function, which tidies).
   */
  forward(input: EncoderInput, modules: readonly PeftModule[], ctx: ForwardContext): Tensor2D {
    const out = this.encode(input, modules, ctx);
    return this.pool(this.firstToken(out));
  }

  /** BERT's pooler on first-token states `[batch, hidden]`. Throws if the model has no pooler. */
  pool(first: Tensor2D): Tensor2D {
    const pooler = this.weights.pooler;
    if (!pooler) throw new Error('this base model has no pooler (pooler.dense) weights');
    return this.tf.tanh(this.dense(first, pooler.kernel, pooler.bias));
  }

  /** The first token's hidden state of each example, `[batch, hidden]`. */
  firstToken(out: EncoderOutput): Tensor2D {
    const tf = this.tf;
    return tf.reshape(tf.slice(tf.reshape(out.hidden, [out.batch, out.seqLength, -1]), [0, 0, 0], [out.batch, 1, -1]), [out.batch, -1]);
  }

  /**
   * The last hidden states (`last_hidden_state` of Hugging Face), flattened. With prompt
   * tuning the sequence grows by the prompt length (the prompts come first). Call inside
   * `tf.tidy`.
   *
   * `firstTokenOnly` computes the last layer for the first token alone (its keys and values
   * still come from every token), and returns `seqLength` 1: what a classifier on the first
   * token needs, for about half the last layer's work. Only for modules that treat positions
   * independently; a UniPELT gate averages over positions and would see only the first one.
   */
  encode(input: EncoderInput, modules: readonly PeftModule[], ctx: ForwardContext, firstTokenOnly = false): EncoderOutput {
    const tf = this.tf;
    const [batch] = input.ids.shape;
    const prompts = modules.map((m) => m.promptEmbeddings?.()).filter((p): p is Tensor2D => p !== undefined);
    const prompt = prompts.length === 0 ? undefined : prompts.length === 1 ? prompts[0]! : tf.concat(prompts, 0);
    const promptLength = prompt?.shape[0] ?? 0;
    const seqLength = input.ids.shape[1] + promptLength;
    const past = modules.reduce((most, m) => Math.max(most, m.pastLength?.() ?? 0), 0);
    // The largest position id the pass uses (RoBERTa's start after padding_idx).
    const firstPosition = this.options.positionStyle === 'roberta' ? this.options.paddingId + 1 : 0;
    const lastPosition = firstPosition + past + seqLength - 1;
    if (lastPosition >= this.shape.maxPositions) {
      const prefix = past > 0 ? ` after a prefix of ${past}` : '';
      throw new RangeError(`sequence length ${seqLength}${prefix} exceeds the model's ${this.shape.maxPositions} positions`);
    }
    const mask = promptLength > 0 ? tf.concat([tf.ones([batch, promptLength]), input.mask], 1) : input.mask;
    // [batch, 1, 1, seq]: broadcast over heads and query positions.
    const scoreMask = tf.reshape(tf.mul(tf.sub(1, mask), MASKED_SCORE), [batch, 1, 1, seqLength]) as Tensor4D;
    const shape: PassShape = { batch, seqLength };
    // Hidden states stay flattened to [batch * seq, hidden] so every projection is one 2-D matMul.
    let hidden = this.embed(input, prompt, shape, past, ctx);
    for (let layer = 0; layer < this.shape.numLayers; layer++) {
      hidden = this.layer(layer, hidden, shape, scoreMask, modules, ctx, firstTokenOnly && layer === this.shape.numLayers - 1);
    }
    return { hidden, batch, seqLength: firstTokenOnly && this.shape.numLayers > 0 ? 1 : seqLength };
  }

  /**
   * Word, position and token-type embeddings. `past` (prefix-tuning's length) shifts the position
   * ids as Hugging Face does for `past_key_values`: BERT numbers the tokens `past, past + 1, ...`;
   * RoBERTa's `create_position_ids_from_input_ids` adds `past` to every real token's id and
   * leaves padding at `padding_idx`.
   */
  private embed(input: EncoderInput, prompt: Tensor2D | undefined, shape: PassShape, past: number, ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    const w = this.weights;
    const { batch, seqLength } = shape;
    const textLength = input.ids.shape[1];
    const promptLength = seqLength - textLength;
    let words: Tensor3D = tf.reshape(tf.gather(w.wordEmbeddings, tf.reshape(input.ids, [-1])), [batch, textLength, -1]);
    if (prompt) words = tf.concat<Tensor3D>([tf.tile(tf.expandDims<Tensor3D>(prompt, 0), [batch, 1, 1]), words], 1);

    let positions: Tensor;
    if (this.options.positionStyle === 'roberta') {
      let real = tf.cast(tf.notEqual(input.ids, this.options.paddingId), 'int32') as Tensor2D;
      if (promptLength > 0) real = tf.concat<Tensor2D>([tf.ones([batch, promptLength], 'int32'), real], 1);
      // cast: some backends return cumsum of int32 as float32.
      const counted = past > 0 ? tf.add(tf.cumsum(real, 1), past) : tf.cumsum(real, 1);
      const ids = tf.cast(tf.add(tf.mul(counted, real), this.options.paddingId), 'int32');
      positions = tf.reshape(tf.gather(w.positionEmbeddings, tf.reshape(ids, [-1])), [batch, seqLength, -1]);
    } else {
      positions = tf.slice(w.positionEmbeddings, [past, 0], [seqLength, -1]);
    }

    let tokenType: Tensor;
    if (input.typeIds) {
      let typeIds: Tensor2D = input.typeIds;
      if (promptLength > 0) typeIds = tf.concat<Tensor2D>([tf.zeros([batch, promptLength], 'int32'), typeIds], 1);
      tokenType = tf.reshape(tf.gather(w.tokenTypeEmbeddings, tf.reshape(typeIds, [-1])), [batch, seqLength, -1]);
    } else {
      // Single-segment input: every token has type 0, so its embedding is one broadcast row.
      tokenType = tf.slice(w.tokenTypeEmbeddings, [0, 0], [1, -1]);
    }
    const summed = tf.reshape(tf.add(tf.add(words, positions), tokenType), [batch * seqLength, -1]) as Tensor2D;
    return ctx.dropout(this.layerNorm(summed, w.embeddingsLayerNorm.gamma, w.embeddingsLayerNorm.beta), this.options.hiddenDropout);
  }

  private layer(
    index: number,
    x: Tensor2D,
    shape: PassShape,
    scoreMask: Tensor4D,
    modules: readonly PeftModule[],
    ctx: ForwardContext,
    firstOnly = false,
  ): Tensor2D {
    const tf = this.tf;
    const w = this.weights.layers[index]!;
    const { batch, seqLength } = shape;
    // The rows queries and everything after attention run on: all tokens, or each first token.
    const rows: PassShape = firstOnly ? { batch, seqLength: 1 } : shape;
    const xq = firstOnly ? this.firstToken({ hidden: x, batch, seqLength }) : x;
    const project = (projection: LoraTarget, input: Tensor2D, blockInput: Tensor2D, at: PassShape = shape): Tensor2D => {
      const site = { layer: index, projection, blockInput, ...at };
      const adjusted = applyProjectionInputHooks(modules, site, input, ctx);
      const weights = w[projection];
      let bias: Tensor1D = weights.bias;
      for (const module of modules) bias = module.biasOverride?.(index, projection) ?? bias;
      // LoRA's update joins the projection's own kernel where the backend has one for both.
      const fused = projectionFusable(tf, true) ? takeLowRankUpdate(modules, site, adjusted, ctx) : undefined;
      const output = this.dense(adjusted, weights.kernel, bias, fused?.update);
      return applyProjectionHooks(fused?.rest ?? modules, site, adjusted, output, ctx);
    };

    const heads = this.shape.numHeads;
    const headSize = this.shape.hiddenSize / heads;
    const query = project('query', xq, xq, rows);
    let key: Tensor2D = project('key', x, x);
    let value: Tensor2D = project('value', x, x);
    let mask: Tensor4D = scoreMask;
    const prefixes = modules.map((m) => m.attentionPrefix?.(index, x, shape, ctx)).filter((p) => p !== undefined);
    if (prefixes.length > 0) {
      const widen = (t: Tensor3D): Tensor3D => (t.shape[0] === batch ? t : tf.tile(t, [batch, 1, 1]));
      const prefixLength = prefixes.reduce((sum, p) => sum + p.key.shape[1], 0);
      const extend = (parts: Tensor3D[], t: Tensor2D): Tensor2D =>
        tf.reshape(tf.concat([...parts.map(widen), tf.reshape(t, [batch, seqLength, -1])], 1), [batch * (seqLength + prefixLength), -1]);
      key = extend(prefixes.map((p) => p.key), key);
      value = extend(prefixes.map((p) => p.value), value);
      mask = tf.concat([tf.zeros([batch, 1, 1, prefixLength]), scoreMask], 3);
    }
    // The attention-probability dropout's seed is drawn here, where the composed ops drew it.
    const drop = ctx.dropoutDraw?.(this.options.attentionDropout) ?? { rate: 0, seed: 0 };
    const context = attention(tf, query, key, value, mask, { batch, heads, scale: 1 / Math.sqrt(headSize), ...drop });
    const attended = ctx.dropout(project('attentionOutput', context, xq, rows), this.options.hiddenDropout);
    const h = this.finishSublayer(index, 'attention', attended, xq, w, rows, modules, ctx);

    const intermediate = gelu(tf, project('ffnIn', h, h, rows));
    const ffnOut = ctx.dropout(project('ffnOut', intermediate, h, rows), this.options.hiddenDropout);
    return this.finishSublayer(index, 'ffn', ffnOut, h, w, rows, modules, ctx);
  }

  /** Parallel branches, serial adapters, then the residual and the sublayer's LayerNorm. */
  private finishSublayer(
    layer: number,
    sublayer: Sublayer,
    output: Tensor2D,
    input: Tensor2D,
    w: EncoderLayerWeights,
    shape: PassShape,
    modules: readonly PeftModule[],
    ctx: ForwardContext,
  ): Tensor2D {
    const tf = this.tf;
    const lnSite: LayerNormSite = sublayer === 'attention' ? 'attentionLayerNorm' : 'outputLayerNorm';
    const lnWeights: LayerNormWeights = w[lnSite];
    let beta = lnWeights.beta;
    let gamma = lnWeights.gamma;
    for (const module of modules) {
      beta = module.layerNormBias?.(layer, lnSite) ?? beta;
      gamma = module.layerNormGamma?.(layer, lnSite) ?? gamma;
    }
    const layerNorm = (t: Tensor2D): Tensor2D => this.layerNorm(t, gamma, beta);
    const site = { layer, sublayer, ...shape };
    let z = output;
    for (const module of modules) {
      const branch = module.sublayerBranch?.(site, input, ctx);
      if (branch) z = tf.add(z, branch);
    }
    for (const module of modules) {
      if (module.adaptSublayerOutput) z = module.adaptSublayerOutput(site, z, input, layerNorm, ctx);
    }
    return layerNorm(tf.add(z, input));
  }

  /**
   * `x @ kernel + bias` with a hand-written gradient for `x` only. The kernel is frozen, so its
   * gradient (half the backward work of a projection) is never computed; and the input gradient
   * `dy @ kernel^T` multiplies by a stored transposed copy, because the wasm backend's matMul
   * is several times slower with `transposeB` than without. The bias is added outside, so a
   * trainable bias (BitFit) gets its gradient.
   */
  private dense(x: Tensor2D, kernel: Tensor2D, bias: Tensor1D, update?: LowRankUpdate): Tensor2D {
    const tf = this.tf;
    // One kernel for the product, the bias (and the update) where the backend has it; its
    // gradients are formed only for inputs that need them, as below.
    if (projectionFusable(tf, update !== undefined)) return fusedProjection(tf, x, kernel, bias, update);
    if (update) throw new Error('a low-rank update needs the fused projection kernel');
    if (!this.options.frozenKernels) return tf.add<Tensor2D>(tf.matMul(x, kernel), bias);
    const kernelT = this.transposedKernel(kernel);
    const op = tf.customGrad((...inputs) => {
      const input = inputs[0] as Tensor2D;
      return {
        value: tf.matMul(input, kernel) as Tensor2D,
        gradFunc: (dy: Tensor2D) => tf.matMul(dy, kernelT),
      };
    });
    return tf.add<Tensor2D>(op(x), bias);
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
  layerNorm(x: Tensor2D, gamma: Tensor1D, beta: Tensor1D): Tensor2D {
    return layerNorm(this.tf, x, gamma, beta, this.options.layerNormEps);
  }
}
