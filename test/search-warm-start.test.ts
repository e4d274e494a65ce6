/**
 * Warm-start helpers: enqueued configurations are checked against the space and the preset,
 * and another study's trials become prior observations that BO uses at once.
 */
import { describe, expect, it } from 'vitest';
import { autopeftPreset, presetObjectives } from '../search/presets.js';
import type { TrialObservation } from '../search/sampler.js';
import { MoboSampler } from '../search/sampler.js';
import type { EncoderShape, SearchPoint } from '../search/types.js';
import { configurationsProblem, priorObservations, warmStartFrom } from '../search/warm-start.js';

const tiny: EncoderShape = { vocabSize: 100, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, maxPositions: 32, typeVocabSize: 2 };
const space = autopeftPreset.space(tiny);
const good: SearchPoint = { 'serialAdapter.size': 8, 'parallelAdapter.size': 0, 'prefix.length': 0, 'layer.0': true, 'layer.1': false };

describe('enqueued configurations', () => {
  it('accepts valid points of the space', () => {
    expect(configurationsProblem(space, [good, { ...good, 'layer.1': true }], autopeftPreset.isValid)).toBeUndefined();
  });

  it('names the configuration and parameter of the first problem', () => {
    expect(configurationsProblem(space, [good, { ...good, 'serialAdapter.size': 7 }], autopeftPreset.isValid)).toEqual({ index: 1, parameter: 'serialAdapter.size', message: '7 is outside its distribution' });
    expect(configurationsProblem(space, [{ ...good, 'lora.rank': 4 }], autopeftPreset.isValid)).toMatchObject({ index: 0, parameter: 'lora.rank' });
    const { 'layer.1': _, ...missing } = good;
    expect(configurationsProblem(space, [missing], autopeftPreset.isValid)).toMatchObject({ index: 0, parameter: 'layer.1', message: 'active but missing' });
    // Every module off: the preset cannot build it.
    expect(configurationsProblem(space, [{ ...good, 'serialAdapter.size': 0 }], autopeftPreset.isValid)).toMatchObject({ index: 0, parameter: '' });
    expect(configurationsProblem(space, [good, good], autopeftPreset.isValid)).toEqual({ index: 1, parameter: '', message: 'repeats configuration 0' });
  });
});

describe('prior observations', () => {
  const objectives = presetObjectives(autopeftPreset, tiny, {});
  const metric = (p: SearchPoint): number => 0.5 + 0.01 * Number(p['serialAdapter.size']) + (p['layer.1'] === true ? 0.05 : 0);
  const sizes = [1, 2, 4, 8, 16];
  const other: TrialObservation[] = sizes.flatMap((size, i) => [true, false].map((top, j) => {
    const point = { ...good, 'serialAdapter.size': size, 'layer.1': top };
    return { number: 2 * i + j, point, state: 'complete' as const, values: [metric(point), objectives[1]!.compute!(point)] };
  }));

  it('numbers another study\'s finished trials below zero, in order', () => {
    const priors = priorObservations([...other, { number: 99, point: good, state: 'failed' }]);
    expect(priors.map((t) => t.number)).toEqual(Array.from({ length: 10 }, (_, i) => i - 10));
    expect(priors.map((t) => t.point)).toEqual(other.map((t) => t.point));
  });

  it('lets BO skip its initial design when priors cover it', () => {
    const history = priorObservations(other);
    const request = { space, seed: 1, history, numbers: [0], objectives, isValid: autopeftPreset.isValid };
    const warm = new MoboSampler().ask(request)[0]!;
    const cold = new MoboSampler().ask({ ...request, history: [] })[0]!;
    // Cold, trial 0 is the first Latin-hypercube point; warm, BO proposes from the priors (another point).
    expect(warm).not.toEqual(cold);
    // And it never re-proposes a prior configuration.
    expect(history.some((t) => JSON.stringify(t.point) === JSON.stringify(warm))).toBe(false);
  });
});

describe('warm start from another study', () => {
  const point = (size: number, top: boolean): SearchPoint => ({ ...good, 'serialAdapter.size': size, 'layer.1': top });
  // [metric, params]: (8, both) is best; (1, lower) cheapest; (4, lower) is dominated by (2, lower).
  const trials: TrialObservation[] = [
    { number: 0, point: point(8, true), state: 'complete', values: [0.9, 400] },
    { number: 1, point: point(1, false), state: 'complete', values: [0.6, 10] },
    { number: 2, point: point(4, false), state: 'complete', values: [0.65, 100] },
    { number: 3, point: point(2, false), state: 'complete', values: [0.7, 40] },
    { number: 4, point: point(16, true), state: 'pruned', values: [0.95, 800] },
    { number: 5, point: point(16, false), state: 'failed' },
  ];
  const target = { space, baseModel: 'tiny-random', isValid: autopeftPreset.isValid };

  it('gives the trials as priors when the space and base model match', () => {
    const { priors, configurations } = warmStartFrom({ space, baseModel: 'tiny-random', trials }, target);
    expect(configurations).toEqual([]);
    expect(priors.map((t) => t.point)).toEqual(trials.slice(0, 5).map((t) => t.point));
  });

  it('gives the Pareto configurations of the complete trials, in order, when the task differs', () => {
    const { priors, configurations } = warmStartFrom({ space, baseModel: 'brown-bert-small', trials }, target);
    expect(priors).toEqual([]);
    expect(configurations).toEqual([point(8, true), point(1, false), point(2, false)]);
    // Only those that are points of the new space.
    const narrow = { ...space, 'serialAdapter.size': { type: 'categorical' as const, choices: [0, 1, 2] } };
    expect(warmStartFrom({ space, baseModel: 'tiny-random', trials }, { ...target, space: narrow }).configurations).toEqual([point(1, false), point(2, false)]);
  });
});
