/**
 * The shared conformance suite: every sampler in SAMPLER_NAMES runs the same checks.
 */
import { describe, expect, it } from 'vitest';
import type { AskRequest, TrialObservation } from '../search/ask.js';
import { autopeftPreset, presetObjectives } from '../search/presets.js';
import { createSampler, SAMPLER_NAMES } from '../search/sampler.js';
import type { SearchSpace } from '../search/space.js';
import { pointKey, pointProblem } from '../search/space.js';
import type { EncoderShape, SearchPoint } from '../search/types.js';

const tiny: EncoderShape = { vocabSize: 100, hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32, maxPositions: 32, typeVocabSize: 2 };
const space = autopeftPreset.space(tiny);
const objectives = presetObjectives(autopeftPreset, tiny, { maxTrainablePercent: 1.5 });
const maxParams = objectives[1]!.max!;

/** A smooth synthetic metric of an autopeft point. */
function metric(point: SearchPoint): number {
  const layers = Object.keys(point).filter((k) => k.startsWith('layer.') && point[k] === true).length;
  const size = Number(point['serialAdapter.size']) + 0.5 * Number(point['parallelAdapter.size']) + 0.2 * Number(point['prefix.length']);
  return 0.5 + 0.4 * (1 - Math.exp(-0.05 * size * layers));
}

const conditionalSpace: SearchSpace = {
  'adapter.on': { type: 'categorical', choices: [true, false] },
  'adapter.size': { type: 'int', low: 1, high: 64, log: true, condition: { parent: 'adapter.on', values: [true] } },
  mode: { type: 'categorical', choices: ['a', 'b', 'c'] },
  lr: { type: 'float', low: 1e-4, high: 1e-2, log: true },
};

interface Step {
  request: AskRequest;
  points: SearchPoint[];
}

/** Runs a study with batches of up to 3 and one trial left pending per round; records every ask. */
function simulate(name: (typeof SAMPLER_NAMES)[number], seed: number, trials: number): Step[] {
  const steps: Step[] = [];
  const history: TrialObservation[] = [];
  let next = 0;
  while (next < trials) {
    const count = Math.min(1 + (next % 3), trials - next);
    const request: AskRequest = {
      space,
      seed,
      history: history.map((t) => ({ ...t })),
      numbers: Array.from({ length: count }, (_, i) => next + i),
      objectives,
      isValid: autopeftPreset.isValid,
      budget: trials,
    };
    const points = createSampler(name).ask(request);
    steps.push({ request, points });
    // Earlier pending trials finish; the last new one stays pending for a round, one in five is pruned.
    for (const t of history) if (t.state === 'pending') Object.assign(t, { state: 'complete', values: [metric(t.point), objectives[1]!.compute!(t.point)] });
    for (const [i, point] of points.entries()) {
      const number = next + i;
      const values = [metric(point), objectives[1]!.compute!(point)];
      if (i === points.length - 1) history.push({ number, point, state: 'pending' });
      else history.push({ number, point, state: number % 5 === 4 ? 'pruned' : 'complete', values });
    }
    next += count;
  }
  return steps;
}

describe.each(SAMPLER_NAMES)('sampler %s', (name) => {
  const steps = simulate(name, 3, 24);

  it('proposes only valid points within the constraint', () => {
    for (const { points } of steps) {
      for (const point of points) {
        expect(pointProblem(space, point)).toBeUndefined();
        expect(autopeftPreset.isValid(point)).toBe(true);
        expect(objectives[1]!.compute!(point)).toBeLessThanOrEqual(maxParams);
      }
    }
  });

  it('never proposes a pending point or the same point twice in a batch', () => {
    for (const { request, points } of steps) {
      const pending = new Set(request.history.filter((t) => t.state === 'pending').map((t) => pointKey(t.point)));
      const keys = points.map(pointKey);
      expect(new Set(keys).size).toBe(keys.length);
      for (const key of keys) expect(pending.has(key)).toBe(false);
    }
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const again = simulate(name, 3, 24);
    expect(again.map((s) => s.points)).toEqual(steps.map((s) => s.points));
    const other = simulate(name, 4, 24);
    expect(other.map((s) => s.points)).not.toEqual(steps.map((s) => s.points));
  });

  it('resumes from the history alone (a fresh sampler per ask gives the same points)', () => {
    for (const step of steps.filter((_, i) => i % 3 === 2)) {
      // The history as stored (a JSON round trip), asked of a fresh sampler.
      const history = JSON.parse(JSON.stringify(step.request.history)) as TrialObservation[];
      expect(createSampler(name).ask({ ...step.request, history })).toEqual(step.points);
    }
  });

  it('handles conditional spaces without objectives that are computed', () => {
    const history: TrialObservation[] = [];
    for (let number = 0; number < 14; number++) {
      const [point] = createSampler(name).ask({ space: conditionalSpace, seed: 1, history, numbers: [number], budget: 14 });
      expect(pointProblem(conditionalSpace, point!)).toBeUndefined();
      const size = point!['adapter.on'] === true ? Number(point!['adapter.size']) : 0;
      history.push({ number, point: point!, state: 'complete', values: [0.5 + 0.01 * Math.log1p(size) - Math.abs(Math.log10(Number(point!.lr)) + 3) * 0.05, size] });
    }
  });
});
