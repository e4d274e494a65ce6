/**
 * PiSSA (Meng et al. 2024): LoRA whose factors start as the principal part of each adapted
 * kernel K (`[in, out]`): with `K = U S V^T` truncated to rank r and s = alpha / r,
 * `A0 = U sqrt(S / s)`, `B0 = sqrt(S / s) V^T`, so `s A0 B0` is K's best rank-r part and the
 * frozen residual is `K - s A0 B0`. The output is `x K + s (x A B - x A0 B0)`: the base model's
 * while fresh. The stored form is a plain LoRA of rank 2r relative to the original weights,
 * `A' = [A | A0]`, `B' = [B ; -B0]` (so `s A' B' = s (A B - A0 B0)`), which is also what Hugging
 * Face PEFT's conversion of a PiSSA adapter gives; it is rebuilt without an SVD.
 */
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, LoraTarget, PissaConfig } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import type { EncoderWeights } from '../model/weights.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import type { BuildMode } from './prefix.js';
import { truncatedSvd } from './svd.js';
import { validatePissa } from '../../search/methods/pissa.js';


/** The principal factors `A0` `[dIn, r]` and `B0` `[r, dOut]` of a kernel for scale s. */
export function principalFactors(kernel: ArrayLike<number>, dIn: number, dOut: number, rank: number, scale: number): { a: Float32Array; b: Float32Array } {
  const { u, s, v } = truncatedSvd(kernel, dIn, dOut, rank);
  const a = new Float32Array(dIn * rank);
  const b = new Float32Array(rank * dOut);
  for (let j = 0; j < rank; j++) {
    const root = Math.sqrt(s[j]! / scale);
    for (let i = 0; i < dIn; i++) a[i * rank + j] = u[i * rank + j]! * root;
    for (let o = 0; o < dOut; o++) b[j * dOut + o] = v[o * rank + j]! * root;
  }
  return { a, b };
}

interface PissaSite {
  a: Variable;
  b: Variable;
  /** The frozen initial factors while training; absent in stored form (already inside a and b). */
  a0?: Tensor2D;
  b0?: Tensor2D;
  path: string;
}

/** PiSSA on the configured projections of the configured layers. */
export class PissaModule implements PeftModule {
  readonly kind = 'pissa' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly sites = new Map<string, PissaSite>();
  private readonly scale: number;

  constructor(
    private readonly tf: Tf,
    readonly config: PissaConfig,
    shape: EncoderShape,
    weights: EncoderWeights,
    mode: BuildMode = 'training',
  ) {
    validatePissa(config, shape);
    const r = config.rank;
    this.scale = config.alpha / r;
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const target of config.targets) {
        const { dIn, dOut } = loraTargetDims(target, shape);
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}`;
        let site: PissaSite;
        if (mode === 'stored') {
          site = { a: tf.tidy(() => tf.variable(tf.zeros([dIn, 2 * r]), true)), b: tf.tidy(() => tf.variable(tf.zeros([2 * r, dOut]), true)), path };
        } else {
          const { a, b } = principalFactors(weights.layers[layer]![target].kernel.dataSync(), dIn, dOut, r, this.scale);
          site = {
            a: tf.tidy(() => tf.variable(tf.tensor2d(a, [dIn, r]), true)),
            b: tf.tidy(() => tf.variable(tf.tensor2d(b, [r, dOut]), true)),
            a0: tf.tensor2d(a, [dIn, r]),
            b0: tf.tensor2d(b, [r, dOut]),
            path,
          };
        }
        variables.set(`${path}.pissa_A.kernel`, site.a);
        variables.set(`${path}.pissa_B.kernel`, site.b);
        this.sites.set(`${layer}/${target}`, site);
      }
    }
    this.variables = variables;
  }

  /** `x A B - x A0 B0` (training) or `x A' B'` (stored), unscaled. */
  private update(site: PissaSite, x: Tensor2D): Tensor2D {
    const tf = this.tf;
    const trained = tf.matMul<Tensor2D>(tf.matMul(x, site.a as Tensor2D), site.b as Tensor2D);
    return site.a0 && site.b0 ? tf.sub(trained, tf.matMul(tf.matMul(x, site.a0), site.b0)) : trained;
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const found = this.sites.get(`${site.layer}/${site.projection}`);
    return found ? this.tf.add<Tensor2D>(output, this.tf.mul(this.update(found, input), this.scale)) : output;
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const found = this.sites.get(`${layer}/${projection}`);
    if (!found) return linear;
    const delta = tf.mul<Tensor2D>(this.update(found, tf.eye(linear.kernel.shape[0])), this.scale);
    return { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, delta) };
  }

  /** The rank-2r LoRA relative to the original weights: `A' = [A | A0]`, `B' = [B ; -B0]`. */
  storedWeights(): Map<string, Tensor> {
    const tf = this.tf;
    const stored = new Map<string, Tensor>();
    for (const site of this.sites.values()) {
      const [a, b] = tf.tidy(() =>
        site.a0 && site.b0 ? [tf.concat([site.a, site.a0], 1), tf.concat([site.b, tf.neg(site.b0)], 0)] : [tf.clone(site.a), tf.clone(site.b)],
      );
      stored.set(`${site.path}.pissa_A.kernel`, a!);
      stored.set(`${site.path}.pissa_B.kernel`, b!);
    }
    return stored;
  }

  dispose(): void {
    for (const site of this.sites.values()) this.tf.dispose([site.a, site.b, ...(site.a0 ? [site.a0] : []), ...(site.b0 ? [site.b0] : [])]);
  }
}
