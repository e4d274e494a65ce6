/**
 * The default hypervolume reference of a study: majority-class level and largest configuration,
 * and the finder of a space's largest configuration against brute force and hand counts.
 */
import { describe, expect, it } from 'vitest';
import { countPeftParams } from '../search/param-count.js';
import type { Preset } from '../search/presets.js';
import { autopeftLoraPreset, autopeftPreset, loraPreset, PRESETS } from '../search/presets.js';
import { createRandom } from '../search/random.js';
import { defaultReference, largestConfiguration } from '../search/reference-point.js';
import { dropInactive, pointKey, pointProblem, samplePoint } from '../search/space.js';
import type { SearchSpace } from '../search/space.js';
import { maximiseOverSpace } from '../search/space-maximum.js';
import type { EncoderShape, SearchPoint } from '../search/types.js';

const bertBase: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
/** The bundled model's shape (workers/models/brown-bert-small/config.json). */
const bundled: EncoderShape = { vocabSize: 8000, hiddenSize: 128, numLayers: 2, numHeads: 4, intermediateSize: 512, maxPositions: 128, typeVocabSize: 2 };
const sizeOf =
  (preset: Preset, shape: EncoderShape = bertBase) =>
  (point: SearchPoint) =>
    countPeftParams(preset.toConfig(point, shape).peft, shape);

describe('default reference point', () => {
  it('takes the largest configuration of the LoRA space: rank 64 on all six projections of all 12 layers', () => {
    const space = loraPreset.space(bertBase);
    // r·(d_in + d_out) per projection: Q, K, V, O are 768→768, FFN-in 768→3072, FFN-out 3072→768.
    const perLayer = 64 * (4 * (768 + 768) + 2 * (768 + 3072));
    expect(largestConfiguration(space, sizeOf(loraPreset), () => true, 1)).toBe(12 * perLayer);
    expect(12 * perLayer).toBe(10_616_832);
  });

  it('equals the maximum over every point of a finite space', () => {
    const space = loraPreset.space(bertBase);
    let exact = 0;
    const choices = (name: string) => (space[name] as { choices: (string | number)[] }).choices;
    for (const rank of choices('lora.rank'))
      for (const alpha of choices('lora.alpha'))
        for (const targets of choices('lora.targets'))
          for (const layers of choices('lora.layers')) exact = Math.max(exact, sizeOf(loraPreset)({ 'lora.rank': rank, 'lora.alpha': alpha, 'lora.targets': targets, 'lora.layers': layers, 'training.learningRate': 1e-3 }));
    expect(largestConfiguration(space, sizeOf(loraPreset), () => true, 7)).toBe(exact);
  });

  it('keeps to valid points of the AutoPEFT space (none valid: no reference)', () => {
    const space = autopeftPreset.space(bertBase);
    const largest = largestConfiguration(space, sizeOf(autopeftPreset), (p) => autopeftPreset.isValid(p), 3)!;
    expect(largest).toBeGreaterThan(0);
    expect(largestConfiguration(space, sizeOf(autopeftPreset), () => false, 3)).toBeUndefined();
  });

  it('waits for the majority-class level', () => {
    expect(defaultReference(undefined, 100)).toBeUndefined();
    expect(defaultReference(0.66, 100)).toEqual({ point: [0.66, 100], source: 'default' });
  });
});

/** Every point of a space of categorical and int parameters: each combination of values, inactive parameters dropped. */
function everyPoint(space: SearchSpace): SearchPoint[] {
  let full: SearchPoint[] = [{}];
  for (const [name, dist] of Object.entries(space)) {
    if (dist.type === 'float') throw new Error(`${name}: a float cannot be enumerated`);
    const values = dist.type === 'categorical' ? dist.choices : Array.from({ length: dist.high - dist.low + 1 }, (_, i) => dist.low + i);
    full = full.flatMap((point) => values.map((value) => ({ ...point, [name]: value })));
  }
  return [...new Map(full.map((point) => dropInactive(space, point)).map((point) => [pointKey(point), point])).values()];
}

/** A hand-made space, its objective and validity, and the brute-force maximum over its valid points. */
interface SmallCase {
  name: string;
  space: SearchSpace;
  objective: (point: SearchPoint) => number;
  isValid: (point: SearchPoint) => boolean;
  /** Whether coordinate ascent alone reaches the maximum (else the sampled starts are needed). */
  ascentAlone: boolean;
}

const num = (point: SearchPoint, name: string): number => Number(point[name] ?? 0);
const LAYERS = [0, 1, 2];

const SMALL_CASES: SmallCase[] = [
  {
    // The presets' shape: per-layer sizes need their layer and their module on, and the last choices are 0 and false.
    name: 'per-layer sizes under two switches (the last choices are off)',
    space: {
      'm.on': { type: 'categorical', choices: [true, false] },
      ...Object.fromEntries(LAYERS.map((i) => [`layer.${i}`, { type: 'categorical', choices: [true, false] }])),
      ...Object.fromEntries(LAYERS.map((i) => [`m.size.${i}`, { type: 'categorical', choices: [4, 2, 1, 0], condition: { parent: `layer.${i}`, values: [true], and: [{ parent: 'm.on', values: [true] }] } }])),
      'p.len': { type: 'categorical', choices: [3, 1, 0] },
    },
    objective: (point) => {
      const on = LAYERS.filter((i) => point[`layer.${i}`] === true);
      return on.reduce((n, i) => n + (num(point, `m.size.${i}`) > 0 ? 2 * 8 * num(point, `m.size.${i}`) + 8 + num(point, `m.size.${i}`) : 0), 0) + 2 * num(point, 'p.len') * 8 * on.length;
    },
    isValid: (point) => LAYERS.some((i) => point[`layer.${i}`] === true) && (num(point, 'p.len') > 0 || LAYERS.some((i) => num(point, `m.size.${i}`) > 0)),
    ascentAlone: true,
  },
  {
    // The best family is neither the first nor the last choice, its best size is nested two levels down, and another family's size peaks inside its range.
    name: 'a family choice with nested, non-monotone sizes',
    space: {
      family: { type: 'categorical', choices: ['a', 'b', 'c'] },
      'a.size': { type: 'int', low: 0, high: 8, condition: { parent: 'family', values: ['a'] } },
      'b.method': { type: 'categorical', choices: ['x', 'y'], condition: { parent: 'family', values: ['b'] } },
      'b.rank': { type: 'int', low: 1, high: 6, condition: { parent: 'b.method', values: ['y'] } },
      'c.k': { type: 'categorical', choices: [1, 2, 3], condition: { parent: 'family', values: ['c'] } },
    },
    objective: (point) => {
      if (point.family === 'a') return 20 - (num(point, 'a.size') - 5) ** 2;
      if (point.family === 'b') return point['b.method'] === 'y' ? 4 + 3 * num(point, 'b.rank') : 15;
      return 5 * num(point, 'c.k');
    },
    isValid: () => true,
    ascentAlone: true,
  },
  {
    // Switching `on` alone costs and `kind` alone gains nothing: only changing both at once reaches z.
    name: 'a size behind two parents that pays only when both change',
    space: {
      kind: { type: 'categorical', choices: ['x', 'y'] },
      on: { type: 'categorical', choices: [true, false] },
      z: { type: 'int', low: 0, high: 9, condition: { parent: 'kind', values: ['x'], and: [{ parent: 'on', values: [true] }] } },
    },
    objective: (point) => 2 * num(point, 'z') - (point.on === true ? 3 : 0) + (point.kind === 'y' ? 4 : 0),
    isValid: () => true,
    ascentAlone: true,
  },
  {
    // A constraint that single changes cannot cross: from all on (invalid) the ascent stops at {a, b}; a sampled {b, c} climbs on.
    name: 'a validity constraint that traps coordinate ascent',
    space: { a: { type: 'categorical', choices: [true, false] }, b: { type: 'categorical', choices: [true, false] }, c: { type: 'categorical', choices: [true, false] } },
    objective: (point) => (point.a === true ? 1 : 0) + (point.b === true ? 3 : 0) + (point.c === true ? 5 : 0),
    isValid: (point) => [point.a, point.b, point.c].filter((on) => on === true).length === 2,
    ascentAlone: false,
  },
];

describe('largest configuration of a space', () => {
  for (const { name, space, objective, isValid, ascentAlone } of SMALL_CASES) {
    it(`equals the brute-force maximum over every point: ${name}`, () => {
      const valid = everyPoint(space).filter(isValid);
      const exact = Math.max(...valid.map(objective));
      const found = maximiseOverSpace(space, objective, isValid, { seed: 5 })!;
      expect(found.value).toBe(exact);
      if (ascentAlone) expect(maximiseOverSpace(space, objective, isValid, { seed: 5, samples: 0 })!.value).toBe(exact);
      // It is a real point of the space, valid, and its value is its objective.
      expect(pointProblem(space, found.point)).toBeUndefined();
      expect(isValid(found.point)).toBe(true);
      expect(objective(found.point)).toBe(found.value);
    });
  }

  it('equals the brute-force maximum of 15 random count-like spaces, by the ascent alone', () => {
    // Two layers and two modules, a size per (layer, module) behind both switches, one shared length,
    // choices in random order, random weights, and a random cost (or gain) for each switch being on.
    const random = createRandom(2026);
    const shuffled = <T,>(values: T[]): T[] => values.map((v) => [random(), v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    const weight = (): number => 1 + Math.floor(random() * 9);
    for (let trial = 0; trial < 15; trial++) {
      const space: SearchSpace = { len: { type: 'categorical', choices: shuffled([0, 1, 3]) } };
      const switchCost: Record<string, number> = {};
      for (const name of ['layer.0', 'layer.1', 'a.on', 'b.on']) {
        space[name] = { type: 'categorical', choices: shuffled([true, false]) };
        switchCost[name] = Math.floor(random() * 21) - 10;
      }
      const sizeWeight: Record<string, number> = {};
      for (const m of ['a', 'b']) {
        for (const i of [0, 1]) {
          space[`${m}.size.${i}`] = { type: 'categorical', choices: shuffled([0, 1, 2, 4]), condition: { parent: `layer.${i}`, values: [true], and: [{ parent: `${m}.on`, values: [true] }] } };
          sizeWeight[`${m}.size.${i}`] = weight();
        }
      }
      const lenWeight = weight();
      const objective = (point: SearchPoint): number => {
        let n = lenWeight * num(point, 'len') * [0, 1].filter((i) => point[`layer.${i}`] === true).length;
        for (const [name, cost] of Object.entries(switchCost)) if (point[name] === true) n += cost;
        for (const [name, w] of Object.entries(sizeWeight)) n += w * num(point, name);
        return n;
      };
      const isValid = (point: SearchPoint): boolean => point['layer.0'] === true || point['layer.1'] === true;
      const exact = Math.max(...everyPoint(space).filter(isValid).map(objective));
      expect(maximiseOverSpace(space, objective, isValid, { seed: trial, samples: 0 })!.value, `space ${trial}: ${JSON.stringify({ switchCost, sizeWeight, lenWeight })}`).toBe(exact);
    }
  });

  it('climbs from sampled points: without them a constraint can stop the ascent short', () => {
    const trap = SMALL_CASES[3]!;
    expect(maximiseOverSpace(trap.space, trap.objective, trap.isValid, { seed: 5, samples: 0 })!.value).toBe(4);
    expect(maximiseOverSpace(trap.space, trap.objective, trap.isValid, { seed: 5 })!.value).toBe(8);
  });

  it('is deterministic for its seed', () => {
    const space = autopeftLoraPreset.space(bertBase, { perLayerSizes: true });
    const run = () => maximiseOverSpace(space, sizeOf(autopeftLoraPreset), (p) => autopeftLoraPreset.isValid(p), { seed: 9 });
    expect(run()).toEqual(run());
  });
});

/**
 * The true largest configuration of the autopeft presets, counted by hand: every layer on, both
 * adapters at width d (2dm + d + m each), the longest prefix (2 p d per layer), and for
 * autopeft-lora LoRA at the largest rank on all six projections (r (d_in + d_out)), (IA)3
 * (2d + d_ff) and BitFit (7d + d_ff) in every layer.
 */
function trueLargest(shape: EncoderShape, lora: boolean, prefix: number, rank: number): number {
  const d = shape.hiddenSize;
  const ff = shape.intermediateSize;
  const adapters = 2 * (2 * d * d + d + d);
  const prefixParams = 2 * prefix * d;
  const loraParams = rank * (4 * (d + d) + (d + ff) + (ff + d));
  const perLayer = adapters + prefixParams + (lora ? loraParams + (2 * d + ff) + (7 * d + ff) : 0);
  return shape.numLayers * perLayer;
}

describe('largest configuration of the autopeft presets', () => {
  // The longest prefix is the largest halving size within half the positions; LoRA ranks go to min(64, d/4).
  const shapes: [string, EncoderShape, { prefix: number; rank: number }][] = [
    ['bert-base', bertBase, { prefix: 192, rank: 64 }],
    ['the bundled model', bundled, { prefix: 64, rank: 32 }],
  ];
  const presets: [Preset, boolean][] = [
    [autopeftPreset, false],
    [autopeftLoraPreset, true],
  ];
  for (const [shapeName, shape, { prefix, rank }] of shapes) {
    for (const [preset, lora] of presets) {
      for (const perLayerSizes of [false, true]) {
        it(`${preset.name}${perLayerSizes ? ' with per-layer sizes' : ''} on ${shapeName}: the hand count, and at least every one of 2,000 random valid points`, () => {
          const space = preset.space(shape, { perLayerSizes });
          const size = sizeOf(preset, shape);
          const isValid = (point: SearchPoint): boolean => preset.isValid(point);
          const largest = largestConfiguration(space, size, isValid, 0)!;
          expect(largest).toBe(trueLargest(shape, lora, prefix, rank));
          const random = createRandom(41);
          let checked = 0;
          while (checked < 2000) {
            const point = samplePoint(space, random);
            if (!isValid(point)) continue;
            expect(size(point)).toBeLessThanOrEqual(largest);
            checked++;
          }
        });
      }
    }
  }

  it('survey on bert-base: the family whose largest member is largest (MAM: a 12-vector prefix and a width-768 parallel adapter in every layer)', () => {
    const survey = PRESETS.survey;
    const d = bertBase.hiddenSize;
    // Its largest rivals: a width-d Pfeiffer adapter alone (the same bottleneck without the prefix), rank-64 LoRA on query and value.
    expect(largestConfiguration(survey.space(bertBase), sizeOf(survey), (p) => survey.isValid(p), 0)).toBe(12 * (2 * 12 * d + (2 * d * d + d + d)));
  });

  it('bert-base figures: 31.9 M for autopeft, 42.7 M for autopeft-lora, with or without per-layer sizes', () => {
    expect(trueLargest(bertBase, false, 192, 64)).toBe(31_887_360);
    expect(trueLargest(bertBase, true, 192, 64)).toBe(42_660_864);
  });
});
