/**
 * DoRA (Liu et al. 2024): the adapted weight split into a magnitude and a direction,
 * `W' = m * (W0 + s B A) / ||W0 + s B A||` with the norm per output unit (our kernels are
 * `[in, out]`, so per column), s = alpha / r. m starts at `||W0||` and B at zero, so a fresh
 * module is the base model. The output is `(m / ||W0 + s B A||) * (W0 x + s B A x) + b`, as
 * Hugging Face PEFT computes it; the norm is not detached from the gradient here (PEFT detaches
 * it to save memory, which changes the gradient but not the function).
 */
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { DoraConfig, EncoderShape, LoraTarget } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import type { EncoderWeights } from '../model/weights.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { LoraModule } from './lora.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import type { BuildMode } from './prefix.js';

/** DoRA on the configured projections of the configured layers. */
export class DoraModule implements PeftModule {
  readonly kind = 'dora' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly factors: LoraModule;
  private readonly magnitudes = new Map<string, Variable>();

  constructor(
    private readonly tf: Tf,
    readonly config: DoraConfig,
    shape: EncoderShape,
    seed: number,
    private readonly weights: EncoderWeights,
    mode: BuildMode = 'training',
  ) {
    this.factors = new LoraModule(tf, config, shape, seed, { kind: 'dora', stem: 'dora', mode });
    const variables = new Map(this.factors.variables);
    for (const layer of config.layers) {
      for (const target of config.targets) {
        const kernel = weights.layers[layer]![target].kernel;
        const magnitude = tf.tidy(() => tf.variable(tf.norm(kernel, 'euclidean', 0) as Tensor1D, true));
        variables.set(`encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}.dora_magnitude`, magnitude);
        this.magnitudes.set(`${layer}/${target}`, magnitude);
      }
    }
    this.variables = variables;
  }

  /** `m / ||W + s B A||` per output unit, for the kernel `W` the update is relative to. */
  private columnScale(layer: number, projection: LoraTarget, kernel: Tensor2D): Tensor | undefined {
    const magnitude = this.magnitudes.get(`${layer}/${projection}`);
    const delta = this.factors.mergedDelta(layer, projection);
    if (!magnitude || !delta) return undefined;
    return this.tf.div(magnitude, this.tf.norm(this.tf.add(kernel, delta), 'euclidean', 0));
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D {
    const base = this.weights.layers[site.layer]![site.projection];
    const scale = this.columnScale(site.layer, site.projection, base.kernel);
    const update = this.factors.update(site, input, ctx);
    if (!scale || !update) return output;
    const tf = this.tf;
    const pair = this.factors.pair(site.layer, site.projection)!;
    const direction = tf.add(tf.sub(output, base.bias), tf.mul(update, pair.scale));
    return tf.add<Tensor2D>(tf.mul(direction, scale), base.bias);
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const scale = this.columnScale(layer, projection, linear.kernel);
    const delta = this.factors.mergedDelta(layer, projection);
    if (!scale || !delta) return linear;
    return { ...linear, kernel: tf.mul<Tensor2D>(tf.add(linear.kernel, delta), scale) };
  }

  dispose(): void {
    this.factors.dispose();
    for (const magnitude of this.magnitudes.values()) magnitude.dispose();
  }
}
