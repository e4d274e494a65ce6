/**
 * LoRA (Hu et al. 2021): a low-rank update beside a frozen projection,
 * `W0 x + (alpha / rank) * B(A(dropout(x)))`, with A random and B zero so training starts
 * exactly at the base model. With a UniPELT gate the update is `G(x) * B(A(dropout(x)))`
 * instead (the gate replaces alpha / rank), G read from the sublayer input.
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LoraModuleConfig, LoraTarget } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import type { ForwardContext } from '../model/forward-context.js';
import type { LowRankUpdate } from '../model/fused-ops.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { createRng, deriveSeed, uniformArray } from '../random.js';
import { Gate } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import type { BuildMode } from './prefix.js';
import { loraRankAt, validateLoraConfig } from '../../search/methods/lora.js';

/** The two factors on one projection. */
export interface LoraPair {
  /** `[dIn, rank]` (PyTorch's `lora_A.weight` transposed); a constant when A is frozen. */
  a: Tensor2D;
  /** `[rank, dOut]` (PyTorch's `lora_B.weight` transposed). */
  b: Tensor2D;
  /** alpha / rank of this target. */
  scale: number;
  gate?: Gate;
}

const siteKey = (layer: number, projection: LoraTarget): string => `${layer}/${projection}`;

/** Options of {@link LoraModule}. */
export interface LoraOptions {
  /** Which method the module serves (its `kind`). @defaultValue 'lora' */
  kind?: 'lora' | 'loraFa' | 'dora';
  /** Add a UniPELT gate per target (`lora_gate.kernel` `[hidden, 1]`, `lora_gate.bias`). */
  gated?: boolean;
  /** LoRA-FA: A is a frozen constant while training (a variable in `stored` mode, so it loads). */
  freezeA?: boolean;
  mode?: BuildMode;
  /** Stem of the factor names, `lora` giving `lora_A.kernel`; methods sharing a projection use their own. */
  stem?: string;
}


/** LoRA (and LoRA-FA, and DoRA's factors) on the configured projections of the configured layers. */
export class LoraModule implements PeftModule {
  readonly kind: 'lora' | 'loraFa' | 'dora';
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly pairs: ReadonlyMap<string, LoraPair>;
  /** Frozen factors (LoRA-FA's A while training): stored, never trained. */
  private readonly frozen = new Map<string, Tensor>();

  /**
   * Creates the factors. A is drawn uniformly from +-1/sqrt(dIn) (PyTorch's kaiming-uniform
   * with a = sqrt(5), as Hugging Face PEFT does), B is zero; each pair has its own seeded stream.
   */
  constructor(
    private readonly tf: Tf,
    readonly config: LoraModuleConfig,
    shape: EncoderShape,
    seed: number,
    options: LoraOptions = {},
  ) {
    validateLoraConfig(config, shape);
    this.kind = options.kind ?? 'lora';
    const stem = options.stem ?? 'lora';
    const freezeA = options.freezeA === true && (options.mode ?? 'training') === 'training';
    const variables = new Map<string, Variable>();
    const pairs = new Map<string, LoraPair>();
    for (const layer of config.layers) {
      for (const projection of config.targets) {
        const { dIn, dOut } = loraTargetDims(projection, shape);
        const rank = loraRankAt(config, layer, projection);
        // A per-layer rank of 0: this projection of this layer carries no LoRA.
        if (rank === 0) continue;
        const rng = createRng(deriveSeed(seed, layer, LORA_TARGETS.indexOf(projection)));
        const initialA = uniformArray(rng, dIn * rank, 1 / Math.sqrt(dIn));
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[projection]}`;
        // tidy frees the initial-value tensors; the variables (kept by tidy) own copies of them.
        const b = tf.tidy(() => tf.variable(tf.zeros([rank, dOut]), true));
        let a: Tensor2D;
        if (freezeA) {
          a = tf.tensor2d(initialA, [dIn, rank]);
          this.frozen.set(`${path}.${stem}_A.kernel`, a);
        } else {
          const variable = tf.tidy(() => tf.variable(tf.tensor2d(initialA, [dIn, rank]), true));
          variables.set(`${path}.${stem}_A.kernel`, variable);
          a = variable as Tensor2D;
        }
        variables.set(`${path}.${stem}_B.kernel`, b);
        const pair: LoraPair = { a, b: b as Tensor2D, scale: config.alpha / rank };
        if (options.gated) {
          pair.gate = new Gate(tf, shape.hiddenSize, deriveSeed(seed, layer, LORA_TARGETS.indexOf(projection), 1));
          pair.gate.register(variables, `${path}.lora_gate`);
        }
        pairs.set(siteKey(layer, projection), pair);
      }
    }
    this.variables = variables;
    this.pairs = pairs;
  }

  /** The factors of a site, or undefined. */
  pair(layer: number, projection: LoraTarget): LoraPair | undefined {
    return this.pairs.get(siteKey(layer, projection));
  }

  /** Copies of the variables and of the frozen factors: the frozen A is part of the adapter. */
  storedWeights(): Map<string, Tensor> {
    const stored = new Map<string, Tensor>();
    for (const [name, v] of this.variables) stored.set(name, this.tf.clone(v));
    for (const [name, t] of this.frozen) stored.set(name, this.tf.clone(t));
    return stored;
  }

  /** `scale * B A x` of a site (dropout applied to x), ungated; undefined at sites the module does not touch. */
  update(site: ProjectionSite, input: Tensor2D, ctx: ForwardContext): Tensor2D | undefined {
    const pair = this.pair(site.layer, site.projection);
    if (!pair) return undefined;
    const x = ctx.dropout(input, this.config.dropout);
    // (x A) B costs tokens * rank * (dIn + dOut); forming A B first would cost dIn * dOut more.
    return this.tf.matMul<Tensor2D>(this.tf.matMul(x, pair.a), pair.b);
  }

  /** Whether the updates are gated (UniPELT) rather than scaled by alpha / rank. */
  get isGated(): boolean {
    return [...this.pairs.values()].some((pair) => pair.gate !== undefined);
  }

  lowRankUpdate(site: ProjectionSite, input: Tensor2D, ctx: ForwardContext): LowRankUpdate | undefined {
    const pair = this.pair(site.layer, site.projection);
    if (!pair || pair.gate) return undefined;
    return { input: ctx.dropout(input, this.config.dropout), a: pair.a, b: pair.b, scale: pair.scale };
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D {
    const pair = this.pair(site.layer, site.projection);
    const update = this.update(site, input, ctx);
    if (!pair || !update) return output;
    const tf = this.tf;
    if (pair.gate) return tf.add<Tensor2D>(output, pair.gate.scale(tf, update, site.blockInput, site));
    return tf.add<Tensor2D>(output, tf.mul(update, pair.scale));
  }

  mergeRefusal(): string | undefined {
    return this.isGated ? 'gated LoRA cannot merge into the base weights: its gate depends on the input' : undefined;
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const delta = this.mergedDelta(layer, projection);
    return delta ? { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, delta) } : linear;
  }

  /** The update `scale * A B` (`[dIn, dOut]`) of an ungated site, for merging; undefined elsewhere. */
  mergedDelta(layer: number, projection: LoraTarget): Tensor2D | undefined {
    const pair = this.pairs.get(siteKey(layer, projection));
    if (!pair) return undefined;
    if (pair.gate) throw new InvalidTrialError('gated LoRA cannot merge into the base weights: its gate depends on the input');
    return this.tf.mul<Tensor2D>(this.tf.matMul(pair.a, pair.b), pair.scale);
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    for (const tensor of this.frozen.values()) tensor.dispose();
  }
}
