import { describe, expect, it } from 'vitest';
import { HypervolumeImprovement, expectedShortfall } from '../search/ehvi.js';
import { fitGaussianProcess, logPosterior } from '../search/gp.js';
import { crowdingDistance, defaultReferencePoint, designReferencePoint, dominates, hypervolume, nonDominatedBoxes, nonDominatedSort, paretoFront, toMinimization } from '../search/pareto.js';
import { createRandom } from '../search/random.js';

describe('Pareto utilities', () => {
  it('takes the reference of a search given none from its first 10 observations: their upper quartile plus 10 % of their spread', () => {
    // Objective 0: 0..9 (upper quartile 6, spread 6); objective 1: a far-off point (1000) among them.
    const design = Array.from({ length: 10 }, (_, i) => [i, i === 9 ? 1000 : 10 + i]);
    expect(designReferencePoint(design)).toEqual([6.6, 16 + 0.6]);
    // Later observations never move the box, however far off; the worst observation would.
    expect(designReferencePoint([...design, [500, 5000], [-3, -3]])).toEqual(designReferencePoint(design));
    expect(defaultReferencePoint(design)[1]).toBeGreaterThan(1000);
  });

  it('sorts into non-dominated fronts', () => {
    const points = [[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [2, 2]];
    expect(dominates([2, 2], [3, 3])).toBe(true);
    expect(dominates([2, 2], [2, 2])).toBe(false);
    expect(paretoFront(points)).toEqual([0, 1, 2, 5]);
    expect(nonDominatedSort(points)).toEqual([[0, 1, 2, 5], [3], [4]]);
    const crowding = crowdingDistance(points, [0, 1, 2]);
    expect(crowding.get(0)).toBe(Infinity);
    expect(crowding.get(1)).toBeCloseTo(4 / 4 + 4 / 4);
  });

  it('converts directions and defaults the reference point to the nadir plus 10 %', () => {
    expect(toMinimization([0.9, 100], ['maximize', 'minimize'])).toEqual([-0.9, 100]);
    expect(defaultReferencePoint([[0, 10], [2, 20]])).toEqual([2.2, 21]);
  });

  it('computes 2-D hypervolume as hand-computed', () => {
    // Staircase (1,3), (2,2), (3,1) under reference (4,4): 3 + 2*... = 1*1 + ... computed by strips.
    expect(hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4])).toBe(1 * 1 + 1 * 2 + 1 * 3);
    expect(hypervolume([[1, 3], [2, 2], [3, 1], [3, 3], [5, 0]], [4, 4])).toBe(6);
    expect(hypervolume([], [4, 4])).toBe(0);
    expect(hypervolume([[0, 0]], [1, 2])).toBe(2);
  });

  it('computes 3-D hypervolume as hand-computed', () => {
    expect(hypervolume([[0, 0, 0]], [1, 2, 3])).toBe(6);
    // Two boxes [0,2]x[0,1]x[0,1] and [0,1]x[0,2]x[0,1] overlap in a unit cube: 2 + 2 - 1.
    expect(hypervolume([[0, 1, 1], [1, 0, 1]], [2, 2, 2])).toBe(3);
    // Add [1,2]x[1,2]x[0,2]... point (1,1,0): its box [1,2]^2x[0,2] = 2, overlapping the union in [1,2]^2x[1,2] = 1.
    expect(hypervolume([[0, 1, 1], [1, 0, 1], [1, 1, 0]], [2, 2, 2])).toBe(4);
  });

  it('decomposes the non-dominated region into boxes whose volume is the complement', () => {
    const random = createRandom(2);
    for (const m of [2, 3]) {
      const points = Array.from({ length: 12 }, () => Array.from({ length: m }, () => random()));
      const reference = new Array<number>(m).fill(1.2);
      // Clip the open lower side at 0 to compare with the reference box volume.
      const free = nonDominatedBoxes(points, reference).reduce((s, b) => s + b.lo.reduce((p, lo, d) => p * (b.hi[d]! - Math.max(0, lo)), 1), 0);
      expect(free + hypervolume(points, reference)).toBeCloseTo(1.2 ** m, 10);
    }
  });
});

describe('expected hypervolume improvement', () => {
  const front = [[1, 3], [2, 2], [3, 1]];
  const hvi = new HypervolumeImprovement(front, [4, 4]);

  it('equals the exact improvement for known points', () => {
    expect(hvi.exact([1.5, 1.5])).toBeCloseTo(hypervolume([...front, [1.5, 1.5]], [4, 4]) - 6, 12);
    expect(hvi.exact([0, 0])).toBeCloseTo(16 - 6, 12);
  });

  it('is zero where no improvement is possible and positive where it is', () => {
    expect(hvi.exact([2.5, 2.5])).toBe(0);
    expect(hvi.expected([2, 2.5], [0, 0])).toBe(0);
    // Exactly known cost beyond the reference: nothing to gain whatever the metric.
    expect(hvi.expected([-100, 4.5], [5, 0])).toBe(0);
    // Known cost 2.5, uncertain metric: improvement possible when the metric falls below 2.
    expect(hvi.expected([2.5, 2.5], [0, 0.3])).toBeGreaterThan(0);
    expect(hvi.expected([1.5, 1.5], [0.1, 0.1])).toBeGreaterThan(hvi.expected([2.5, 2.5], [0.1, 0.1]));
  });

  it('matches a Monte Carlo estimate', () => {
    const random = createRandom(9);
    const gaussian = (): number => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
    const mean = [2.2, 1.8];
    const sd = [0.5, 0.3];
    let sum = 0;
    const n = 40_000;
    for (let i = 0; i < n; i++) sum += hvi.exact([mean[0]! + sd[0]! * gaussian(), mean[1]! + sd[1]! * gaussian()]);
    expect(hvi.expected(mean, sd)).toBeCloseTo(sum / n, 2);
    expect(expectedShortfall(1, 1, 0)).toBe(0);
    expect(expectedShortfall(2, 1, 0)).toBe(1);
  });
});

describe('Gaussian process', () => {
  const random = createRandom(4);
  const x = Array.from({ length: 20 }, () => [random(), random()]);
  const f = (p: number[]): number => Math.sin(6 * p[0]!) + 0.5 * p[1]!;
  const y = x.map(f);

  it.each([0, 1])('has an exact gradient of the log posterior (quadratic mean weight %d)', (basis) => {
    const theta = [-0.7, 0.3, 0.2, -4];
    const { value, gradient } = logPosterior(x, y, theta, undefined, basis);
    for (let i = 0; i < theta.length; i++) {
      const shifted = [...theta];
      shifted[i]! += 1e-6;
      expect(gradient[i]!).toBeCloseTo((logPosterior(x, y, shifted, undefined, basis).value - value) / 1e-6, 3);
    }
  });

  it('finds a small bowl along each input from few points with the quadratic mean, where the plain GP sends every input to a bound', () => {
    // 14 points in 6 inputs; the five last inputs add a shallow bowl each, off the cube's middle.
    const draw = createRandom(4);
    const centres = [0.3, 0.7, 0.4, 0.6, 0.25];
    const inputs = Array.from({ length: 14 }, () => Array.from({ length: 6 }, () => draw()));
    const bowl = (p: number[]): number => Math.cos(3 * p[0]!) + 0.25 * centres.reduce((s, c, i) => s + (p[i + 1]! - c) ** 2, 0);
    const outputs = inputs.map(bowl);
    // Where the posterior mean is lowest along each bowl input, the others at 0.5.
    const minimiser = (basis: number): number[] => {
      const gp = fitGaussianProcess(inputs, outputs, { basis }, undefined, null);
      return centres.map((_, i) => {
        let best = { at: 0, mean: Infinity };
        for (let k = 0; k <= 50; k++) {
          const p = new Array<number>(6).fill(0.5);
          p[i + 1] = k / 50;
          const mean = gp.predict(p).mean;
          if (mean < best.mean) best = { at: k / 50, mean };
        }
        return best.at;
      });
    };
    // Lengthscales of 6-30 make the plain GP nearly linear along them: its minimum is a bound.
    for (const at of minimiser(0)) expect(at <= 0.02 || at >= 0.98).toBe(true);
    for (const [i, at] of minimiser(1).entries()) expect(Math.abs(at - centres[i]!)).toBeLessThan(0.15);
  });

  it('interpolates its training points with small variance there, and is uncertain far away', () => {
    const gp = fitGaussianProcess(x, y);
    for (const [i, p] of x.entries()) {
      const prediction = gp.predict(p);
      expect(Math.abs(prediction.mean - y[i]!)).toBeLessThan(0.05);
      expect(prediction.variance).toBeLessThan(0.01);
    }
    expect(gp.predict([3, 3]).variance).toBeGreaterThan(0.1);
    const probe = [0.33, 0.61];
    expect(Math.abs(gp.predict(probe).mean - f(probe))).toBeLessThan(0.25);
  });

  it('adds fantasy observations that pin the posterior', () => {
    const gp = fitGaussianProcess(x, y);
    const probe = [0.9, 0.1];
    const before = gp.predict(probe);
    gp.addObservation(probe, before.mean + 0.3);
    const after = gp.predict(probe);
    expect(after.variance).toBeLessThan(before.variance);
    expect(after.mean).toBeGreaterThan(before.mean + 0.2);
  });
});
