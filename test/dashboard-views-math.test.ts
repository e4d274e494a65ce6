import { describe, expect, it } from 'vitest';
import { hypervolume } from '../search/pareto.js';
import { fanovaImportance } from '../dashboard/src/views/importance.js';
import { importanceFeature, paramAxes } from '../dashboard/src/views/param-axes.js';
import { ecdf, histogram, hypervolumeHistory, runningBest, studyReference, type ObjectivePoint } from '../dashboard/src/views/stats.js';

function prng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('optimisation history', () => {
  it('keeps the best metric so far at each trial', () => {
    const steps = runningBest([0.5, 0.7, 0.6, 0.9, 0.8].map((value, number) => ({ number, value })));
    expect(steps.map((s) => s.best)).toEqual([0.5, 0.7, 0.7, 0.9, 0.9]);
    expect(steps.map((s) => s.value)).toEqual([0.5, 0.7, 0.6, 0.9, 0.8]);
  });

  it('gives the hypervolume of each prefix, equal to the exact volume of that prefix', () => {
    const random = prng(7);
    const points: ObjectivePoint[] = Array.from({ length: 300 }, (_, number) => ({ number, metric: 0.5 + 0.4 * random(), params: Math.floor(1000 + 90_000 * random()) }));
    const reference = studyReference(points, undefined)!;
    const history = hypervolumeHistory(points, reference);
    for (const k of [1, 2, 10, 57, 300]) {
      const exact = hypervolume(points.slice(0, k).map((p) => [-p.metric, p.params]), reference);
      expect(history[k - 1]!.volume).toBeCloseTo(exact, 6);
    }
    // Never decreases: a trial can only add volume.
    for (let i = 1; i < history.length; i++) expect(history[i]!.volume).toBeGreaterThanOrEqual(history[i - 1]!.volume);
  });

  it("uses the study's stored reference, then the spec's, and 10 % beyond the worst point before either", () => {
    const points: ObjectivePoint[] = [
      { number: 0, metric: 0.6, params: 100 },
      { number: 1, metric: 0.8, params: 300 },
    ];
    expect(studyReference(points, [0.5, 1000])).toEqual([-0.5, 1000]);
    // The study's stored reference wins over the spec's point; the spec's point over the fallback.
    expect(studyReference(points, [0.55, 2000], [0.5, 1000])).toEqual([-0.55, 2000]);
    expect(studyReference(points, undefined, [0.5, 1000])).toEqual([-0.5, 1000]);
    const auto = studyReference(points, undefined)!;
    expect(auto[0]).toBeCloseTo(-0.6 + 0.02, 12);
    expect(auto[1]).toBeCloseTo(320, 12);
    // Against [0.5, 1000]: (0.8-0.5)*(1000-300) + (0.6-0.5)*(300-100) = 210 + 20.
    expect(hypervolumeHistory(points, [-0.5, 1000]).map((h) => h.volume)).toEqual([expect.closeTo(0.1 * 900, 9), expect.closeTo(230, 9)]);
    expect(studyReference([], undefined)).toBeUndefined();
  });
});

describe('distribution of the metric', () => {
  it('ECDF: fraction at or below each distinct value', () => {
    expect(ecdf([0.3, 0.1, 0.3, 0.2])).toEqual([
      { value: 0.1, fraction: 0.25 },
      { value: 0.2, fraction: 0.5 },
      { value: 0.3, fraction: 1 },
    ]);
  });

  it('histogram: counts sum to n, the maximum falls in the last bin', () => {
    const bins = histogram([0, 0.1, 0.2, 0.5, 0.99, 1], 4);
    expect(bins.map((b) => b.count)).toEqual([3, 0, 1, 2]);
    expect(bins[3]!.hi).toBe(1);
    expect(histogram([2, 2, 2], 10)).toEqual([{ lo: 2, hi: 2, count: 3 }]);
  });
});

describe('parameter axes', () => {
  it('spaces categories evenly in numeric order and maps log parameters geometrically', () => {
    const [size, flag, lr] = paramAxes({
      size: { type: 'categorical', choices: [64, 0, 8, 1] },
      flag: { type: 'categorical', choices: [true, false] },
      lr: { type: 'float', low: 1e-4, high: 1e-2, log: true },
    });
    expect(size!.categories).toEqual([0, 1, 8, 64]);
    expect([0, 1, 8, 64].map((v) => size!.position(v))).toEqual([0, 1 / 3, 2 / 3, 1]);
    expect(size!.position(3)).toBeUndefined();
    expect(flag!.position(false)).toBe(1);
    expect(lr!.position(1e-3)).toBeCloseTo(0.5, 12);
    expect(lr!.valueAt(0.5)).toBeCloseTo(1e-3, 12);
  });
});

describe('parameter importance (fANOVA on a random forest)', () => {
  it('ranks the parameter that drives the metric first, far ahead of the others', () => {
    const random = prng(3);
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 400; i++) {
      const row = [random(), random(), random(), random()];
      x.push(row);
      // x2 dominates; x0 matters a little; x1 and x3 not at all.
      y.push(Math.sin(3 * row[2]!) * 2 + 0.2 * row[0]! + 0.01 * (random() - 0.5));
    }
    const importance = fanovaImportance(x, y, [0, 1, 2, 3].map(() => ({ lo: 0, hi: 1 })));
    // The true share of x2 is 0.99; the forest spends some variance on spurious interactions.
    expect(importance[2]).toBeGreaterThan(0.75);
    expect(importance[0]).toBeLessThan(0.1);
    expect(importance[1]).toBeLessThan(0.03);
    expect(importance[3]).toBeLessThan(0.03);
    expect(importance.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('finds a dominating categorical parameter and is zero for a constant metric', () => {
    const axes = paramAxes({
      size: { type: 'categorical', choices: [0, 8, 64] },
      flag: { type: 'categorical', choices: [true, false] },
    });
    const features = axes.map((a) => importanceFeature(a));
    const random = prng(11);
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 300; i++) {
      const size = [0, 8, 64][Math.floor(random() * 3)]!;
      const flag = random() < 0.5;
      x.push([features[0]!.encode(size), features[1]!.encode(flag)]);
      y.push(size === 8 ? 0.9 : 0.6 + (flag ? 0.01 : 0));
    }
    const importance = fanovaImportance(x, y, features);
    expect(importance[0]).toBeGreaterThan(0.9);
    expect(importance[1]).toBeLessThan(0.05);
    expect(fanovaImportance(x, x.map(() => 0.5), features)).toEqual([0, 0]);
  });

  it('is the same for the same trials (seeded)', () => {
    const random = prng(5);
    const x = Array.from({ length: 100 }, () => [random(), random()]);
    const y = x.map((r) => r[0]! + r[1]! * r[1]!);
    const domains = [{ lo: 0, hi: 1 }, { lo: 0, hi: 1 }];
    expect(fanovaImportance(x, y, domains)).toEqual(fanovaImportance(x, y, domains));
  });
});

describe('axis labels', () => {
  it('keeps the zeros of round thousands', async () => {
    const { fmtTick } = await import('../dashboard/src/views/view-data.js');
    expect([0, 0.873, 100_000, 150_000, 1_000, 2_500_000, 0.0002].map(fmtTick)).toEqual(['0', '0.873', '100k', '150k', '1k', '2.5M', '2.0e-4']);
  });
});
