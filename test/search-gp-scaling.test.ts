/**
 * The GP that scales: incremental factors give the same posterior as a fresh factorisation,
 * the local variance bounds the exact one, the refit schedule, the log acquisition outside the
 * reference box, and BO proposals that do not depend on what the memos hold.
 */
import { describe, expect, it } from 'vitest';
import { expectedShortfall, HypervolumeImprovement, logExpectedShortfall } from '../search/ehvi.js';
import { clearGpMemos, FactorCache, fitHyperparameters, GaussianProcess } from '../search/gp.js';
import { createRandom } from '../search/random.js';
import type { TrialObservation } from '../search/sampler.js';
import { MoboSampler } from '../search/sampler.js';
import { refitSize } from '../search/samplers/bo.js';
import type { SearchSpace } from '../search/space.js';

const random = createRandom(11);
const inputs = Array.from({ length: 80 }, () => [random(), random(), random()]);
const outputs = inputs.map(([a, b, c]) => Math.sin(5 * a!) + b! * c! + 0.01 * random());
const probes = Array.from({ length: 20 }, () => [random(), random(), random()]);

describe.each([0, 1])('incremental GP (quadratic mean weight %d)', (basis) => {
  const hyper = fitHyperparameters(inputs, outputs, { basis });
  it('extends a cached prefix to exactly the posterior of a fresh factorisation', () => {
    const cache = new FactorCache();
    // Warm the cache with a prefix, then with a history that diverges after 50 points.
    new GaussianProcess(inputs.slice(0, 60), outputs.slice(0, 60), hyper, 0, 1, { cache });
    const shuffled = [...inputs.slice(0, 50), ...inputs.slice(50).reverse()];
    const shuffledOut = [...outputs.slice(0, 50), ...outputs.slice(50).reverse()];
    const cached = new GaussianProcess(shuffled, shuffledOut, hyper, 0.1, 2, { cache });
    const fresh = new GaussianProcess(shuffled, shuffledOut, hyper, 0.1, 2, { cache: null });
    for (const x of probes) expect(cached.predict(x)).toEqual(fresh.predict(x));
    expect(cache.lookup(`${hyper.lengthscales.join(',')}|${hyper.signal}|${hyper.noise}|${basis}`, shuffled.map((x) => `${x.join(',')}|0`))?.prefix).toBe(80);
  });

  it('conditions on a repeated input without failing (jitter on that pivot only)', () => {
    const twice = [...inputs.slice(0, 10), inputs[3]!, inputs[3]!];
    const gp = new GaussianProcess(twice, [...outputs.slice(0, 10), outputs[3]!, outputs[3]!], { ...hyper, noise: 1e-9 }, 0, 1, { cache: null });
    expect(Number.isFinite(gp.predict(inputs[3]!).mean)).toBe(true);
  });

  it('gives the posterior mean at a conditioning point in O(1), equal to predict', () => {
    const gp = new GaussianProcess(inputs, outputs, hyper, 0.3, 1.7, { cache: null });
    for (const i of [0, 17, 79]) {
      expect(gp.meanAt(i)).toBeCloseTo(gp.predict(inputs[i]!).mean, 8);
      expect(gp.predictMean(inputs[i]!)).toBeCloseTo(gp.predict(inputs[i]!).mean, 10);
    }
  });

  it('has an exact local mean and a local variance that bounds the exact one from above', () => {
    const gp = new GaussianProcess(inputs, outputs, hyper, 0, 1, { cache: null });
    let closer = 0;
    for (const x of probes) {
      const exact = gp.predict(x);
      const local = gp.predictLocal(x, 16);
      expect(local.mean).toBeCloseTo(exact.mean, 10);
      expect(local.variance).toBeGreaterThanOrEqual(exact.variance * (1 - 1e-9));
      // Close to it: the 16 nearest points carry most of the information.
      if (local.variance <= 2 * exact.variance + 1e-6) closer++;
      expect(gp.predictLocal(x, 200)).toEqual(exact);
    }
    expect(closer).toBeGreaterThanOrEqual(15);
  });
});

describe('refit schedule', () => {
  it('refits at every observation while small, then every 5 % of growth', () => {
    expect([1, 2, 19, 20, 21].map((n) => refitSize(n, 0.05))).toEqual([1, 2, 19, 20, 21]);
    const sizes = new Set(Array.from({ length: 1000 }, (_, i) => refitSize(i + 1, 0.05)));
    expect(sizes.size).toBeLessThan(130);
    for (const n of [100, 500, 1000]) {
      expect(refitSize(n, 0.05)).toBeLessThanOrEqual(n);
      expect(n - refitSize(n, 0.05)).toBeLessThanOrEqual(Math.max(1, Math.floor(0.05 * n)));
    }
    expect(refitSize(1000, 0)).toBe(1000);
  });
});

describe('acquisition outside the reference box', () => {
  it('computes log ψ stably where ψ underflows', () => {
    for (const [t, m, s] of [[0, 1, 0.5], [2, 1, 0.3], [0, 3, 0.2]] as const) expect(logExpectedShortfall(t, m, s)).toBeCloseTo(Math.log(expectedShortfall(t, m, s)), 6);
    expect(expectedShortfall(0, 10, 0.1)).toBe(0);
    const far = logExpectedShortfall(0, 10, 0.1);
    expect(Number.isFinite(far)).toBe(true);
    expect(logExpectedShortfall(0, 11, 0.1)).toBeLessThan(far);
    expect(logExpectedShortfall(0, 10, 0.11)).toBeGreaterThan(far);
    expect(logExpectedShortfall(1, 2, 0)).toBe(-Infinity);
  });

  it('ranks candidates by the log of the box volume they are expected to dominate', () => {
    const hvi = new HypervolumeImprovement([[5, 5]], [1, 1]);
    expect(hvi.boxEntered).toBe(false);
    expect(hvi.expected([6, 6], [0.05, 0.05])).toBe(0);
    expect(hvi.logExpected([3, 3], [0.05, 0.05])).toBeGreaterThan(hvi.logExpected([6, 6], [0.05, 0.05]));
    expect(new HypervolumeImprovement([[0.5, 0.5]], [1, 1]).boxEntered).toBe(true);
  });

  it('moves BO toward the box while every observation misses it and the improvement underflows', () => {
    const space: SearchSpace = { x0: { type: 'float', low: 0, high: 1 }, x1: { type: 'float', low: 0, high: 1 } };
    // Far from the box [10, 10]: the plain improvement is 0 for every candidate.
    const f = (p: { x0: number; x1: number }): number[] => [20 + 4 * (p.x0 - 0.7) ** 2 + (p.x1 - 0.4) ** 2, 20 + 4 * (p.x1 - 0.4) ** 2 + (p.x0 - 0.7) ** 2];
    const draw = createRandom(5);
    const history: TrialObservation[] = Array.from({ length: 12 }, (_, number) => {
      const point = { x0: draw(), x1: draw() };
      return { number, point, state: 'complete' as const, values: f(point) };
    });
    const excess = (v: number[]): number => v.reduce((s, y) => s + y - 10, 0);
    const objectives = [{ direction: 'minimize' as const }, { direction: 'minimize' as const }];
    const propose = (outsideBox: 'log' | 'none' | 'moving'): number => {
      const [point] = new MoboSampler({ outsideBox }).ask({ space, seed: 1, history, numbers: [12], objectives, referencePoint: [10, 10] });
      return excess(f(point as { x0: number; x1: number }));
    };
    const median = [...history.map((t) => excess(t.values!))].sort((a, b) => a - b)[6]!;
    // The default ('log', then a moving reference when even its log underflows) heads for the
    // optimum at excess 20; the plain improvement, 0 everywhere, picks the most uncertain corner.
    expect(propose('log')).toBeLessThan(median);
    expect(propose('log')).toBeLessThan(20.2);
    expect(propose('none')).toBeGreaterThan(median);
  });
});

describe('BO with the memos', () => {
  it('proposes the same points whether or not the memos hold earlier factors and fits', () => {
    const space: SearchSpace = { a: { type: 'float', low: 0, high: 1 }, b: { type: 'float', low: 0, high: 1 }, c: { type: 'categorical', choices: ['x', 'y', 'z'] } };
    const draw = createRandom(9);
    const history: TrialObservation[] = Array.from({ length: 230 }, (_, number) => {
      const point = { a: draw(), b: draw(), c: ['x', 'y', 'z'][Math.floor(draw() * 3)]! };
      const state = number % 7 === 3 ? ('pruned' as const) : ('complete' as const);
      return { number, point, state, values: [point.a + (point.c === 'y' ? 0.2 : 0), 1 - Math.sqrt(point.a) + point.b] };
    });
    history.push({ number: 230, point: { a: 0.5, b: 0.5, c: 'x' }, state: 'pending' });
    const objectives = [{ direction: 'minimize' as const }, { direction: 'minimize' as const }];
    const ask = (n: number): unknown => new MoboSampler().ask({ space, seed: 3, history: history.slice(0, n), numbers: [n, n + 1], objectives });
    // Warm the memos with a shorter history, then ask for the longer one; then cold.
    ask(220);
    const warm = ask(231);
    clearGpMemos();
    expect(ask(231)).toEqual(warm);
  });
});
