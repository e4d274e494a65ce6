/**
 * The exported Hugging Face PEFT adapters compute what the project computes: for LoRA (with
 * per-target ranks), (IA)3, prompt tuning and prefix-tuning on the tiny BERT and RoBERTa
 * checkpoints, a float64 PyTorch re-implementation of transformers + PEFT with the adapter loaded
 * (test/fixtures/make_peft_load_fixtures.py, run once; its output is committed) gives logits
 * that our tfjs forward pass on the same weights reproduces within 1e-4, and our export of those
 * weights is exactly the file the reference loaded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { hfPeftExport } from '../workers/export/hf-peft.js';
import type { NamedArray } from '../workers/export/weights.js';
import { getBaseModel } from '../workers/model/base-model.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import { parseHfConfig } from '../workers/model/hf-config.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { parseSafetensors } from '../workers/model/safetensors.js';
import { hfDirEntry, registerBaseModel } from '../workers/models/catalog.js';
import { buildPeftModules, loadPeftWeights } from '../workers/peft/build.js';
import type { PeftModule } from '../workers/peft/peft-module.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface Stored {
  shape: number[];
  data: number[];
}
interface FixtureAdapter {
  method: 'lora' | 'ia3' | 'prompt' | 'prefix';
  alpha?: number;
  ranks?: Record<string, number>;
  headPrefix: string;
  tensors: Record<string, Stored>;
  head: Record<string, Stored>;
  logits: number[][];
}
interface FixtureModel {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][] | null;
  adapters: FixtureAdapter[];
}
const fixture = JSON.parse(readFileSync(path.join(FIXTURES, 'peft-load.json'), 'utf8')) as Record<'bert' | 'roberta', FixtureModel>;

let tf: Tf;
beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  registerBaseModel('fixture-bert', hfDirEntry(path.join(FIXTURES, 'hf', 'bert')));
  registerBaseModel('fixture-roberta', hfDirEntry(path.join(FIXTURES, 'hf', 'roberta')));
});

/** `[rows, cols]` row-major data transposed. */
function transpose(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** The project configuration the fixture's adapter is. */
function peftOf(adapter: FixtureAdapter, layers: number[]): PeftConfig {
  switch (adapter.method) {
    case 'lora':
      return { lora: { rank: adapter.ranks!.query!, alpha: adapter.alpha!, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers, rankPerTarget: { value: adapter.ranks!.value! } } };
    case 'ia3':
      return { ia3: { layers } };
    case 'prompt':
      return { promptTuning: { length: adapter.tensors.prompt_embeddings!.shape[0]! } };
    case 'prefix':
      return { prefix: { length: adapter.tensors.prompt_embeddings!.shape[0]!, layers, reparamSize: 0 } };
  }
}

/**
 * The fixture's PEFT-named tensors under the project's names (kernels `[in, out]`): the inverse
 * of the export, written from PEFT's layouts.
 */
function projectWeights(adapter: FixtureAdapter, backbone: string, d: number, numLayers: number): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  const tuner = `base_model.model.${backbone}.`;
  for (const [name, t] of Object.entries(adapter.tensors)) {
    if (name === 'prompt_embeddings' && adapter.method === 'prompt') {
      out.set('prompt_embeddings', { shape: t.shape, data: Float32Array.from(t.data) });
    } else if (name === 'prompt_embeddings') {
      // [p, 2 L d]: per layer its keys, then its values.
      const [p, width] = t.shape as [number, number];
      for (let layer = 0; layer < numLayers; layer++) {
        for (const [part, offset] of [['prefix_key', 2 * layer * d], ['prefix_value', (2 * layer + 1) * d]] as const) {
          const data = new Float32Array(p * d);
          for (let r = 0; r < p; r++) data.set(t.data.slice(r * width + offset, r * width + offset + d), r * d);
          out.set(`encoder.layer.${layer}.attention.self.${part}`, { shape: [p, d], data });
        }
      }
    } else if (name.endsWith('.ia3_l')) {
      out.set(name.slice(tuner.length), { shape: [t.data.length], data: Float32Array.from(t.data) });
    } else {
      const [rows, cols] = t.shape as [number, number];
      out.set(name.slice(tuner.length).replace(/\.weight$/, '.kernel'), { shape: [cols, rows], data: transpose(t.data, rows, cols) });
    }
  }
  for (const [name, t] of Object.entries(adapter.head)) {
    if (t.shape.length === 2) {
      const [rows, cols] = t.shape as [number, number];
      out.set(name.replace(/\.weight$/, '.kernel'), { shape: [cols, rows], data: transpose(t.data, rows, cols) });
    } else {
      out.set(name, { shape: t.shape, data: Float32Array.from(t.data) });
    }
  }
  return out;
}

/** Logits of our encoder with the adapter's modules and head. */
function ourLogits(
  kind: 'bert' | 'roberta',
  model: FixtureModel,
  peft: PeftConfig,
  weights: Map<string, NamedArray>,
  outputs: number,
  alter?: (modules: PeftModule[]) => void,
): Float32Array {
  const base = getBaseModel(tf, `fixture-${kind}`);
  const tensors = new Map<string, Tensor>([...weights].map(([name, w]) => [name, tf.tensor(w.data, w.shape)]));
  const modules = buildPeftModules(tf, peft, base.shape, 0, { weights: base.encoder.weights, mode: 'stored' });
  loadPeftWeights(modules, tensors);
  alter?.(modules);
  const head = new SequenceClassificationHead(tf, base.headKind, base.shape.hiddenSize, outputs, 0, 0.1, tensors);
  const batch = model.input_ids.length;
  const n = model.input_ids[0]!.length;
  const ids = tf.tensor2d(model.input_ids.flat(), [batch, n], 'int32') as Tensor2D;
  const mask = tf.tensor2d(model.attention_mask.flat(), [batch, n]) as Tensor2D;
  const typeIds = model.token_type_ids ? (tf.tensor2d(model.token_type_ids.flat(), [batch, n], 'int32') as Tensor2D) : undefined;
  const ctx = inferenceContext();
  const logits = tf.tidy(() => head.forward(base.encoder, base.encoder.encode({ ids, mask, typeIds }, modules, ctx), ctx));
  const values = logits.dataSync() as Float32Array;
  tf.dispose([logits, ids, mask, ...(typeIds ? [typeIds] : []), ...tensors.values()]);
  head.dispose();
  for (const m of modules) m.dispose();
  return values;
}

const METHOD_NAMES = { lora: 'LoRA', ia3: '(IA)3', prompt: 'prompt tuning', prefix: 'prefix-tuning' } as const;

describe('PEFT exports against a float64 torch reference of the loaded adapter', () => {
  for (const kind of ['bert', 'roberta'] as const) {
    for (const adapter of fixture[kind].adapters) {
      it(`${kind} ${METHOD_NAMES[adapter.method]}: our logits equal the loaded adapter's within 1e-4, and our export is the file it loaded`, () => {
        const base = getBaseModel(tf, `fixture-${kind}`);
        const { shape } = base;
        const layers = Array.from({ length: shape.numLayers }, (_, i) => i);
        const peft = peftOf(adapter, layers);
        const weights = projectWeights(adapter, kind, shape.hiddenSize, shape.numLayers);
        const outputs = adapter.logits[0]!.length;
        const ours = ourLogits(kind, fixture[kind], peft, weights, outputs);
        const expected = adapter.logits.flat();
        let diff = 0;
        for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - expected[i]!));
        console.log(`[export-load] ${kind} ${adapter.method}: max |ours - torch reference| = ${diff.toExponential(2)}`);
        expect(diff).toBeLessThan(1e-4);
        // Outputs vary across examples and classes, so agreement is not a constant's.
        expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.1);

        // Our export of those weights is exactly what the reference loaded.
        const exported = hfPeftExport(peft, weights, { modelType: kind, baseModelName: `fixture-${kind}`, shape, headKind: base.headKind });
        const file = parseSafetensors(exported.weights, 'adapter_model.safetensors');
        const wanted = new Map([
          ...Object.entries(adapter.tensors),
          ...Object.entries(adapter.head).map(([name, t]) => [`${adapter.headPrefix}${name}`, t] as const),
        ]);
        expect([...file.entries.keys()].sort()).toEqual([...wanted.keys()].sort());
        for (const [name, t] of wanted) {
          expect(file.entries.get(name)!.shape, name).toEqual(t.shape);
          expect(Array.from(file.read(name)), name).toEqual(Array.from(Float32Array.from(t.data)));
        }
      });
    }
  }

  it("records where a base model's weights come from: a Hugging Face directory's own (with its _name_or_path), or seeded", () => {
    expect(getBaseModel(tf, 'fixture-bert').huggingFace).toEqual({});
    expect(getBaseModel(tf, 'tiny-random').huggingFace).toBeUndefined();
    const config = { model_type: 'bert', vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 16 };
    expect(parseHfConfig(JSON.stringify({ ...config, _name_or_path: 'google-bert/bert-base-uncased' }), 'config.json').nameOrPath).toBe('google-bert/bert-base-uncased');
    expect(parseHfConfig(JSON.stringify({ ...config, _name_or_path: '' }), 'config.json').nameOrPath).toBeUndefined();
  });

  for (const kind of ['bert', 'roberta'] as const) {
    it(`${kind} prefix-tuning: without the position offset (ours before issue 15) the logits differ from the reference`, () => {
      const adapter = fixture[kind].adapters.find((a) => a.method === 'prefix')!;
      const base = getBaseModel(tf, `fixture-${kind}`);
      const layers = Array.from({ length: base.shape.numLayers }, (_, i) => i);
      const weights = projectWeights(adapter, kind, base.shape.hiddenSize, base.shape.numLayers);
      const unshifted = ourLogits(kind, fixture[kind], peftOf(adapter, layers), weights, adapter.logits[0]!.length, (modules) => {
        for (const m of modules) m.pastLength = () => 0;
      });
      const expected = adapter.logits.flat();
      let diff = 0;
      for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(unshifted[i]! - expected[i]!));
      console.log(`[export-load] ${kind} prefix without the offset: max difference ${diff.toExponential(2)}`);
      expect(diff).toBeGreaterThan(1e-2);
    });
  }
});
