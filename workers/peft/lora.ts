/**
 * LoRA (Hu et al. 2021): a low-rank update beside a frozen projection,
 * `W0 x + (alpha / rank) * B(A(dropout(x)))`, with A random and B zero so training starts
 * exactly at the base model. With a UniPELT gate the update is `G(x) * B(A(dropout(x)))`
 * instead (the gate replaces alpha / rank), G read from the sublayer input.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LoraModuleConfig, LoraTarget } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { createRng, deriveSeed, uniformArray } from '../random.js';
import { Gate } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';

/** The two factors on one projection. */
interface LoraPair {
  /** `[dIn, rank]` (PyTorch's `lora_A.weight` transposed). */
  a: Variable;
  /** `[rank, dOut]` (PyTorch's `lora_B.weight` transposed). */
  b: Variable;
  /** alpha / rank of this target. */
  scale: number;
  gate?: Gate;
}

const siteKey = (layer: number, projection: LoraTarget): string => `${layer}/${projection}`;

/**
 * Rejects configurations that cannot be built, naming the offending field. Duplicated layers
 * or targets are rejected too: they would make the closed-form count disagree with the model.
 */
export function validateLoraConfig(config: LoraModuleConfig, shape: EncoderShape): void {
  const fail = (message: string): never => {
    throw new InvalidTrialError(`Invalid LoRA configuration: ${message}`);
  };
  if (!Number.isInteger(config.rank) || config.rank < 1) fail(`rank must be a positive integer, got ${config.rank}`);
  if (!(Number.isFinite(config.alpha) && config.alpha > 0)) fail(`alpha must be positive, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) fail(`dropout must be in [0, 1), got ${config.dropout}`);
  if (config.targets.length === 0) fail('targets must not be empty');
  for (const target of config.targets) {
    if (!LORA_TARGETS.includes(target)) fail(`unknown target "${String(target)}"; known: ${LORA_TARGETS.join(', ')}`);
  }
  if (new Set(config.targets).size !== config.targets.length) fail(`targets repeat: ${config.targets.join(', ')}`);
  for (const [target, rank] of Object.entries(config.rankPerTarget ?? {})) {
    if (!config.targets.includes(target as LoraTarget)) fail(`rankPerTarget names "${target}", which is not among the targets`);
    if (!Number.isInteger(rank) || rank < 1) fail(`rankPerTarget.${target} must be a positive integer, got ${rank}`);
  }
  for (const layer of config.layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= shape.numLayers) {
      fail(`layer ${layer} is outside 0..${shape.numLayers - 1}`);
    }
  }
  if (new Set(config.layers).size !== config.layers.length) fail(`layers repeat: ${config.layers.join(', ')}`);
}

/** LoRA on the configured projections of the configured layers. */
export class LoraModule implements PeftModule {
  readonly kind = 'lora' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly pairs: ReadonlyMap<string, LoraPair>;

  /**
   * Creates the factors. A is drawn uniformly from +-1/sqrt(dIn) (PyTorch's kaiming-uniform
   * with a = sqrt(5), as Hugging Face PEFT does), B is zero; each pair has its own seeded stream.
   * @param gated - add a UniPELT gate per target (`lora_gate.kernel` `[hidden, 1]`, `lora_gate.bias`).
   */
  constructor(
    private readonly tf: Tf,
    readonly config: LoraModuleConfig,
    shape: EncoderShape,
    seed: number,
    gated = false,
  ) {
    validateLoraConfig(config, shape);
    const variables = new Map<string, Variable>();
    const pairs = new Map<string, LoraPair>();
    for (const layer of config.layers) {
      for (const projection of config.targets) {
        const { dIn, dOut } = loraTargetDims(projection, shape);
        const rank = config.rankPerTarget?.[projection] ?? config.rank;
        const rng = createRng(deriveSeed(seed, layer, LORA_TARGETS.indexOf(projection)));
        const initialA = uniformArray(rng, dIn * rank, 1 / Math.sqrt(dIn));
        // tidy frees the initial-value tensors; the variables (kept by tidy) own copies of them.
        const a = tf.tidy(() => tf.variable(tf.tensor2d(initialA, [dIn, rank]), true));
        const b = tf.tidy(() => tf.variable(tf.zeros([rank, dOut]), true));
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[projection]}`;
        variables.set(`${path}.lora_A.kernel`, a);
        variables.set(`${path}.lora_B.kernel`, b);
        const pair: LoraPair = { a, b, scale: config.alpha / rank };
        if (gated) {
          pair.gate = new Gate(tf, shape.hiddenSize, deriveSeed(seed, layer, LORA_TARGETS.indexOf(projection), 1));
          pair.gate.register(variables, `${path}.lora_gate`);
        }
        pairs.set(siteKey(layer, projection), pair);
      }
    }
    this.variables = variables;
    this.pairs = pairs;
  }

  /** Whether the updates are gated (UniPELT) rather than scaled by alpha / rank. */
  get isGated(): boolean {
    return [...this.pairs.values()].some((pair) => pair.gate !== undefined);
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D {
    const pair = this.pairs.get(siteKey(site.layer, site.projection));
    if (!pair) return output;
    const tf = this.tf;
    const x = ctx.dropout(input, this.config.dropout);
    // (x A) B costs tokens * rank * (dIn + dOut); forming A B first would cost dIn * dOut more.
    const update = tf.matMul(tf.matMul(x, pair.a as Tensor2D), pair.b as Tensor2D);
    if (pair.gate) return tf.add<Tensor2D>(output, pair.gate.scale(tf, update as Tensor2D, site.blockInput, site));
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
    return this.tf.mul<Tensor2D>(this.tf.matMul(pair.a as Tensor2D, pair.b as Tensor2D), pair.scale);
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
