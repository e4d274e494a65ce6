/**
 * Hugging Face PEFT `save_pretrained` output: `adapter_config.json` and
 * `adapter_model.safetensors` (metadata `{"format": "pt"}`, PEFT's key names, PyTorch `[out, in]`
 * layouts), for configurations that are a single method PEFT has. Each method's writer (or its
 * reason for having none) is in its registry record (methods/).
 */
import { presentMethods } from '../methods/registry.js';
import { isRefusal } from '../methods/method.js';
import type { EncoderShape, PeftConfig } from '../../search/types.js';
import type { HeadKind } from '../model/head.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { writeSafetensors } from '../model/safetensors.js';
import { ExportError } from './errors.js';
import { storedWeight, transpose } from './hf-peft-parts.js';
import type { NamedArray } from './weights.js';

/**
 * The PEFT release whose `save_pretrained` files these are (0.18 added `peft_version`; earlier
 * releases drop the field with a warning when they load the config).
 */
export const PEFT_VERSION = '0.18.0';

/** What the export needs to know about the model. */
export interface HfPeftTarget {
  modelType: 'bert' | 'roberta';
  /** `base_model_name_or_path`. */
  baseModelName: string;
  shape: EncoderShape;
  headKind: HeadKind;
  /** The steps the adapter trained for (AdaLoRA writes them as `total_step`). */
  trainingSteps?: number;
}

/** The two files of a PEFT adapter. */
export interface HfPeftExport {
  /** `adapter_config.json` text (sorted keys, indent 2, as `save_pretrained` writes it). */
  adapterConfig: string;
  /** `adapter_model.safetensors`. */
  weights: Uint8Array;
}

/** Serialises with sorted keys at every level. */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

/** Why a configuration has no PEFT form, or undefined when it has one. */
export function hfPeftUnsupportedReason(peft: PeftConfig, shape: EncoderShape): string | undefined {
  const present = presentMethods(peft);
  // A modifier (UniPELT gates) is not a method of its own: an all-false gates object changes nothing.
  const primary = present.filter((m) => m.method.paradigm !== 'modifier');
  const modifiers = present.filter((m) => m.method.paradigm === 'modifier' && m.method.chips(m.config).length > 0);
  if (primary.length === 0) return 'the configuration has no PEFT module';
  if (primary.length > 1) return `Hugging Face PEFT saves a single method per adapter; this configuration combines ${primary.map((m) => m.key).join(' + ')}`;
  for (const { method, config } of [...primary, ...modifiers]) {
    if (isRefusal(method.hfPeft)) return method.hfPeft.refusal;
    const reason = method.hfPeft.unsupported?.(config, shape);
    if (reason) return reason;
  }
  return undefined;
}

/** The head's tensors under PEFT names (`modules_to_save`), `[out, in]`. */
function headTensors(weights: ReadonlyMap<string, NamedArray>, prefix: string, kind: HeadKind): TensorToWrite[] {
  const layers = kind === 'roberta' ? ['classifier.dense', 'classifier.out_proj'] : ['classifier'];
  return layers.flatMap((layer) => {
    const kernel = storedWeight(weights, `${layer}.kernel`);
    const [dIn, dOut] = kernel.shape as [number, number];
    return [
      { name: `${prefix}${layer}.weight`, shape: [dOut, dIn], data: transpose(kernel.data, dIn, dOut) },
      { name: `${prefix}${layer}.bias`, shape: [dOut], data: storedWeight(weights, `${layer}.bias`).data },
    ];
  });
}

/**
 * The PEFT files of a single-method configuration from its stored weights (the names
 * `storedPeftWeights` and the head give). Throws {@link ExportError} saying why when PEFT cannot
 * represent the configuration.
 */
export function hfPeftExport(peft: PeftConfig, weights: ReadonlyMap<string, NamedArray>, target: HfPeftTarget): HfPeftExport {
  const reason = hfPeftUnsupportedReason(peft, target.shape);
  if (reason) throw new ExportError(`No Hugging Face PEFT export: ${reason}`);
  const { method, config } = presentMethods(peft).find((m) => m.method.paradigm !== 'modifier')!;
  if (isRefusal(method.hfPeft)) throw new ExportError(`No Hugging Face PEFT export: ${method.hfPeft.refusal}`);
  const part = method.hfPeft.write(config, { shape: target.shape, backbone: `${target.modelType}.`, weights, trainingSteps: target.trainingSteps });
  const common = {
    base_model_name_or_path: target.baseModelName,
    peft_version: PEFT_VERSION,
    revision: null,
    inference_mode: true,
    task_type: 'SEQ_CLS',
  };
  const tensors: TensorToWrite[] = [...part.tensors, ...headTensors(weights, part.headPrefix, target.headKind)];
  return { adapterConfig: sortedJson({ ...common, ...part.config }), weights: writeSafetensors(tensors, { format: 'pt' }) };
}
