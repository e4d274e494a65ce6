/**
 * The contract between the scheduler and the workers: what a trial job carries and what it
 * returns. Plain types only, so both sides (and other hosts) agree without sharing code.
 */
import type { IntermediateReport, MetricName, PeftConfig, TrainingConfig } from '../search/types.js';

/** The task a trial trains on. */
export interface TaskRef {
  /** A built-in dataset name, e.g. `spam-assassin`. */
  dataset: string;
  /** A base model name, e.g. `tiny-random`. */
  baseModel: string;
  metric: MetricName;
}

/** The payload of one trial job on the BullMQ queue. */
export interface TrialJobData {
  studyId: string;
  trialNumber: number;
  task: TaskRef;
  peft: PeftConfig;
  training: TrainingConfig;
  /**
   * Earlier attempts that failed and handed the trial back, written by the workers: a trial
   * that fails twice with the same message (on two workers, or twice on one for a resource
   * fault) is failed instead of handed round again.
   */
  failures?: TrialAttemptFailure[];
}

/** One failed attempt of a trial. */
export interface TrialAttemptFailure {
  worker: string;
  message: string;
  /** Whose fault it looked like (see workers/errors.ts `FailureKind`). */
  kind: 'invalid' | 'resource' | 'host' | 'unknown';
  /** ISO time. */
  at: string;
}

/** What a worker reports through `job.updateProgress` while training: all reports so far. */
export interface TrialProgress {
  reports: IntermediateReport[];
  /** The worker training the trial. */
  worker?: string;
}

/** Why the scheduler asks a worker to stop a trial between steps. */
export type StopReason = 'pruned' | 'cancelled';

/**
 * The start of every key of one study: the configured prefix without its braces, then the
 * study id as the key's hash tag, so that Redis Cluster keeps each study's keys on one shard
 * (its atomic writes need that) and spreads the studies over the shards. Global keys (the
 * study index, tokens, uploads) and the queue keep the prefix's own hash tag.
 */
export function studyKeyBase(prefix: string, studyId: string): string {
  return `${prefix.replace(/[{}]/g, '')}:study:{${studyId}}`;
}

/** The study of a trial's job id (`<study id>-<trial number>`). */
export function studyIdOfJob(jobId: string): string {
  return jobId.slice(0, jobId.lastIndexOf('-'));
}

/** The trial number of a trial's job id. */
function trialNumberOfJob(jobId: string): string {
  return jobId.slice(jobId.lastIndexOf('-') + 1);
}

/**
 * Redis key the scheduler sets (value: a StopReason) to stop a trial's job on whichever worker
 * holds it; workers poll it while training.
 */
export function stopRequestKey(prefix: string, jobId: string): string {
  return `${studyKeyBase(prefix, studyIdOfJob(jobId))}:stop:${trialNumberOfJob(jobId)}`;
}

/**
 * Redis string holding a trial's outcome (JSON of {@link TrialJobOutcome}), written by the worker
 * before it completes the job. If completing the job fails (Redis restarted, the job's lock was
 * lost), the trial comes back, and the next attempt returns this outcome instead of training the
 * trial again.
 */
export function resultKey(prefix: string, jobId: string): string {
  return `${studyKeyBase(prefix, studyIdOfJob(jobId))}:result:${trialNumberOfJob(jobId)}`;
}

/** How long a stored outcome is kept (as long as BullMQ keeps finished jobs): 7 days. */
export const RESULT_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Redis hash holding a trained trial's downloadable files (field: relative path, value: bytes),
 * written by the worker that trained it so that any API replica can serve them.
 */
export function artifactKey(prefix: string, jobId: string): string {
  return `${studyKeyBase(prefix, studyIdOfJob(jobId))}:artifact:${trialNumberOfJob(jobId)}`;
}

/**
 * Redis hash of the workers that stopped taking trials because they failed several in a row
 * (field: worker name, value: JSON {@link StoppedWorker}); a worker removes itself when it starts.
 */
export function stoppedWorkersKey(prefix: string): string {
  return `${prefix}:workers:stopped`;
}

/** A worker that stopped taking trials, and why. */
export interface StoppedWorker {
  name: string;
  /** The last failure's message, and how many trials failed in a row. */
  reason: string;
  /** ISO time it stopped. */
  at: string;
}

/** The files a trained trial left for download. */
export interface TrialArtifact {
  /** Paths in the trial bundle, e.g. `autopeft/autopeft_config.json`, `hf-peft/adapter_model.safetensors` (trials exported before the bundle: `autopeft_config.json`). */
  files: string[];
  /** Formats left out or approximated, and why. */
  notes: string[];
}

/** What a job returns when the scheduler pruned it: the reports up to the stop. */
export interface PrunedTrialResult {
  stopped: 'pruned';
  reports: IntermediateReport[];
  worker: string;
}

/** What a finished trial job returns. */
export type TrialJobOutcome = TrialJobResult | PrunedTrialResult;

/** What a trial job that trained to the end returns. */
export interface TrialJobResult {
  /** The best dev value of the task metric over all evaluations. */
  metric: number;
  /** Every metric computed at the best evaluation (e.g. accuracy and f1). */
  metrics: Record<string, number>;
  reports: IntermediateReport[];
  /** Parameters that trained, counted from the live tensors (PEFT modules and task head). */
  trainableParams: number;
  /**
   * Parameters the trained adapter stores, counted from its stored tensors (PEFT modules and task
   * head): what the scheduler's closed form (`TrialRecord.trainableParams`) counts. It differs
   * from `trainableParams` where a method trains another form than it keeps (prefix-tuning's MLP).
   */
  storedParams: number;
  /** Parameters of the frozen base encoder. */
  baseParams: number;
  /** Dev-set score of always predicting the majority training class, for comparison. */
  majorityBaseline: number;
  /** Dev examples each evaluation scored: `training.devExamples`, at most the dev split's size. */
  devExamples: number;
  /** Examples in the dataset's whole dev split. */
  devSplitSize: number;
  backend: string;
  worker: string;
  trainSeconds: number;
  /** The trained adapter's files, when the worker stored them. */
  artifact?: TrialArtifact;
}

/** The BullMQ queue name of trial jobs (under the hash-tagged key prefix, see the config). */
export const DEFAULT_QUEUE_NAME = 'trials';
