/**
 * Plain data types shared by the search, the scheduler, the workers and the dashboard.
 * Nothing here does I/O; every type is JSON-serialisable.
 */

/** A projection inside a transformer layer that LoRA can wrap. */
export type LoraTarget = 'query' | 'key' | 'value' | 'attentionOutput' | 'ffnIn' | 'ffnOut';

/** All LoRA targets, in the order the model applies them. */
export const LORA_TARGETS: readonly LoraTarget[] = ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'];

/** LoRA on chosen projections of chosen layers: `W0 x + (alpha / rank) B A x`, B starts at zero. */
export interface LoraModuleConfig {
  rank: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  /** Zero-based indices of the layers that carry LoRA. */
  layers: number[];
  /** Per-target rank overriding `rank` (AdapterHub/PEFT `rank_pattern`-like). */
  rankPerTarget?: Partial<Record<LoraTarget, number>>;
  /**
   * Per-layer ranks (keys: layer indices among `layers`), overriding `rankPerTarget` and `rank`
   * for the targets they name in that layer; a rank of 0 leaves that projection of that layer
   * without LoRA (PEFT's `rank_pattern` with one key per module).
   */
  rankByLayer?: Record<string, Partial<Record<LoraTarget, number>>>;
}

/** Non-linearity inside a bottleneck adapter. */
export type AdapterActivation = 'relu' | 'swish' | 'gelu' | 'tanh';

/**
 * Serial bottleneck adapter `z + W_up f(W_down z)`. `pfeiffer`: one per layer after the FFN
 * output (AdapterHub SeqBn); `houlsby`: also one after the attention output (DoubleSeqBn).
 */
export interface SerialAdapterConfig {
  placement: 'pfeiffer' | 'houlsby';
  /** Bottleneck width m. */
  size: number;
  layers: number[];
  activation: AdapterActivation;
  /** Per-layer bottleneck widths (keys: layer indices among `layers`) overriding `size` there (AdapterHub's per-layer `reduction_factor`). */
  sizeByLayer?: Record<string, number>;
}

/** Parallel adapter on the FFN: `out = LN2(FFN(h) + s * W_up f(W_down h) + h)`. */
export interface ParallelAdapterConfig {
  size: number;
  layers: number[];
  /** Constant scaling s (4 in AutoPEFT and AdapterHub's ParBn). */
  scaling: number;
  activation: AdapterActivation;
  /** Per-layer bottleneck widths (keys: layer indices among `layers`) overriding `size` there. */
  sizeByLayer?: Record<string, number>;
}

/** Prefix-tuning: `length` learned key and value vectors prepended in each chosen layer. */
export interface PrefixTuningConfig {
  length: number;
  layers: number[];
  /** Width of the reparameterising MLP used while training (0: train the prefixes directly). */
  reparamSize: number;
}

/** (IA)3: learned vectors scaling key and value outputs and the FFN intermediate activation. */
export interface Ia3Config {
  layers: number[];
}

/** BitFit: the base model's biases of the chosen layers train. */
export interface BitFitConfig {
  layers: number[];
}

/** Prompt tuning: `length` learned input embeddings prepended to the sequence. */
export interface PromptTuningConfig {
  length: number;
}

/**
 * LoRA-FA (Zhang et al. 2023): LoRA whose A stays frozen at its random initialisation; only B
 * trains (the optimiser state and gradients of A vanish). Stored: A and B.
 */
export type LoraFaConfig = Omit<LoraModuleConfig, 'rankPerTarget' | 'rankByLayer'>;

/**
 * DoRA (Liu et al. 2024): the weight split into magnitude and direction,
 * `W' = m * (W0 + (alpha/r) B A) / ||W0 + (alpha/r) B A||` (norm per output unit), m starting at
 * `||W0||` and B at zero.
 */
export type DoraConfig = Omit<LoraModuleConfig, 'rankPerTarget' | 'rankByLayer'>;

/**
 * PiSSA (Meng et al. 2024): LoRA initialised from the principal singular vectors of each
 * adapted weight, `W0 = W_res + (alpha/r) B A`, with the residual `W_res` frozen.
 */
export type PissaConfig = Omit<LoraModuleConfig, 'rankPerTarget' | 'rankByLayer' | 'dropout'>;

/**
 * VeRA (Kopiczko et al. 2024): one pair of frozen random matrices A `[r, max d_in]`,
 * B `[max d_out, r]` shared by every adapted projection (drawn from `projectionSeed`), and per
 * projection trainable vectors: `h = W0 x + lambda_b * (B (lambda_d * (A x)))`.
 */
export interface VeraConfig {
  rank: number;
  targets: LoraTarget[];
  layers: number[];
  /** Seed of the shared projections (PEFT's `projection_prng_key`); stored instead of them. */
  projectionSeed: number;
  /** Initial value of lambda_d (lambda_b starts at zero). @defaultValue 0.1 */
  dInitial?: number;
}

/**
 * FourierFT (Gao et al. 2024): per projection, n trainable spectral coefficients at random
 * frequency positions (drawn from `locationSeed`), `dW = scaling * Re(IDFT2(S))`.
 */
export interface FourierFtConfig {
  /** Coefficients per projection (PEFT's `n_frequency`). */
  frequencies: number;
  scaling: number;
  targets: LoraTarget[];
  layers: number[];
  /** Seed of the frequency positions (PEFT's `random_loc_seed`). */
  locationSeed: number;
}

/**
 * RoCoFT (Kowsher et al. 2024): the first k rows (output units) or columns (input features) of
 * each chosen weight matrix train; the rest of the model is frozen.
 */
export interface RocoftConfig {
  /** Rows or columns per matrix. */
  k: number;
  mode: 'row' | 'column';
  targets: LoraTarget[];
  layers: number[];
}

/**
 * AdaLoRA (Zhang et al. 2023): an SVD-form update `dW = P diag(E) Q * alpha / (initRank + 1e-5)`
 * per projection (PEFT's `lora_B` `[out, r]`, `lora_E` `[r, 1]`, `lora_A` `[r, in]`), an
 * orthogonality penalty on P and Q, and a rank allocator that masks the least important
 * singular values until `targetRank` per projection remain on average. The schedule is in
 * fractions of the trial's steps, so one configuration suits any `training.steps`.
 */
export interface AdaloraConfig {
  /** Rank each projection starts with (PEFT's `init_r`). */
  initRank: number;
  /** Average rank left per projection after allocation (PEFT's `target_r`): the budget. */
  targetRank: number;
  alpha: number;
  /** @defaultValue 0 */
  dropout?: number;
  targets: LoraTarget[];
  layers: number[];
  /** Fraction of the steps before any rank is masked (PEFT's `tinit / total_step`). @defaultValue 0 */
  initialFraction?: number;
  /** Fraction of the steps at the end trained with the final ranks (PEFT's `tfinal / total_step`). @defaultValue 0 */
  finalFraction?: number;
  /** Steps between two allocations while the budget falls (PEFT's `deltaT`). @defaultValue 1 */
  deltaT?: number;
  /** EMA factor of the sensitivity. @defaultValue 0.85 */
  beta1?: number;
  /** EMA factor of the uncertainty. @defaultValue 0.85 */
  beta2?: number;
  /** Weight of the orthogonality penalty added to the loss. @defaultValue 0.5 */
  orthRegWeight?: number;
}

/** LayerNorm tuning (Zhao et al. 2023): both LayerNorms' scale and shift of the chosen layers train. */
export interface LayerNormTuningConfig {
  layers: number[];
}

/**
 * Full fine-tuning of the chosen layers: every projection kernel and bias and both LayerNorms'
 * scale and shift train (the embeddings and the pooler stay frozen). The base model must be
 * small enough (search/methods/full-fine-tuning.ts).
 */
export interface FullFineTuningConfig {
  layers: number[];
}

/** UniPELT gates: a learned per-example scalar gate on each chosen module kind. */
export interface GatesConfig {
  lora?: boolean;
  serialAdapter?: boolean;
  prefix?: boolean;
}

/**
 * A declarative PEFT configuration: which modules, where, and how large. Each module is
 * optional and a hybrid is several fields set at once (MAM = prefix + parallel adapter;
 * UniPELT = prefix + Pfeiffer adapter + LoRA with gates; every point of the AutoPEFT space =
 * serial + parallel adapter + prefix on one shared set of layers).
 */
export interface PeftConfig {
  lora?: LoraModuleConfig;
  serialAdapter?: SerialAdapterConfig;
  parallelAdapter?: ParallelAdapterConfig;
  prefix?: PrefixTuningConfig;
  ia3?: Ia3Config;
  bitfit?: BitFitConfig;
  promptTuning?: PromptTuningConfig;
  loraFa?: LoraFaConfig;
  dora?: DoraConfig;
  pissa?: PissaConfig;
  vera?: VeraConfig;
  fourierft?: FourierFtConfig;
  rocoft?: RocoftConfig;
  layerNorm?: LayerNormTuningConfig;
  adalora?: AdaloraConfig;
  full?: FullFineTuningConfig;
  gates?: GatesConfig;
}

/**
 * The sequence-classification head of a model family: `bert` is a linear layer on the pooled
 * output; `roberta` is dense + tanh + linear on the first token (Hugging Face's
 * `RobertaClassificationHead`).
 */
export type HeadKind = 'bert' | 'roberta';

/** The shape of a transformer encoder, enough to count parameters in closed form. */
export interface EncoderShape {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  /** The head a task on this encoder trains. @defaultValue 'bert' */
  headKind?: HeadKind;
}

/** Training hyperparameters of one trial. */
export interface TrainingConfig {
  /** Optimiser steps of one trial. */
  steps: number;
  batchSize: number;
  learningRate: number;
  /** Evaluate on the dev split every this many steps (and after the last step). */
  evalEvery: number;
  /** Tokens per example after truncation, [CLS] and [SEP] included. */
  maxSeqLength: number;
  /** Training examples drawn (deterministically for the seed) from the train split. */
  trainExamples: number;
  /** Dev examples evaluated at each evaluation. */
  devExamples: number;
  /** Seed of weight initialisation, dropout and batch order. */
  seed: number;
  /** Seed of the train and dev subsets: one per study, so every trial sees the same data. */
  dataSeed: number;
  /** AdamW's decoupled weight decay of matrices. @defaultValue 0.01 */
  weightDecay?: number;
  /** Fraction of the steps spent warming the learning rate up from 0. @defaultValue 0.06 */
  warmupRatio?: number;
  /** Global gradient-norm clipping (0: off). @defaultValue 1 */
  maxGradNorm?: number;
  /** Learning-rate schedule after warm-up. @defaultValue 'linear' (decay to 0) */
  schedule?: 'linear' | 'constant';
  /** Stop after this many evaluations without a new best (0: never). @defaultValue 0 */
  earlyStoppingPatience?: number;
}

/**
 * The metric a task is scored by; higher is better for all of them. `f1` is the F1 of class 1
 * (binary tasks), `macroF1` the unweighted mean F1 over classes, `matthews` the Matthews
 * correlation coefficient, `pearson` and `spearman` correlations for regression tasks.
 */
export type MetricName = 'accuracy' | 'f1' | 'macroF1' | 'matthews' | 'pearson' | 'spearman';

/** The values each metric can take: rates in [0, 1], correlations in [−1, 1]. */
export const METRIC_RANGE: Readonly<Record<MetricName, readonly [number, number]>> = {
  accuracy: [0, 1],
  f1: [0, 1],
  macroF1: [0, 1],
  matthews: [-1, 1],
  pearson: [-1, 1],
  spearman: [-1, 1],
};

/** One intermediate evaluation of a running trial. */
export interface IntermediateReport {
  step: number;
  value: number;
}

/** A point of a search space: parameter name to value. */
export type SearchPoint = Record<string, number | string | boolean>;
