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
}

/**
 * A declarative PEFT configuration: which modules, where, and how large.
 * Each module is optional; later modules (adapters, prefix, (IA)3, BitFit, prompts) are added
 * as further optional fields so that a hybrid is simply several fields set at once.
 */
export interface PeftConfig {
  lora?: LoraModuleConfig;
}

/** The shape of a transformer encoder, enough to count parameters in closed form. */
export interface EncoderShape {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
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
}

/** The metric a task is scored by; higher is better for all of them. */
export type MetricName = 'accuracy' | 'f1';

/** One intermediate evaluation of a running trial. */
export interface IntermediateReport {
  step: number;
  value: number;
}

/** A point of a search space: parameter name to value. */
export type SearchPoint = Record<string, number | string | boolean>;
