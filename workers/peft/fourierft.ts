/**
 * FourierFT (Gao et al. 2024): per projection, n trainable coefficients c at frequency
 * positions (u_k, v_k) drawn as Hugging Face PEFT draws them (`torch.randperm(dOut * dIn)` from
 * `locationSeed`, its first n entries, u = idx // dIn, v = idx % dIn), and
 * `dW = scaling * Re(IDFT2(S))` with S the `[dOut, dIn]` spectrum holding c at those positions.
 * With real c, `Re(IDFT2(S))[p, q] = (1 / (dOut dIn)) sum_k c_k cos(2 pi (p u_k / dOut + q v_k / dIn))`,
 * which splits into cosine and sine bases: the update of x is
 * `(scaling / (dOut dIn)) (((x Cin) * c) Cout^T - ((x Sin) * c) Sout^T)`, never forming dW.
 * c starts at zero (PEFT's `init_weights=True`), so a fresh module is the base model.
 */
import type { Tensor2D, Variable } from '@tensorflow/tfjs';
import type { EncoderShape, FourierFtConfig, LoraTarget } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { zerosVariable } from './common.js';
import type { MergedLinear, PeftModule, ProjectionSite } from './peft-module.js';
import { torchRandpermPrefix } from './torch-random.js';
import { validateFourierFt } from '../../search/methods/fourierft.js';

/** The frequency positions of a `[dOut, dIn]` weight: rows u (output) and columns v (input). */
export function fourierPositions(dIn: number, dOut: number, count: number, seed: number): { u: number[]; v: number[] } {
  const flat = torchRandpermPrefix(dOut * dIn, count, seed);
  return { u: flat.map((i) => Math.floor(i / dIn)), v: flat.map((i) => i % dIn) };
}

/** `[size, n]` cosine and sine bases `cos(2 pi i f_k / size)`, `sin(...)`. */
function bases(size: number, freqs: readonly number[]): { cos: Float32Array; sin: Float32Array } {
  const n = freqs.length;
  const cos = new Float32Array(size * n);
  const sin = new Float32Array(size * n);
  for (let i = 0; i < size; i++) {
    for (let k = 0; k < n; k++) {
      // (i * f) mod size keeps the angle small, so float64 cos/sin stay exact to rounding.
      const angle = (2 * Math.PI * ((i * freqs[k]!) % size)) / size;
      cos[i * n + k] = Math.cos(angle);
      sin[i * n + k] = Math.sin(angle);
    }
  }
  return { cos, sin };
}


/** The constant bases of one weight shape (shared by every projection of that shape). */
interface Basis {
  cosIn: Tensor2D;
  sinIn: Tensor2D;
  /** Transposed output bases `[n, dOut]`. */
  cosOutT: Tensor2D;
  sinOutT: Tensor2D;
  /** scaling / (dOut dIn). */
  scale: number;
}

/** FourierFT on the configured projections of the configured layers. */
export class FourierFtModule implements PeftModule {
  readonly kind = 'fourierft' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly spectra = new Map<string, { c: Variable; basis: Basis }>();
  private readonly basesByShape = new Map<string, Basis>();

  constructor(
    private readonly tf: Tf,
    readonly config: FourierFtConfig,
    shape: EncoderShape,
  ) {
    validateFourierFt(config, shape);
    const n = config.frequencies;
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const target of config.targets) {
        const { dIn, dOut } = loraTargetDims(target, shape);
        const key = `${dIn}x${dOut}`;
        let basis = this.basesByShape.get(key);
        if (!basis) {
          const { u, v } = fourierPositions(dIn, dOut, n, config.locationSeed);
          const inBases = bases(dIn, v);
          const outBases = bases(dOut, u);
          basis = tf.tidy(() => ({
            cosIn: tf.keep(tf.tensor2d(inBases.cos, [dIn, n])),
            sinIn: tf.keep(tf.tensor2d(inBases.sin, [dIn, n])),
            cosOutT: tf.keep(tf.transpose(tf.tensor2d(outBases.cos, [dOut, n]))),
            sinOutT: tf.keep(tf.transpose(tf.tensor2d(outBases.sin, [dOut, n]))),
            scale: config.scaling / (dIn * dOut),
          }));
          this.basesByShape.set(key, basis);
        }
        const c = zerosVariable(tf, [n]);
        variables.set(`encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}.fourierft_spectrum`, c);
        this.spectra.set(`${layer}/${target}`, { c, basis });
      }
    }
    this.variables = variables;
  }

  /** `(x Cin * c) Cout^T - (x Sin * c) Sout^T`, scaled: the update of `x` (`x` = identity gives dW). */
  private apply(x: Tensor2D, c: Variable, basis: Basis): Tensor2D {
    const tf = this.tf;
    const cosPart = tf.matMul(tf.mul<Tensor2D>(tf.matMul(x, basis.cosIn), c), basis.cosOutT);
    const sinPart = tf.matMul(tf.mul<Tensor2D>(tf.matMul(x, basis.sinIn), c), basis.sinOutT);
    return tf.mul<Tensor2D>(tf.sub(cosPart, sinPart), basis.scale);
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, _ctx: ForwardContext): Tensor2D {
    const found = this.spectra.get(`${site.layer}/${site.projection}`);
    return found ? this.tf.add<Tensor2D>(output, this.apply(input, found.c, found.basis)) : output;
  }

  /** dW in our `[dIn, dOut]` orientation: the update of the identity. */
  delta(layer: number, projection: LoraTarget): Tensor2D | undefined {
    const found = this.spectra.get(`${layer}/${projection}`);
    if (!found) return undefined;
    return this.apply(this.tf.eye(found.basis.cosIn.shape[0]), found.c, found.basis);
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const delta = this.delta(layer, projection);
    return delta ? { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, delta) } : linear;
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    for (const basis of this.basesByShape.values()) this.tf.dispose([basis.cosIn, basis.sinIn, basis.cosOutT, basis.sinOutT]);
  }
}
