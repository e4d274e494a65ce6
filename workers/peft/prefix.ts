/**
 * Prefix-tuning (Li & Liang 2021): `length` learned key and value vectors prepended to the
 * keys and values of each chosen layer's self-attention (every query may attend to them; the
 * attention mask grows by `length`). As in Hugging Face PEFT, where the prefixes are
 * `past_key_values`, the real tokens' position ids start at `length` ({@link PrefixTuningModule.pastLength}).
 *
 * While training with `reparamSize` b > 0 the prefixes are the output of a reparameterising MLP,
 * `tanh(E W1 + b1) W2 + b2` from an embedding E `[p, hidden]` to `[p, 2 L' hidden]` (columns
 * `2j` and `2j + 1` blocks: key and value of the j-th chosen layer, Hugging Face PEFT's layout);
 * only that output is kept ({@link PrefixTuningModule.storedWeights}). Built in `stored` mode,
 * or with b = 0, the prefixes are variables themselves.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, PrefixTuningConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { createRng, deriveSeed, normalArray, uniformArray } from '../random.js';
import { Gate, trainable, zerosVariable } from './common.js';
import type { AttentionPrefix, PassShape, PeftModule } from './peft-module.js';
import { validatePrefix } from '../../search/methods/prefix.js';

/** Whether a module is built for training (prefix MLP) or from stored weights. */
export type BuildMode = 'training' | 'stored';

const prefixPath = (layer: number): string => `encoder.layer.${layer}.attention.self`;


/** Prefix-tuning on the configured layers. */
export class PrefixTuningModule implements PeftModule {
  readonly kind = 'prefix' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly hidden: number;
  private readonly slot = new Map<number, number>();
  private readonly direct = new Map<number, { key: Variable; value: Variable }>();
  private readonly gates = new Map<number, Gate>();
  private readonly mlp?: { embedding: Variable; w1: Variable; b1: Variable; w2: Variable; b2: Variable };
  /** The MLP output of the current pass, computed once and shared by all layers. */
  private cached?: { ctx: ForwardContext; output: Tensor2D };

  constructor(
    private readonly tf: Tf,
    readonly config: PrefixTuningConfig,
    shape: EncoderShape,
    seed: number,
    options: { mode?: BuildMode; gated?: boolean } = {},
  ) {
    validatePrefix(config, shape);
    const d = shape.hiddenSize;
    const p = config.length;
    this.hidden = d;
    const variables = new Map<string, Variable>();
    config.layers.forEach((layer, j) => this.slot.set(layer, j));
    if ((options.mode ?? 'training') === 'training' && config.reparamSize > 0) {
      const b = config.reparamSize;
      const width = 2 * config.layers.length * d;
      const rng = createRng(seed);
      this.mlp = {
        embedding: trainable(tf, normalArray(rng, p * d, 1), [p, d]),
        w1: trainable(tf, uniformArray(rng, d * b, 1 / Math.sqrt(d)), [d, b]),
        b1: zerosVariable(tf, [b]),
        w2: trainable(tf, uniformArray(rng, b * width, 1 / Math.sqrt(b)), [b, width]),
        b2: zerosVariable(tf, [width]),
      };
      variables.set('prefix_encoder.embedding.weight', this.mlp.embedding);
      variables.set('prefix_encoder.transform.0.kernel', this.mlp.w1);
      variables.set('prefix_encoder.transform.0.bias', this.mlp.b1);
      variables.set('prefix_encoder.transform.2.kernel', this.mlp.w2);
      variables.set('prefix_encoder.transform.2.bias', this.mlp.b2);
    } else {
      for (const layer of config.layers) {
        const rng = createRng(deriveSeed(seed, layer));
        const key = trainable(tf, normalArray(rng, p * d, 0.02), [p, d]);
        const value = trainable(tf, normalArray(rng, p * d, 0.02), [p, d]);
        variables.set(`${prefixPath(layer)}.prefix_key`, key);
        variables.set(`${prefixPath(layer)}.prefix_value`, value);
        this.direct.set(layer, { key, value });
      }
    }
    if (options.gated) {
      for (const layer of config.layers) {
        const gate = new Gate(tf, d, deriveSeed(seed, layer, 7));
        gate.register(variables, `${prefixPath(layer)}.prefix_gate`);
        this.gates.set(layer, gate);
      }
    }
    this.variables = variables;
  }

  private mlpOutput(ctx: ForwardContext): Tensor2D {
    if (this.cached && this.cached.ctx === ctx && !this.cached.output.isDisposed) return this.cached.output;
    const tf = this.tf;
    const m = this.mlp!;
    const hidden = tf.tanh(tf.add(tf.matMul(m.embedding as Tensor2D, m.w1 as Tensor2D), m.b1 as Tensor1D));
    const output = tf.add(tf.matMul(hidden, m.w2 as Tensor2D), m.b2 as Tensor1D) as Tensor2D;
    this.cached = { ctx, output };
    return output;
  }

  /** `[p, hidden]` key and value prefixes of a layer (from the MLP or the variables). */
  private prefixes(layer: number, ctx: ForwardContext): { key: Tensor2D; value: Tensor2D } | undefined {
    const j = this.slot.get(layer);
    if (j === undefined) return undefined;
    const direct = this.direct.get(layer);
    if (direct) return { key: direct.key as Tensor2D, value: direct.value as Tensor2D };
    const tf = this.tf;
    const output = this.mlpOutput(ctx);
    const d = this.hidden;
    return {
      key: tf.slice(output, [0, 2 * j * d], [-1, d]),
      value: tf.slice(output, [0, (2 * j + 1) * d], [-1, d]),
    };
  }

  attentionPrefix(layer: number, layerInput: Tensor2D, shape: PassShape, ctx: ForwardContext): AttentionPrefix | undefined {
    const found = this.prefixes(layer, ctx);
    if (!found) return undefined;
    const tf = this.tf;
    let key: Tensor3D = tf.expandDims(found.key, 0);
    let value: Tensor3D = tf.expandDims(found.value, 0);
    const gate = this.gates.get(layer);
    if (gate) {
      const g = gate.value(tf, layerInput, shape);
      key = tf.mul(key, g);
      value = tf.mul(value, g);
    }
    return { key, value };
  }

  /**
   * Hugging Face PEFT hands the prefixes to the model as `past_key_values`, and BERT/RoBERTa
   * then number the real tokens from `past_key_values_length` on: the prefix occupies the first
   * `length` positions.
   */
  pastLength(): number {
    return this.config.length;
  }

  /** Per layer `prefix_key` and `prefix_value` `[p, hidden]` (the MLP's output), plus gates. */
  storedWeights(): Map<string, Tensor> {
    const tf = this.tf;
    const stored = new Map<string, Tensor>();
    const ctx: ForwardContext = { training: false, dropout: (x) => x };
    for (const layer of this.config.layers) {
      const { key, value } = tf.tidy(() => {
        const found = this.prefixes(layer, ctx)!;
        return { key: tf.clone(found.key), value: tf.clone(found.value) };
      });
      stored.set(`${prefixPath(layer)}.prefix_key`, key);
      stored.set(`${prefixPath(layer)}.prefix_value`, value);
    }
    this.cached = undefined;
    for (const [name, variable] of this.variables) {
      if (name.includes('.prefix_gate.')) stored.set(name, tf.clone(variable));
    }
    return stored;
  }

  dispose(): void {
    this.cached = undefined;
    for (const variable of this.variables.values()) variable.dispose();
  }
}
