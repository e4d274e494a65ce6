import { describe, expect, it } from 'vitest';
import { countPeftParams } from '../search/param-count.js';
import { autopeftLoraPreset, autopeftPreset, getPreset, halvingSizes, loraPreset, presetObjectives, PRESET_NAMES } from '../search/presets.js';
import { createRandom } from '../search/random.js';
import type { SearchSpace } from '../search/space.js';
import { InvalidSearchSpaceError, pointProblem, repairPoint, samplePoint, validateSpace } from '../search/space.js';
import type { EncoderShape } from '../search/types.js';

const bertBase: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
const tiny: EncoderShape = { vocabSize: 100, hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32, maxPositions: 32, typeVocabSize: 2 };

const conditional: SearchSpace = {
  'adapter.on': { type: 'categorical', choices: [true, false] },
  'adapter.size': { type: 'int', low: 1, high: 64, log: true, condition: { parent: 'adapter.on', values: [true] } },
  'adapter.activation': { type: 'categorical', choices: ['relu', 'gelu'], condition: { parent: 'adapter.size', values: [32, 64] } },
  lr: { type: 'float', low: 1e-4, high: 1e-2, log: true },
};

describe('search spaces with conditional parameters', () => {
  it('accepts a well-formed conditional space', () => {
    expect(() => validateSpace(conditional)).not.toThrow();
  });

  it.each([
    ['unknown parent', { a: { type: 'int', low: 1, high: 2, condition: { parent: 'b', values: [1] } } }, 'a: the condition\'s parent "b" is not a parameter of the space'],
    ['self parent', { a: { type: 'int', low: 1, high: 2, condition: { parent: 'a', values: [1] } } }, 'a: a parameter cannot be conditioned on itself'],
    ['float parent', { f: { type: 'float', low: 0, high: 1 }, a: { type: 'int', low: 1, high: 2, condition: { parent: 'f', values: [0.5] } } }, 'must be categorical or int'],
    ['value not of parent', { on: { type: 'categorical', choices: [true, false] }, a: { type: 'int', low: 1, high: 2, condition: { parent: 'on', values: ['yes'] } } }, 'a: the condition value "yes" is not a value of parent "on"'],
    ['empty values', { on: { type: 'categorical', choices: [true] }, a: { type: 'int', low: 1, high: 2, condition: { parent: 'on', values: [] } } }, 'a: a condition needs at least one activating value'],
    ['cycle', { a: { type: 'categorical', choices: [1], condition: { parent: 'b', values: [1] } }, b: { type: 'categorical', choices: [1], condition: { parent: 'a', values: [1] } } }, 'conditions form a cycle'],
    ['duplicate choices', { a: { type: 'categorical', choices: [1, 1] } }, 'a: categorical choices must be distinct'],
    ['log with low 0', { a: { type: 'float', low: 0, high: 1, log: true } }, 'a: a log-scaled parameter needs low > 0, but got low=0'],
  ] as [string, SearchSpace, string][])('rejects %s, naming the culprit', (_name, space, message) => {
    expect(() => validateSpace(space)).toThrow(InvalidSearchSpaceError);
    expect(() => validateSpace(space)).toThrow(message);
  });

  it('samples inactive parameters as absent and active ones inside their distributions', () => {
    const random = createRandom(11);
    let sawOff = 0;
    let sawActivation = 0;
    for (let i = 0; i < 500; i++) {
      const point = samplePoint(conditional, random);
      expect(pointProblem(conditional, point)).toBeUndefined();
      if (point['adapter.on'] === false) {
        sawOff++;
        expect(point).not.toHaveProperty('adapter.size');
        expect(point).not.toHaveProperty('adapter.activation');
      }
      if (point['adapter.activation'] !== undefined) sawActivation++;
    }
    expect(sawOff).toBeGreaterThan(100);
    expect(sawActivation).toBeGreaterThan(0);
  });

  it('repairs a point whose parent changed', () => {
    const repaired = repairPoint(conditional, { 'adapter.on': true, lr: 0.001 }, createRandom(1));
    expect(pointProblem(conditional, repaired)).toBeUndefined();
    expect(repaired['adapter.size']).toBeDefined();
    expect(pointProblem(conditional, { 'adapter.on': false, 'adapter.size': 4, lr: 0.001 })).toBe('adapter.size: inactive but present');
  });
});

describe('presets', () => {
  it('autopeft uses AutoPEFT sizes {d, d/2, ..., 1, off} per module and one switch per layer', () => {
    expect(halvingSizes(768)).toEqual([768, 384, 192, 96, 48, 24, 12, 6, 3, 1]);
    const space = autopeftPreset.space(bertBase);
    expect(Object.keys(space)).toHaveLength(15);
    expect(space['serialAdapter.size']).toEqual({ type: 'categorical', choices: [768, 384, 192, 96, 48, 24, 12, 6, 3, 1, 0] });
    const point = { 'serialAdapter.size': 48, 'parallelAdapter.size': 0, 'prefix.length': 3, ...Object.fromEntries([...Array(12).keys()].map((i) => [`layer.${i}`, i >= 10])) };
    const { peft } = autopeftPreset.toConfig(point, bertBase);
    expect(peft.serialAdapter).toEqual({ placement: 'pfeiffer', size: 48, layers: [10, 11], activation: 'relu' });
    expect(peft.parallelAdapter).toBeUndefined();
    expect(peft.prefix).toEqual({ length: 3, layers: [10, 11], reparamSize: 800 });
    expect(autopeftPreset.toConfig({ ...point, 'prefix.length': 1 }, tiny).peft.prefix!.reparamSize).toBe(64);
  });

  it('rejects points with no layer or no module on', () => {
    const layersOff = Object.fromEntries([...Array(12).keys()].map((i) => [`layer.${i}`, false]));
    expect(autopeftPreset.isValid({ 'serialAdapter.size': 48, 'parallelAdapter.size': 0, 'prefix.length': 0, ...layersOff })).toBe(false);
    expect(autopeftPreset.isValid({ 'serialAdapter.size': 0, 'parallelAdapter.size': 0, 'prefix.length': 0, ...layersOff, 'layer.0': true })).toBe(false);
    expect(autopeftPreset.isValid({ 'serialAdapter.size': 0, 'parallelAdapter.size': 1, 'prefix.length': 0, ...layersOff, 'layer.0': true })).toBe(true);
  });

  it.each(PRESET_NAMES)('%s: every sampled valid point maps to a buildable configuration', (name) => {
    const preset = getPreset(name);
    for (const shape of [tiny, bertBase]) {
      const space = preset.space(shape);
      validateSpace(space);
      preset.checkSpace?.(space, shape);
      const random = createRandom(5);
      let valid = 0;
      for (let i = 0; i < 400; i++) {
        const point = samplePoint(space, random);
        expect(pointProblem(space, point)).toBeUndefined();
        if (!preset.isValid(point)) continue;
        valid++;
        const { peft } = preset.toConfig(point, shape);
        const modules = Object.values(peft).filter((m) => m !== undefined);
        expect(modules.length).toBeGreaterThan(0);
        expect(countPeftParams(peft, shape)).toBeGreaterThan(0);
        for (const module of modules) {
          if ('layers' in module) {
            expect(module.layers.length).toBeGreaterThan(0);
            expect(module.layers.every((l: number) => l >= 0 && l < shape.numLayers)).toBe(true);
          }
        }
      }
      expect(valid).toBeGreaterThan(300);
    }
  });

  it('autopeft-lora maps per-target ranks, (IA)3 and BitFit, with sizes conditional on switches', () => {
    const space = autopeftLoraPreset.space(bertBase);
    expect(space['serialAdapter.size']!.condition).toEqual({ parent: 'serialAdapter.on', values: [true] });
    const point = {
      'serialAdapter.on': false, 'parallelAdapter.on': false, 'prefix.on': false, 'lora.on': true, 'ia3.on': true, 'bitfit.on': false,
      'lora.rank.query': 8, 'lora.rank.key': 0, 'lora.rank.value': 4, 'lora.rank.attentionOutput': 0, 'lora.rank.ffnIn': 0, 'lora.rank.ffnOut': 0,
      ...Object.fromEntries([...Array(12).keys()].map((i) => [`layer.${i}`, i === 0])),
    };
    expect(pointProblem(space, point)).toBeUndefined();
    const { peft } = autopeftLoraPreset.toConfig(point, bertBase);
    expect(peft.lora).toEqual({ rank: 8, alpha: 16, dropout: 0, targets: ['query', 'value'], layers: [0], rankPerTarget: { value: 4 } });
    expect(peft.ia3).toEqual({ layers: [0] });
    expect(countPeftParams(peft, bertBase)).toBe(8 * 1536 + 4 * 1536 + (2 * 768 + 3072));
    expect(autopeftLoraPreset.isValid({ ...point, 'ia3.on': false, 'lora.rank.query': 0, 'lora.rank.value': 0 })).toBe(false);
  });

  it('the lora preset keeps the LoRA space', () => {
    expect(loraPreset.space(tiny)).toEqual(getPreset('lora').space(tiny));
    expect(loraPreset.isValid({})).toBe(true);
  });

  it('objectives compute trainable parameters exactly and enforce a percentage cap', () => {
    const [metric, params] = presetObjectives(autopeftPreset, bertBase, { extraParams: 1538, maxTrainablePercent: 1 });
    expect(metric!.direction).toBe('maximize');
    const point = { 'serialAdapter.size': 48, 'parallelAdapter.size': 0, 'prefix.length': 0, ...Object.fromEntries([...Array(12).keys()].map((i) => [`layer.${i}`, true])) };
    expect(params!.compute!(point)).toBe(894_528 + 1538);
    expect(params!.max).toBeCloseTo(1_094_822.4, 1);
    expect(() => presetObjectives(autopeftPreset, bertBase, { maxTrainablePercent: 0 })).toThrow(/maxTrainablePercent/);
  });
});
