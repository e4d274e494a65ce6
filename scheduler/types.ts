/**
 * Plain records of studies and trials as stored in Redis and served by the API.
 * The dashboard imports these types (and nothing else) from the server side.
 */
import type { EncoderShape, IntermediateReport, PeftConfig, SearchPoint, TrainingConfig } from '../search/types.js';
import type { TaskRef, TrialArtifact, TrialAttemptFailure } from '../workers/job-types.js';
import type { SearchSpace } from '../search/space.js';
import type { PresetName, PresetOptions } from '../search/presets.js';
import type { PrunerConfig } from '../search/pruners.js';
import type { SamplerName } from '../search/sampler.js';
import type { StudyReference } from '../search/reference-point.js';
import type { BaselineName } from '../search/baselines.js';

/** Life cycle of a study. */
/**
 * Life cycle of a study: `running` while the search spends its budget, `re-evaluating` while its
 * Pareto-optimal configurations and baselines are retrained with other seeds (see the spec's
 * `reevaluation`), then `completed`.
 */
export type StudyState = 'queued' | 'running' | 're-evaluating' | 'completed' | 'failed' | 'cancelled';

/** How a study re-evaluates once its search ends. */
export interface ReevaluationSpec {
  /** At most this many Pareto-optimal search trials are retrained (0: no re-evaluation at all). */
  configurations: number;
  /** Training seeds per retrained configuration. */
  seeds: number;
}

/** Life cycle of a trial. */
export type TrialState = 'waiting' | 'running' | 'complete' | 'pruned' | 'failed';

/** What a user submits to start a study. */
export interface StudySpec {
  name: string;
  task: TaskRef;
  /** The family of configurations searched (see search/presets.ts). */
  preset: PresetName;
  /** Options of the preset's default space (`perLayerSizes`); absent when none were given. */
  presetOptions?: PresetOptions;
  /** Named parameters of the preset's space; the README lists the names. */
  searchSpace: SearchSpace;
  algorithm: { name: SamplerName; seed: number };
  objectives: { maxTrainablePercent?: number; referencePoint?: [number, number] };
  pruner: PrunerConfig;
  /**
   * Baselines trained first, as the first trials of the budget (trial i is baseline i); absent in
   * studies stored before baselines existed.
   */
  baselines?: BaselineName[];
  /**
   * Configurations evaluated first, in order (after the baselines), or another study
   * whose trials are prior observations (same space and base model) or whose Pareto
   * configurations are re-run first (otherwise).
   */
  warmStart?: { configurations: SearchPoint[] } | { fromStudy: string };
  budget: { maxTrials: number; maxParallel: number };
  /**
   * Retraining after the search (outside `budget.maxTrials`); absent in studies stored before it
   * existed, which never re-evaluate.
   */
  reevaluation?: ReevaluationSpec;
  /** Training settings shared by every trial (the search may override `learningRate`). */
  training: Omit<TrainingConfig, 'seed' | 'dataSeed'>;
}

/** A stored study, without its trials. */
export interface StudyRecord {
  id: string;
  /** Name of the token that created it (its creator may cancel and delete it). */
  owner?: string;
  spec: StudySpec;
  state: StudyState;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  error?: string;
  /**
   * The hypervolume reference point the search uses (metric, trainable parameters): the spec's
   * objectives.referencePoint, else the majority-class level and the largest configuration of
   * the space (search/reference-point.ts), set once the first trial has finished.
   */
  reference?: StudyReference;
  /** What the results do not support (see scheduler/study-warnings.ts); absent when there is nothing to say. */
  warnings?: StudyWarning[];
  /**
   * The base encoder's shape, read when the study was submitted: the scheduler and the API work
   * from it, so they need no access to the model itself (a model under a worker's model root,
   * a restarted process).
   */
  baseShape: EncoderShape;
  /** Parameters of the frozen base encoder, for percentages. */
  baseParams: number;
  /** Outputs of the task head (classes, or 1 for regression), for parameter counts. */
  headOutputs: number;
}

/** A warning about a study's results, with what usually helps. */
export interface StudyWarning {
  /** `no-learning`: every trial within noise of the majority-class baseline; `equal-metrics`: every trial scored the same. */
  code: 'no-learning' | 'equal-metrics';
  message: string;
  advice: string;
}

/** A stored trial. */
export interface TrialRecord {
  number: number;
  state: TrialState;
  /** The point the search proposed (empty for a baseline). */
  params: SearchPoint;
  /** The baseline this trial trains, if it is one (see search/baselines.ts). */
  baseline?: BaselineName;
  /**
   * Set on a re-evaluation trial: it retrains trial `of` (same configuration and training
   * settings, same data seed) with training seed number `seed` (1..S). Never pruned, never seen
   * by the search, outside the budget.
   */
  reevaluation?: { of: number; seed: number };
  /** The PEFT configuration the point maps to. */
  peft: PeftConfig;
  training: TrainingConfig;
  /**
   * Closed-form count of the parameters the trained adapter stores (PEFT modules plus task head;
   * the `stored` count of the method registry, the search's objective).
   */
  trainableParams: number;
  /**
   * Closed-form count of what the optimiser updates (PEFT modules in their training form plus
   * task head): prefix-tuning's MLP instead of its output, LoRA-FA without its frozen A. Absent on
   * trials stored before the field.
   */
  trainingParams?: number;
  /** trainableParams as a percentage of the base encoder's parameters. */
  trainablePercent: number;
  reports: IntermediateReport[];
  /** Best dev value of the study's metric; set when complete, and for a pruned trial its best report. */
  metric?: number;
  metrics?: Record<string, number>;
  majorityBaseline?: number;
  /** What its evaluations scored: `examples` of the dataset's dev split of `splitSize` (set when complete). */
  dev?: { examples: number; splitSize: number };
  worker?: string;
  backend?: string;
  attempts: number;
  /** Attempts that failed and handed the trial back (worker, message, kind), as the workers recorded them. */
  failures?: TrialAttemptFailure[];
  /** The trained adapter's downloadable files (served under `/api/studies/:id/trials/:n/files/`). */
  artifact?: TrialArtifact;
  /** Set once the scheduler asked the worker to stop this trial early. */
  pruneRequested?: boolean;
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** A study with its summary and its first page of trials, as `GET /api/studies/:id` returns it. */
export interface StudyView extends StudyRecord {
  summary: StudySummary;
  /** The first page of trials (by number); `trialsComplete` says whether it holds them all. */
  trials: TrialRecord[];
  /** Cursor for `GET /api/studies/:id/trials?after=` to continue from this page. */
  trialsCursor: number;
  /** Whether `trials` holds every trial of the study. */
  trialsComplete: boolean;
  /** Number of the best complete trial, if any. */
  bestTrial?: number;
}

/** One line of `GET /api/studies`. */
export interface StudySummary {
  id: string;
  name: string;
  /** Name of the token that created it. */
  owner?: string;
  state: StudyState;
  createdAt: string;
  dataset: string;
  baseModel: string;
  metric: string;
  /** Last change of the study or of one of its trials. */
  updatedAt: string;
  trialsTotal: number;
  /** Complete, pruned and failed trials. */
  trialsDone: number;
  trialsByState: Partial<Record<TrialState, number>>;
  maxTrials: number;
  /** Complete trials on the Pareto front (metric up, trainable parameters down). */
  paretoFrontSize: number;
  bestTrial?: number;
  bestMetric?: number;
}

/** A page of trials changed after a cursor, in the order of their latest change. */
export interface TrialPage {
  trials: TrialRecord[];
  /** Pass as `after` to get what changes next. */
  cursor: number;
  /** Whether more trials changed after `cursor` already (fetch again at once). */
  hasMore: boolean;
}

/** A page of study summaries, newest first. */
export interface StudyPage {
  studies: StudySummary[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** One file a trial offers for download (`GET /api/studies/:id/trials/:n/files`). */
export interface TrialFile {
  /** The file's name: a path inside the trained adapter, or `configuration.json`. */
  name: string;
  /**
   * `configuration`: the trial's configuration JSON; `artifact`: a file of the trained adapter;
   * `bundle`: a ZIP of the configuration and every adapter file.
   */
  kind: 'configuration' | 'artifact' | 'bundle';
  /** The API path that serves it (it needs the bearer token). */
  path: string;
  /** Its size, for stored artifact files (the configuration is built on request). */
  bytes?: number;
}

/** The downloadable files of one trial. */
export interface TrialFiles {
  trial: number;
  state: TrialState;
  files: TrialFile[];
  /** Export formats left out or approximated, and why. */
  notes: string[];
}
