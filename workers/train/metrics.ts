/**
 * Task metrics as pure functions of predictions and targets, implemented once for the whole
 * service. Higher is better for all of them. Accuracy and F1 lie in [0, 1]; the Matthews,
 * Pearson and Spearman correlations lie in [-1, 1].
 *
 * Degenerate inputs never give NaN: a score whose formula divides by zero (no positive class for
 * F1; one class only or constant predictions for Matthews; constant predictions or targets for
 * Pearson and Spearman) is 0, the score of an uninformative model, as scikit-learn reports it.
 */
import type { MetricName } from '../../search/types.js';

/** Label or target sequences: arrays or typed arrays of class indices or real values. */
export type Labels = ArrayLike<number>;

/** Every metric name, in a fixed order. */
export const METRIC_NAMES: readonly MetricName[] = ['accuracy', 'f1', 'macroF1', 'matthews', 'pearson', 'spearman'];

/** Metrics of regression tasks (real-valued targets); the others are for classification. */
export const REGRESSION_METRICS: readonly MetricName[] = ['pearson', 'spearman'];

/** Whether a string names a metric. */
export function isMetricName(name: string): name is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(name);
}

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

/**
 * Unweighted mean of the per-class F1 over every class that occurs among the labels or the
 * predictions (scikit-learn's `average='macro'`); a class never predicted correctly counts 0.
 */
export function macroF1(predictions: Labels, labels: Labels): number {
  checkPair(predictions, labels);
  const classes = new Set<number>();
  for (let i = 0; i < labels.length; i++) {
    classes.add(labels[i]!);
    classes.add(predictions[i]!);
  }
  let sum = 0;
  for (const c of classes) sum += f1Score(predictions, labels, c);
  return sum / classes.size;
}

/**
 * Matthews correlation coefficient, for two or more classes (Gorodkin's R_K, which equals the
 * binary MCC for two classes): `(c s - Σ p_k t_k) / sqrt((s² - Σ p_k²)(s² - Σ t_k²))` with `c`
 * correct predictions, `s` examples, `p_k` and `t_k` the counts of class k among predictions and
 * labels. 0 when the denominator is 0 (one class only, or constant predictions).
 */
export function matthewsCorrelation(predictions: Labels, labels: Labels): number {
  checkPair(predictions, labels);
  const predicted = new Map<number, number>();
  const actual = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i]!;
    const t = labels[i]!;
    predicted.set(p, (predicted.get(p) ?? 0) + 1);
    actual.set(t, (actual.get(t) ?? 0) + 1);
    if (p === t) correct++;
  }
  const s = labels.length;
  let crossSum = 0;
  for (const [k, pk] of predicted) crossSum += pk * (actual.get(k) ?? 0);
  let predictedSquares = 0;
  for (const pk of predicted.values()) predictedSquares += pk * pk;
  let actualSquares = 0;
  for (const tk of actual.values()) actualSquares += tk * tk;
  const denominator = Math.sqrt((s * s - predictedSquares) * (s * s - actualSquares));
  return denominator === 0 ? 0 : (correct * s - crossSum) / denominator;
}

function checkFinite(values: Labels, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${what} contain a non-finite value (${values[i]}) at index ${i}`);
  }
}

function hasNonFinite(values: Labels): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return true;
  return false;
}

/** Pearson correlation of finite sequences; 0 when either is constant. */
function pearsonOf(x: Labels, y: Labels): number {
  const n = x.length;
  let meanX = 0;
  let meanY = 0;
  for (let i = 0; i < n; i++) {
    meanX += x[i]!;
    meanY += y[i]!;
  }
  meanX /= n;
  meanY /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - meanX;
    const dy = y[i]! - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  // Rounding can push |r| a hair above 1.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Pearson correlation of predictions and targets. 0 when either is constant (including a single
 * example). Predictions with a non-finite value (a diverged model) also score 0; non-finite
 * targets are a data error and throw.
 */
export function pearsonCorrelation(predictions: Labels, targets: Labels): number {
  checkPair(predictions, targets);
  checkFinite(targets, 'targets');
  if (hasNonFinite(predictions)) return 0;
  return pearsonOf(predictions, targets);
}

/** Ranks 1..n of the values, ties sharing the average of the ranks they span. */
export function averageRanks(values: Labels): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    // Positions start..end-1 hold equal values: ranks start+1..end, averaged.
    const rank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]!] = rank;
    start = end;
  }
  return ranks;
}

/**
 * Spearman rank correlation: the Pearson correlation of the average ranks (ties share their mean
 * rank). Same degenerate cases as {@link pearsonCorrelation}.
 */
export function spearmanCorrelation(predictions: Labels, targets: Labels): number {
  checkPair(predictions, targets);
  checkFinite(targets, 'targets');
  if (hasNonFinite(predictions)) return 0;
  return pearsonOf(averageRanks(predictions), averageRanks(targets));
}

/** One metric by name (`f1` is the F1 of class 1). */
export function metricValue(metric: MetricName, predictions: Labels, labels: Labels): number {
  switch (metric) {
    case 'accuracy':
      return accuracy(predictions, labels);
    case 'f1':
      return f1Score(predictions, labels);
    case 'macroF1':
      return macroF1(predictions, labels);
    case 'matthews':
      return matthewsCorrelation(predictions, labels);
    case 'pearson':
      return pearsonCorrelation(predictions, labels);
    case 'spearman':
      return spearmanCorrelation(predictions, labels);
  }
}

/** Several metrics at once, keyed by name (e.g. a dataset's `metrics`). */
export function evaluateMetrics(metrics: readonly MetricName[], predictions: Labels, labels: Labels): Record<string, number> {
  const values: Record<string, number> = {};
  for (const metric of metrics) values[metric] = metricValue(metric, predictions, labels);
  return values;
}

/** Accuracy and the F1 of class 1, the metrics of a binary task such as spam-assassin. */
export function classificationMetrics(predictions: Labels, labels: Labels): Record<string, number> {
  return evaluateMetrics(['accuracy', 'f1'], predictions, labels);
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
 * The score on `evalLabels` of a constant prediction: the majority class of `trainLabels` for
 * classification metrics, the mean training target for regression metrics (which scores 0). It
 * is the bar a trained model must clear to have learned anything.
 */
export function majorityBaseline(trainLabels: Labels, evalLabels: Labels, metric: MetricName): number {
  let constant: number;
  if (REGRESSION_METRICS.includes(metric)) {
    if (trainLabels.length === 0) throw new RangeError('majorityBaseline needs at least one training target');
    let sum = 0;
    for (let i = 0; i < trainLabels.length; i++) sum += trainLabels[i]!;
    constant = sum / trainLabels.length;
  } else {
    constant = majorityClass(trainLabels);
  }
  return metricValue(metric, new Array<number>(evalLabels.length).fill(constant), evalLabels);
}
