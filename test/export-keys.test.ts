/**
 * The exported files hold exactly the tensors the libraries' loaders look for, with their shapes:
 *
 * - Hugging Face PEFT: from the exported `adapter_config.json` alone, the parameters PEFT creates
 *   on `BertForSequenceClassification` / `RobertaForSequenceClassification` (target modules by
 *   `re.fullmatch` over the model's module names, `rank_pattern`, `feedforward_modules`,
 *   `modules_to_save`, prompt learning's `prompt_embeddings`), under the names its
 *   `set_peft_model_state_dict` reads (the adapter name removed, `base_model.model.` / `base_model.`
 *   prefixes): none missing, none unexpected, shapes equal. Every method the registry exports.
 * - AdapterHub `adapters`: from the exported `adapter_config.json`, the parameters `add_adapter`
 *   creates (`adapters.{name}` bottlenecks after attention or the FFN, `loras.{name}` on the
 *   matched projections, the flat prefix pool, the prompt embedding) and those `load_adapter`'s
 *   filter keeps, plus the head's `heads.{name}.{i}` from `head_config.json`. Every method
 *   `adapters` has and the unions it accepts.
 *
 * The module tree and the naming rules are written here from transformers', PEFT's and adapters'
 * source; the exporters never run in them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import type { EncoderShape, PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { adapterHubExport } from '../workers/export/adapterhub.js';
import { hfPeftExport, hfPeftUnsupportedReason } from '../workers/export/hf-peft.js';
import type { NamedArray } from '../workers/export/weights.js';
import { toNamedArrays } from '../workers/export/weights.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import type { HeadKind } from '../workers/model/head.js';
import { parseSafetensors } from '../workers/model/safetensors.js';
import { createRandomWeights, disposeWeights } from '../workers/model/weights.js';
import { isRefusal } from '../workers/methods/method.js';
import { METHOD_KEYS, PEFT_METHODS } from '../workers/methods/registry.js';
import { buildPeftModules, storedPeftWeights } from '../workers/peft/build.js';

// Small but not square anywhere: d 16, 2 heads, 3 layers, FFN 40.
const SHAPES: Record<'bert' | 'roberta', EncoderShape> = {
  bert: { vocabSize: 50, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 40, maxPositions: 32, typeVocabSize: 2 },
  roberta: { vocabSize: 50, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 40, maxPositions: 34, typeVocabSize: 1, headKind: 'roberta' },
};
const LABELS = 3;

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
});

/** One module of a transformers model: its kind and, for Linear and LayerNorm, its sizes. */
interface ModuleInfo {
  name: string;
  kind: 'Linear' | 'LayerNorm' | 'Embedding' | 'Dropout' | 'Container';
  inFeatures?: number;
  outFeatures?: number;
}

/**
 * `model.named_modules()` of `BertForSequenceClassification` / `RobertaForSequenceClassification`
 * (transformers' modeling_bert.py / modeling_roberta.py): RoBERTa has no pooler and a
 * `RobertaClassificationHead` (`dense`, `dropout`, `out_proj`) as its `classifier`.
 */
function hfModules(kind: 'bert' | 'roberta', shape: EncoderShape): ModuleInfo[] {
  const d = shape.hiddenSize;
  const ff = shape.intermediateSize;
  const m: ModuleInfo[] = [];
  const c = (name: string): number => m.push({ name, kind: 'Container' });
  const lin = (name: string, i: number, o: number): number => m.push({ name, kind: 'Linear', inFeatures: i, outFeatures: o });
  const ln = (name: string): number => m.push({ name, kind: 'LayerNorm', inFeatures: d, outFeatures: d });
  const drop = (name: string): number => m.push({ name, kind: 'Dropout' });
  c(kind);
  c(`${kind}.embeddings`);
  for (const e of ['word_embeddings', 'position_embeddings', 'token_type_embeddings']) m.push({ name: `${kind}.embeddings.${e}`, kind: 'Embedding' });
  ln(`${kind}.embeddings.LayerNorm`);
  drop(`${kind}.embeddings.dropout`);
  c(`${kind}.encoder`);
  c(`${kind}.encoder.layer`);
  for (let i = 0; i < shape.numLayers; i++) {
    const p = `${kind}.encoder.layer.${i}`;
    c(p);
    c(`${p}.attention`);
    c(`${p}.attention.self`);
    for (const q of ['query', 'key', 'value']) lin(`${p}.attention.self.${q}`, d, d);
    drop(`${p}.attention.self.dropout`);
    c(`${p}.attention.output`);
    lin(`${p}.attention.output.dense`, d, d);
    ln(`${p}.attention.output.LayerNorm`);
    drop(`${p}.attention.output.dropout`);
    c(`${p}.intermediate`);
    lin(`${p}.intermediate.dense`, d, ff);
    c(`${p}.intermediate.intermediate_act_fn`);
    c(`${p}.output`);
    lin(`${p}.output.dense`, ff, d);
    ln(`${p}.output.LayerNorm`);
    drop(`${p}.output.dropout`);
  }
  if (kind === 'bert') {
    c('bert.pooler');
    lin('bert.pooler.dense', d, d);
    c('bert.pooler.activation');
    drop('dropout');
    lin('classifier', d, LABELS);
  } else {
    c('classifier');
    lin('classifier.dense', d, d);
    drop('classifier.dropout');
    lin('classifier.out_proj', d, LABELS);
  }
  return m;
}

type Shapes = Map<string, number[]>;

/** PEFT's target check: a string is `re.fullmatch`ed; a list matches a name or its `.`-suffix. */
function targets(pattern: unknown, name: string): boolean {
  if (typeof pattern === 'string') return new RegExp(`^(?:${pattern})$`).test(name);
  return Array.isArray(pattern) && pattern.some((t) => name === t || name.endsWith(`.${String(t)}`));
}

/** PEFT's `get_pattern_key`: a pattern matches a module name ending on it (after a dot). */
function patternValue(patterns: Record<string, number> | undefined, name: string, fallback: number): number {
  for (const [pattern, value] of Object.entries(patterns ?? {})) if (new RegExp(`(.*\\.)?(${pattern})$`).test(name)) return value;
  return fallback;
}

/**
 * The adapter state dict PEFT builds on the model for this `adapter_config.json`, under the names
 * `get_peft_model_state_dict` saves (and `set_peft_model_state_dict` reads back).
 */
function peftExpected(config: Record<string, unknown>, modules: ModuleInfo[], shape: EncoderShape): Shapes {
  const out: Shapes = new Map();
  const type = config.peft_type as string;
  const promptLearning = type === 'PREFIX_TUNING' || type === 'PROMPT_TUNING';
  // modules_to_save: each module whose name is or ends with an entry is wrapped, all its parameters saved.
  const wrapped = modules.filter((mod) => ((config.modules_to_save as string[]) ?? []).some((t) => mod.name === t || mod.name.endsWith(`.${t}`)));
  const headPrefix = promptLearning ? 'base_model.' : 'base_model.model.';
  for (const w of wrapped) {
    for (const mod of modules.filter((x) => (x.name === w.name || x.name.startsWith(`${w.name}.`)) && x.kind === 'Linear')) {
      out.set(`${headPrefix}${mod.name}.weight`, [mod.outFeatures!, mod.inFeatures!]);
      out.set(`${headPrefix}${mod.name}.bias`, [mod.outFeatures!]);
    }
  }
  if (promptLearning) {
    const tokens = (config.num_virtual_tokens as number) * (config.num_transformer_submodules as number);
    const width = type === 'PREFIX_TUNING' ? (config.num_layers as number) * 2 * (config.token_dim as number) : (config.token_dim as number);
    expect(config.prefix_projection ?? false).toBe(false);
    expect([config.token_dim, config.num_layers, config.num_attention_heads]).toEqual([shape.hiddenSize, shape.numLayers, shape.numHeads]);
    out.set('prompt_embeddings', [tokens, width]);
    return out;
  }
  const matched = modules.filter((mod) => targets(config.target_modules, mod.name));
  expect(matched.length).toBeGreaterThan(0);
  const wanted = type === 'LN_TUNING' ? 'LayerNorm' : 'Linear';
  // PEFT refuses a target of a kind its layer does not wrap.
  for (const mod of matched) expect(mod.kind, `${type} target ${mod.name}`).toBe(wanted);
  const p = (mod: ModuleInfo, param: string): string => `base_model.model.${mod.name}.${param}`;
  for (const mod of matched) {
    const [i, o] = [mod.inFeatures!, mod.outFeatures!];
    if (type === 'LORA') {
      const r = patternValue(config.rank_pattern as Record<string, number>, mod.name, config.r as number);
      out.set(p(mod, 'lora_A.weight'), [r, i]);
      out.set(p(mod, 'lora_B.weight'), [o, r]);
      if (config.use_dora === true) out.set(p(mod, 'lora_magnitude_vector'), [o]);
    } else if (type === 'ADALORA') {
      // resize_modules_by_rank_pattern: a module's rank is the kept count of its `{module}.lora_E` mask, else init_r.
      const mask = (config.rank_pattern as Record<string, boolean[]> | null)?.[`${mod.name}.lora_E`];
      const r = mask ? mask.filter(Boolean).length : (config.init_r as number);
      out.set(p(mod, 'lora_A'), [r, i]);
      out.set(p(mod, 'lora_B'), [o, r]);
      out.set(p(mod, 'lora_E'), [r, 1]);
    } else if (type === 'IA3') {
      out.set(p(mod, 'ia3_l'), targets(config.feedforward_modules, mod.name) ? [1, i] : [o, 1]);
    } else if (type === 'VERA') {
      out.set(p(mod, 'vera_lambda_b'), [o]);
      out.set(p(mod, 'vera_lambda_d'), [config.r as number]);
    } else if (type === 'FOURIERFT') {
      out.set(p(mod, 'fourierft_spectrum'), [config.n_frequency as number]);
    } else if (type === 'LN_TUNING') {
      out.set(p(mod, 'ln_tuning_layers.weight'), [i]);
      out.set(p(mod, 'ln_tuning_layers.bias'), [i]);
    } else {
      throw new Error(`no expectation written for ${type}`);
    }
  }
  if (type === 'VERA' && config.save_projection === true) {
    // One shared pair, sized for the largest targeted input and output.
    const r = config.r as number;
    out.set('base_model.vera_A', [r, Math.max(...matched.map((x) => x.inFeatures!))]);
    out.set('base_model.vera_B', [Math.max(...matched.map((x) => x.outFeatures!)), r]);
  }
  return out;
}

/** Random trained-looking weights of a configuration and a head, as the worker stores them. */
function storedArrays(peft: PeftConfig, shape: EncoderShape, headKind: HeadKind): Map<string, NamedArray> {
  const base = createRandomWeights(tf, shape, 1);
  const modules = buildPeftModules(tf, peft, shape, 2, { weights: base });
  const head = new SequenceClassificationHead(tf, headKind, shape.hiddenSize, LABELS, 3, 0);
  const stored = storedPeftWeights(tf, modules);
  const arrays = toNamedArrays(new Map<string, Tensor>([...stored, ...head.variables]));
  tf.dispose([...stored.values()]);
  head.dispose();
  for (const m of modules) m.dispose();
  disposeWeights(base);
  return arrays;
}

const fileShapes = (bytes: Uint8Array, name: string): Shapes => new Map([...parseSafetensors(bytes, name).entries].map(([k, e]) => [k, [...e.shape]]));

/** Keys the exporter wrote that the loader does not expect, and keys the loader expects that are missing. */
function compare(actual: Shapes, expected: Shapes): { unexpected: string[]; missing: string[]; wrongShape: string[] } {
  return {
    unexpected: [...actual.keys()].filter((k) => !expected.has(k)),
    missing: [...expected.keys()].filter((k) => !actual.has(k)),
    wrongShape: [...expected].filter(([k, s]) => actual.has(k) && actual.get(k)!.join(',') !== s.join(',')).map(([k, s]) => `${k}: [${actual.get(k)!.join(', ')}] vs [${s.join(', ')}]`),
  };
}

const PEFT_EXAMPLES = METHOD_KEYS.filter((key) => !isRefusal(PEFT_METHODS[key].hfPeft)).map((key) => [key, PEFT_METHODS[key].example(SHAPES.bert)] as const);

/** LoRA with ranks differing by layer, one projection of one layer left without LoRA. */
const PER_LAYER_LORA: PeftConfig = {
  lora: { rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 2], rankPerTarget: { ffnOut: 2 }, rankByLayer: { '0': { value: 0 }, '2': { query: 1, ffnOut: 3 } } },
};

describe("Hugging Face PEFT: the exported keys are the ones set_peft_model_state_dict loads", () => {
  for (const kind of ['bert', 'roberta'] as const) {
    it(`LoRA with per-layer ranks on ${kind}: rank_pattern per module, exactly the adapted modules targeted`, () => {
      const shape = SHAPES[kind];
      const exported = hfPeftExport(PER_LAYER_LORA, storedArrays(PER_LAYER_LORA, shape, kind), { modelType: kind, baseModelName: 'x', shape, headKind: kind });
      const config = JSON.parse(exported.adapterConfig) as Record<string, unknown>;
      const expected = peftExpected(config, hfModules(kind, shape), shape);
      expect(compare(fileShapes(exported.weights, 'adapter_model.safetensors'), expected)).toEqual({ unexpected: [], missing: [], wrongShape: [] });
      const ranks = [...expected].filter(([k]) => k.endsWith('lora_A.weight')).map(([k, s]) => [k.replace(/^base_model\.model\.\w+\.encoder\.layer\./, '').replace('.lora_A.weight', ''), s[0]]);
      expect(Object.fromEntries(ranks)).toEqual({ '0.attention.self.query': 4, '0.output.dense': 2, '2.attention.self.query': 1, '2.attention.self.value': 4, '2.output.dense': 3 });
    });
  }

  it('covers every method the registry exports to PEFT', () => {
    expect(PEFT_EXAMPLES.map(([key]) => key).sort()).toEqual(['adalora', 'dora', 'fourierft', 'ia3', 'layerNorm', 'lora', 'loraFa', 'pissa', 'prefix', 'promptTuning', 'vera'].sort());
  });
  for (const kind of ['bert', 'roberta'] as const) {
    for (const [key, peft] of PEFT_EXAMPLES) {
      it(`${key} on ${kind === 'bert' ? 'BertForSequenceClassification' : 'RobertaForSequenceClassification'}: none missing, none unexpected, shapes equal`, () => {
        const shape = SHAPES[kind];
        expect(hfPeftUnsupportedReason(peft, shape)).toBeUndefined();
        const exported = hfPeftExport(peft, storedArrays(peft, shape, kind), { modelType: kind, baseModelName: 'x', shape, headKind: kind });
        const config = JSON.parse(exported.adapterConfig) as Record<string, unknown>;
        expect(config.peft_version).toBe('0.18.0');
        const result = compare(fileShapes(exported.weights, 'adapter_model.safetensors'), peftExpected(config, hfModules(kind, shape), shape));
        expect(result).toEqual({ unexpected: [], missing: [], wrongShape: [] });
      });
    }
  }
});

/** `adapters`' module path of a LoRA-wrapped projection, by its config's matrix letter or location. */
const HUB_LORA_MODULES = { q: 'attention.self.query', k: 'attention.self.key', v: 'attention.self.value' } as const;

/**
 * The parameters `adapters` creates for an `adapter_config.json` on a `BertAdapterModel` /
 * `RobertaAdapterModel`, under the names its `AdapterLoader.filter_func` keeps.
 */
function hubExpected(file: Record<string, unknown>, shape: EncoderShape): Shapes {
  const out: Shapes = new Map();
  const bb = `${file.model_type as string}.`;
  const name = file.name as string;
  const d = shape.hiddenSize;
  const ff = shape.intermediateSize;
  const config = file.config as Record<string, unknown>;
  const children = config.architecture === 'union' ? (config.configs as Record<string, unknown>[]) : [config];
  const layersOf = (c: Record<string, unknown>): number[] => Array.from({ length: shape.numLayers }, (_, i) => i).filter((i) => !((c.leave_out as number[]) ?? []).includes(i));
  for (const c of children) {
    const layers = layersOf(c);
    if (c.architecture === undefined) {
      // BnConfig: Adapter(down = Sequential(Linear(d, d // rf), act), up = Linear), an optional gate Linear(d, 1).
      expect([c.ln_before, c.ln_after, c.phm_layer, c.inv_adapter]).toEqual([false, false, false, null]);
      // A per-layer map: the layer's own factor (by its id as a string), else "default".
      const rf = c.reduction_factor as number | Record<string, number>;
      const rfAt = (layer: number): number => (typeof rf === 'number' ? rf : (rf[String(layer)] ?? rf.default!));
      for (const layer of layers) {
        const m = Math.floor(d / rfAt(layer));
        for (const [location, path] of [['mh_adapter', 'attention.output'], ['output_adapter', 'output']] as const) {
          if (c[location] !== true) continue;
          const at = `${bb}encoder.layer.${layer}.${path}.adapters.${name}`;
          out.set(`${at}.adapter_down.0.weight`, [m, d]);
          out.set(`${at}.adapter_down.0.bias`, [m]);
          out.set(`${at}.adapter_up.weight`, [d, m]);
          out.set(`${at}.adapter_up.bias`, [d]);
          if (c.use_gating === true) {
            out.set(`${at}.gate.weight`, [1, d]);
            out.set(`${at}.gate.bias`, [1]);
          }
        }
      }
    } else if (c.architecture === 'lora') {
      const sites: [string, number, number][] = [];
      if (c.selfattn_lora === true) for (const letter of c.attn_matrices as (keyof typeof HUB_LORA_MODULES)[]) sites.push([HUB_LORA_MODULES[letter], d, d]);
      if (c.intermediate_lora === true) sites.push(['intermediate.dense', d, ff]);
      if (c.output_lora === true) sites.push(['output.dense', ff, d]);
      const r = c.r as number;
      for (const layer of layers) {
        for (const [path, dIn, dOut] of sites) {
          const at = `${bb}encoder.layer.${layer}.${path}.loras.${name}`;
          // LoRA: lora_A [r, in], lora_B [out, r]; IA3 (composition "scale", r 1): lora_B only.
          if (c.composition_mode === 'add') out.set(`${at}.lora_A`, [r, dIn]);
          out.set(`${at}.lora_B`, [dOut, r]);
          if (c.use_gating === true) {
            out.set(`${at}.gate.weight`, [1, dIn]);
            out.set(`${at}.gate.bias`, [1]);
          }
        }
      }
    } else if (c.architecture === 'prefix_tuning') {
      // FlatPrefixTuning in the pool on the base model, one per location ("self_prefix" in BERT's self-attention).
      expect(c.flat).toBe(true);
      out.set(`${bb}prefix_tuning.prefix_tunings.${name}.self_prefix.control_trans`, [(c.prefix_length as number) * layers.length * 2 * d]);
      if (c.use_gating === true) {
        for (const layer of layers) {
          out.set(`${bb}encoder.layer.${layer}.attention.self.prefix_tuning.prefix_gates.${name}.weight`, [c.shared_gating === true ? 1 : 2, d]);
          out.set(`${bb}encoder.layer.${layer}.attention.self.prefix_tuning.prefix_gates.${name}.bias`, [c.shared_gating === true ? 1 : 2]);
        }
      }
    } else if (c.architecture === 'prompt_tuning') {
      out.set(`${bb}prompt_tuning.prompt_tunings.${name}.prompt_embedding.weight`, [c.prompt_length as number, d]);
    } else {
      throw new Error(`no expectation written for ${String(c.architecture)}`);
    }
  }
  return out;
}

/** `heads.{name}.{i}` of a ClassificationHead: per layer a Dropout, then a Linear (and the activation, except last). */
function headExpected(head: Record<string, unknown>, d: number): Shapes {
  const config = head.config as { layers: number; num_labels: number; activation_function: string | null };
  const out: Shapes = new Map();
  let index = 0;
  for (let l = 0; l < config.layers; l++) {
    index++; // Dropout
    const last = l === config.layers - 1;
    const dOut = last ? config.num_labels : d;
    out.set(`heads.${head.name as string}.${index}.weight`, [dOut, d]);
    out.set(`heads.${head.name as string}.${index}.bias`, [dOut]);
    index++;
    if (!last && config.activation_function) index++;
  }
  return out;
}

const HUB_CASES: [string, (shape: EncoderShape) => PeftConfig][] = [
  ['serial (Pfeiffer, SeqBn)', () => ({ serialAdapter: { placement: 'pfeiffer', size: 4, layers: [0, 2], activation: 'relu' } })],
  ['double serial (Houlsby, DoubleSeqBn)', () => ({ serialAdapter: { placement: 'houlsby', size: 2, layers: [0, 1, 2], activation: 'swish' } })],
  ['parallel (ParBn)', () => ({ parallelAdapter: { size: 8, layers: [1], scaling: 4, activation: 'relu' } })],
  ['serial with widths differing by layer (per-layer reduction_factor)', () => ({ serialAdapter: { placement: 'houlsby', size: 8, layers: [0, 1, 2], activation: 'relu', sizeByLayer: { '0': 2, '2': 4 } } })],
  ['parallel with widths differing by layer (per-layer reduction_factor)', () => ({ parallelAdapter: { size: 4, layers: [1, 2], scaling: 4, activation: 'relu', sizeByLayer: { '2': 16 } } })],
  ['prefix-tuning (flat, from the MLP)', () => ({ prefix: { length: 3, layers: [0, 2], reparamSize: 8 } })],
  ['LoRA', () => ({ lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value', 'ffnIn', 'ffnOut'], layers: [0, 1] } })],
  ['LoRA-FA', (s) => PEFT_METHODS.loraFa.example(s)],
  ['PiSSA', (s) => PEFT_METHODS.pissa.example(s)],
  ['(IA)3', () => ({ ia3: { layers: [1, 2] } })],
  ['prompt tuning', () => ({ promptTuning: { length: 4 } })],
  ['MAM (prefix + parallel)', () => ({ prefix: { length: 3, layers: [0, 1, 2], reparamSize: 8 }, parallelAdapter: { size: 8, layers: [0, 1, 2], scaling: 4, activation: 'relu' } })],
  [
    'UniPELT (gated prefix + serial + LoRA)',
    () => ({
      prefix: { length: 2, layers: [0, 1, 2], reparamSize: 0 },
      serialAdapter: { placement: 'pfeiffer', size: 4, layers: [0, 1, 2], activation: 'relu' },
      lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query', 'value'], layers: [0, 1, 2] },
      gates: { lora: true, serialAdapter: true, prefix: true },
    }),
  ],
];

describe("AdapterHub: the exported keys are the ones adapters' load_adapter creates and keeps", () => {
  for (const kind of ['bert', 'roberta'] as const) {
    for (const [label, make] of HUB_CASES) {
      it(`${label} on ${kind === 'bert' ? 'BertAdapterModel' : 'RobertaAdapterModel'}: adapter and head keys, shapes, float scaling`, () => {
        const shape = SHAPES[kind];
        const peft = make(shape);
        const files = adapterHubExport(peft, storedArrays(peft, shape, kind), shape, { modelType: kind, modelName: 'x', name: 'trial_7' }, { kind, outputs: LABELS, labels: ['a', 'b', 'c'] });
        const config = JSON.parse(files.config) as Record<string, unknown>;
        expect(config).toMatchObject({ model_type: kind, model_class: kind === 'bert' ? 'BertAdapterModel' : 'RobertaAdapterModel', name: 'trial_7', hidden_size: 16 });
        const result = compare(fileShapes(files.weights, 'adapter.safetensors'), hubExpected(config, shape));
        expect(result).toEqual({ unexpected: [], missing: [], wrongShape: [] });
        // Every key passes the loader's filter for the adapter's name.
        for (const k of fileShapes(files.weights, 'adapter.safetensors').keys()) expect(k).toMatch(/(\.adapters|\.prefix_tunings|\.prefix_gates|\.loras|\.prompt_tunings)\.trial_7\./);
        // `scaling` and `dropout` are JSON floats: adapters tests isinstance(scaling, float).
        for (const [, value] of files.config.matchAll(/"(?:scaling|dropout|stochastic_depth)": ([^,\n]+)/g)) expect(value).toMatch(/\./);

        const head = JSON.parse(files.headConfig) as Record<string, unknown>;
        expect(head).toMatchObject({
          name: 'trial_7',
          model_class: config.model_class,
          model_type: kind,
          hidden_size: 16,
          config: { head_type: 'classification', num_labels: LABELS, layers: kind === 'bert' ? 1 : 2, use_pooler: kind === 'bert', label2id: { a: 0, b: 1, c: 2 }, bias: true },
        });
        expect(compare(fileShapes(files.headWeights, 'model_head.safetensors'), headExpected(head, 16))).toEqual({ unexpected: [], missing: [], wrongShape: [] });
      });
    }
  }

  it('refuses LoRA with per-layer ranks, saying why and which exports keep them', () => {
    const shape = SHAPES.bert;
    expect(() => adapterHubExport(PER_LAYER_LORA, storedArrays(PER_LAYER_LORA, shape, 'bert'), shape, { modelType: 'bert', modelName: 'x', name: 'n' }, { kind: 'bert', outputs: LABELS, labels: [] })).toThrow(
      /AdapterHub LoRA has one rank for the same matrices of every layer it adapts; this configuration sets LoRA ranks per layer .* Hugging Face PEFT export \(rank_pattern\)/,
    );
  });

  it('writes per-layer widths as the per-layer reduction_factor map', () => {
    const shape = SHAPES.bert;
    const peft: PeftConfig = { serialAdapter: { placement: 'pfeiffer', size: 8, layers: [0, 1, 2], activation: 'relu', sizeByLayer: { '0': 2, '2': 4 } } };
    const files = adapterHubExport(peft, storedArrays(peft, shape, 'bert'), shape, { modelType: 'bert', modelName: 'x', name: 'n' }, { kind: 'bert', outputs: LABELS, labels: [] });
    expect((JSON.parse(files.config) as { config: { reduction_factor: unknown } }).config.reduction_factor).toEqual({ '0': 8, '2': 4, default: 2 });
  });

  it('writes scaling 1 and 4 as 1.0 and 4.0, which Python reads as floats', () => {
    const shape = SHAPES.bert;
    const peft: PeftConfig = { parallelAdapter: { size: 8, layers: [0], scaling: 4, activation: 'relu' } };
    const files = adapterHubExport(peft, storedArrays(peft, shape, 'bert'), shape, { modelType: 'bert', modelName: 'x', name: 'n' }, { kind: 'bert', outputs: LABELS, labels: ['a', 'b', 'c'] });
    expect(files.config).toContain('"scaling": 4.0');
    const serial: PeftConfig = { serialAdapter: { placement: 'pfeiffer', size: 4, layers: [0], activation: 'relu' } };
    expect(adapterHubExport(serial, storedArrays(serial, shape, 'bert'), shape, { modelType: 'bert', modelName: 'x', name: 'n' }, { kind: 'bert', outputs: LABELS, labels: [] }).config).toContain('"scaling": 1.0');
  });
});
