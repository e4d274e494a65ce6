import { describe, expect, it } from 'vitest';
import {
  accuracy,
  averageRanks,
  classificationMetrics,
  evaluateMetrics,
  f1Score,
  isMetricName,
  macroF1,
  majorityBaseline,
  majorityClass,
  matthewsCorrelation,
  METRIC_NAMES,
  metricValue,
  pearsonCorrelation,
  spearmanCorrelation,
} from '../workers/train/metrics.js';

describe('accuracy', () => {
  it('is the fraction of matching labels', () => {
    expect(accuracy([1, 0, 1, 1], [1, 1, 1, 0])).toBe(0.5);
    expect(accuracy(new Int32Array([0, 0, 0]), [0, 0, 0])).toBe(1);
  });

  it('rejects length mismatches and empty inputs', () => {
    expect(() => accuracy([1], [1, 0])).toThrow(/differ in length/);
    expect(() => accuracy([], [])).toThrow(/at least one/);
  });
});

describe('f1Score', () => {
  it('matches a hand computation', () => {
    // tp = 2 (idx 0, 2), fp = 1 (idx 3), fn = 1 (idx 1): F1 = 4 / (4 + 1 + 1)
    expect(f1Score([1, 0, 1, 1, 0], [1, 1, 1, 0, 0])).toBeCloseTo(2 / 3, 12);
  });

  it('equals harmonic mean of precision and recall', () => {
    const predictions = [1, 1, 1, 1, 0, 0, 0, 1];
    const labels = [1, 0, 0, 1, 1, 0, 0, 1];
    const precision = 3 / 5;
    const recall = 3 / 4;
    expect(f1Score(predictions, labels)).toBeCloseTo((2 * precision * recall) / (precision + recall), 12);
  });

  it('is 0 when nothing is predicted positive', () => {
    expect(f1Score([0, 0, 0], [1, 0, 1])).toBe(0);
  });

  it('is 0 when there are no positives at all', () => {
    expect(f1Score([0, 0], [0, 0])).toBe(0);
  });

  it('is 0 when every positive prediction is wrong', () => {
    expect(f1Score([1, 1, 0], [0, 0, 1])).toBe(0);
  });

  it('is 1 for perfect predictions and honours another positive label', () => {
    expect(f1Score([1, 0, 1], [1, 0, 1])).toBe(1);
    expect(f1Score([2, 0, 2], [2, 2, 2], 2)).toBeCloseTo(0.8, 12);
  });
});

describe('summaries', () => {
  it('classificationMetrics and metricValue agree with the single metrics', () => {
    const predictions = [1, 0, 0, 1];
    const labels = [1, 1, 0, 0];
    expect(classificationMetrics(predictions, labels)).toEqual({ accuracy: 0.5, f1: 0.5 });
    expect(metricValue('accuracy', predictions, labels)).toBe(0.5);
    expect(metricValue('f1', predictions, labels)).toBe(0.5);
  });

  it('majorityClass picks the most frequent label, the smaller one on ties', () => {
    expect(majorityClass([1, 1, 0])).toBe(1);
    expect(majorityClass([1, 0, 1, 0])).toBe(0);
    expect(() => majorityClass([])).toThrow();
  });

  it('majorityBaseline scores the train majority on the evaluation labels', () => {
    const train = [0, 0, 0, 1];
    const dev = [0, 1, 1, 0, 0];
    expect(majorityBaseline(train, dev, 'accuracy')).toBe(0.6);
    // Always predicting the negative class never finds a positive.
    expect(majorityBaseline(train, dev, 'f1')).toBe(0);
    // A positive majority: tp = 2, fp = 3, fn = 0.
    expect(majorityBaseline([1, 1, 0], dev, 'f1')).toBeCloseTo(4 / 7, 12);
  });
});

describe('macroF1', () => {
  it('averages per-class F1 by hand', () => {
    // class 0: tp 1, fp 1 -> 2/3; class 1: tp 1, fn 1 -> 2/3; class 2: 1.
    expect(macroF1([0, 0, 1, 2], [0, 1, 1, 2])).toBeCloseTo(7 / 9, 12);
  });

  it('counts a class that only appears among predictions, as scikit-learn does', () => {
    // class 0: tp 1, fn 1 -> 2/3; class 3 (never a label): 0.
    expect(macroF1([0, 3], [0, 0])).toBeCloseTo(1 / 3, 12);
  });

  it('degenerate cases: one class everywhere is 1, constant wrong predictions are 0', () => {
    expect(macroF1([1, 1, 1], [1, 1, 1])).toBe(1);
    expect(macroF1([0, 0], [1, 1])).toBe(0);
  });
});

describe('matthewsCorrelation', () => {
  it('binary, by hand: tp 2, fp 1, tn 1, fn 1 -> (2*1 - 1*1) / sqrt(3*3*2*2)', () => {
    expect(matthewsCorrelation([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])).toBeCloseTo(1 / 6, 12);
  });

  it('multi-class, by hand (Gorodkin): c 3, s 4, p (2,1,1), t (1,2,1) -> (12 - 5) / 10', () => {
    expect(matthewsCorrelation([0, 0, 1, 2], [0, 1, 1, 2])).toBeCloseTo(0.7, 12);
    expect(matthewsCorrelation([0, 1, 2, 0, 1, 2], [0, 1, 2, 1, 2, 0])).toBeCloseTo(0.25, 12);
  });

  it('is 1 for perfect and -1 for inverted binary predictions', () => {
    expect(matthewsCorrelation([0, 1, 1, 0], [0, 1, 1, 0])).toBe(1);
    expect(matthewsCorrelation([1, 0, 0, 1], [0, 1, 1, 0])).toBe(-1);
  });

  it('degenerate cases are 0, not NaN: one class only, constant predictions', () => {
    expect(matthewsCorrelation([1, 1, 1], [1, 1, 1])).toBe(0);
    expect(matthewsCorrelation([0, 0, 0, 0], [0, 1, 0, 1])).toBe(0);
    expect(matthewsCorrelation([0, 1, 0, 1], [2, 2, 2, 2])).toBe(0);
  });
});

describe('pearsonCorrelation and spearmanCorrelation', () => {
  it('Pearson by hand: sxy 11, sxx 5, syy 26', () => {
    expect(pearsonCorrelation([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 12);
    expect(pearsonCorrelation([1, 2, 3], [6, 4, 2])).toBeCloseTo(-1, 12);
  });

  it('averageRanks gives ties the mean of their ranks', () => {
    expect([...averageRanks([3, 1, 3, 2])]).toEqual([3.5, 1, 3.5, 2]);
    expect([...averageRanks([5, 5, 5])]).toEqual([2, 2, 2]);
  });

  it('Spearman with ties, by hand: ranks (1, 2.5, 2.5, 4) and (1, 2, 3.5, 3.5) -> 3.75 / 4.5', () => {
    expect(spearmanCorrelation([1, 2, 2, 3], [10, 20, 30, 30])).toBeCloseTo(5 / 6, 12);
  });

  it('Spearman is 1 for any increasing relation, -1 for a decreasing one', () => {
    expect(spearmanCorrelation([1, 2, 3, 4], [1, 8, 27, 64])).toBeCloseTo(1, 12);
    expect(spearmanCorrelation([1, 2, 3, 4], [0.9, 0.5, 0.2, 0.1])).toBeCloseTo(-1, 12);
  });

  it('degenerate cases are 0, not NaN: constant predictions or targets, a single example', () => {
    for (const metric of [pearsonCorrelation, spearmanCorrelation]) {
      expect(metric([2, 2, 2], [1, 2, 3])).toBe(0);
      expect(metric([1, 2, 3], [4, 4, 4])).toBe(0);
      expect(metric([1], [5])).toBe(0);
    }
  });

  it('diverged (non-finite) predictions score 0; non-finite targets are a data error', () => {
    expect(pearsonCorrelation([1, Number.NaN, 3], [1, 2, 3])).toBe(0);
    expect(spearmanCorrelation([1, Number.POSITIVE_INFINITY, 3], [1, 2, 3])).toBe(0);
    expect(() => pearsonCorrelation([1, 2, 3], [1, Number.NaN, 3])).toThrow(/targets contain a non-finite value \(NaN\) at index 1/);
  });

  it('share the length checks', () => {
    expect(() => pearsonCorrelation([1, 2], [1])).toThrow(/differ in length/);
    expect(() => spearmanCorrelation([], [])).toThrow(/at least one/);
  });
});

describe('by name', () => {
  it('metricValue covers every metric name', () => {
    const predictions = [1, 0, 0, 1];
    const labels = [1, 1, 0, 0];
    expect(METRIC_NAMES.map((m) => metricValue(m, predictions, labels))).toEqual([0.5, 0.5, 0.5, 0, 0, 0]);
    expect(isMetricName('matthews')).toBe(true);
    expect(isMetricName('mcc')).toBe(false);
  });

  it('evaluateMetrics computes the listed metrics', () => {
    expect(evaluateMetrics(['pearson', 'spearman'], [1, 2, 3], [1, 2, 4])).toEqual({
      pearson: pearsonCorrelation([1, 2, 3], [1, 2, 4]),
      spearman: 1,
    });
  });

  it('majorityBaseline predicts the mean training target for regression metrics (scores 0)', () => {
    expect(majorityBaseline([1, 2, 3], [1, 5, 2], 'pearson')).toBe(0);
    expect(majorityBaseline([1, 2, 3], [1, 5, 2], 'spearman')).toBe(0);
    expect(majorityBaseline([0, 0, 1], [0, 1, 1], 'matthews')).toBe(0);
  });
});
