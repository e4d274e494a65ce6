/**
 * The trainable sequence-classification (or regression) heads of Hugging Face's
 * `BertForSequenceClassification` and `RobertaForSequenceClassification`:
 * - `bert`: `classifier(dropout(pooler(h_0)))`, the pooler being part of the frozen base model;
 * - `roberta`: `out_proj(dropout(tanh(dense(dropout(h_0)))))`, both layers trainable.
 * With one output the head is a regression head (trained with mean squared error).
 */
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { HeadKind } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { createRng, deriveSeed, normalArray } from '../random.js';
import type { BertEncoder, EncoderOutput } from './encoder.js';
import type { ForwardContext } from './forward-context.js';

export type { HeadKind } from '../../search/types.js';

/** A linear layer made of two variables. */
interface Linear {
  kernel: Variable;
  bias: Variable;
}

/** A sequence-classification or regression head. */
export class SequenceClassificationHead {
  /** Trainable variables under Hugging Face names (`classifier.*`, kernels `[in, out]`). */
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly dense?: Linear;
  private readonly out: Linear;

  /**
   * Kernels drawn from N(0, 0.02^2) (BERT's initialiser) with `seed`, biases zero; `initial`
   * (e.g. a fine-tuned checkpoint's classifier, same names and shapes) overrides them.
   * @param dropout - dropout before each linear layer while training (the hidden dropout).
   */
  constructor(
    private readonly tf: Tf,
    readonly kind: HeadKind,
    hiddenSize: number,
    readonly outputs: number,
    seed: number,
    private readonly dropout: number,
    initial?: ReadonlyMap<string, Tensor>,
  ) {
    const variables = new Map<string, Variable>();
    const linear = (name: string, dIn: number, dOut: number, stream: number): Linear => {
      const given = (suffix: string, shape: number[]): Tensor | undefined => {
        const t = initial?.get(`${name}.${suffix}`);
        if (t && t.shape.join(',') !== shape.join(',')) {
          throw new Error(`head weight "${name}.${suffix}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
        }
        return t;
      };
      const kernelInit = given('kernel', [dIn, dOut]);
      const biasInit = given('bias', [dOut]);
      const values = normalArray(createRng(stream < 0 ? seed : deriveSeed(seed, stream)), dIn * dOut, 0.02);
      // tidy frees the initial-value tensors; the variables (kept by tidy) own copies of them.
      const kernel = tf.tidy(() => tf.variable(kernelInit ? tf.clone(kernelInit) : tf.tensor2d(values, [dIn, dOut]), true));
      const bias = tf.tidy(() => tf.variable(biasInit ? tf.clone(biasInit) : tf.zeros([dOut]), true));
      variables.set(`${name}.kernel`, kernel);
      variables.set(`${name}.bias`, bias);
      return { kernel, bias };
    };
    if (kind === 'roberta') {
      this.dense = linear('classifier.dense', hiddenSize, hiddenSize, 0);
      this.out = linear('classifier.out_proj', hiddenSize, outputs, 1);
    } else {
      // Seeded as the earlier BERT-only head was, so trials keep their initialisation.
      this.out = linear('classifier', hiddenSize, outputs, -1);
    }
    this.variables = variables;
  }

  /** Logits (or the regression value) `[batch, outputs]` from the encoder's last hidden states. */
  forward(encoder: BertEncoder, hidden: EncoderOutput, ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    const first = encoder.firstToken(hidden);
    const apply = (x: Tensor2D, l: Linear): Tensor2D => tf.add<Tensor2D>(tf.matMul(ctx.dropout(x, this.dropout), l.kernel as Tensor2D), l.bias as Tensor1D);
    if (this.dense) return apply(tf.tanh(apply(first, this.dense)), this.out);
    return apply(encoder.pool(first), this.out);
  }

  /** Frees the head's variables. */
  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}

/**
 * The BERT head on an already pooled output (`logits = dropout(pooled) @ kernel + bias`).
 * @deprecated Use {@link SequenceClassificationHead}, which also covers RoBERTa and regression.
 */
export class ClassificationHead {
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly head: SequenceClassificationHead;

  constructor(
    private readonly tf: Tf,
    hiddenSize: number,
    numLabels: number,
    seed: number,
    private readonly dropout: number,
  ) {
    this.head = new SequenceClassificationHead(tf, 'bert', hiddenSize, numLabels, seed, dropout);
    this.variables = this.head.variables;
  }

  /** Logits `[batch, labels]` from the pooled output `[batch, hidden]`. */
  forward(pooled: Tensor2D, ctx: ForwardContext): Tensor2D {
    const kernel = this.variables.get('classifier.kernel') as Tensor2D;
    const bias = this.variables.get('classifier.bias') as Tensor1D;
    return this.tf.add<Tensor2D>(this.tf.matMul(ctx.dropout(pooled, this.dropout), kernel), bias);
  }

  dispose(): void {
    this.head.dispose();
  }
}
