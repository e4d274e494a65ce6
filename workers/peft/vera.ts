/**
 * VeRA (Kopiczko et al. 2024): one pair of frozen random projections shared by every adapted
 * projection, PyTorch layout A `[r, max dIn]` and B `[max dOut, r]`, drawn as Hugging Face PEFT
 * draws them from `projectionSeed` (kaiming-uniform, bound sqrt(6 / fan_in), A then B from one
 * torch generator), so the seed alone stores them. Per projection two trainable vectors:
 * `y = W0 x + lambda_b * (B[:dOut] (lambda_d * (A[:, :dIn] x)))`, lambda_b starting at zero and
 * lambda_d at `dInitial`.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget, VeraConfig } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { zerosVariable } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import { TorchGenerator, torchUniform } from './torch-random.js';
import { validateVera } from '../../search/methods/vera.js';

/** The shared projections in PyTorch layout (row-major `[r, maxIn]` and `[maxOut, r]`). */
export interface VeraProjections {
  a: Float32Array;
  b: Float32Array;
  maxIn: number;
  maxOut: number;
}

/** The shared projections of a configuration, as PEFT draws them from the seed. */
export function veraProjections(config: VeraConfig, shape: EncoderShape): VeraProjections {
  const dims = config.targets.map((t) => loraTargetDims(t, shape));
  const maxIn = Math.max(...dims.map((d) => d.dIn));
  const maxOut = Math.max(...dims.map((d) => d.dOut));
  const r = config.rank;
  const generator = new TorchGenerator(config.projectionSeed);
  // kaiming_uniform with gain sqrt(2): bound = sqrt(3) * sqrt(2) / sqrt(fan_in), fan_in = columns.
  const boundA = Math.sqrt(6 / maxIn);
  const a = torchUniform(generator, r * maxIn, -boundA, boundA);
  const boundB = Math.sqrt(6 / r);
  const b = torchUniform(generator, maxOut * r, -boundB, boundB);
  return { a, b, maxIn, maxOut };
}


/** VeRA on the configured projections of the configured layers. */
export class VeraModule implements PeftModule {
  readonly kind = 'vera' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  /** Our orientation: A^T `[maxIn, r]`, B^T `[r, maxOut]`. */
  private readonly sharedA: Tensor2D;
  private readonly sharedB: Tensor2D;
  private readonly vectors = new Map<string, { d: Variable; b: Variable; dIn: number; dOut: number }>();

  constructor(
    private readonly tf: Tf,
    readonly config: VeraConfig,
    shape: EncoderShape,
  ) {
    validateVera(config, shape);
    const { a, b, maxIn, maxOut } = veraProjections(config, shape);
    const r = config.rank;
    this.sharedA = tf.tidy(() => tf.transpose(tf.tensor2d(a, [r, maxIn])));
    this.sharedB = tf.tidy(() => tf.transpose(tf.tensor2d(b, [maxOut, r])));
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const target of config.targets) {
        const { dIn, dOut } = loraTargetDims(target, shape);
        const d = tf.tidy(() => tf.variable(tf.fill([r], config.dInitial ?? 0.1), true));
        const lambdaB = zerosVariable(tf, [dOut]);
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}`;
        variables.set(`${path}.vera_lambda_d`, d);
        variables.set(`${path}.vera_lambda_b`, lambdaB);
        this.vectors.set(`${layer}/${target}`, { d, b: lambdaB, dIn, dOut });
      }
    }
    this.variables = variables;
  }

  /** The sliced shared projections of a site, our orientation. */
  private slices(dIn: number, dOut: number): { a: Tensor2D; b: Tensor2D } {
    return { a: this.tf.slice(this.sharedA, [0, 0], [dIn, -1]), b: this.tf.slice(this.sharedB, [0, 0], [-1, dOut]) };
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const v = this.vectors.get(`${site.layer}/${site.projection}`);
    if (!v) return output;
    const tf = this.tf;
    const { a, b } = this.slices(v.dIn, v.dOut);
    const down = tf.mul(tf.matMul(input, a), v.d);
    return tf.add<Tensor2D>(output, tf.mul(tf.matMul(down as Tensor2D, b), v.b));
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const v = this.vectors.get(`${layer}/${projection}`);
    if (!v) return linear;
    const { a, b } = this.slices(v.dIn, v.dOut);
    const delta = tf.mul<Tensor2D>(tf.matMul(tf.mul<Tensor2D>(a, v.d), b), v.b);
    return { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, delta) };
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.sharedA.dispose();
    this.sharedB.dispose();
  }
}
