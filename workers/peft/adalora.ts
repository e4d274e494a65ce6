/**
 * AdaLoRA (Zhang et al. 2023): per projection an update in SVD form,
 * `W0 x + s P diag(E) Q x` with s = alpha / (initRank + 1e-5) (Hugging Face PEFT's
 * `scaling / (ranknum + 1e-5)`), Q (`adalora_A`, our `[dIn, r]`: PEFT's `lora_A` `[r, in]`
 * transposed) and P (`adalora_B`, `[r, dOut]`: PEFT's `lora_B` `[out, r]` transposed) drawn from
 * N(0, 0.02^2) and the singular values E (`adalora_E`, `[r]`) zero, so a fresh module is the
 * base model. Training adds the orthogonality penalty
 * `w * mean over every P and Q of ||P^T P - I||_F` to the loss, and after each optimiser step the
 * rank allocator scores every weight by its sensitivity `|w * grad|`, smoothed by an EMA (beta1)
 * and weighted by its uncertainty (an EMA of the sensitivity's deviation, beta2); a triplet
 * (E_i, column i of Q, row i of P) scores `s(E_i) + mean s(Q_i) + mean s(P_i)`, and the lowest
 * scoring triplets across all projections have their E set to zero until the budget of
 * adalora-schedule.ts is met. From `totalSteps - tfinal` on the last allocation holds: its
 * masked values are zeroed after every step.
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { AdaloraConfig, EncoderShape, LoraTarget } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import { loraTargetDims } from '../../search/target-dims.js';
import type { Tf } from '../backend.js';
import type { ForwardContext } from '../model/forward-context.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { createRng, deriveSeed, normalArray } from '../random.js';
import { adaloraSchedule, budgetAt, keepAboveThreshold } from './adalora-schedule.js';
import { ADALORA_DEFAULTS, validateAdalora } from '../../search/methods/adalora.js';
import { trainable, zerosVariable } from './common.js';
import type { MergedLinear, OptimizerStepInfo, PeftModule, ProjectionSite } from './peft-module.js';

/** The scale of the update: PEFT's `lora_alpha / (ranknum + 1e-5)`, ranknum staying initRank. */
export const adaloraScale = (config: Pick<AdaloraConfig, 'alpha' | 'initRank'>): number => config.alpha / (config.initRank + 1e-5);

/** One adapted projection. */
interface AdaloraSite {
  path: string;
  /** Q, `[dIn, r]`. */
  a: Variable;
  /** The singular values, `[r]`. */
  e: Variable;
  /** P, `[r, dOut]`. */
  b: Variable;
  /** The last allocation's mask (1 kept, 0 masked). */
  kept: boolean[];
}

/** The allocator's smoothed sensitivity and uncertainty of one variable. */
interface Importance {
  sensitivity: Variable;
  uncertainty: Variable;
}

/** AdaLoRA on the configured projections of the configured layers, with its rank allocator. */
export class AdaloraModule implements PeftModule {
  readonly kind = 'adalora' as const;
  readonly variables: ReadonlyMap<string, Variable>;
  private readonly sites: AdaloraSite[] = [];
  private readonly scale: number;
  private importance = new Map<Variable, Importance>();
  /** Whether the final allocation was made (from then on its mask holds). */
  private finalised = false;

  constructor(
    private readonly tf: Tf,
    readonly config: AdaloraConfig,
    shape: EncoderShape,
    seed: number,
  ) {
    validateAdalora(config, shape);
    this.scale = adaloraScale(config);
    const r = config.initRank;
    const variables = new Map<string, Variable>();
    for (const layer of config.layers) {
      for (const target of LORA_TARGETS.filter((t) => config.targets.includes(t))) {
        const { dIn, dOut } = loraTargetDims(target, shape);
        const rng = createRng(deriveSeed(seed, layer, LORA_TARGETS.indexOf(target)));
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[target]}`;
        const site: AdaloraSite = {
          path,
          a: trainable(tf, normalArray(rng, dIn * r, 0.02), [dIn, r]),
          e: zerosVariable(tf, [r]),
          b: trainable(tf, normalArray(rng, r * dOut, 0.02), [r, dOut]),
          kept: new Array<boolean>(r).fill(true),
        };
        variables.set(`${path}.adalora_A.kernel`, site.a);
        variables.set(`${path}.adalora_E`, site.e);
        variables.set(`${path}.adalora_B.kernel`, site.b);
        this.sites.push(site);
      }
    }
    this.variables = variables;
  }

  private site(layer: number, projection: LoraTarget): AdaloraSite | undefined {
    const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[projection]}`;
    return this.sites.find((s) => s.path === path);
  }

  /** Which ranks of each projection the last allocation kept, by module path (all, before any). */
  keptRanks(): Map<string, boolean[]> {
    return new Map(this.sites.map((s) => [s.path, [...s.kept]]));
  }

  adjustProjection(site: ProjectionSite, input: Tensor2D, output: Tensor2D, ctx: ForwardContext): Tensor2D {
    const s = this.site(site.layer, site.projection);
    if (!s) return output;
    const tf = this.tf;
    const x = ctx.dropout(input, this.config.dropout ?? 0);
    const update = tf.matMul(tf.mul(tf.matMul(x, s.a as Tensor2D), s.e), s.b as Tensor2D);
    return tf.add<Tensor2D>(output, tf.mul(update, this.scale));
  }

  mergeProjection(tf: Tf, layer: number, projection: LoraTarget, linear: MergedLinear): MergedLinear {
    const s = this.site(layer, projection);
    if (!s) return linear;
    const delta = tf.mul<Tensor2D>(tf.matMul(tf.mul(s.a, s.e) as Tensor2D, s.b as Tensor2D), this.scale);
    return { ...linear, kernel: tf.add<Tensor2D>(linear.kernel, delta) };
  }

  /** `orthRegWeight * mean over every Q and P of ||Q^T Q - I||_F` (PEFT's penalty, on all initRank ranks). */
  regularizationLoss(): Scalar {
    const tf = this.tf;
    const identity = tf.eye(this.config.initRank);
    const terms: Scalar[] = [];
    for (const s of this.sites) {
      // Q^T Q from our [dIn, r] kernel is PEFT's lora_A lora_A^T; P P^T from [r, dOut] is lora_B^T lora_B.
      terms.push(tf.norm(tf.sub(tf.matMul(s.a as Tensor2D, s.a as Tensor2D, true, false), identity)) as Scalar);
      terms.push(tf.norm(tf.sub(tf.matMul(s.b as Tensor2D, s.b as Tensor2D, false, true), identity)) as Scalar);
    }
    return tf.mul(tf.mean(tf.stack(terms)), this.config.orthRegWeight ?? ADALORA_DEFAULTS.orthRegWeight);
  }

  afterOptimizerStep({ step, totalSteps, gradients }: OptimizerStepInfo): void {
    const schedule = adaloraSchedule(this.config, this.sites.length, totalSteps);
    const finalStep = totalSteps - schedule.tfinal;
    if (step < finalStep) {
      this.updateImportance(gradients);
      const { budget, mask } = budgetAt(schedule, step);
      if (mask) this.maskToBudget(budget);
    } else if (step === finalStep || !this.finalised) {
      // The final allocation (PEFT's force_mask at total_step - tfinal); its scores are dropped after.
      this.maskToBudget(schedule.targetBudget);
      this.finalised = true;
      this.disposeImportance();
    } else {
      this.applyMasks();
    }
  }

  /** Updates the EMAs of sensitivity and uncertainty of every variable with a gradient this step. */
  private updateImportance(gradients: ReadonlyMap<string, Tensor>): void {
    const tf = this.tf;
    const beta1 = this.config.beta1 ?? ADALORA_DEFAULTS.beta1;
    const beta2 = this.config.beta2 ?? ADALORA_DEFAULTS.beta2;
    for (const [name, variable] of this.variables) {
      const gradient = gradients.get(name);
      if (!gradient) continue;
      let state = this.importance.get(variable);
      if (!state) {
        state = { sensitivity: tf.variable(tf.zerosLike(variable), false), uncertainty: tf.variable(tf.zerosLike(variable), false) };
        this.importance.set(variable, state);
      }
      const sensitivity = tf.abs(tf.mul(variable, gradient));
      const smoothed = tf.add(tf.mul(state.sensitivity, beta1), tf.mul(sensitivity, 1 - beta1));
      state.uncertainty.assign(tf.add(tf.mul(state.uncertainty, beta2), tf.mul(tf.abs(tf.sub(sensitivity, smoothed)), 1 - beta2)));
      state.sensitivity.assign(smoothed);
    }
  }

  /** `s = sensitivity * uncertainty` of a variable (zeros before its first gradient). */
  private score(variable: Variable): Tensor {
    const state = this.importance.get(variable);
    return state ? this.tf.mul(state.sensitivity, state.uncertainty) : this.tf.zerosLike(variable);
  }

  /**
   * Every triplet's importance, projection after projection (initRank each, in module order):
   * `s(E_i) + mean over Q's column i + mean over P's row i`, with s = sensitivity * uncertainty.
   */
  tripletScores(): Float32Array {
    const tf = this.tf;
    return tf.tidy(() =>
      tf.concat(this.sites.map((s) => tf.addN([this.score(s.e) as Tensor1D, tf.mean(this.score(s.a), 0) as Tensor1D, tf.mean(this.score(s.b), 1) as Tensor1D]))).dataSync() as Float32Array,
    );
  }

  /** Masks the lowest scoring triplets of all projections so that `budget` remain. */
  private maskToBudget(budget: number): void {
    const r = this.config.initRank;
    const keep = keepAboveThreshold(this.tripletScores(), budget);
    this.sites.forEach((s, i) => {
      s.kept = keep.slice(i * r, (i + 1) * r);
    });
    this.applyMasks();
  }

  /** Zeroes the masked singular values of every projection. */
  private applyMasks(): void {
    const tf = this.tf;
    for (const s of this.sites) {
      if (s.kept.every(Boolean)) continue;
      s.e.assign(tf.mul(s.e, tf.tensor1d(s.kept.map((k) => (k ? 1 : 0)))));
    }
  }

  private disposeImportance(): void {
    for (const { sensitivity, uncertainty } of this.importance.values()) {
      sensitivity.dispose();
      uncertainty.dispose();
    }
    this.importance = new Map();
  }

  dispose(): void {
    for (const variable of this.variables.values()) variable.dispose();
    this.disposeImportance();
  }
}
