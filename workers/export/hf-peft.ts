/**
 * Hugging Face PEFT `save_pretrained` output: `adapter_config.json` and
 * `adapter_model.safetensors` (metadata `{"format": "pt"}`, PEFT's key names, PyTorch `[out, in]`
 * layouts), for configurations that are a single method PEFT has: LoRA, (IA)3, prefix-tuning or
 * prompt tuning.
 */
import type { EncoderShape, LoraTarget, PeftConfig } from '../../search/types.js';
import { LORA_TARGETS } from '../../search/types.js';
import type { HeadKind } from '../model/head.js';
import type { TensorToWrite } from '../model/safetensors.js';
import { writeSafetensors } from '../model/safetensors.js';
import { PROJECTION_MODULE_PATHS } from '../model/weights.js';
import { ExportError } from './errors.js';
import type { NamedArray } from './weights.js';

/** What the export needs to know about the model. */
export interface HfPeftTarget {
  modelType: 'bert' | 'roberta';
  /** `base_model_name_or_path`. */
  baseModelName: string;
  shape: EncoderShape;
  headKind: HeadKind;
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

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A full-match regular expression over module names for targets in layers. Suffix lists cannot
 * tell `output.dense` from `attention.output.dense`, so a pattern anchored at the layer is used.
 */
function modulePattern(targets: readonly LoraTarget[], layers: readonly number[]): string {
  const paths = targets.map((t) => escape(PROJECTION_MODULE_PATHS[t])).join('|');
  return `.*encoder\\.layer\\.(${[...layers].sort((a, b) => a - b).join('|')})\\.(${paths})`;
}

/** Why a configuration has no PEFT form, or undefined when it has one. */
export function hfPeftUnsupportedReason(peft: PeftConfig, shape: EncoderShape): string | undefined {
  const methods = (['lora', 'ia3', 'prefix', 'promptTuning', 'serialAdapter', 'parallelAdapter', 'bitfit'] as const).filter((k) => peft[k] !== undefined);
  if (methods.length === 0) return 'the configuration has no PEFT module';
  if (methods.length > 1) return `Hugging Face PEFT saves a single method per adapter; this configuration combines ${methods.join(' + ')}`;
  const method = methods[0]!;
  if (method === 'serialAdapter' || method === 'parallelAdapter') return 'Hugging Face PEFT has no bottleneck adapters';
  if (method === 'bitfit') return 'Hugging Face PEFT has no BitFit';
  if (peft.gates && Object.values(peft.gates).some((g) => g === true)) return 'Hugging Face PEFT has no UniPELT gates';
  if (method === 'prefix' && peft.prefix!.layers.length !== shape.numLayers) {
    return `Hugging Face PEFT prefix-tuning covers every layer; this prefix is on layers ${peft.prefix!.layers.join(', ')} of ${shape.numLayers}`;
  }
  return undefined;
}

/** `[rows, cols]` row-major data transposed. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

function get(weights: ReadonlyMap<string, NamedArray>, name: string): NamedArray {
  const w = weights.get(name);
  if (!w) throw new ExportError(`trained weights lack "${name}"`);
  return w;
}

/** The head's tensors under PEFT names (`modules_to_save`), `[out, in]`. */
function headTensors(weights: ReadonlyMap<string, NamedArray>, prefix: string, kind: HeadKind): TensorToWrite[] {
  const layers = kind === 'roberta' ? ['classifier.dense', 'classifier.out_proj'] : ['classifier'];
  return layers.flatMap((layer) => {
    const kernel = get(weights, `${layer}.kernel`);
    const [dIn, dOut] = kernel.shape as [number, number];
    return [
      { name: `${prefix}${layer}.weight`, shape: [dOut, dIn], data: transpose(kernel.data, dIn, dOut) },
      { name: `${prefix}${layer}.bias`, shape: [dOut], data: get(weights, `${layer}.bias`).data },
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
  const { shape } = target;
  const backbone = `${target.modelType}.`;
  const common = {
    base_model_name_or_path: target.baseModelName,
    revision: null,
    inference_mode: true,
    task_type: 'SEQ_CLS',
  };
  const tensors: TensorToWrite[] = [];
  let config: Record<string, unknown>;
  if (peft.lora) {
    const l = peft.lora;
    const prefix = `base_model.model.${backbone}encoder.layer.`;
    for (const layer of l.layers) {
      for (const t of LORA_TARGETS.filter((x) => l.targets.includes(x))) {
        const path = `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[t]}`;
        const a = get(weights, `${path}.lora_A.kernel`);
        const b = get(weights, `${path}.lora_B.kernel`);
        const [dIn, r] = a.shape as [number, number];
        const dOut = b.shape[1]!;
        const key = `${prefix}${layer}.${PROJECTION_MODULE_PATHS[t]}`;
        tensors.push({ name: `${key}.lora_A.weight`, shape: [r, dIn], data: transpose(a.data, dIn, r) });
        tensors.push({ name: `${key}.lora_B.weight`, shape: [dOut, r], data: transpose(b.data, r, dOut) });
      }
    }
    const rankPattern: Record<string, number> = {};
    for (const [t, r] of Object.entries(l.rankPerTarget ?? {})) {
      if (r !== l.rank) rankPattern[`encoder\\.layer\\.\\d+\\.${escape(PROJECTION_MODULE_PATHS[t as LoraTarget])}`] = r;
    }
    const alphaPattern = Object.fromEntries(Object.keys(rankPattern).map((k) => [k, l.alpha]));
    config = {
      ...common,
      peft_type: 'LORA',
      r: l.rank,
      lora_alpha: l.alpha,
      lora_dropout: l.dropout,
      target_modules: modulePattern(l.targets, l.layers),
      layers_to_transform: null,
      layers_pattern: null,
      rank_pattern: rankPattern,
      alpha_pattern: alphaPattern,
      bias: 'none',
      fan_in_fan_out: false,
      modules_to_save: ['classifier', 'score'],
      init_lora_weights: true,
      use_rslora: false,
      use_dora: false,
    };
    tensors.push(...headTensors(weights, 'base_model.model.', target.headKind));
  } else if (peft.ia3) {
    const prefix = `base_model.model.${backbone}encoder.layer.`;
    for (const layer of peft.ia3.layers) {
      for (const t of ['key', 'value'] as const) {
        const v = get(weights, `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS[t]}.ia3_l`);
        tensors.push({ name: `${prefix}${layer}.${PROJECTION_MODULE_PATHS[t]}.ia3_l`, shape: [v.data.length, 1], data: v.data });
      }
      const ffn = get(weights, `encoder.layer.${layer}.${PROJECTION_MODULE_PATHS.ffnOut}.ia3_l`);
      tensors.push({ name: `${prefix}${layer}.${PROJECTION_MODULE_PATHS.ffnOut}.ia3_l`, shape: [1, ffn.data.length], data: ffn.data });
    }
    config = {
      ...common,
      peft_type: 'IA3',
      target_modules: modulePattern(['key', 'value', 'ffnOut'], peft.ia3.layers),
      feedforward_modules: modulePattern(['ffnOut'], peft.ia3.layers),
      fan_in_fan_out: false,
      modules_to_save: ['classifier', 'score'],
      init_ia3_weights: true,
    };
    tensors.push(...headTensors(weights, 'base_model.model.', target.headKind));
  } else {
    const d = shape.hiddenSize;
    const promptLearning = {
      ...common,
      token_dim: d,
      num_transformer_submodules: 1,
      num_attention_heads: shape.numHeads,
      num_layers: shape.numLayers,
      modules_to_save: ['classifier', 'score'],
    };
    if (peft.prefix) {
      const p = peft.prefix.length;
      const width = 2 * shape.numLayers * d;
      const table = new Float32Array(p * width);
      // Columns [2l d, (2l+1) d) hold layer l's keys, the next d its values (PEFT's past_key_values layout).
      for (let layer = 0; layer < shape.numLayers; layer++) {
        const key = get(weights, `encoder.layer.${layer}.attention.self.prefix_key`).data;
        const value = get(weights, `encoder.layer.${layer}.attention.self.prefix_value`).data;
        for (let t = 0; t < p; t++) {
          table.set(key.subarray(t * d, (t + 1) * d), t * width + 2 * layer * d);
          table.set(value.subarray(t * d, (t + 1) * d), t * width + (2 * layer + 1) * d);
        }
      }
      tensors.push({ name: 'prompt_embeddings', shape: [p, width], data: table });
      config = {
        ...promptLearning,
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: p,
        encoder_hidden_size: peft.prefix.reparamSize > 0 ? peft.prefix.reparamSize : d,
        // The MLP's output is what is stored, so PEFT loads it as a plain prefix table.
        prefix_projection: false,
      };
    } else {
      const prompt = get(weights, 'prompt_embeddings');
      tensors.push({ name: 'prompt_embeddings', shape: prompt.shape, data: prompt.data });
      config = {
        ...promptLearning,
        peft_type: 'PROMPT_TUNING',
        num_virtual_tokens: peft.promptTuning!.length,
        prompt_tuning_init: 'RANDOM',
        prompt_tuning_init_text: null,
        tokenizer_name_or_path: null,
        tokenizer_kwargs: null,
      };
    }
    tensors.push(...headTensors(weights, 'base_model.', target.headKind));
  }
  return { adapterConfig: sortedJson(config), weights: writeSafetensors(tensors, { format: 'pt' }) };
}
