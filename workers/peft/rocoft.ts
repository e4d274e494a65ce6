/**
 * RoCoFT (Kowsher et al. 2024): the first k rows (output units, PyTorch's `[out, in]` rows) or
 * columns (input features) of each chosen weight matrix train. Held as a zero-initialised delta
 * on those rows or columns, so the shared base kernel is never modified:
 * rows: `y[:, :k] += x D` with D `[dIn, k]`; columns: `y += x[:, :k] D` with D `[k, dOut]`.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget, RocoftConfig } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { zerosVariable } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import { validateRocoft } from '../../search/methods/rocoft.js';


/** RoCoFT on the configured projections of the configured layers. */
export class RocoftModule implements PeftModule {
  readonly kind = 'rocoft' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly deltas = new Map<string, { delta: Variable; dOut: number }>();

  constructor(
    private readonly tf: Tf,
    readonly config: RocoftConfig,
    shape: EncoderShape,
  ) {
    validateRocoft(config, shape);
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const target of config.targets) {
        const { dIn, dOut } = loraTargetDims(target, shape);
        const delta = zerosVariable(tf, config.mode === 'row' ? [dIn, config.k] : [config.k, dOut]);
        variables.set(`encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}.rocoft_${config.mode}s.kernel`, delta);
        this.deltas.set(`${layer}/${target}`, { delta, dOut });
      }
    }
    this.variables = variables;
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const found = this.deltas.get(`${site.layer}/${site.projection}`);
    if (!found) return output;
    const tf = this.tf;
    const k = this.config.k;
    if (this.config.mode === 'row') {
      return tf.add<Tensor2D>(output, tf.pad(tf.matMul(input, found.delta as Tensor2D), [[0, 0], [0, found.dOut - k]]));
    }
    return tf.add<Tensor2D>(output, tf.matMul(tf.slice(input, [0, 0], [-1, k]), found.delta as Tensor2D));
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const found = this.deltas.get(`${layer}/${projection}`);
    if (!found) return linear;
    const k = this.config.k;
    const [dIn, dOut] = linear.kernel.shape;
    const full = this.config.mode === 'row' ? tf.pad(found.delta as Tensor2D, [[0, 0], [0, dOut - k]]) : tf.pad(found.delta as Tensor2D, [[0, dIn - k], [0, 0]]);
    return { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, full) };
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
  }
}
