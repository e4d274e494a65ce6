/**
 * The method registry's suite: every method in the record is validated, built, counted (both
 * closed forms against the live tensors), started at the base model where it says so, trained
 * (only its own tensors move), stored and reloaded, merged or refused, exported to Hugging Face
 * PEFT and AdapterHub or refused with a reason, and labelled. A method added to the registry
 * joins this suite with no test of its own to write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs';
import { isRefusal } from '../workers/methods/method.js';
import type { MethodKey } from '../workers/methods/method.js';
import { METHOD_KEYS, PEFT_METHODS, methodChips, validatePeft } from '../workers/methods/registry.js';
import { InadmissibleSpecError, admitSearchSpace } from '../search/admission.js';
import { configGrid } from '../dashboard/src/config-grid.js';
import { countPeftParams } from '../search/param-count.js';
import type { Preset } from '../search/presets.js';
import { surveyPreset } from '../search/survey-preset.js';
import type { PeftConfig } from '../search/types.js';
import type { Tf } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { adapterHubConfig } from '../workers/export/adapterhub.js';
import { hfPeftExport, hfPeftUnsupportedReason } from '../workers/export/hf-peft.js';
import { toNamedArrays } from '../workers/export/weights.js';
import type { EncoderInput } from '../workers/model/encoder.js';
import { SequenceClassificationHead } from '../workers/model/head.js';
import { parseSafetensors, writeSafetensors } from '../workers/model/safetensors.js';
import { namedWeights } from '../workers/model/weights.js';
import { buildPeftModules, loadPeftWeights, storedPeftWeights } from '../workers/peft/build.js';
import { mergePeftModules } from '../workers/peft/merge.js';
import type { PeftModule } from '../workers/peft/peft-module.js';
import { countModuleParams } from '../workers/peft/peft-module.js';
import type { PeftBench } from './helpers/peft-bench.js';
import { SHAPE, createPeftBench, maxDiff, snapshot } from './helpers/peft-bench.js';

let tf: Tf;
let bench: PeftBench;

beforeAll(async () => {
  tf = (await selectBackend({ prefer: 'wasm', log: () => {} })).tf;
  bench = createPeftBench(tf);
});

afterAll(() => bench.dispose());

/** Adds seeded noise to every variable, so that merges and exports see non-trivial values. */
function perturb(modules: readonly PeftModule[], seed: number): void {
  for (const m of modules) {
    for (const variable of m.variables.values()) variable.assign(tf.tidy(() => tf.add(variable, tf.randomNormal(variable.shape, 0, 0.3, 'float32', seed))));
  }
}

describe.each(METHOD_KEYS.map((key) => [key] as [MethodKey]))('%s', (key) => {
  const method = PEFT_METHODS[key];
  let peft: PeftConfig;
  let modules: PeftModule[];
  let input: EncoderInput;

  beforeAll(() => {
    peft = method.example(SHAPE);
    modules = buildPeftModules(tf, peft, SHAPE, 5, { weights: bench.weights });
    input = bench.makeInput(1);
  });

  afterAll(() => {
    for (const m of modules) m.dispose();
    bench.disposeInput(input);
  });

  it('has an example that uses it and passes its validation', () => {
    expect(peft[key]).toBeDefined();
    expect(() => validatePeft(peft, SHAPE)).not.toThrow();
  });

  it('counts what trains with the training form and what is stored with the stored form', () => {
    const training = countPeftParams(peft, SHAPE, 'training');
    const stored = countPeftParams(peft, SHAPE, 'stored');
    expect(training).toBeGreaterThan(0);
    expect(countModuleParams(modules)).toBe(training);
    const weights = storedPeftWeights(tf, modules);
    const storedCount = [...weights.values()].reduce((sum, t) => sum + t.size, 0);
    tf.dispose([...weights.values()]);
    expect(storedCount).toBe(stored);
  });

  it(method.startsAtBase ? 'leaves the base outputs unchanged while fresh' : 'changes the outputs from the start', () => {
    const diff = maxDiff(bench.hiddenOf(bench.encoder, modules, input), bench.hiddenOf(bench.encoder, [], input));
    if (method.startsAtBase) expect(diff).toBeLessThan(1e-5);
    else expect(diff).toBeGreaterThan(1e-4);
  });

  it('trains: the loss falls and only its own tensors change', () => {
    const own = modules.flatMap((m) => [...m.variables]);
    const before = snapshot(own);
    const baseBefore = snapshot(namedWeights(bench.weights));
    const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 3, 0);
    const losses = bench.train(modules, head, input, 8);
    head.dispose();
    expect(losses.at(-1)).toBeLessThan(losses[0]!);
    for (const [name, values] of snapshot(own)) expect(maxDiff(values, before.get(name)!), name).toBeGreaterThan(0);
    for (const [name, values] of snapshot(namedWeights(bench.weights))) expect(maxDiff(values, baseBefore.get(name)!), name).toBe(0);
  });

  it('stores and reloads to the same outputs', () => {
    const stored = storedPeftWeights(tf, modules);
    const bytes = writeSafetensors([...stored].map(([n, t]) => ({ name: n, shape: t.shape, data: t.dataSync() as Float32Array })));
    tf.dispose([...stored.values()]);
    const file = parseSafetensors(bytes, 'adapter');
    const loaded = new Map<string, Tensor>([...file.entries].map(([n, e]) => [n, tf.tensor(file.read(n), e.shape)]));
    const rebuilt = buildPeftModules(tf, peft, SHAPE, 777, { weights: bench.weights, mode: 'stored' });
    loadPeftWeights(rebuilt, loaded);
    tf.dispose([...loaded.values()]);
    expect(maxDiff(bench.hiddenOf(bench.encoder, rebuilt, input), bench.hiddenOf(bench.encoder, modules, input))).toBeLessThan(1e-5);
    for (const m of rebuilt) m.dispose();
  });

  it(method.merge === 'merges' ? 'merges into the base weights within 1e-5' : 'refuses to merge, with a reason', () => {
    const fresh = buildPeftModules(tf, peft, SHAPE, 9, { weights: bench.weights });
    perturb(fresh, 11);
    const merged = mergePeftModules(tf, bench.encoder, fresh);
    try {
      if (method.merge === 'merges') {
        expect(merged.modules).toEqual([]);
        const unmerged = bench.hiddenOf(bench.encoder, fresh, input);
        expect(maxDiff(bench.hiddenOf(merged.encoder, [], input), unmerged)).toBeLessThan(1e-5);
        expect(maxDiff(bench.hiddenOf(bench.encoder, [], input), unmerged)).toBeGreaterThan(1e-3);
      } else {
        expect(method.merge.refusal.length).toBeGreaterThan(10);
        expect(merged.modules).toEqual(fresh);
      }
    } finally {
      merged.dispose();
      for (const m of fresh) m.dispose();
    }
  });

  it('exports to Hugging Face PEFT with its key names, or refuses with its reason', () => {
    if (isRefusal(method.hfPeft)) {
      expect(hfPeftUnsupportedReason(peft, SHAPE)).toBe(method.hfPeft.refusal);
      return;
    }
    const head = new SequenceClassificationHead(tf, 'bert', SHAPE.hiddenSize, 2, 3, 0);
    const stored = storedPeftWeights(tf, modules);
    const named = toNamedArrays(new Map([...stored, ...head.variables]));
    tf.dispose([...stored.values()]);
    head.dispose();
    const exported = hfPeftExport(peft, named, { modelType: 'bert', baseModelName: 'tiny', shape: SHAPE, headKind: 'bert' });
    const config = JSON.parse(exported.adapterConfig) as Record<string, unknown>;
    expect(typeof config.peft_type).toBe('string');
    expect(config.task_type).toBe('SEQ_CLS');
    const file = parseSafetensors(exported.weights, 'hf-peft');
    const names = [...file.entries.keys()];
    expect(names.some((n) => n.endsWith('classifier.weight'))).toBe(true);
    expect(names.every((n) => n.startsWith('base_model.') || n === 'prompt_embeddings'), names.join(', ')).toBe(true);
  });

  it('describes itself to AdapterHub, or says why it has no form there', () => {
    const hub = method.adapterHub;
    if (isRefusal(hub)) {
      expect(hub.refusal.length).toBeGreaterThan(10);
      const withLora: PeftConfig = { ...peft, lora: peft.lora ?? { rank: 1, alpha: 1, dropout: 0, targets: ['query'], layers: [0] } };
      expect(adapterHubConfig(withLora, SHAPE, { modelType: 'bert', modelName: 'tiny', name: key }).warnings).toContain(hub.refusal);
      return;
    }
    const exported = adapterHubConfig(peft, SHAPE, { modelType: 'bert', modelName: 'tiny', name: key });
    expect(exported.file.config).toBeTypeOf('object');
  });

  it('has a dashboard label and tooltip', () => {
    const chips = method.chips(peft[key] as never);
    expect(chips.length).toBeGreaterThan(0);
    for (const chip of chips) {
      expect(chip.label.length).toBeGreaterThan(0);
      expect(chip.title.length).toBeGreaterThan(chip.label.length - 1);
    }
    expect(methodChips(peft)).toEqual(expect.arrayContaining(chips));
  });

  it("shows in the dashboard's module × layer grid, in its own layers", () => {
    const config = peft[key] as never;
    const part = method.grid(config);
    const layers = method.layers(config);
    const grid = configGrid(peft);
    if (layers.length > 0) {
      expect(part.rows.length).toBeGreaterThan(0);
      for (const row of part.rows) {
        const shown = grid.rows.find((r) => r.id === row.id)!;
        expect(shown.label).toBe(row.label);
        expect([...shown.cells.keys()].sort()).toEqual([...layers].sort());
        expect(row.size).toBeGreaterThan(0);
      }
    } else {
      expect(part.rows).toEqual([]);
      expect(grid.global).toEqual(expect.arrayContaining(part.notes));
      expect(part.notes.length).toBeGreaterThan(0);
    }
  });
});

describe('the registry as a whole', () => {
  it("drives the presets' admission: a point whose configuration a method refuses is a 400 naming the space", () => {
    const preset: Preset = {
      ...surveyPreset,
      name: 'broken',
      // VeRA's projection seed must be a 32-bit unsigned integer: the worker could never build this.
      toConfig: (point) => ({ peft: { vera: { rank: 2, targets: ['query'], layers: [0], projectionSeed: Number(point.seed) } } }),
      isValid: () => true,
    };
    const training = { batchSize: 4, maxSeqLength: 8, trainExamples: 8, devExamples: 8 };
    const request = { preset, space: { seed: { type: 'categorical' as const, choices: [-1] } }, shape: SHAPE, headOutputs: 2, training, maxMemoryBytes: 2 ** 30 };
    expect(() => admitSearchSpace(request)).toThrow(InadmissibleSpecError);
    expect(() => admitSearchSpace(request)).toThrow(/searchSpace: the point \{"seed":-1\} maps to a configuration its method refuses: Invalid VeRA configuration: projectionSeed/);
    expect(admitSearchSpace({ ...request, space: { seed: { type: 'categorical' as const, choices: [7] } } }).validDraws).toBeGreaterThan(0);
  });

  it('gives every method a distinct salt, so no two methods share a random stream', () => {
    const salts = METHOD_KEYS.map((k) => PEFT_METHODS[k].salt);
    expect(new Set(salts).size).toBe(salts.length);
  });

  it('sums the methods of a hybrid', () => {
    const mam: PeftConfig = { ...PEFT_METHODS.prefix.example(SHAPE), ...PEFT_METHODS.parallelAdapter.example(SHAPE) };
    for (const mode of ['stored', 'training'] as const) {
      expect(countPeftParams(mam, SHAPE, mode)).toBe(countPeftParams({ prefix: mam.prefix }, SHAPE, mode) + countPeftParams({ parallelAdapter: mam.parallelAdapter }, SHAPE, mode));
    }
  });
});
