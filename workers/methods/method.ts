/**
 * What the project knows about one PEFT method, in one record: its pure spec
 * (search/methods/spec.ts: configuration check, closed-form counts, chips, layers, example)
 * extended here with what needs the workers' code: how it builds into the encoder, whether it
 * merges, and its exports. `registry.ts` holds one such record per key of {@link PeftConfig};
 * building, merging, exporting and the per-method tests read it.
 */
import type { MethodSpec } from '../../search/methods/spec.js';
import type { EncoderShape, GatesConfig, PeftConfig } from '../../search/types.js';
import type { Tf } from '../backend.js';
import type { TensorToWrite } from '../model/safetensors.js';
import type { EncoderWeights } from '../model/weights.js';
import type { NamedArray } from '../export/weights.js';
import type { PeftModule } from '../peft/peft-module.js';
import type { BuildMode } from '../peft/prefix.js';

export type { Chip, MethodConfig, MethodKey, Paradigm, ParamCounts } from '../../search/methods/spec.js';
export type { BuildMode } from '../peft/prefix.js';

/** What a method's `build` gets. */
export interface BuildContext {
  tf: Tf;
  shape: EncoderShape;
  /** The trial seed already salted with the method's own salt. */
  seed: number;
  /** The base weights (BitFit copies biases from them, DoRA reads the kernels). */
  weights?: EncoderWeights;
  mode: BuildMode;
  /** UniPELT gates of the whole configuration. */
  gates: GatesConfig;
}

/** A reason a library or operation has no form of the method. */
export interface Refusal {
  refusal: string;
}

/** What a Hugging Face PEFT writer gets. */
export interface HfPeftContext {
  shape: EncoderShape;
  /** `bert.` or `roberta.`: the backbone's attribute in PEFT's module paths. */
  backbone: string;
  /** Stored weights by the project's names (kernels `[in, out]`). */
  weights: ReadonlyMap<string, NamedArray>;
  /** The steps the adapter trained for, when the exporter knows them (AdaLoRA's `total_step`). */
  trainingSteps?: number;
}

/** One method's part of a PEFT adapter: config fields and tensors (the head is added by the exporter). */
export interface HfPeftPart {
  config: Record<string, unknown>;
  tensors: TensorToWrite[];
  /** Where PEFT keeps `modules_to_save` for this method: `base_model.model.` (tuners) or `base_model.` (prompt learning). */
  headPrefix: string;
}

/** How a method exports to Hugging Face PEFT. */
export interface HfPeftWriter<C> {
  /** A reason this particular configuration has no PEFT form, or undefined. */
  unsupported?(config: C, shape: EncoderShape): string | undefined;
  write(config: C, ctx: HfPeftContext): HfPeftPart;
}

/** What an AdapterHub writer gets. */
export interface AdapterHubContext {
  shape: EncoderShape;
  gates: GatesConfig;
  /** Ways in which `adapters` would read the configuration differently; push to it. */
  warnings: string[];
}

/** What an AdapterHub weights writer gets. */
export interface AdapterHubWeightsContext {
  shape: EncoderShape;
  /** `bert.` or `roberta.`: the encoder's attribute in `adapters`' models (`BertAdapterModel.bert`). */
  backbone: string;
  /** The adapter's name, the key of `adapters`' module dictionaries (`adapters.{name}`, `loras.{name}`, ...). */
  name: string;
  /** Stored weights by the project's names (kernels `[in, out]`). */
  weights: ReadonlyMap<string, NamedArray>;
  /** UniPELT gates of the whole configuration. */
  gates: GatesConfig;
}

/** How a method exports to AdapterHub: child configurations of a union and their weights. */
export interface AdapterHubWriter<C> {
  /** Place among a union's children (prefix-tuning first, as `adapters`' named unions list it). */
  position: number;
  children(config: C, ctx: AdapterHubContext): Record<string, unknown>[];
  /** The method's tensors of `adapter.safetensors`, under `adapters`' parameter names and PyTorch layouts. */
  tensors(config: C, ctx: AdapterHubWeightsContext): TensorToWrite[];
}

/** Everything about one method whose configuration is `C`: its pure spec and its build. */
export interface PeftMethod<C> extends MethodSpec<C> {
  /** Salt of the method's random stream, distinct per method, so methods never share draws. */
  salt: number;
  /** The module the encoder runs, or undefined when the method adds none of its own (gates). */
  build(config: C, ctx: BuildContext): PeftModule | undefined;
  /** `merges`: its modules fold into the base weights (see `PeftModule.mergeProjection`). */
  merge: 'merges' | Refusal;
  hfPeft: HfPeftWriter<C> | Refusal;
  adapterHub: AdapterHubWriter<C> | Refusal;
}

/**
 * One method per configuration key of `P`. Typed so that a key of `P` without a method is a
 * compile error where the registry is declared (see test/types/registry.type-test.ts).
 */
export type MethodRegistry<P = PeftConfig> = { readonly [K in keyof Required<P>]: PeftMethod<NonNullable<P[K]>> };

/** Whether a writer or operation exists (not a refusal). */
export function isRefusal<T extends object>(value: T | Refusal): value is Refusal {
  return 'refusal' in value;
}
