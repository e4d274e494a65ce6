import { describe, expect, it } from 'vitest';
import { defaultLoraSpace, loraPointToConfig, validateLoraSpace } from '../search/lora-space.js';
import { countBaseParams, countHeadParams, countPeftParams } from '../search/param-count.js';
import { RandomSampler } from '../search/sampler.js';
import { InvalidSearchSpaceError, samplePoint, validateSpace, valueAt } from '../search/space.js';
import { createRandom } from '../search/random.js';
import type { EncoderShape } from '../search/types.js';

const bertBase: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
const tiny: EncoderShape = { vocabSize: 100, hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32, maxPositions: 32, typeVocabSize: 2 };

describe('parameter counts', () => {
  it('gives the reference count for LoRA r 8 on query and value of bert-base', () => {
    const peft = { lora: { rank: 8, alpha: 8, dropout: 0, targets: ['query' as const, 'value' as const], layers: [...Array(12).keys()] } };
    expect(countPeftParams(peft, bertBase)).toBe(294_912);
  });

  it('counts FFN targets with their own widths', () => {
    const peft = { lora: { rank: 2, alpha: 8, dropout: 0, targets: ['ffnIn' as const, 'ffnOut' as const], layers: [0] } };
    expect(countPeftParams(peft, tiny)).toBe(2 * (16 + 32) * 2);
  });

  it('counts bert-base at about 109.5M parameters without a head', () => {
    expect(countBaseParams(bertBase)).toBe(109_482_240);
    expect(countHeadParams(bertBase, 2)).toBe(1538);
  });
});

describe('search spaces', () => {
  it('rejects bounds in the wrong order, naming the parameter', () => {
    expect(() => validateSpace({ 'lora.rank': { type: 'int', low: 8, high: 1 } })).toThrow('lora.rank: low <= high must hold, but got (low=8, high=1)');
  });

  it('rejects unknown parameters and targets of the LoRA space', () => {
    expect(() => validateLoraSpace({ 'lora.rnak': { type: 'int', low: 1, high: 8 } }, tiny)).toThrow(/lora\.rnak: unknown parameter/);
    expect(() => validateLoraSpace({ 'lora.targets': { type: 'categorical', choices: ['query,vlaue'] } }, tiny)).toThrow(/unknown target "vlaue"/);
    expect(() => validateLoraSpace({ 'lora.layers': { type: 'categorical', choices: ['0,9'] } }, tiny)).toThrow(InvalidSearchSpaceError);
  });

  it('keeps int and log-float draws inside their bounds', () => {
    const random = createRandom(1);
    for (let i = 0; i < 1000; i++) {
      const n = valueAt({ type: 'int', low: 1, high: 64, log: true }, random()) as number;
      expect(Number.isInteger(n) && n >= 1 && n <= 64).toBe(true);
      const lr = valueAt({ type: 'float', low: 1e-4, high: 1e-2, log: true }, random()) as number;
      expect(lr >= 1e-4 && lr <= 1e-2).toBe(true);
    }
    expect(valueAt({ type: 'int', low: 3, high: 5 }, 0.9999)).toBe(5);
  });

  it('maps a point to the PEFT configuration the workers build', () => {
    const config = loraPointToConfig({ 'lora.rank': 4, 'lora.targets': 'value,query', 'lora.layers': 'upper', 'training.learningRate': 0.003 }, tiny);
    expect(config.peft.lora).toEqual({ rank: 4, alpha: 8, dropout: 0, targets: ['query', 'value'], layers: [2, 3] });
    expect(config.learningRate).toBe(0.003);
  });

  it('default space only proposes valid configurations', () => {
    const space = defaultLoraSpace(tiny);
    validateLoraSpace(space, tiny);
    const random = createRandom(3);
    for (let i = 0; i < 200; i++) {
      const { peft } = loraPointToConfig(samplePoint(space, random), tiny);
      expect(peft.lora!.rank).toBeLessThanOrEqual(tiny.hiddenSize);
      expect(peft.lora!.layers.length).toBeGreaterThan(0);
      expect(peft.lora!.targets.length).toBeGreaterThan(0);
    }
  });
});

describe('random sampler', () => {
  const space = defaultLoraSpace(tiny);
  const sampler = new RandomSampler();

  it('is reproducible for a seed and resumable from the trial number alone', () => {
    const all = sampler.ask({ space, seed: 5, history: [], numbers: [0, 1, 2, 3] });
    const resumed = sampler.ask({ space, seed: 5, history: [], numbers: [2, 3] });
    expect(resumed).toEqual(all.slice(2));
    const otherSeed = sampler.ask({ space, seed: 6, history: [], numbers: [0, 1, 2, 3] });
    expect(otherSeed).not.toEqual(all);
  });
});

describe('closed-form counts of every module on bert-base (reference values)', () => {
  const all = [...Array(12).keys()];
  const cases: [string, Parameters<typeof countPeftParams>[0], number][] = [
    ['Pfeiffer adapter, rf 16', { serialAdapter: { placement: 'pfeiffer', size: 48, layers: all, activation: 'relu' } }, 894_528],
    ['Houlsby adapter, rf 16', { serialAdapter: { placement: 'houlsby', size: 48, layers: all, activation: 'swish' } }, 1_789_056],
    ['parallel adapter, rf 2', { parallelAdapter: { size: 384, layers: all, scaling: 4, activation: 'relu' } }, 7_091_712],
    ['(IA)3, paper placement', { ia3: { layers: all } }, 55_296],
    ['prefix p 20, as stored', { prefix: { length: 20, layers: all, reparamSize: 512 } }, 368_640],
    ['BitFit', { bitfit: { layers: all } }, 101_376],
    ['prompt tuning p 20', { promptTuning: { length: 20 } }, 15_360],
  ];
  it.each(cases)('%s', (_name, peft, expected) => {
    expect(countPeftParams(peft, bertBase)).toBe(expected);
  });

  it('counts the prefix MLP while training, and UniPELT gates per gated module', () => {
    const prefix = { length: 10, layers: all, reparamSize: 800 };
    expect(countPeftParams({ prefix }, bertBase, 'training')).toBe(10 * 768 + (768 * 800 + 800) + (800 * 2 * 12 * 768 + 2 * 12 * 768));
    const lora = { rank: 8, alpha: 2, dropout: 0, targets: ['query' as const, 'value' as const], layers: all };
    const serialAdapter = { placement: 'pfeiffer' as const, size: 48, layers: all, activation: 'relu' as const };
    const gated = countPeftParams({ lora, serialAdapter, prefix, gates: { lora: true, serialAdapter: true, prefix: true } }, bertBase);
    const ungated = countPeftParams({ lora, serialAdapter, prefix }, bertBase);
    expect(gated - ungated).toBe(4 * 12 * (768 + 1));
  });
});
