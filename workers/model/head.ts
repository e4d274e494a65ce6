/** The trainable classification head on the pooled output, as in `BertForSequenceClassification`. */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../backend.js';
import { createRng, normalArray } from '../random.js';
import type { ForwardContext } from './forward-context.js';

/** `logits = dropout(pooled) @ kernel + bias`, with kernel `[hidden, labels]`. */
export class ClassificationHead {
  /** Trainable variables under Hugging Face names (`classifier.*`, kernels `[in, out]`). */
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly kernel: Variable;
  private readonly bias: Variable;

  /**
   * Kernel drawn from N(0, 0.02^2) (BERT's initialiser) with `seed`, bias zero.
   * @param dropout - dropout on the pooled output while training (BERT: the hidden dropout).
   */
  constructor(
    private readonly tf: Tf,
    hiddenSize: number,
    numLabels: number,
    seed: number,
    private readonly dropout: number,
  ) {
    const initialKernel = normalArray(createRng(seed), hiddenSize * numLabels, 0.02);
    // tidy frees the initial-value tensors; the variables (kept by tidy) own copies of them.
    this.kernel = tf.tidy(() => tf.variable(tf.tensor2d(initialKernel, [hiddenSize, numLabels]), true));
    this.bias = tf.tidy(() => tf.variable(tf.zeros([numLabels]), true));
    this.variables = new Map([
      ['classifier.kernel', this.kernel],
      ['classifier.bias', this.bias],
    ]);
  }

  /** Logits `[batch, labels]` from the pooled output `[batch, hidden]`. */
  forward(pooled: Tensor2D, ctx: ForwardContext): Tensor2D {
    const tf = this.tf;
    return tf.add(tf.matMul(ctx.dropout(pooled, this.dropout), this.kernel as Tensor2D), this.bias);
  }

  /** Frees the head's variables. */
  dispose(): void {
    this.kernel.dispose();
    this.bias.dispose();
  }
}
