/**
 * Per-layer sizes in the autopeft presets (`presetOptions.perLayerSizes`): every sampled point
 * belongs to the space and, when valid, builds; a layer that is off (or a module that is off)
 * carries no size; the samplers propose only such points; the closed-form count the study stores
 * equals the live count of the built modules; the spec option is checked at submit; and a real
 * trial trains with per-layer sizes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bottleneckParams } from '../search/methods/adapters.js';
import { validatePeft } from '../search/methods/registry.js';
import { countHeadParams, countPeftParams, loraTargetDims } from '../search/param-count.js';
import type { Preset } from '../search/presets.js';
import { autopeftLoraPreset, autopeftPreset } from '../search/presets.js';
import { createRandom } from '../search/random.js';
import { createSampler, SAMPLER_NAMES } from '../search/sampler.js';
import type { TrialObservation } from '../search/sampler.js';
import { conditionOrder, pointProblem, repairPoint, samplePoint, validateSpace } from '../search/space.js';
import type { ConditionClause, SearchSpace } from '../search/space.js';
import type { EncoderShape, LoraTarget, PeftConfig, SearchPoint } from '../search/types.js';
import { LORA_TARGETS } from '../search/types.js';
import { parseStudySpec } from '../scheduler/spec.js';
import type { SpecContext } from '../scheduler/spec.js';
import { configGrid } from '../dashboard/src/config-grid.js';
import type { SelectedBackend } from '../workers/backend.js';
import { selectBackend } from '../workers/backend.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { buildPeftModules, storedPeftWeights } from '../workers/peft/build.js';
import { countModuleParams } from '../workers/peft/peft-module.js';
import { trainTrial } from '../workers/train/train-trial.js';
import { estimateTrialMemory } from '../search/trial-memory.js';
import type { PeftBench } from './helpers/peft-bench.js';
import { SHAPE, createPeftBench } from './helpers/peft-bench.js';

const bertBase: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
const PRESETS: [string, Preset][] = [
  ['autopeft', autopeftPreset],
  ['autopeft-lora', autopeftLoraPreset],
];
const PER_LAYER = { perLayerSizes: true } as const;

/** Valid points of a preset's per-layer space, drawn uniformly (the samplers' start). */
function validPoints(preset: Preset, shape: EncoderShape, draws: number, seed: number): SearchPoint[] {
  const space = preset.space(shape, PER_LAYER);
  const random = createRandom(seed);
  const points: SearchPoint[] = [];
  for (let i = 0; i < draws; i++) {
    const point = samplePoint(space, random);
    if (preset.isValid(point)) points.push(point);
  }
  return points;
}

/** Whether a configuration's sizes really differ by layer (so the per-layer forms are exercised). */
const perLayerForm = (peft: PeftConfig): boolean => peft.serialAdapter?.sizeByLayer !== undefined || peft.parallelAdapter?.sizeByLayer !== undefined || peft.lora?.rankByLayer !== undefined;

/** The per-layer size parameters a point holds for layer i. */
const sizesOfLayer = (point: SearchPoint, i: number): string[] => Object.keys(point).filter((k) => k !== `layer.${i}` && k.endsWith(`.${i}`));

/**
 * The trainable parameters of a point counted by hand from its parameters (AutoPEFT's formula
 * with biases: 2dm + d + m per bottleneck, r (d_in + d_out) per LoRA site, 2 p d per prefix layer).
 */
function countByHand(point: SearchPoint, shape: EncoderShape, lora: boolean): number {
  const d = shape.hiddenSize;
  const on = Array.from({ length: shape.numLayers }, (_, i) => i).filter((i) => point[`layer.${i}`] === true);
  const moduleOn = (name: string): boolean => !lora || point[`${name}.on`] === true;
  let n = 0;
  for (const i of on) {
    for (const base of ['serialAdapter', 'parallelAdapter']) {
      const m = Number(point[`${base}.size.${i}`] ?? 0);
      if (moduleOn(base) && m > 0) n += bottleneckParams(d, m);
    }
    if (lora && point['lora.on'] === true) {
      for (const t of LORA_TARGETS) {
        const { dIn, dOut } = loraTargetDims(t, shape);
        n += Number(point[`lora.rank.${t}.${i}`] ?? 0) * (dIn + dOut);
      }
    }
    if (lora && point['ia3.on'] === true) n += 2 * d + shape.intermediateSize;
  }
  if (moduleOn('prefix')) n += 2 * Number(point['prefix.length'] ?? 0) * d * on.length;
  return n;
}

describe('conditions with several clauses', () => {
  const space: SearchSpace = {
    'm.on': { type: 'categorical', choices: [true, false] },
    'layer.0': { type: 'categorical', choices: [true, false] },
    'm.size.0': { type: 'int', low: 1, high: 8, condition: { parent: 'layer.0', values: [true], and: [{ parent: 'm.on', values: [true] }] } },
  };
  it('makes a parameter active only when every clause holds', () => {
    expect(() => validateSpace(space)).not.toThrow();
    const full = { 'm.on': true, 'layer.0': true, 'm.size.0': 4 };
    expect(pointProblem(space, full)).toBeUndefined();
    expect(pointProblem(space, { ...full, 'm.on': false })).toBe('m.size.0: inactive but present');
    expect(pointProblem(space, { ...full, 'layer.0': false })).toBe('m.size.0: inactive but present');
    expect(repairPoint(space, { ...full, 'm.on': false }, createRandom(1))).toEqual({ 'layer.0': true, 'm.on': false });
    // Both parents come before the child, whatever the names' order.
    expect(conditionOrder(space).indexOf('m.size.0')).toBe(2);
  });
  it('checks every clause, naming the parameter and the clause at fault', () => {
    const bad = (and: ConditionClause[]): SearchSpace => ({ ...space, 'm.size.0': { type: 'int', low: 1, high: 8, condition: { parent: 'layer.0', values: [true], and } } });
    expect(() => validateSpace(bad([{ parent: 'x.on', values: [true] }]))).toThrow('m.size.0: the condition\'s parent "x.on" is not a parameter of the space');
    expect(() => validateSpace(bad([{ parent: 'm.on', values: ['yes'] }]))).toThrow('m.size.0: the condition value "yes" is not a value of parent "m.on"');
    const cycle: SearchSpace = { ...space, 'm.on': { type: 'categorical', choices: [true, false], condition: { parent: 'layer.0', values: [true], and: [{ parent: 'm.size.0', values: [1] }] } } };
    expect(() => validateSpace(cycle)).toThrow('conditions form a cycle');
  });
});

describe('per-layer sizes: the spaces', () => {
  it('are off by default: the spaces without the option are exactly the one-size spaces', () => {
    for (const [, preset] of PRESETS) {
      expect(preset.space(bertBase, { perLayerSizes: false })).toEqual(preset.space(bertBase));
      expect(Object.keys(preset.space(bertBase)).filter((k) => /\.\d+$/.test(k) && !k.startsWith('layer.'))).toEqual([]);
    }
  });

  it('autopeft: one serial and one parallel size per layer (0 = none there), conditional on the layer; one prefix length', () => {
    const space = autopeftPreset.space(bertBase, PER_LAYER);
    expect(space['serialAdapter.size']).toBeUndefined();
    expect(space['serialAdapter.size.7']).toEqual({ type: 'categorical', choices: [768, 384, 192, 96, 48, 24, 12, 6, 3, 1, 0], condition: { parent: 'layer.7', values: [true] } });
    expect(space['parallelAdapter.size.0']!.condition).toEqual({ parent: 'layer.0', values: [true] });
    expect(space['prefix.length']!.condition).toBeUndefined();
    expect(Object.keys(space)).toHaveLength(1 + 12 + 2 * 12);
  });

  it('autopeft-lora: per-layer sizes and ranks need both their layer and their module on', () => {
    const space = autopeftLoraPreset.space(bertBase, PER_LAYER);
    expect(space['serialAdapter.size.3']!.condition).toEqual({ parent: 'layer.3', values: [true], and: [{ parent: 'serialAdapter.on', values: [true] }] });
    expect(space['lora.rank.ffnOut.11']).toEqual({ type: 'categorical', choices: [0, 1, 2, 4, 8, 16, 32, 64], condition: { parent: 'layer.11', values: [true], and: [{ parent: 'lora.on', values: [true] }] } });
    expect(space['lora.rank.query']).toBeUndefined();
    expect(space['prefix.length']!.condition).toEqual({ parent: 'prefix.on', values: [true] });
  });

  for (const [name, preset] of PRESETS) {
    it(`${name}: every sampled point belongs to the space, sizes of off layers and off modules are absent, valid points build and count exactly`, () => {
      for (const shape of [bertBase, SHAPE]) {
        const space = preset.space(shape, PER_LAYER);
        const random = createRandom(17);
        let valid = 0;
        let perLayer = 0;
        let layerSkipped = 0;
        for (let draw = 0; draw < 400; draw++) {
          const point = samplePoint(space, random);
          expect(pointProblem(space, point)).toBeUndefined();
          for (let i = 0; i < shape.numLayers; i++) {
            if (point[`layer.${i}`] === false) expect(sizesOfLayer(point, i), `layer ${i} is off`).toEqual([]);
          }
          for (const module of ['serialAdapter', 'parallelAdapter', 'lora']) {
            if (point[`${module}.on`] === false) expect(Object.keys(point).filter((k) => k.startsWith(`${module}.`) && k !== `${module}.on`)).toEqual([]);
          }
          if (!preset.isValid(point)) continue;
          valid++;
          const { peft } = preset.toConfig(point, shape);
          expect(() => validatePeft(peft, shape)).not.toThrow();
          const active = new Set(Object.keys(point).filter((k) => k.startsWith('layer.') && point[k] === true).map((k) => Number(k.slice(6))));
          for (const module of [peft.serialAdapter, peft.parallelAdapter, peft.lora]) for (const l of module?.layers ?? []) expect(active.has(l)).toBe(true);
          const others = countPeftParams({ ...(peft.bitfit ? { bitfit: peft.bitfit } : {}) }, shape);
          expect(countPeftParams(peft, shape)).toBe(countByHand(point, shape, preset === autopeftLoraPreset) + others);
          if (perLayerForm(peft)) perLayer++;
          if (peft.serialAdapter && peft.serialAdapter.layers.length < active.size) layerSkipped++;
        }
        expect(valid).toBeGreaterThan(200);
        // The per-layer forms are what these points exercise, not the one-size form.
        expect(perLayer).toBeGreaterThan(valid / 3);
        if (preset === autopeftPreset) expect(layerSkipped).toBeGreaterThan(10);
      }
    });
  }

  it('a point with one size in every layer maps to the one-size configuration exactly', () => {
    const layers = Object.fromEntries([...Array(12).keys()].map((i) => [`layer.${i}`, i % 2 === 0]));
    const perLayer: SearchPoint = { ...layers, 'prefix.length': 0 };
    for (let i = 0; i < 12; i += 2) Object.assign(perLayer, { [`serialAdapter.size.${i}`]: 48, [`parallelAdapter.size.${i}`]: 0 });
    const oneSize = { ...layers, 'serialAdapter.size': 48, 'parallelAdapter.size': 0, 'prefix.length': 0 };
    expect(autopeftPreset.toConfig(perLayer, bertBase)).toEqual(autopeftPreset.toConfig(oneSize, bertBase));
  });

  it('maps differing sizes to sizeByLayer and rankByLayer (0: that projection of that layer has no LoRA)', () => {
    const point: SearchPoint = {
      'layer.0': true, 'layer.1': false, 'layer.2': true,
      'serialAdapter.on': true, 'serialAdapter.size.0': 4, 'serialAdapter.size.2': 16,
      'parallelAdapter.on': false, 'prefix.on': false, 'ia3.on': false, 'bitfit.on': false,
      'lora.on': true,
      'lora.rank.query.0': 4, 'lora.rank.key.0': 0, 'lora.rank.value.0': 2, 'lora.rank.attentionOutput.0': 0, 'lora.rank.ffnIn.0': 0, 'lora.rank.ffnOut.0': 0,
      'lora.rank.query.2': 4, 'lora.rank.key.2': 0, 'lora.rank.value.2': 0, 'lora.rank.attentionOutput.2': 0, 'lora.rank.ffnIn.2': 0, 'lora.rank.ffnOut.2': 1,
    };
    expect(pointProblem(autopeftLoraPreset.space(SHAPE, PER_LAYER), point)).toBeUndefined();
    const { peft } = autopeftLoraPreset.toConfig(point, SHAPE);
    expect(peft.serialAdapter).toEqual({ placement: 'pfeiffer', size: 16, layers: [0, 2], activation: 'relu', sizeByLayer: { '0': 4 } });
    expect(peft.lora).toEqual({ rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value', 'ffnOut'], layers: [0, 2], rankByLayer: { '0': { value: 2, ffnOut: 0 }, '2': { value: 0, ffnOut: 1 } } });
    const d = SHAPE.hiddenSize;
    expect(countPeftParams(peft, SHAPE)).toBe(bottleneckParams(d, 4) + bottleneckParams(d, 16) + 4 * 2 * d + 2 * 2 * d + 4 * 2 * d + 1 * (SHAPE.intermediateSize + d));
    expect(autopeftLoraPreset.isValid({ ...point, 'serialAdapter.on': false, 'lora.rank.query.0': 0, 'lora.rank.value.0': 0, 'lora.rank.query.2': 0, 'lora.rank.ffnOut.2': 0 })).toBe(false);
  });

  it('repairing a point: a layer switched off loses its sizes, a layer switched on gets them', () => {
    const space = autopeftLoraPreset.space(SHAPE, PER_LAYER);
    const [point] = validPoints(autopeftLoraPreset, SHAPE, 200, 3).filter((p) => p['layer.1'] === true && p['lora.on'] === true && p['serialAdapter.on'] === true);
    const off = repairPoint(space, { ...point!, 'layer.1': false }, createRandom(1));
    expect(sizesOfLayer(off, 1)).toEqual([]);
    expect(pointProblem(space, off)).toBeUndefined();
    const on = repairPoint(space, { ...off, 'layer.1': true }, createRandom(2));
    expect(sizesOfLayer(on, 1).sort()).toEqual(['serialAdapter.size.1', ...LORA_TARGETS.map((t: LoraTarget) => `lora.rank.${t}.1`)].sort());
  });

  for (const sampler of SAMPLER_NAMES) {
    it(`${sampler}: proposes only points of the per-layer space that are valid`, () => {
      const preset = autopeftLoraPreset;
      const space = preset.space(SHAPE, PER_LAYER);
      const history: TrialObservation[] = validPoints(preset, SHAPE, 60, 5)
        .slice(0, 14)
        .map((point, number) => ({ number, point, state: 'complete', values: [0.5 + 0.02 * ((number * 7) % 11), countPeftParams(preset.toConfig(point, SHAPE).peft, SHAPE)] }));
      const points = createSampler(sampler).ask({ space, seed: 4, history, numbers: [14, 15, 16], isValid: (p) => preset.isValid(p), budget: 40 });
      expect(points).toHaveLength(3);
      for (const point of points) {
        expect(pointProblem(space, point)).toBeUndefined();
        expect(preset.isValid(point)).toBe(true);
      }
    });
  }
});

describe('per-layer sizes: the closed form is the live count of the built modules (tiny shape)', () => {
  let bench: PeftBench;
  beforeAll(async () => {
    bench = createPeftBench((await selectBackend({ prefer: 'wasm', log: () => {} })).tf);
  });
  afterAll(() => bench.dispose());

  for (const [name, preset] of PRESETS) {
    it(`${name}: six sampled configurations with sizes differing by layer`, () => {
      const configs = validPoints(preset, SHAPE, 300, 23)
        .map((p) => preset.toConfig(p, SHAPE).peft)
        .filter(perLayerForm)
        .slice(0, 6);
      expect(configs).toHaveLength(6);
      for (const peft of configs) {
        const modules = buildPeftModules(bench.tf, peft, SHAPE, 7, { weights: bench.weights });
        try {
          expect(countModuleParams(modules), JSON.stringify(peft)).toBe(countPeftParams(peft, SHAPE, 'training'));
          const stored = storedPeftWeights(bench.tf, modules);
          expect([...stored.values()].reduce((sum, t) => sum + t.size, 0)).toBe(countPeftParams(peft, SHAPE, 'stored'));
          bench.tf.dispose([...stored.values()]);
        } finally {
          for (const m of modules) m.dispose();
        }
      }
    });
  }
});

describe('per-layer sizes: the configuration check', () => {
  const lora = { rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value'] as LoraTarget[], layers: [0, 2] };
  it.each([
    ['a layer not among the layers', { serialAdapter: { placement: 'pfeiffer', size: 8, layers: [0], activation: 'relu', sizeByLayer: { '1': 4 } } }, 'sizeByLayer names layer "1", which is not among the layers'],
    ['a width of 0', { parallelAdapter: { size: 8, layers: [0], scaling: 4, activation: 'relu', sizeByLayer: { '0': 0 } } }, 'sizeByLayer.0 must be a positive integer, got 0'],
    ['a rank of a target not among the targets', { lora: { ...lora, rankByLayer: { '0': { key: 2 } } } }, 'rankByLayer.0 names "key", which is not among the targets'],
    ['a negative rank', { lora: { ...lora, rankByLayer: { '2': { query: -1 } } } }, 'rankByLayer.2.query must be a non-negative integer (0: no LoRA there), got -1'],
    ['a layer left without LoRA', { lora: { ...lora, rankByLayer: { '2': { query: 0, value: 0 } } } }, 'rankByLayer leaves layer 2 without LoRA; drop it from layers instead'],
    ['a target left without LoRA', { lora: { ...lora, rankByLayer: { '0': { value: 0 }, '2': { value: 0 } } } }, 'rankByLayer leaves target value without LoRA in every layer; drop it from targets instead'],
  ] as [string, PeftConfig, string][])('refuses %s, naming it', (_label, peft, message) => {
    expect(() => validatePeft(peft, SHAPE)).toThrow(message);
  });
});

describe('per-layer sizes: the spec option', () => {
  const shape = BASE_MODELS['tiny-random']!.shape;
  const context: SpecContext = {
    describeDataset: () => Promise.resolve({ kind: 'classification', outputs: 2, metrics: ['accuracy', 'f1'], defaultMetric: 'accuracy' }),
    baseModelShape: () => Promise.resolve(shape),
  };
  const spec = (extra: Record<string, unknown>): Record<string, unknown> => ({ task: { dataset: 'spam-assassin', baseModel: 'tiny-random' }, budget: { maxTrials: 8 }, ...extra });

  it('presetOptions.perLayerSizes gives the autopeft presets their per-layer spaces, stored with the spec', async () => {
    for (const preset of ['autopeft', 'autopeft-lora'] as const) {
      const parsed = await parseStudySpec(spec({ preset, presetOptions: { perLayerSizes: true } }), context);
      expect(parsed.spec.searchSpace).toEqual((preset === 'autopeft' ? autopeftPreset : autopeftLoraPreset).space(shape, PER_LAYER));
      expect(parsed.spec.presetOptions).toEqual({ perLayerSizes: true });
    }
    const off = await parseStudySpec(spec({ preset: 'autopeft' }), context);
    expect(off.spec.searchSpace).toEqual(autopeftPreset.space(shape));
  });

  it('refuses the option for a preset without it, with a given searchSpace, and unknown options, naming the field', async () => {
    await expect(parseStudySpec(spec({ preset: 'lora', presetOptions: { perLayerSizes: true } }), context)).rejects.toThrow(
      'presetOptions.perLayerSizes: preset "lora" has no such option; "autopeft" and "autopeft-lora" have it',
    );
    await expect(
      parseStudySpec(spec({ preset: 'autopeft', presetOptions: { perLayerSizes: true }, searchSpace: { 'serialAdapter.size': { type: 'categorical', choices: [8] }, 'layer.0': { type: 'categorical', choices: [true] } } }), context),
    ).rejects.toThrow(/^presetOptions\.perLayerSizes: shapes the preset's default space, but the spec gives its own searchSpace/);
    await expect(parseStudySpec(spec({ preset: 'autopeft', presetOptions: { perLayer: true } }), context)).rejects.toThrow('presetOptions.perLayer: unknown field');
  });

  it('accepts per-layer names in a given space and refuses a layer the model lacks', async () => {
    const given = {
      'layer.0': { type: 'categorical', choices: [true, false] },
      'layer.1': { type: 'categorical', choices: [true] },
      'serialAdapter.size.0': { type: 'categorical', choices: [4, 16], condition: { parent: 'layer.0', values: [true] } },
      'serialAdapter.size.1': { type: 'categorical', choices: [8] },
    };
    const parsed = await parseStudySpec(spec({ preset: 'autopeft', searchSpace: given }), context);
    expect(Object.keys(parsed.spec.searchSpace)).toHaveLength(4);
    await expect(parseStudySpec(spec({ preset: 'autopeft', searchSpace: { ...given, 'parallelAdapter.size.2': { type: 'categorical', choices: [8] } } }), context)).rejects.toThrow(
      'searchSpace.parallelAdapter.size.2: the base model has layers 0..1, so there is no layer 2',
    );
    await expect(parseStudySpec(spec({ preset: 'autopeft', searchSpace: { ...given, 'prefix.length.0': { type: 'categorical', choices: [8] } } }), context)).rejects.toThrow(
      /^searchSpace\.prefix\.length\.0: unknown parameter for this preset/,
    );
  });
});

describe('per-layer sizes: the trial memory estimate', () => {
  it("uses each layer's own width and rank: between the same modules at their smallest and at their largest size everywhere", () => {
    const training = { batchSize: 16, maxSeqLength: 64, trainExamples: 64, devExamples: 32 };
    const at = (serial: number | Record<string, number>, rank: number | Record<string, Partial<Record<LoraTarget, number>>>): number => {
      const peft: PeftConfig = {
        serialAdapter: { placement: 'pfeiffer', layers: [0, 5, 11], activation: 'relu', ...(typeof serial === 'number' ? { size: serial } : { size: 768, sizeByLayer: serial }) },
        lora: { alpha: 128, dropout: 0, targets: ['query', 'ffnIn'], layers: [0, 5, 11], ...(typeof rank === 'number' ? { rank } : { rank: 64, rankByLayer: rank }) },
      };
      // The activations: what a layer's width changes beyond the trainable count.
      return estimateTrialMemory({ shape: bertBase, peft, training, headOutputs: 2 }).activations;
    };
    const mixed = at({ '0': 3, '5': 96 }, { '0': { query: 2 }, '11': { ffnIn: 0 } });
    expect(mixed).toBeGreaterThan(at(3, 2));
    expect(mixed).toBeLessThan(at(768, 64));
  });
});

describe('per-layer sizes: the dashboard grid', () => {
  it('shows each layer its own size', () => {
    const grid = configGrid({
      serialAdapter: { placement: 'pfeiffer', size: 16, layers: [0, 2], activation: 'relu', sizeByLayer: { '0': 4 } },
      lora: { rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value'], layers: [0, 2], rankByLayer: { '2': { value: 0 } } },
    });
    const cells = Object.fromEntries(grid.rows.map((r) => [r.id, Object.fromEntries(r.cells)]));
    expect(cells).toEqual({ 'serial.ffn': { 0: 4, 2: 16 }, 'lora.query': { 0: 4, 2: 4 }, 'lora.value': { 0: 4 } });
  });
});

describe('per-layer sizes: a real trial', { timeout: 120_000 }, () => {
  let backend: SelectedBackend;
  beforeAll(async () => {
    backend = await selectBackend({ prefer: 'wasm', log: () => {} });
  });

  it('trains an autopeft-lora configuration with sizes differing by layer on tiny-random, counts matching the closed form', async () => {
    const shape = BASE_MODELS['tiny-random']!.shape;
    const peft = validPoints(autopeftLoraPreset, shape, 300, 41)
      .map((p) => autopeftLoraPreset.toConfig(p, shape).peft)
      .find((p) => p.lora?.rankByLayer !== undefined && (p.serialAdapter?.sizeByLayer !== undefined || p.parallelAdapter?.sizeByLayer !== undefined));
    expect(peft).toBeDefined();
    let storedSize = 0;
    const result = await trainTrial(
      {
        studyId: 'study-per-layer',
        trialNumber: 0,
        task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
        peft: peft!,
        training: { steps: 4, batchSize: 8, learningRate: 5e-3, evalEvery: 2, maxSeqLength: 32, trainExamples: 32, devExamples: 16, seed: 3, dataSeed: 3 },
      },
      {
        backend,
        onTrainedWeights: (weights) => {
          for (const [name, t] of weights) if (!name.startsWith('classifier.')) storedSize += t.size;
        },
      },
    );
    expect(result.reports.map((r) => r.step)).toEqual([2, 4]);
    expect(Number.isFinite(result.metric)).toBe(true);
    expect(result.trainableParams).toBe(countPeftParams(peft!, shape, 'training') + countHeadParams(shape, 2));
    expect(result.storedParams).toBe(countPeftParams(peft!, shape, 'stored') + countHeadParams(shape, 2));
    expect(storedSize).toBe(countPeftParams(peft!, shape, 'stored'));
  });
});
