/**
 * Classification metrics as pure functions of predicted and true labels. All are in [0, 1],
 * higher is better.
 */
import type { MetricName } from '../../search/types.js';

/** Label sequences: arrays or typed arrays of class indices. */
export type Labels = ArrayLike<number>;

function checkPair(predictions: Labels, labels: Labels): void {
  if (predictions.length !== labels.length) {
    throw new RangeError(`predictions (${predictions.length}) and labels (${labels.length}) differ in length`);
  }
  if (labels.length === 0) throw new RangeError('metrics need at least one example');
}

/** Fraction of predictions equal to the label. */
export function accuracy(predictions: Labels, labels: Labels): number {
  checkPair(predictions, labels);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * F1 of the positive class: `2 tp / (2 tp + fp + fn)`. When there are no positive predictions
 * and no positive labels the score is 0 (as scikit-learn's default `zero_division`), so a model
 * that never predicts the positive class never scores above 0.
 */
export function f1Score(predictions: Labels, labels: Labels, positiveLabel = 1): number {
  checkPair(predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = predictions[i] === positiveLabel;
    const actual = labels[i] === positiveLabel;
    if (predicted && actual) tp++;
    else if (predicted) fp++;
    else if (actual) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Every supported metric (F1 of label 1). */
export function classificationMetrics(predictions: Labels, labels: Labels): Record<MetricName, number> {
  return { accuracy: accuracy(predictions, labels), f1: f1Score(predictions, labels) };
}

/** One metric by name. */
export function metricValue(metric: MetricName, predictions: Labels, labels: Labels): number {
  return metric === 'accuracy' ? accuracy(predictions, labels) : f1Score(predictions, labels);
}

/** The most frequent label (the smallest such label on a tie). */
export function majorityClass(labels: Labels): number {
  if (labels.length === 0) throw new RangeError('majorityClass needs at least one label');
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  let best = Number.POSITIVE_INFINITY;
  let bestCount = -1;
  for (const [label, count] of counts) {
    if (count > bestCount || (count === bestCount && label < best)) {
      best = label;
      bestCount = count;
    }
  }
  return best;
}

/**
 * The score on `evalLabels` of always predicting the majority class of `trainLabels`: the bar a
 * trained model must clear to have learned anything.
 */
export function majorityBaseline(trainLabels: Labels, evalLabels: Labels, metric: MetricName): number {
  const majority = majorityClass(trainLabels);
  return metricValue(metric, new Array<number>(evalLabels.length).fill(majority), evalLabels);
}
