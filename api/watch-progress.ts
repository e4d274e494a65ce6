/**
 * What `autopeft watch` shows of a study: a pure summary of its progress (trials done of the
 * budget, running, best so far, elapsed time and an estimate of what is left) and its one-line
 * text form for output that is not a terminal.
 */
import { fmtElapsed } from '../dashboard/src/format.js';
import type { StudyState, StudySummary } from '../scheduler/types.js';

/** A study's progress at one instant. */
export interface WatchProgress {
  id: string;
  name: string;
  state: StudyState;
  /** Complete, pruned and failed trials (the dashboard's "done"). */
  done: number;
  /** The study's trial budget. */
  budget: number;
  running: number;
  waiting: number;
  metric: string;
  best?: { trial: number; metric: number };
  /** Milliseconds since the study was created. */
  elapsedMs: number;
  /** Estimated milliseconds until the budget is done; absent until a trial is done, or once finished. */
  remainingMs?: number;
  /** Whether the study has ended (completed, failed or cancelled). */
  finished: boolean;
}

const FINISHED: ReadonlySet<StudyState> = new Set(['completed', 'failed', 'cancelled']);

/**
 * The progress of `summary` at time `now`. The estimate assumes the trials still to run take as
 * long, at the study's parallelism, as the ones done so far: elapsed / done × (budget − done).
 */
export function watchProgress(summary: StudySummary, now: number): WatchProgress {
  const elapsedMs = Math.max(0, now - Date.parse(summary.createdAt));
  const finished = FINISHED.has(summary.state);
  const budget = summary.maxTrials;
  // Re-evaluation trials come after the budget (the state says re-evaluating): the bar stops at its end.
  const done = Math.min(summary.trialsDone, budget);
  const progress: WatchProgress = {
    id: summary.id,
    name: summary.name,
    state: summary.state,
    done,
    budget,
    running: summary.trialsByState.running ?? 0,
    waiting: summary.trialsByState.waiting ?? 0,
    metric: summary.metric,
    elapsedMs,
    finished,
  };
  if (summary.bestTrial !== undefined && summary.bestMetric !== undefined) progress.best = { trial: summary.bestTrial, metric: summary.bestMetric };
  if (!finished && done > 0 && done < budget) progress.remainingMs = (elapsedMs / done) * (budget - done);
  return progress;
}

/** The fields after the bar: state, running, best so far, elapsed and what is left. */
export function progressDetails(p: WatchProgress): string {
  const best = p.best ? `best ${p.metric} ${p.best.metric.toFixed(4)} (trial ${p.best.trial})` : `best ${p.metric} -`;
  const left = p.finished ? p.state : p.remainingMs !== undefined ? `~${fmtElapsed(p.remainingMs)} left` : 'estimating';
  return `${p.running} running | ${best} | ${fmtElapsed(p.elapsedMs)} elapsed | ${left}`;
}

/** One line of progress for output that is not a terminal (a log, a pipe). */
export function progressLine(p: WatchProgress): string {
  return `${p.name} (${p.id}): ${p.state}, ${p.done}/${p.budget} trials done | ${progressDetails(p)}`;
}
