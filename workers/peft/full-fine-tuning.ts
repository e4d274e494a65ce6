/**
 * Full fine-tuning of the chosen layers, as deltas on the frozen base: each projection gets a
 * trainable kernel delta `[in, out]` and bias delta, each LayerNorm a scale and shift delta, all
 * zero at the start, so a fresh module is the base model exactly, the shared base tensors are
 * never modified, and merging is adding the deltas. The gradient of a delta is the gradient of
 * the weight it shifts, so training follows full fine-tuning's; the one difference is AdamW's
 * decoupled weight decay, which pulls the kernel deltas to zero (the weights to the pretrained
 * ones, as L2-SP does) rather than the weights to zero.
 */
import type { Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { validateFullFineTuning } from '../../search/methods/full-fine-tuning.js';
import type { EncoderShape, FullFineTuningConfig, LoraTarget } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import type { EncoderWeights } from '../model/weights.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { LAYER_NORM_PATHS, LAYER_NORM_SITES } from './layer-norm-tuning.js';
import type { LayerNormSite, MergedLayerNorm, MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';

/** Our name of a delta: `encoder.layer.0.attention.self.query.full_delta.kernel`, `...output.LayerNorm.full_delta.weight`. */
export const fullDeltaName = (modulePath: string, param: 'kernel' | 'bias' | 'weight'): string => `${modulePath}.full_delta.${param}`;

interface LinearDelta {
  kernel: Variable;
  bias: Variable;
}
interface NormDelta {
  gamma: Variable;
  beta: Variable;
  /** The base LayerNorm, which the forward pass needs whole (its hooks replace, not add). */
  base: { gamma: Tensor1D; beta: Tensor1D };
}

/** Full fine-tuning of the configured layers. */
export class FullFineTuningModule implements PeftModule {
  readonly kind = 'full' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly linears = new Map<string, LinearDelta>();
  private readonly norms = new Map<string, NormDelta>();

  constructor(
    private readonly tf: Tf,
    readonly config: FullFineTuningConfig,
    shape: EncoderShape,
    weights: EncoderWeights,
  ) {
    validateFullFineTuning(config, shape);
    const variables = new Map<string, Variable>();
    const zeros = (name: string, dims: number[]): Variable => {
      // tidy: the zeros the variable starts from are not kept beside it.
      const variable = tf.tidy(() => tf.variable(tf.zeros(dims), true));
      variables.set(name, variable);
      return variable;
    };
    for (const layer of config.layers) {
      for (const projection of LORA_TARGETS) {
        const { dIn, dOut } = loraTargetDims(projection, shape);
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[projection]}`;
        this.linears.set(`${layer}/${projection}`, { kernel: zeros(fullDeltaName(path, 'kernel'), [dIn, dOut]), bias: zeros(fullDeltaName(path, 'bias'), [dOut]) });
      }
      for (const site of LAYER_NORM_SITES) {
        const path = `encoder.layer.${layer}.${LAYER_NORM_PATHS[site]}`;
        const base = weights.layers[layer]![site];
        this.norms.set(`${layer}/${site}`, { gamma: zeros(fullDeltaName(path, 'weight'), [shape.hiddenSize]), beta: zeros(fullDeltaName(path, 'bias'), [shape.hiddenSize]), base });
      }
    }
    this.variables = variables;
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const delta = this.linears.get(`${site.layer}/${site.projection}`);
    if (!delta) return output;
    const tf = this.tf;
    return tf.add(tf.add(output, tf.matMul(input, delta.kernel as Tensor2D)), delta.bias);
  }

  layerNormGamma(layer: number, site: LayerNormSite): Tensor1D | undefined {
    const norm = this.norms.get(`${layer}/${site}`);
    return norm ? this.tf.add<Tensor1D>(norm.base.gamma, norm.gamma) : undefined;
  }

  layerNormBias(layer: number, site: LayerNormSite): Tensor1D | undefined {
    const norm = this.norms.get(`${layer}/${site}`);
    return norm ? this.tf.add<Tensor1D>(norm.base.beta, norm.beta) : undefined;
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const delta = this.linears.get(`${layer}/${projection}`);
    if (!delta) return linear;
    return { ...linear, kernel: tf.add(linear.kernel, delta.kernel), bias: tf.add(linear.bias, delta.bias) };
  }

  mergeLayerNorm(layer: number, site: LayerNormSite, norm: MergedLayerNorm): MergedLayerNorm {
    const delta = this.norms.get(`${layer}/${site}`);
    if (!delta) return norm;
    return { gamma: this.tf.add(norm.gamma, delta.gamma), beta: this.tf.add(norm.beta, delta.beta) };
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
