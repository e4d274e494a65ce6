/**
 * Bottleneck adapters: `W_up f(W_down v + b_down) + b_up` with `W_down` `[hidden, m]` drawn
 * uniformly from +-1/sqrt(hidden) and `W_up` zero, so a fresh adapter adds exactly nothing.
 *
 * - Serial, Pfeiffer placement (AdapterHub SeqBn: `original_ln_before`, `residual_before_ln`,
 *   `original_ln_after`): on the FFN output `z` with FFN input `h`,
 *   `out = LN2(z + h + A(LN2(z + h)))`.
 * - Serial, Houlsby placement (DoubleSeqBn): after both the attention output and the FFN output,
 *   `out = LN(z + A(z) + x)`.
 * - Parallel (He et al. 2021, AdapterHub ParBn): a branch reading the FFN input,
 *   `out = LN2(z + s A(h) + h)`.
 *
 * With a UniPELT gate the adapter's output `A(v)` is scaled by `G(v)` per example.
 */
import type { Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { AdapterActivation, EncoderShape, ParallelAdapterConfig, SerialAdapterConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { createRng, deriveSeed, uniformArray } from '../random.js';
import { Gate, activate, trainable, zerosVariable } from './common.js';
import type { PeftModule, Sublayer, SublayerSite } from './peft-module.js';
import { bottleneckSizeAt, validateParallelAdapter, validateSerialAdapter } from '../../search/methods/adapters.js';

/** Module path of the adapters on each sublayer, within `encoder.layer.{i}`. */
const SUBLAYER_PATHS: Readonly<Record<Sublayer, string>> = { attention: 'attention.output', ffn: 'output' };

/** One bottleneck insertion. */
class Bottleneck {
  readonly downKernel: Variable;
  readonly downBias: Variable;
  readonly upKernel: Variable;
  readonly upBias: Variable;
  readonly gate?: Gate;

  constructor(tf: Tf, hiddenSize: number, size: number, seed: number, gated: boolean) {
    const rng = createRng(seed);
    this.downKernel = trainable(tf, uniformArray(rng, hiddenSize * size, 1 / Math.sqrt(hiddenSize)), [hiddenSize, size]);
    this.downBias = zerosVariable(tf, [size]);
    this.upKernel = zerosVariable(tf, [size, hiddenSize]);
    this.upBias = zerosVariable(tf, [hiddenSize]);
    if (gated) this.gate = new Gate(tf, hiddenSize, deriveSeed(seed, 1));
  }

  register(variables: Map<string, Variable>, prefix: string): void {
    variables.set(`${prefix}.adapter_down.kernel`, this.downKernel);
    variables.set(`${prefix}.adapter_down.bias`, this.downBias);
    variables.set(`${prefix}.adapter_up.kernel`, this.upKernel);
    variables.set(`${prefix}.adapter_up.bias`, this.upBias);
    this.gate?.register(variables, `${prefix}.gate`);
  }

  /** `A(v)`, gated when the insertion has a gate. */
  apply(tf: Tf, v: Tensor2D, activation: AdapterActivation, site: SublayerSite): Tensor2D {
    const down = activate(tf, tf.add<Tensor2D>(tf.matMul(v, this.downKernel as Tensor2D), this.downBias as Tensor1D), activation);
    const up = tf.add<Tensor2D>(tf.matMul(down, this.upKernel as Tensor2D), this.upBias as Tensor1D);
    return this.gate ? this.gate.scale(tf, up, v, site) : up;
  }
}




const key = (layer: number, sublayer: Sublayer): string => `${layer}/${sublayer}`;

/** Serial bottleneck adapters in Pfeiffer or Houlsby placement. */
export class SerialAdapterModule implements PeftModule {
  readonly kind = 'serialAdapter' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly insertions = new Map<string, Bottleneck>();

  constructor(
    private readonly tf: Tf,
    readonly config: SerialAdapterConfig,
    shape: EncoderShape,
    seed: number,
    gated = false,
  ) {
    validateSerialAdapter(config, shape);
    const sublayers: Sublayer[] = config.placement === 'houlsby' ? ['attention', 'ffn'] : ['ffn'];
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const sublayer of sublayers) {
        const bottleneck = new Bottleneck(tf, shape.hiddenSize, bottleneckSizeAt(config, layer), deriveSeed(seed, layer, sublayer === 'ffn' ? 1 : 0), gated);
        bottleneck.register(variables, `encoder.layer.${layer}.${SUBLAYER_PATHS[sublayer]}.adapter`);
        this.insertions.set(key(layer, sublayer), bottleneck);
      }
    }
    this.variables = variables;
  }

  adaptSublayerOutput(
    site: SublayerSite,
    output: Tensor2D,
    sublayerInput: Tensor2D,
    layerNorm: (t: Tensor2D) => Tensor2D,
    _ctx: ForwardContext,
  ): Tensor2D {
    const bottleneck = this.insertions.get(key(site.layer, site.sublayer));
    if (!bottleneck) return output;
    const tf = this.tf;
    // SeqBn reads the sublayer's normalised output but keeps the un-normalised one as residual.
    const adapterInput = this.config.placement === 'pfeiffer' ? layerNorm(tf.add(output, sublayerInput)) : output;
    return tf.add<Tensor2D>(output, bottleneck.apply(tf, adapterInput, this.config.activation, site));
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}

/** Parallel bottleneck adapters on the FFN, scaled by a constant. */
export class ParallelAdapterModule implements PeftModule {
  readonly kind = 'parallelAdapter' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly insertions = new Map<number, Bottleneck>();

  constructor(
    private readonly tf: Tf,
    readonly config: ParallelAdapterConfig,
    shape: EncoderShape,
    seed: number,
  ) {
    validateParallelAdapter(config, shape);
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      const bottleneck = new Bottleneck(tf, shape.hiddenSize, bottleneckSizeAt(config, layer), deriveSeed(seed, layer), false);
      bottleneck.register(variables, `encoder.layer.${layer}.output.parallel_adapter`);
      this.insertions.set(layer, bottleneck);
    }
    this.variables = variables;
  }

  sublayerBranch(site: SublayerSite, sublayerInput: Tensor2D, _ctx: ForwardContext): Tensor2D | undefined {
    if (site.sublayer !== 'ffn') return undefined;
    const bottleneck = this.insertions.get(site.layer);
    if (!bottleneck) return undefined;
    return this.tf.mul<Tensor2D>(bottleneck.apply(this.tf, sublayerInput, this.config.activation, site), this.config.scaling);
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
