/**
 * What a trained trial's outcome does to its record: one pure function, used by the worker
 * (which writes the record before its job completes) and by the scheduler (which applies a
 * completed job's outcome to a record that does not have it yet).
 */
import { lastReportValue } from '../search/pruners.js';
import type { TrialJobOutcome } from '../workers/job-types.js';
import type { TrialRecord } from './types.js';

/** Applies `outcome` to `trial`: complete with its metrics and files, or pruned at its last report. */
export function applyTrialOutcome(trial: TrialRecord, outcome: TrialJobOutcome, finishedAt: Date): void {
  trial.finishedAt = finishedAt.toISOString();
  trial.worker = outcome.worker;
  trial.reports = outcome.reports;
  if ('stopped' in outcome) {
    // A pruned trial keeps its last report: it is evidence for the search.
    trial.state = 'pruned';
    const last = lastReportValue(outcome);
    if (last !== undefined) trial.metric = last;
    return;
  }
  trial.state = 'complete';
  trial.metric = outcome.metric;
  trial.metrics = outcome.metrics;
  trial.majorityBaseline = outcome.majorityBaseline;
  // Absent from results of workers older than the field.
  if (outcome.devExamples !== undefined) trial.dev = { examples: outcome.devExamples, splitSize: outcome.devSplitSize };
  trial.backend = outcome.backend;
  if (outcome.artifact) trial.artifact = outcome.artifact;
  // The closed form counts what is stored, so it is compared with the live stored count (the
  // worker has compared what trained with the training form). A mismatch is a bug worth surfacing.
  if (outcome.storedParams !== undefined && outcome.storedParams !== trial.trainableParams) {
    trial.error = `live stored parameters ${outcome.storedParams} differ from the closed form ${trial.trainableParams}`;
  }
}
