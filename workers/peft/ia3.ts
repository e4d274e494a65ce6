/**
 * (IA)3 (Liu et al. 2022): learned vectors, initialised to one, that scale the key and value
 * projections' outputs and the FFN's intermediate activation (the input of `output.dense`, as
 * Hugging Face PEFT's feed-forward targets do) in the chosen layers.
 */
import type { Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, Ia3Config, LoraTarget } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { onesVariable } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import { validateIa3 } from '../../search/methods/ia3.js';

/** The scaling vectors of one layer. */
interface Ia3Vectors {
  key: Variable;
  value: Variable;
  ffn: Variable;
}


/** (IA)3 on the configured layers. */
export class Ia3Module implements PeftModule {
  readonly kind = 'ia3' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly vectors = new Map<number, Ia3Vectors>();

  constructor(
    private readonly tf: Tf,
    readonly config: Ia3Config,
    shape: EncoderShape,
  ) {
    validateIa3(config, shape);
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      const vectors: Ia3Vectors = {
        key: onesVariable(tf, [shape.hiddenSize]),
        value: onesVariable(tf, [shape.hiddenSize]),
        ffn: onesVariable(tf, [shape.intermediateSize]),
      };
      const path = `encoder.layer.${layer}`;
      variables.set(`${path}.${PROJECTION_MODULE_PATHS.key}.ia3_l`, vectors.key);
      variables.set(`${path}.${PROJECTION_MODULE_PATHS.value}.ia3_l`, vectors.value);
      variables.set(`${path}.${PROJECTION_MODULE_PATHS.ffnOut}.ia3_l`, vectors.ffn);
      this.vectors.set(layer, vectors);
    }
    this.variables = variables;
  }

  /** The output scaling of a projection (key, value), or undefined. */
  outputScale(layer: number, projection: string): Tensor1D | undefined {
    const v = this.vectors.get(layer);
    if (!v) return undefined;
    if (projection === 'key') return v.key as Tensor1D;
    if (projection === 'value') return v.value as Tensor1D;
    return undefined;
  }

  /** The input scaling of a projection (the FFN's `output.dense`), or undefined. */
  inputScale(layer: number, projection: string): Tensor1D | undefined {
    return projection === 'ffnOut' ? (this.vectors.get(layer)?.ffn as Tensor1D | undefined) : undefined;
  }

  adjustProjectionInput(site: ProjectionSite, input: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const scale = this.inputScale(site.layer, site.projection);
    return scale ? this.tf.mul(input, scale) : input;
  }

  adjustProjection(site: ProjectionSite, _input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const scale = this.outputScale(site.layer, site.projection);
    return scale ? this.tf.mul(output, scale) : output;
  }

  /** Output scaling scales the kernel's columns and the bias; input scaling joins `inputScale`. */
  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    let result = linear;
    const scale = this.outputScale(layer, projection);
    if (scale) result = { ...result, kernel: tf.mul<Tensor2D>(result.kernel, scale), bias: tf.mul<Tensor1D>(result.bias, scale) };
    const input = this.inputScale(layer, projection);
    if (input) result = { ...result, inputScale: result.inputScale ? tf.mul<Tensor1D>(result.inputScale, input) : input };
    return result;
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
