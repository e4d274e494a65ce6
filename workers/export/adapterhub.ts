/**
 * AdapterHub (`adapters` library) adapter folders: `adapter_config.json` (one child configuration
 * per module, a `union` of them for hybrids, `leave_out` listing the layers without the module),
 * `adapter.safetensors` (the parameters under `adapters`' names: `adapters.{name}`,
 * `loras.{name}`, `prefix_tunings.{name}`, `prompt_tunings.{name}`), and the prediction head's
 * `head_config.json` and `model_head.safetensors`, as `load_adapter` reads them.
 */
import { isRefusal } from '../methods/method.js';
import { presentMethods } from '../methods/registry.js';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { HeadKind } from '../model/head.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { writeSafetensors } from '../model/safetensors.js';
import { torchLinear } from './adapterhub-parts.js';
import { ExportError } from './errors.js';
import type { NamedArray } from './weights.js';

/** Who the adapter is for. */
export interface AdapterHubTarget {
  modelType: 'bert' | 'roberta';
  /** Base model name or path, e.g. `bert-base-uncased`. */
  modelName: string;
  /** Adapter name. */
  name: string;
}

/** An `adapter_config.json` and what a user should know about it. */
export interface AdapterHubExport {
  file: Record<string, unknown>;
  /** Ways in which `adapters` would read the configuration differently or refuse it. */
  warnings: string[];
}

/** The `adapters` version whose configuration keys this writes. */
export const ADAPTERS_VERSION = 'adapters.1.2.0';

/**
 * The `config` object(s) of the configuration, before wrapping, in the methods' union positions.
 * A method `adapters` does not have adds a warning (its weights stay in the project export); a
 * configuration `adapters` would misread throws {@link ExportError} from the method's writer.
 */
function childConfigs(peft: PeftConfig, shape: EncoderShape, warnings: string[]): Record<string, unknown>[] {
  const ctx = { shape, gates: peft.gates ?? {}, warnings };
  // Refusals are noted after every child, so a union's warnings read in its children's order.
  const steps = presentMethods(peft).map(({ method, config }) => {
    const hub = method.adapterHub;
    return isRefusal(hub)
      ? { position: Number.POSITIVE_INFINITY, run: (): Record<string, unknown>[] => (warnings.push(hub.refusal), []) }
      : { position: hub.position, run: (): Record<string, unknown>[] => hub.children(config, ctx) };
  });
  return steps.sort((x, y) => x.position - y.position).flatMap((step) => step.run());
}

/** Where an `adapters` child configuration acts, as the keys its `match()` tests per layer. */
const LOCATIONS: Readonly<Record<string, readonly string[]>> = {
  bottleneck: ['mh_adapter', 'output_adapter'],
  lora: ['selfattn_lora', 'intermediate_lora', 'output_lora'],
  prefix_tuning: ['encoder_prefix'],
  prompt_tuning: [],
};

/**
 * Why `adapters` cannot hold these children under one adapter name, or undefined. Its
 * `ModelAdaptersConfig.match` raises "Multiple adapter definitions conflict" when two children of
 * one kind (bottleneck; LoRA and (IA)3 alike) act at the same location of the same layer, and
 * `ConfigUnion.validate` refuses such a pair outright when neither leaves a layer out.
 */
function unionConflict(children: readonly Record<string, unknown>[], shape: EncoderShape): string | undefined {
  const kind = (c: Record<string, unknown>): string => (typeof c.architecture === 'string' ? c.architecture : 'bottleneck');
  for (let i = 0; i < children.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = children[i]!;
      const b = children[j]!;
      if (kind(a) !== kind(b)) continue;
      const leftOut = (c: Record<string, unknown>): number[] => (Array.isArray(c.leave_out) ? (c.leave_out as number[]) : []);
      const layer = Array.from({ length: shape.numLayers }, (_, l) => l).find((l) => !leftOut(a).includes(l) && !leftOut(b).includes(l));
      const location = (LOCATIONS[kind(a)] ?? []).find((key) => a[key] === true && b[key] === true);
      if (layer === undefined || location === undefined) continue;
      const what = kind(a) === 'bottleneck' ? 'two bottleneck adapters (e.g. a serial and a parallel one)' : `two "${kind(a)}" modules`;
      return `adapters cannot hold ${what} at the same place (${location}, layer ${layer}) in one adapter: it raises "Multiple adapter definitions conflict"; the PEFT and project folders carry this configuration`;
    }
  }
  return undefined;
}

/**
 * The AdapterHub `adapter_config.json` of a configuration. Throws {@link ExportError} for a
 * module AdapterHub cannot express (LoRA on the attention output, LoRA with several ranks) or an
 * empty configuration.
 */
export function adapterHubConfig(peft: PeftConfig, shape: EncoderShape, target: AdapterHubTarget): AdapterHubExport {
  const warnings: string[] = [];
  const children = childConfigs(peft, shape, warnings);
  // The methods' own refusals say why better than the count does (BitFit, full fine-tuning).
  if (children.length === 0) throw new ExportError(`the configuration has no module AdapterHub can describe${warnings.length > 0 ? `: ${warnings.join('; ')}` : ''}`);
  const conflict = unionConflict(children, shape);
  if (conflict) throw new ExportError(conflict);
  const config = children.length === 1 ? children[0]! : { architecture: 'union', configs: children };
  return {
    file: {
      config,
      hidden_size: shape.hiddenSize,
      model_class: target.modelType === 'roberta' ? 'RobertaAdapterModel' : 'BertAdapterModel',
      model_name: target.modelName,
      model_type: target.modelType,
      name: target.name,
      version: ADAPTERS_VERSION,
    },
    warnings,
  };
}

/**
 * JSON as Python's `json.dump(..., indent=2, sort_keys=True)` writes it, with the numbers under
 * `floatKeys` written as floats (`1.0`): `adapters` tells a float scaling from a named mode with
 * `isinstance(scaling, float)`, and a JSON `1` loads as a Python int ("Unknown scaling type").
 */
export function pythonJson(value: unknown, floatKeys: ReadonlySet<string> = FLOAT_KEYS): string {
  const write = (v: unknown, indent: string, key?: string): string => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ExportError(`${key ?? 'a value'} is not a finite number`);
      return key !== undefined && floatKeys.has(key) && Number.isInteger(v) ? `${v}.0` : JSON.stringify(v);
    }
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      const inner = `${indent}  `;
      return `[\n${v.map((item) => `${inner}${write(item, inner)}`).join(',\n')}\n${indent}]`;
    }
    if (v && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length === 0) return '{}';
      const inner = `${indent}  `;
      return `{\n${entries.map(([k, item]) => `${inner}${JSON.stringify(k)}: ${write(item, inner, k)}`).join(',\n')}\n${indent}}`;
    }
    return JSON.stringify(v ?? null);
  };
  return write(value, '');
}

/** Fields `adapters` reads as floats. */
const FLOAT_KEYS: ReadonlySet<string> = new Set(['scaling', 'dropout', 'stochastic_depth']);

/** What the head of the exported adapter is. */
export interface AdapterHubHead {
  kind: HeadKind;
  outputs: number;
  labels: readonly string[];
}

/** The files of an AdapterHub adapter folder, as `model.save_adapter(..., with_head=True)` leaves them. */
export interface AdapterHubFiles {
  /** `adapter_config.json`. */
  config: string;
  /** `adapter.safetensors`: the adapter's parameters under `adapters`' names. */
  weights: Uint8Array;
  /** `head_config.json`: the prediction head `load_adapter` adds. */
  headConfig: string;
  /** `model_head.safetensors`: the head's parameters (`heads.{name}.{i}.weight`). */
  headWeights: Uint8Array;
  warnings: string[];
}

/**
 * The head as an `adapters` `ClassificationHead` (`nn.Sequential` of dropout, linear,
 * activation...; regression is `num_labels` 1): BERT's is one linear on the pooler output
 * (`use_pooler`, modules `[Dropout, Linear]`), RoBERTa's `dense`, tanh, `out_proj` on the first
 * token (`layers` 2, modules `[Dropout, Linear, Tanh, Dropout, Linear]`).
 */
function headParts(head: AdapterHubHead, weights: ReadonlyMap<string, NamedArray>, name: string): { config: Record<string, unknown>; tensors: TensorToWrite[] } {
  const roberta = head.kind === 'roberta';
  const labels = head.labels.length === head.outputs ? head.labels : Array.from({ length: head.outputs }, (_, i) => `LABEL_${i}`);
  const config = {
    head_type: 'classification',
    num_labels: head.outputs,
    layers: roberta ? 2 : 1,
    activation_function: roberta ? 'tanh' : null,
    label2id: Object.fromEntries(labels.map((label, i) => [label, i])),
    use_pooler: !roberta,
    bias: true,
    dropout_prob: null,
  };
  const tensors = roberta
    ? [...torchLinear(weights, 'classifier.dense', `heads.${name}.1`), ...torchLinear(weights, 'classifier.out_proj', `heads.${name}.4`)]
    : torchLinear(weights, 'classifier', `heads.${name}.1`);
  return { config, tensors };
}

/**
 * Every file of the AdapterHub folder: configuration, weights, head configuration and head
 * weights. Throws {@link ExportError} when `adapters` cannot hold the configuration (a module it
 * lacks alone, or two modules of one kind at the same place).
 */
export function adapterHubExport(peft: PeftConfig, weights: ReadonlyMap<string, NamedArray>, shape: EncoderShape, target: AdapterHubTarget, head: AdapterHubHead): AdapterHubFiles {
  const { file, warnings } = adapterHubConfig(peft, shape, target);
  const ctx = { shape, backbone: `${target.modelType}.`, name: target.name, weights, gates: peft.gates ?? {} };
  const tensors = presentMethods(peft).flatMap(({ method, config }) => (isRefusal(method.adapterHub) ? [] : method.adapterHub.tensors(config, ctx)));
  const headPart = headParts(head, weights, target.name);
  const headFile = {
    config: headPart.config,
    hidden_size: shape.hiddenSize,
    label2id: headPart.config.label2id,
    model_class: file.model_class,
    model_name: target.modelName,
    model_type: target.modelType,
    name: target.name,
    version: ADAPTERS_VERSION,
  };
  return {
    config: pythonJson(file),
    weights: writeSafetensors(tensors, { format: 'pt' }),
    headConfig: pythonJson(headFile),
    headWeights: writeSafetensors(headPart.tensors, { format: 'pt' }),
    warnings,
  };
}
