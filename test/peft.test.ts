import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { countPeftParams } from '../search/param-count.js';
import type { PeftConfig } from '../search/types.js';
import type { SelectedBackend, Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import type { BertEncoder, EncoderInput } from '../workers/model/encoder.js';
import { inferenceContext } from '../workers/model/forward-context.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { parseSafetensors, writeSafetensors } from '../workers/model/safetensors.js';
import type { EncoderWeights } from '../workers/model/weights.js';
import { namedWeights } from '../workers/model/weights.js';
import { buildPeftModules, loadPeftWeights, storedPeftWeights } from '../workers/peft/build.js';
import { mergePeftModules } from '../workers/peft/merge.js';
import type { PeftModule } from '../workers/peft/peft-module.js';
import { countModuleParams } from '../workers/peft/peft-module.js';
import type { PeftBench } from './helpers/peft-bench.js';
import { BATCH, SEQ, SHAPE, createPeftBench, maxDiff, snapshot } from './helpers/peft-bench.js';

const all = [0, 1, 2];

const CASES: [string, PeftConfig][] = [
  ['LoRA with a per-target rank', { lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 2], rankPerTarget: { ffnOut: 3 } } }],
  ['LoRA with per-layer ranks', { lora: { rank: 3, alpha: 6, dropout: 0, targets: ['query', 'ffnIn'], layers: [0, 1, 2], rankByLayer: { '0': { ffnIn: 0 }, '2': { query: 1, ffnIn: 2 } } } }],
  [
    'adapters with per-layer widths',
    {
      serialAdapter: { placement: 'houlsby', size: 4, layers: [0, 2], activation: 'relu', sizeByLayer: { '2': 1 } },
      parallelAdapter: { size: 8, layers: [1, 2], scaling: 4, activation: 'relu', sizeByLayer: { '1': 2 } },
    },
  ],
  ['Pfeiffer adapter', { serialAdapter: { placement: 'pfeiffer', size: 4, layers: [1, 2], activation: 'relu' } }],
  ['Houlsby adapter', { serialAdapter: { placement: 'houlsby', size: 3, layers: all, activation: 'swish' } }],
  ['parallel adapter', { parallelAdapter: { size: 4, layers: [0, 1], scaling: 4, activation: 'relu' } }],
  ['prefix-tuning with MLP', { prefix: { length: 3, layers: [0, 2], reparamSize: 8 } }],
  ['prefix-tuning without MLP', { prefix: { length: 2, layers: [1], reparamSize: 0 } }],
  ['(IA)3', { ia3: { layers: [0, 1] } }],
  ['BitFit', { bitfit: { layers: [1, 2] } }],
  ['prompt tuning', { promptTuning: { length: 3 } }],
  [
    'UniPELT (gated prefix + Pfeiffer + LoRA)',
    {
      prefix: { length: 2, layers: all, reparamSize: 8 },
      serialAdapter: { placement: 'pfeiffer', size: 4, layers: all, activation: 'relu' },
      lora: { rank: 2, alpha: 2, dropout: 0, targets: ['query', 'value'], layers: all },
      gates: { lora: true, serialAdapter: true, prefix: true },
    },
  ],
  ['MAM (prefix + parallel adapter)', { prefix: { length: 3, layers: all, reparamSize: 8 }, parallelAdapter: { size: 4, layers: all, scaling: 4, activation: 'relu' } }],
  [
    'an AutoPEFT point (serial + parallel + prefix on shared layers)',
    {
      serialAdapter: { placement: 'pfeiffer', size: 2, layers: [0, 2], activation: 'relu' },
      parallelAdapter: { size: 8, layers: [0, 2], scaling: 4, activation: 'relu' },
      prefix: { length: 4, layers: [0, 2], reparamSize: 8 },
    },
  ],
  [
    'everything at once',
    {
      lora: { rank: 2, alpha: 4, dropout: 0.1, targets: ['key', 'ffnIn'], layers: [1] },
      serialAdapter: { placement: 'houlsby', size: 2, layers: [0], activation: 'gelu' },
      parallelAdapter: { size: 2, layers: [2], scaling: 2, activation: 'tanh' },
      prefix: { length: 2, layers: [1], reparamSize: 4 },
      ia3: { layers: [2] },
      bitfit: { layers: [0] },
      promptTuning: { length: 2 },
    },
  ],
];

/** Modules whose fresh state leaves the base model's outputs exactly as they were. */
const IDENTITY_AT_START = new Set(['LoRA with a per-target rank', 'LoRA with per-layer ranks', 'adapters with per-layer widths', 'Pfeiffer adapter', 'Houlsby adapter', 'parallel adapter', '(IA)3', 'BitFit']);

let backend: SelectedBackend;
let tf: Tf;
let bench: PeftBench;
let weights: EncoderWeights;
let encoder: BertEncoder;

beforeAll(async () => {
  backend = await selectBackend({ prefer: 'wasm', log: () => {} });
  tf = backend.tf;
  bench = createPeftBench(tf);
  ({ weights, encoder } = bench);
});

afterAll(() => bench.dispose());

const makeInput = (seed: number): EncoderInput => bench.makeInput(seed);
const disposeInput = (input: EncoderInput): void => bench.disposeInput(input);
const hiddenOf = (enc: BertEncoder, modules: readonly PeftModule[], input: EncoderInput): Float32Array => bench.hiddenOf(enc, modules, input);
const train = (modules: readonly PeftModule[], head: SequenceClassificationHead, input: EncoderInput, steps: number): number[] => bench.train(modules, head, input, steps);

describe.each(CASES)('%s', (name, peft) => {
  let modules: PeftModule[];
  let input: EncoderInput;

  beforeAll(() => {
    modules = buildPeftModules(tf, peft, SHAPE, 5, { weights });
    input = makeInput(1);
  });

  afterAll(() => {
    for (const m of modules) m.dispose();
    disposeInput(input);
  });

  it('counts exactly what the closed forms say, live and stored', () => {
    expect(countModuleParams(modules)).toBe(countPeftParams(peft, SHAPE, 'training'));
    const stored = storedPeftWeights(tf, modules);
    const storedCount = [...stored.values()].reduce((sum, t) => sum + t.size, 0);
    tf.dispose([...stored.values()]);
    expect(storedCount).toBe(countPeftParams(peft, SHAPE, 'stored'));
  });

  it('gives hidden states and logits of the right shape', () => {
    const prompt = peft.promptTuning?.length ?? 0;
    const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 3, 0.1);
    const [hiddenShape, logitsShape] = tf.tidy(() => {
      const out = encoder.encode(input, modules, inferenceContext());
      return [out.hidden.shape, head.forward(encoder, out, inferenceContext()).shape];
    });
    head.dispose();
    expect(hiddenShape).toEqual([BATCH * (SEQ + prompt), SHAPE.hiddenSize]);
    expect(logitsShape).toEqual([BATCH, 2]);
  });

  if (IDENTITY_AT_START.has(name)) {
    it('leaves the outputs unchanged while fresh', () => {
      expect(maxDiff(hiddenOf(encoder, modules, input), hiddenOf(encoder, [], input))).toBeLessThan(1e-6);
    });
  } else {
    it('changes the outputs from the start (learned prefixes or prompts)', () => {
      expect(maxDiff(hiddenOf(encoder, modules, input), hiddenOf(encoder, [], input))).toBeGreaterThan(1e-4);
    });
  }

  it('lowers the loss in a few steps, changing only its own tensors', () => {
    const own = [...modules.flatMap((m) => [...m.variables])];
    const before = snapshot(own);
    const baseBefore = snapshot(namedWeights(weights));
    const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 3, 0);
    const tensorsBefore = tf.memory().numTensors;
    const losses = train(modules, head, input, 12);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    head.dispose();
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    for (const [varName, values] of snapshot(own)) expect(maxDiff(values, before.get(varName)!), varName).toBeGreaterThan(0);
    for (const [weightName, values] of snapshot(namedWeights(weights))) expect(maxDiff(values, baseBefore.get(weightName)!), weightName).toBe(0);
  });

  it('round-trips through safetensors to identical outputs', () => {
    const stored = storedPeftWeights(tf, modules);
    const bytes = writeSafetensors([...stored].map(([n, t]) => ({ name: n, shape: t.shape, data: t.dataSync() as Float32Array })));
    tf.dispose([...stored.values()]);
    const file = parseSafetensors(bytes, 'adapter');
    const loaded = new Map<string, Tensor>([...file.entries].map(([n, e]) => [n, tf.tensor(file.read(n), e.shape)]));
    const rebuilt = buildPeftModules(tf, peft, SHAPE, 12345, { weights, mode: 'stored' });
    loadPeftWeights(rebuilt, loaded);
    tf.dispose([...loaded.values()]);
    expect(maxDiff(hiddenOf(encoder, rebuilt, input), hiddenOf(encoder, modules, input))).toBeLessThan(1e-6);
    for (const m of rebuilt) m.dispose();
  });
});

describe('merging into the base weights', () => {
  it.each([
    ['LoRA', { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'], layers: [0, 2] }],
    ['LoRA with per-layer ranks', { rank: 2, alpha: 4, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 2], rankByLayer: { '0': { value: 0, ffnOut: 3 }, '2': { query: 1 } } }],
  ] as [string, NonNullable<PeftConfig['lora']>][])('%s, (IA)3 and BitFit merged give the unmerged outputs within 1e-5', (_name, lora) => {
    const peft: PeftConfig = { lora, ia3: { layers: [0, 1] }, bitfit: { layers: [2] } };
    const modules = buildPeftModules(tf, peft, SHAPE, 8, { weights });
    // Random values everywhere, so that every factor matters (fresh B and (IA)3 are trivial).
    for (const m of modules) {
      for (const variable of m.variables.values()) {
        variable.assign(tf.tidy(() => tf.add(variable, tf.randomNormal(variable.shape, 0, 0.3, 'float32', 7))));
      }
    }
    const input = makeInput(2);
    const merged = mergePeftModules(tf, encoder, modules);
    expect(merged.modules).toEqual([]);
    const diff = maxDiff(hiddenOf(merged.encoder, merged.modules, input), hiddenOf(encoder, modules, input));
    expect(diff).toBeLessThan(1e-5);
    expect(maxDiff(hiddenOf(encoder, [], input), hiddenOf(encoder, modules, input))).toBeGreaterThan(1e-2);
    const tensors = tf.memory().numTensors;
    merged.dispose();
    expect(tf.memory().numTensors).toBeLessThan(tensors);
    for (const m of modules) m.dispose();
    disposeInput(input);
  });

  it('keeps adapters and gated LoRA unmerged', () => {
    const peft: PeftConfig = {
      lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query'], layers: [0] },
      parallelAdapter: { size: 2, layers: [0], scaling: 4, activation: 'relu' },
      gates: { lora: true },
    };
    const modules = buildPeftModules(tf, peft, SHAPE, 8, { weights });
    const merged = mergePeftModules(tf, encoder, modules);
    expect(merged.modules.map((m) => m.kind)).toEqual(['lora', 'parallelAdapter']);
    merged.dispose();
    for (const m of modules) m.dispose();
  });
});

describe('configuration errors name the field', () => {
  const cases: [PeftConfig, RegExp][] = [
    [{ serialAdapter: { placement: 'pfeiffer', size: 0, layers: [0], activation: 'relu' } }, /serial adapter configuration: size must be a positive integer/],
    [{ serialAdapter: { placement: 'middle' as 'pfeiffer', size: 2, layers: [0], activation: 'relu' } }, /placement must be "pfeiffer" or "houlsby"/],
    [{ parallelAdapter: { size: 2, layers: [0, 3], scaling: 4, activation: 'relu' } }, /parallel adapter configuration: layer 3 is outside 0\.\.2/],
    [{ parallelAdapter: { size: 2, layers: [0], scaling: 4, activation: 'mish' as 'relu' } }, /unknown activation "mish"/],
    [{ prefix: { length: 2, layers: [1, 1], reparamSize: 4 } }, /prefix-tuning configuration: layers repeat/],
    [{ prefix: { length: 2, layers: [1], reparamSize: -1 } }, /reparamSize must be a non-negative integer/],
    [{ promptTuning: { length: 0 } }, /prompt-tuning configuration: length must be a positive integer/],
    [{ lora: { rank: 2, alpha: 4, dropout: 0, targets: ['query'], layers: [0], rankPerTarget: { value: 2 } } }, /rankPerTarget names "value"/],
  ];
  it.each(cases)('%j', (peft, message) => {
    const tensors = tf.memory().numTensors;
    expect(() => buildPeftModules(tf, peft, SHAPE, 1, { weights })).toThrow(message);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('BitFit needs the base weights', () => {
    expect(() => buildPeftModules(tf, { bitfit: { layers: [0] } }, SHAPE, 1)).toThrow(/BitFit needs the base weights/);
  });

  it('a stored adapter missing a tensor, or with a wrong shape, is rejected by name', () => {
    const modules = buildPeftModules(tf, { ia3: { layers: [0] } }, SHAPE, 1, { mode: 'stored' });
    const ok = storedPeftWeights(tf, modules);
    const name = 'encoder.layer.0.attention.self.value.ia3_l';
    const missing = new Map(ok);
    missing.delete(name);
    expect(() => loadPeftWeights(modules, missing)).toThrow(`adapter weights lack "${name}"`);
    const wrong = new Map(ok);
    const bad = tf.zeros([3]);
    wrong.set(name, bad);
    expect(() => loadPeftWeights(modules, wrong)).toThrow(/ia3_l" has shape \[3\], expected \[16\]/);
    tf.dispose([...ok.values(), bad]);
    for (const m of modules) m.dispose();
  });
});

describe('encoder inputs', () => {
  it('token type ids change the outputs; absent ones mean type 0', () => {
    const input = makeInput(3);
    const withTypes = hiddenOf(encoder, [], input);
    const zeros = tf.zerosLike(input.typeIds!) as Tensor2D;
    const typeZero = hiddenOf(encoder, [], { ...input, typeIds: zeros });
    const noTypes = hiddenOf(encoder, [], { ids: input.ids, mask: input.mask });
    expect(maxDiff(typeZero, noTypes)).toBeLessThan(1e-6);
    expect(maxDiff(withTypes, noTypes)).toBeGreaterThan(1e-3);
    zeros.dispose();
    disposeInput(input);
  });
});
