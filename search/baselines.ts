/**
 * Baselines: well-known PEFT methods at their usual settings, trained in a study beside the
 * configurations the search finds, with the study's own training settings, so that a found
 * configuration can be compared with what a practitioner would try first. Pure: each baseline
 * is a PEFT configuration of the base model's shape.
 *
 * Settings follow each method's paper or its library's default (the README lists them with
 * their sources); sizes given as a reduction factor are d / factor, and sizes a small model
 * cannot hold are capped at its hidden size.
 */
import { FULL_FINE_TUNING_MAX_BASE_PARAMS } from './methods/full-fine-tuning.js';
import { prefixReparamSize } from './preset-parts.js';
import type { EncoderShape, PeftConfig } from './types.js';

/** One baseline. */
export interface Baseline {
  /** Shown on the Pareto plot and in the report. */
  label: string;
  /** Its settings in words, with where they come from. */
  settings: string;
  config(shape: EncoderShape): PeftConfig;
}

const allLayers = (shape: EncoderShape): number[] => Array.from({ length: shape.numLayers }, (_, i) => i);
/** A bottleneck of d / factor (at least 1). */
const reduced = (shape: EncoderShape, factor: number): number => Math.max(1, Math.floor(shape.hiddenSize / factor));

/** Every baseline, by name. */
export const BASELINES = {
  lora: {
    label: 'LoRA r8',
    settings: 'rank 8, alpha 16, dropout 0.1 (a rank the model cannot hold is capped at d) on query and value of every layer (Hu et al. 2021; Hugging Face PEFT examples)',
    config: (shape) => ({ lora: { rank: Math.min(8, shape.hiddenSize), alpha: 16, dropout: 0.1, targets: ['query', 'value'], layers: allLayers(shape) } }),
  },
  ia3: {
    label: '(IA)3',
    settings: 'key, value and FFN scaling vectors in every layer (Liu et al. 2022)',
    config: (shape) => ({ ia3: { layers: allLayers(shape) } }),
  },
  bitfit: {
    label: 'BitFit',
    settings: "every bias of the encoder (Ben Zaken et al. 2022)",
    config: (shape) => ({ bitfit: { layers: allLayers(shape) } }),
  },
  pfeiffer: {
    label: 'Pfeiffer adapter',
    settings: 'one bottleneck adapter after the FFN, reduction factor 16, ReLU, every layer (Pfeiffer et al. 2021; AdapterHub SeqBnConfig)',
    config: (shape) => ({ serialAdapter: { placement: 'pfeiffer', size: reduced(shape, 16), layers: allLayers(shape), activation: 'relu' } }),
  },
  houlsby: {
    label: 'Houlsby adapter',
    settings: 'bottleneck adapters after attention and after the FFN, reduction factor 16, swish, every layer (Houlsby et al. 2019; AdapterHub DoubleSeqBnConfig)',
    config: (shape) => ({ serialAdapter: { placement: 'houlsby', size: reduced(shape, 16), layers: allLayers(shape), activation: 'swish' } }),
  },
  parallel: {
    label: 'parallel adapter',
    settings: 'a bottleneck beside the FFN, reduction factor 2, scaling 4, ReLU, every layer (He et al. 2022; AdapterHub ParBnConfig)',
    config: (shape) => ({ parallelAdapter: { size: reduced(shape, 2), layers: allLayers(shape), scaling: 4, activation: 'relu' } }),
  },
  prefix: {
    label: 'prefix-tuning',
    settings: '20 prefix vectors in every layer, trained through an MLP of width 800 (4d on small models) (Li and Liang 2021; AdapterHub PrefixTuningConfig)',
    config: (shape) => ({ prefix: { length: 20, layers: allLayers(shape), reparamSize: prefixReparamSize(shape) } }),
  },
  prompt: {
    label: 'prompt tuning',
    settings: '20 soft prompt tokens (Lester et al. 2021)',
    config: () => ({ promptTuning: { length: 20 } }),
  },
  mam: {
    label: 'MAM adapter',
    settings: 'prefix of 30 vectors plus a parallel adapter of 512 (at most d) beside the FFN, scaling 4, every layer (He et al. 2022)',
    config: (shape) => ({
      prefix: { length: 30, layers: allLayers(shape), reparamSize: prefixReparamSize(shape) },
      parallelAdapter: { size: Math.min(512, shape.hiddenSize), layers: allLayers(shape), scaling: 4, activation: 'relu' },
    }),
  },
  unipelt: {
    label: 'UniPELT',
    settings: 'gated LoRA (rank 8 on query and value), Pfeiffer adapter (bottleneck 48, at most d) and prefix (10 vectors), every layer (Mao et al. 2022)',
    config: (shape) => ({
      lora: { rank: Math.min(8, shape.hiddenSize), alpha: 16, dropout: 0.1, targets: ['query', 'value'], layers: allLayers(shape) },
      serialAdapter: { placement: 'pfeiffer', size: Math.min(48, shape.hiddenSize), layers: allLayers(shape), activation: 'relu' },
      prefix: { length: 10, layers: allLayers(shape), reparamSize: prefixReparamSize(shape) },
      gates: { lora: true, serialAdapter: true, prefix: true },
    }),
  },
  full: {
    label: 'full fine-tuning',
    settings: `every weight, bias and LayerNorm of every layer (the embeddings and the pooler frozen), on base models of at most ${FULL_FINE_TUNING_MAX_BASE_PARAMS.toLocaleString('en-US')} parameters (the survey's Table 2 "FT" row)`,
    config: (shape) => ({ full: { layers: allLayers(shape) } }),
  },
} as const satisfies Record<string, Baseline>;

/** A baseline's name. */
export type BaselineName = keyof typeof BASELINES;

/** Every baseline's name, in the order of the standard set. */
export const BASELINE_NAMES = Object.keys(BASELINES) as BaselineName[];

/**
 * Trials a study needs for the standard set to be its default: 3 per PEFT baseline (full
 * fine-tuning, which only small base models run, does not raise it). Smaller budgets default to
 * none, so that a short study is not spent on baselines (each baseline is one trial of the budget).
 */
export const DEFAULT_BASELINES_MIN_TRIALS = 30;

/**
 * The baselines a study trains when its spec names none: the standard set if its budget allows
 * (the scheduler then drops those its base model cannot run, such as full fine-tuning of a
 * model over the size limit).
 */
export function defaultBaselines(maxTrials: number): BaselineName[] {
  return maxTrials >= DEFAULT_BASELINES_MIN_TRIALS ? [...BASELINE_NAMES] : [];
}
