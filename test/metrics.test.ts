import { describe, expect, it } from 'vitest';
import {
  accuracy,
  classificationMetrics,
  f1Score,
  majorityBaseline,
  majorityClass,
  metricValue,
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
