import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { countPeftParams } from '../search/param-count.js';
import type { EncoderShape, PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import type { NamedArray } from '../workers/export/index.js';
import {
  ADAPTER_WEIGHTS_FILE,
  BUNDLE_FILES,
  ExportError,
  adapterHubConfig,
  exportTrainedAdapter,
  hfPeftExport,
  parseProjectConfig,
  rebuildAdapter,
  toNamedArrays,
} from '../workers/export/index.js';
import { trialBundleFiles } from '../workers/export/bundle.js';
import { BertEncoder } from '../workers/model/encoder.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { parseSafetensors } from '../workers/model/safetensors.js';
import type { EncoderWeights } from '../workers/model/weights.js';
import { createRandomWeights, disposeWeights } from '../workers/model/weights.js';
import { buildPeftModules, storedPeftWeights } from '../workers/peft/build.js';
import type { PeftModule } from '../workers/peft/peft-module.js';

const SHAPE: EncoderShape = { vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, typeVocabSize: 2 };
const BASE = { name: 'tiny-test', modelType: 'bert' as const, shape: SHAPE, baseParams: 12345 };
const HEAD = { kind: 'bert' as const, task: 'classification' as const, outputs: 3, labels: ['a', 'b', 'c'] };

let tf: Tf;
let weights: EncoderWeights;
let encoder: BertEncoder;

beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  weights = createRandomWeights(tf, SHAPE, 3);
  encoder = new BertEncoder(tf, SHAPE, weights);
});

afterAll(() => {
  encoder.dispose();
  disposeWeights(weights);
});

/** Modules and head with random (non-initial) values, and their stored weights as arrays. */
function trained(peft: PeftConfig): { modules: PeftModule[]; head: SequenceClassificationHead; arrays: Map<string, NamedArray> } {
  const modules = buildPeftModules(tf, peft, SHAPE, 4, { weights });
  const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 3, 5, 0.1);
  for (const v of [...modules.flatMap((m) => [...m.variables.values()]), ...head.variables.values()]) {
    v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.2, 'float32', v.size))));
  }
  const stored = storedPeftWeights(tf, modules);
  const arrays = toNamedArrays(new Map<string, Tensor>([...stored, ...head.variables]));
  tf.dispose([...stored.values()]);
  return { modules, head, arrays };
}

function dispose(t: { modules: PeftModule[]; head: SequenceClassificationHead }): void {
  t.head.dispose();
  for (const m of t.modules) m.dispose();
}

function logits(modules: readonly PeftModule[], head: SequenceClassificationHead): Float32Array {
  return tf
    .tidy(() => {
      const ids = tf.tensor2d([[1, 5, 6, 7, 2, 0], [1, 9, 2, 0, 0, 0]], [2, 6], 'int32') as Tensor2D;
      const mask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], [2, 6]) as Tensor2D;
      const ctx = inferenceContext();
      return head.forward(encoder, encoder.encode({ ids, mask }, modules, ctx), ctx);
    })
    .dataSync() as Float32Array;
}

const fullMatch = (pattern: string, name: string): boolean => new RegExp(`^(?:${pattern})$`).test(name);

describe('project configuration export', () => {
  const hybrid: PeftConfig = {
    serialAdapter: { placement: 'pfeiffer', size: 4, layers: [0, 1], activation: 'relu' },
    parallelAdapter: { size: 8, layers: [0, 1], scaling: 4, activation: 'relu' },
    prefix: { length: 3, layers: [0, 1], reparamSize: 8 },
    lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'ffnOut'], layers: [1] },
    bitfit: { layers: [0] },
    promptTuning: { length: 2 },
  };

  it('is complete enough to rebuild the trained model with identical outputs', () => {
    const t = trained(hybrid);
    const bundle = exportTrainedAdapter({ adapterName: 'x', baseModel: BASE, peft: hybrid, head: HEAD, weights: t.arrays, metrics: { accuracy: 0.5 } });
    const config = parseProjectConfig(bundle.files[BUNDLE_FILES.projectConfig] as string);
    expect(config.format).toBe('autopeft.trial-config/v1');
    expect(config.peft).toEqual(hybrid);
    expect(config.baseModel).toEqual({ name: 'tiny-test', modelType: 'bert', shape: SHAPE, huggingFace: false });
    expect(config.head).toEqual(HEAD);
    expect(config.parameters.stored).toBe(countPeftParams(hybrid, SHAPE, 'stored'));
    expect(config.parameters.trainable).toBe(countPeftParams(hybrid, SHAPE, 'training') + 16 * 3 + 3);
    expect(config.parameters.storedPercentOfBase).toBeCloseTo((100 * config.parameters.stored) / 12345, 10);
    expect(config.weights.file).toBe(ADAPTER_WEIGHTS_FILE);
    expect(config.weights.tensors['encoder.layer.0.attention.self.prefix_key']).toEqual([3, 16]);
    const rebuilt = rebuildAdapter(tf, config, bundle.files[BUNDLE_FILES.projectWeights] as Uint8Array, weights);
    const a = logits(rebuilt.modules, rebuilt.head);
    const b = logits(t.modules, t.head);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    rebuilt.dispose();
    dispose(t);
    // Neither AdapterHub (a serial and a parallel adapter at one place) nor PEFT (a hybrid) holds it: notes say so.
    expect(bundle.notes.some((n) => /^No AdapterHub export: adapters cannot hold two bottleneck adapters/.test(n))).toBe(true);
    expect(bundle.notes.some((n) => /single method per adapter; this configuration combines/.test(n))).toBe(true);
    expect(bundle.files[BUNDLE_FILES.peftConfig]).toBeUndefined();
    expect(bundle.files[BUNDLE_FILES.hubConfig]).toBeUndefined();
    expect(Object.keys(bundle.files).sort()).toEqual([BUNDLE_FILES.projectConfig, BUNDLE_FILES.projectWeights].sort());
  });

  it('full fine-tuning: the project download holds the weight deltas (the closed form), rebuilds to the same logits, and the PEFT folders say why they are absent', () => {
    const peft: PeftConfig = { full: { layers: [0, 1] } };
    const t = trained(peft);
    const bundle = exportTrainedAdapter({ adapterName: 'x', baseModel: BASE, peft, head: HEAD, weights: t.arrays, metrics: { accuracy: 0.5 } });
    const config = parseProjectConfig(bundle.files[BUNDLE_FILES.projectConfig] as string);
    const d = SHAPE.hiddenSize;
    const ff = SHAPE.intermediateSize;
    // Every kernel, bias and LayerNorm of both layers, by hand: 4 d^2 + 2 d ff + 5 d + ff + 4 d each.
    expect(config.parameters.stored).toBe(2 * (4 * d * d + 2 * d * ff + 9 * d + ff));
    expect(config.weights.tensors['encoder.layer.1.intermediate.dense.full_delta.kernel']).toEqual([d, ff]);
    expect(config.weights.tensors['encoder.layer.0.attention.output.LayerNorm.full_delta.weight']).toEqual([d]);
    const file = parseSafetensors(bundle.files[BUNDLE_FILES.projectWeights] as Uint8Array, 'weights');
    const deltas = [...file.entries].filter(([name]) => name.includes('.full_delta.'));
    expect(deltas.reduce((sum, [, e]) => sum + e.shape.reduce((a, b) => a * b, 1), 0)).toBe(config.parameters.stored);
    const rebuilt = rebuildAdapter(tf, config, bundle.files[BUNDLE_FILES.projectWeights] as Uint8Array, weights);
    const a = logits(rebuilt.modules, rebuilt.head);
    const b = logits(t.modules, t.head);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    // The deltas matter: the base model alone gives other logits.
    const base = logits([], t.head);
    expect(Math.max(...a.map((v, i) => Math.abs(v - base[i]!)))).toBeGreaterThan(1e-3);
    rebuilt.dispose();
    dispose(t);
    expect(bundle.files[BUNDLE_FILES.peftConfig]).toBeUndefined();
    expect(bundle.files[BUNDLE_FILES.hubConfig]).toBeUndefined();
    expect(bundle.notes.some((n) => /Hugging Face PEFT has no full fine-tuning/.test(n)), bundle.notes.join(' | ')).toBe(true);
    expect(bundle.notes.some((n) => /AdapterHub has no full fine-tuning/.test(n)), bundle.notes.join(' | ')).toBe(true);
  });

  it("names the base model by its _name_or_path where it has one, else a placeholder the bundle's README explains", () => {
    const peft: PeftConfig = { lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value'], layers: [0, 1] } };
    const t = trained(peft);
    const named = exportTrainedAdapter({ adapterName: 'n', baseModel: { ...BASE, huggingFace: { nameOrPath: 'prajjwal1/bert-tiny' } }, peft, head: HEAD, weights: t.arrays });
    expect(JSON.parse(named.files[BUNDLE_FILES.peftConfig] as string)).toMatchObject({ base_model_name_or_path: 'prajjwal1/bert-tiny', peft_version: '0.18.0' });
    expect(JSON.parse(named.files[BUNDLE_FILES.hubConfig] as string)).toMatchObject({ model_name: 'prajjwal1/bert-tiny' });
    const unnamed = exportTrainedAdapter({ adapterName: 'n', baseModel: BASE, peft, head: HEAD, weights: t.arrays });
    expect(JSON.parse(unnamed.files[BUNDLE_FILES.peftConfig] as string).base_model_name_or_path).toBe('<pass the base model yourself: AutoPEFT\'s "tiny-test">');
    const readme = (bundle: typeof named): string => {
      const files = new Map(Object.entries(bundle.files).map(([k, v]) => [k, typeof v === 'string' ? Buffer.from(v) : v]));
      const config = JSON.parse(bundle.files[BUNDLE_FILES.projectConfig] as string) as Record<string, unknown>;
      const out = trialBundleFiles({ study: { id: 's', name: 'n', dataset: 'd', metric: 'accuracy' }, trial: { number: 1, training: {} }, config, files, notes: bundle.notes });
      expect([...out.keys()].slice(0, 2)).toEqual(['README.md', 'hf-peft/README.md']);
      return Buffer.from(out.get('README.md')!).toString('utf8');
    };
    expect(readme(named)).toContain('from_pretrained("prajjwal1/bert-tiny", num_labels=3, id2label={0: "a", 1: "b", 2: "c"})');
    expect(readme(unnamed)).toContain('`tiny-test` is seeded random weights that exist only inside AutoPEFT');
    dispose(t);
  });

  it('rejects a file that is not a project configuration, naming the field', () => {
    expect(() => parseProjectConfig('{"format":"other"}')).toThrow(/format must be "autopeft.trial-config\/v1"/);
    expect(() => parseProjectConfig('{"format":"autopeft-adapter","version":1}')).toThrow(/format must be/);
    expect(() => parseProjectConfig('{"format":"autopeft.trial-config/v1"}')).toThrow(/baseModel is required/);
  });
});

describe('AdapterHub adapter_config.json', () => {
  const target = { modelType: 'bert' as const, modelName: 'bert-base-uncased', name: 'autopeft' };
  const BOTTLENECK_KEYS = [
    'adapter_residual_before_ln', 'dropout', 'init_weights', 'inv_adapter', 'is_parallel', 'leave_out', 'ln_after', 'ln_before', 'mh_adapter',
    'non_linearity', 'original_ln_after', 'original_ln_before', 'output_adapter', 'phm_layer', 'reduction_factor', 'residual_before_ln',
    'scaling', 'stochastic_depth', 'use_gating',
  ];

  it('describes a Pfeiffer adapter as SeqBn, with leave_out and the wrapper keys', () => {
    const { file, warnings } = adapterHubConfig({ serialAdapter: { placement: 'pfeiffer', size: 4, layers: [1], activation: 'relu' } }, SHAPE, target);
    expect(Object.keys(file).sort()).toEqual(['config', 'hidden_size', 'model_class', 'model_name', 'model_type', 'name', 'version']);
    expect(file).toMatchObject({ hidden_size: 16, model_class: 'BertAdapterModel', model_type: 'bert', version: 'adapters.1.2.0' });
    const config = file.config as Record<string, unknown>;
    expect(Object.keys(config).sort()).toEqual(BOTTLENECK_KEYS);
    expect(config).toMatchObject({ mh_adapter: false, output_adapter: true, reduction_factor: 4, non_linearity: 'relu', original_ln_before: true, residual_before_ln: true, is_parallel: false, leave_out: [0] });
    expect(warnings).toEqual([]);
  });

  it('describes MAM as a union of prefix-tuning and a parallel bottleneck', () => {
    const peft: PeftConfig = { prefix: { length: 30, layers: [0, 1], reparamSize: 800 }, parallelAdapter: { size: 8, layers: [0, 1], scaling: 4, activation: 'relu' } };
    const { file, warnings } = adapterHubConfig(peft, SHAPE, target);
    const config = file.config as { architecture: string; configs: Record<string, unknown>[] };
    expect(config.architecture).toBe('union');
    expect(config.configs[0]).toEqual({
      architecture: 'prefix_tuning', encoder_prefix: true, cross_prefix: true, leave_out: [], flat: true, prefix_length: 30,
      bottleneck_size: 800, non_linearity: 'tanh', dropout: 0, use_gating: false, shared_gating: true,
    });
    expect(config.configs[1]).toMatchObject({ is_parallel: true, scaling: 4, reduction_factor: 2, original_ln_before: false, init_weights: 'mam_adapter' });
    expect(warnings).toEqual([expect.stringMatching(/^prefix-tuning: adapters numbers the real tokens from 0/)]);
  });

  it('describes UniPELT with gates, LoRA and (IA)3 as lora architectures, and warns of union conflicts', () => {
    const unipelt = adapterHubConfig(
      {
        prefix: { length: 10, layers: [0, 1], reparamSize: 512 },
        serialAdapter: { placement: 'pfeiffer', size: 1, layers: [0, 1], activation: 'relu' },
        lora: { rank: 8, alpha: 2, dropout: 0, targets: ['query', 'value'], layers: [0, 1] },
        gates: { lora: true, serialAdapter: true, prefix: true },
      },
      SHAPE,
      target,
    );
    const configs = (unipelt.file.config as { configs: Record<string, unknown>[] }).configs;
    expect(configs.map((c) => c.use_gating)).toEqual([true, true, true]);
    expect(configs[2]).toEqual({
      architecture: 'lora', selfattn_lora: true, intermediate_lora: false, output_lora: false, leave_out: [], r: 8, alpha: 2, dropout: 0,
      attn_matrices: ['q', 'v'], composition_mode: 'add', init_weights: 'lora', use_gating: true,
    });
    // LoRA and (IA)3 in the same layers: adapters' match() finds two LoRA-type children there.
    expect(() => adapterHubConfig({ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['key'], layers: [0, 1] }, ia3: { layers: [0, 1] } }, SHAPE, target)).toThrow(/two "lora" modules at the same place \(selfattn_lora, layer 0\)/);
    // In disjoint layers they coexist.
    const disjoint = adapterHubConfig({ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['key'], layers: [0] }, ia3: { layers: [1] } }, SHAPE, target);
    expect((disjoint.file.config as { configs: Record<string, unknown>[] }).configs[1]).toMatchObject({ composition_mode: 'scale', r: 1, alpha: 1, attn_matrices: ['k', 'v'], intermediate_lora: true, leave_out: [0] });
    expect(() =>
      adapterHubConfig(
        { serialAdapter: { placement: 'pfeiffer', size: 2, layers: [0, 1], activation: 'relu' }, parallelAdapter: { size: 2, layers: [1], scaling: 4, activation: 'relu' } },
        SHAPE,
        target,
      ),
    ).toThrow(/two bottleneck adapters \(e.g. a serial and a parallel one\) at the same place \(output_adapter, layer 1\)/);
  });

  it('refuses what AdapterHub cannot describe', () => {
    expect(() => adapterHubConfig({ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['attentionOutput'], layers: [0] } }, SHAPE, target)).toThrow(ExportError);
    expect(() => adapterHubConfig({ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query', 'value'], layers: [0], rankPerTarget: { value: 4 } } }, SHAPE, target)).toThrow(/one rank/);
    expect(() => adapterHubConfig({}, SHAPE, target)).toThrow(/no module/);
  });
});

describe('Hugging Face PEFT export', () => {
  const target = { modelType: 'bert' as const, baseModelName: 'bert-base-uncased', shape: SHAPE, headKind: 'bert' as const };

  function parse(exported: { adapterConfig: string; weights: Uint8Array }): { config: Record<string, unknown>; file: ReturnType<typeof parseSafetensors> } {
    const config = JSON.parse(exported.adapterConfig) as Record<string, unknown>;
    // save_pretrained writes sorted keys with an indent of 2.
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    expect(exported.adapterConfig).toContain('\n  "');
    const file = parseSafetensors(exported.weights, 'adapter_model.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    for (const entry of file.entries.values()) expect(entry.dtype).toBe('F32');
    return { config, file };
  }

  it('LoRA: keys, [out, in] layouts, a target pattern that tells output.dense from attention.output.dense', () => {
    const peft: PeftConfig = { lora: { rank: 2, alpha: 8, dropout: 0.1, targets: ['query', 'ffnOut'], layers: [1], rankPerTarget: { ffnOut: 3 } } };
    const t = trained(peft);
    const { config, file } = parse(hfPeftExport(peft, t.arrays, target));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', r: 2, lora_alpha: 8, lora_dropout: 0.1, bias: 'none', inference_mode: true, base_model_name_or_path: 'bert-base-uncased', modules_to_save: ['classifier', 'score'] });
    const pattern = config.target_modules as string;
    expect(fullMatch(pattern, 'bert.encoder.layer.1.attention.self.query')).toBe(true);
    expect(fullMatch(pattern, 'bert.encoder.layer.1.output.dense')).toBe(true);
    expect(fullMatch(pattern, 'bert.encoder.layer.1.attention.output.dense')).toBe(false);
    expect(fullMatch(pattern, 'bert.encoder.layer.0.attention.self.query')).toBe(false);
    expect(config.rank_pattern).toEqual({ 'encoder\\.layer\\.\\d+\\.output\\.dense': 3 });
    const key = 'base_model.model.bert.encoder.layer.1.attention.self.query';
    expect([...file.entries.keys()].sort()).toEqual(
      [
        `${key}.lora_A.weight`, `${key}.lora_B.weight`,
        'base_model.model.bert.encoder.layer.1.output.dense.lora_A.weight', 'base_model.model.bert.encoder.layer.1.output.dense.lora_B.weight',
        'base_model.model.classifier.weight', 'base_model.model.classifier.bias',
      ].sort(),
    );
    expect(file.entries.get(`${key}.lora_A.weight`)!.shape).toEqual([2, 16]);
    expect(file.entries.get(`${key}.lora_B.weight`)!.shape).toEqual([16, 2]);
    expect(file.entries.get('base_model.model.bert.encoder.layer.1.output.dense.lora_A.weight')!.shape).toEqual([3, 32]);
    expect(file.entries.get('base_model.model.classifier.weight')!.shape).toEqual([3, 16]);
    // lora_A.weight[i][j] = A[j][i] (A is [in, r] here).
    const a = t.arrays.get('encoder.layer.1.attention.self.query.lora_A.kernel')!.data;
    const exported = file.read(`${key}.lora_A.weight`);
    expect(exported[1 * 16 + 5]).toBe(a[5 * 2 + 1]);
    dispose(t);
  });

  it('IA3: ia3_l as [out, 1] for key/value and [1, in] for the feed-forward target', () => {
    const peft: PeftConfig = { ia3: { layers: [0, 1] } };
    const t = trained(peft);
    const { config, file } = parse(hfPeftExport(peft, t.arrays, target));
    expect(config.peft_type).toBe('IA3');
    expect(fullMatch(config.feedforward_modules as string, 'bert.encoder.layer.0.output.dense')).toBe(true);
    expect(fullMatch(config.feedforward_modules as string, 'bert.encoder.layer.0.attention.output.dense')).toBe(false);
    expect(fullMatch(config.target_modules as string, 'bert.encoder.layer.1.attention.self.key')).toBe(true);
    expect(file.entries.get('base_model.model.bert.encoder.layer.0.attention.self.key.ia3_l')!.shape).toEqual([16, 1]);
    expect(file.entries.get('base_model.model.bert.encoder.layer.1.output.dense.ia3_l')!.shape).toEqual([1, 32]);
    dispose(t);
  });

  it('prefix-tuning: one prompt_embeddings [p, 2 L d] with layer l keys and values in blocks 2l and 2l+1', () => {
    const peft: PeftConfig = { prefix: { length: 3, layers: [0, 1], reparamSize: 8 } };
    const t = trained(peft);
    const { config, file } = parse(hfPeftExport(peft, t.arrays, target));
    expect(config).toMatchObject({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, token_dim: 16, num_layers: 2, num_attention_heads: 2, num_transformer_submodules: 1, prefix_projection: false, encoder_hidden_size: 8 });
    expect(file.entries.get('prompt_embeddings')!.shape).toEqual([3, 64]);
    const table = file.read('prompt_embeddings');
    const value1 = t.arrays.get('encoder.layer.1.attention.self.prefix_value')!.data;
    expect(table[2 * 64 + 3 * 16 + 7]).toBe(value1[2 * 16 + 7]);
    expect([...file.entries.keys()].sort()).toEqual(['base_model.classifier.bias', 'base_model.classifier.weight', 'prompt_embeddings']);
    dispose(t);
    expect(() => hfPeftExport({ prefix: { length: 3, layers: [1], reparamSize: 0 } }, new Map(), target)).toThrow(/prefix-tuning covers every layer/);
  });

  it('prompt tuning: prompt_embeddings [p, d]', () => {
    const peft: PeftConfig = { promptTuning: { length: 4 } };
    const t = trained(peft);
    const { config, file } = parse(hfPeftExport(peft, t.arrays, target));
    expect(config).toMatchObject({ peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4, prompt_tuning_init: 'RANDOM' });
    expect(file.entries.get('prompt_embeddings')!.shape).toEqual([4, 16]);
    dispose(t);
  });

  it('explains why a configuration has no PEFT form', () => {
    const cases: [PeftConfig, RegExp][] = [
      [{ serialAdapter: { placement: 'pfeiffer', size: 2, layers: [0], activation: 'relu' } }, /no bottleneck adapters/],
      [{ bitfit: { layers: [0] } }, /no BitFit/],
      [{ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query'], layers: [0] }, gates: { lora: true } }, /no UniPELT gates/],
      [{ lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query'], layers: [0] }, promptTuning: { length: 2 } }, /combines lora \+ promptTuning/],
    ];
    for (const [peft, message] of cases) expect(() => hfPeftExport(peft, new Map(), target)).toThrow(message);
  });
});
