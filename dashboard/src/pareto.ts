/** The Pareto front of trials: maximize the metric, minimize the trainable parameters. */

import type { TrialRecord } from '../../scheduler/types.js';

/** A complete trial with a metric, the only kind that takes part in the front. */
export interface ScoredTrial {
  trial: TrialRecord;
  metric: number;
  percent: number;
}

/** The complete trials that have a finite metric and parameter share. */
export function scoredTrials(trials: readonly TrialRecord[]): ScoredTrial[] {
  const scored: ScoredTrial[] = [];
  for (const trial of trials) {
    if (trial.state !== 'complete' || trial.metric === undefined) continue;
    if (!Number.isFinite(trial.metric) || !Number.isFinite(trial.trainablePercent)) continue;
    scored.push({ trial, metric: trial.metric, percent: trial.trainablePercent });
  }
  return scored;
}

/**
 * Numbers of the Pareto-optimal trials: no other trial has a metric at least as high with at most
 * as many trainable parameters while being strictly better in one of the two. Equal points are
 * all kept. One sort and one sweep (n log n: a 10,000-trial study is redrawn often): in order of
 * parameters, a trial is on the front when it has the highest metric of its parameter count and
 * beats every smaller trial's metric.
 */
export function paretoNumbers(scored: readonly ScoredTrial[]): Set<number> {
  const front = new Set<number>();
  const order = [...scored].sort((a, b) => a.percent - b.percent || b.metric - a.metric);
  let bestSmaller = -Infinity;
  for (let i = 0; i < order.length; ) {
    const groupMax = order[i]!.metric;
    let j = i;
    for (; j < order.length && order[j]!.percent === order[i]!.percent; j++) {
      if (order[j]!.metric === groupMax && groupMax > bestSmaller) front.add(order[j]!.trial.number);
    }
    bestSmaller = Math.max(bestSmaller, groupMax);
    i = j;
  }
  return front;
}

/** The best trial: the server's choice when given, else the highest metric (fewer parameters on ties). */
export function bestNumber(scored: readonly ScoredTrial[], fromServer: number | undefined): number | undefined {
  if (fromServer !== undefined && scored.some((s) => s.trial.number === fromServer)) return fromServer;
  let best: ScoredTrial | undefined;
  for (const s of scored) {
    if (!best || s.metric > best.metric || (s.metric === best.metric && s.percent < best.percent)) best = s;
  }
  return best?.trial.number;
}
