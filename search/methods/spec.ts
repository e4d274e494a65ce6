/**
 * The pure half of a PEFT method: what the search, the scheduler and the dashboard need to know
 * about it without building anything (its configuration check, its closed-form parameter
 * counts, its dashboard chips, the layers it sits in, a small example). The build half
 * (workers/methods/) extends it with the module, merging and exports, which need the worker's
 * code; this half imports none of it, so search/ and the dashboard bundle stay free of tfjs.
 */
import type { EncoderShape, PeftConfig } from '../types.js';

/** A configuration key of {@link PeftConfig}: one method each. */
export type MethodKey = keyof PeftConfig;

/** The configuration of method `K`. */
export type MethodConfig<K extends MethodKey> = NonNullable<PeftConfig[K]>;

/** The survey's four paradigms (its Table 1); `modifier` is UniPELT's gating of other methods. */
export type Paradigm = 'additive' | 'selective' | 'reparameterised' | 'modifier';

/**
 * The two closed-form counts: `stored` is what a download keeps (the search's objective);
 * `training` is what the optimiser updates (prefix-tuning's MLP, but not LoRA-FA's frozen A).
 */
export interface ParamCounts {
  stored: number;
  training: number;
}

/** A short dashboard label and its tooltip. */
export interface Chip {
  label: string;
  title: string;
}

/** One row of the dashboard's module × layer grid: a placement of a method and its size in each of its layers. */
export interface GridRow {
  /** Stable id (`lora.query`, `serial.ffn`, ...), so rows of different trials line up. */
  id: string;
  label: string;
  /** What the size means: `rank`, `bottleneck`, `vectors`; empty for an on/off module. */
  unit: string;
  layers: readonly number[];
  size: number;
  /** The size in each of `layers`, in that order, when sizes differ by layer (else every layer has `size`). */
  sizes?: readonly number[];
}

/** A method's part of the grid: its rows, and notes on what no layer shows (prompt tuning, gates, alpha). */
export interface GridPart {
  rows: GridRow[];
  notes: string[];
}

/** Everything pure about one method whose configuration is `C`. */
export interface MethodSpec<C> {
  /** Its name in reports, e.g. `LoRA`. */
  title: string;
  paradigm: Paradigm;
  /**
   * Throws `InvalidTrialError` naming the field when the configuration cannot be built; `peft`
   * is the whole configuration, for methods that cannot share a model with some others.
   */
  validate(config: C, shape: EncoderShape, peft: PeftConfig): void;
  /** Closed-form counts; `peft` is the whole configuration (gates count per gated module). */
  count(config: C, shape: EncoderShape, peft: PeftConfig): ParamCounts;
  /** Dashboard chips of a configuration. */
  chips(config: C): Chip[];
  /** Its rows of the dashboard's module × layer grid (dashboard/src/config-grid.ts). */
  grid(config: C): GridPart;
  /** The layers the method sits in (empty for whole-model methods such as prompt tuning). */
  layers(config: C): number[];
  /** Whether a fresh module leaves the base model's outputs exactly as they were. */
  startsAtBase: boolean;
  /**
   * A small valid configuration using the method, for a model of at least two layers: the
   * per-method tests build, count, train, merge and export it.
   */
  example(shape: EncoderShape): PeftConfig;
}

/**
 * One spec per configuration key of `P`: a key of `P` without one is a compile error where the
 * registry is declared (see test/types/registry.type-test.ts).
 */
export type SpecRegistry<P = PeftConfig> = { readonly [K in keyof Required<P>]: MethodSpec<NonNullable<P[K]>> };
