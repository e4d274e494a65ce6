/** Helpers shared by the PEFT modules: validation, variable creation, activations and gates. */
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { AdapterActivation } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { createRng, normalArray } from '../random.js';
import type { PassShape } from './peft-module.js';

// The configuration checks are the pure method specs' (search/methods/); modules validate with them too.
export { checkLayers, checkPositiveInt, checkTargets, failer } from '../../search/methods/checks.js';
export { ADAPTER_ACTIVATIONS } from '../../search/methods/adapters.js';





/** A trainable variable holding `values` (the initial-value tensor is freed). */
export function trainable(tf: Tf, values: Float32Array, shape: number[]): Variable {
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true));
}

/** A trainable variable of zeros. */
export function zerosVariable(tf: Tf, shape: number[]): Variable {
  return tf.tidy(() => tf.variable(tf.zeros(shape), true));
}

/** A trainable variable of ones. */
export function onesVariable(tf: Tf, shape: number[]): Variable {
  return tf.tidy(() => tf.variable(tf.ones(shape), true));
}

/** Applies a bottleneck non-linearity. */
export function activate(tf: Tf, x: Tensor2D, activation: AdapterActivation): Tensor2D {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'tanh':
      return tf.tanh(x);
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }
}


/**
 * A UniPELT gate: `G = mean over positions of sigmoid(x W + b)`, one scalar per example. `W`
 * `[hidden, 1]` from N(0, 0.02^2) (BERT's initialiser), `b` zero.
 */
export class Gate {
  readonly kernel: Variable;
  readonly bias: Variable;

  constructor(tf: Tf, hiddenSize: number, seed: number) {
    this.kernel = trainable(tf, normalArray(createRng(seed), hiddenSize, 0.02), [hiddenSize, 1]);
    this.bias = zerosVariable(tf, [1]);
  }

  /** Adds the gate's variables under `prefix.kernel` and `prefix.bias`. */
  register(variables: Map<string, Variable>, prefix: string): void {
    variables.set(`${prefix}.kernel`, this.kernel);
    variables.set(`${prefix}.bias`, this.bias);
  }

  /** Per-example gate values `[batch, 1, 1]` from the gate input `[batch * seq, hidden]`. */
  value(tf: Tf, input: Tensor2D, shape: PassShape): Tensor {
    const perToken = tf.sigmoid(tf.add(tf.matMul(input, this.kernel as Tensor2D), this.bias as Tensor1D));
    return tf.mean(tf.reshape(perToken, [shape.batch, shape.seqLength, 1]), 1, true);
  }

  /** `t` `[batch * seq, width]` scaled by each example's gate. */
  scale(tf: Tf, t: Tensor2D, input: Tensor2D, shape: PassShape): Tensor2D {
    const gated = tf.mul(tf.reshape(t, [shape.batch, shape.seqLength, -1]), this.value(tf, input, shape));
    return tf.reshape(gated, [shape.batch * shape.seqLength, -1]);
  }
}
