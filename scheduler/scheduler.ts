/**
 * The scheduler drives each active study: it reconciles trials with their BullMQ jobs, asks
 * the search for new trials while slots are free, and finishes the study when the budget is
 * spent. Everything it needs is read back from Redis on each step, so a restarted (or a second)
 * scheduler continues where another left off; a per-study lock keeps one acting at a time.
 */
import { randomUUID } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { Histogram } from 'prom-client';
import type { Job, Queue } from 'bullmq';
import { getPreset, presetObjectives } from '../search/presets.js';
import { lastReportValue, shouldPrune } from '../search/pruners.js';
import type { TrialReports } from '../search/pruners.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import type { TrialObservation } from '../search/sampler.js';
import { defaultReference, largestConfiguration } from '../search/reference-point.js';
import { warmStartFrom } from '../search/warm-start.js';
import { trialTrainingProblem } from '../search/training-schema.js';
import type { SearchPoint } from '../search/types.js';
import type { TrialJobData, TrialJobOutcome, TrialProgress } from '../workers/job-types.js';
import { ProposalThread } from './propose.js';
import { studyWarnings } from './study-warnings.js';
import type { ProposalOutcome, ProposalRequest } from './propose.js';
import { LockLostError, trialJobIdOf } from './store.js';
import type { StudyStore } from './store.js';
import type { StudyRecord, TrialRecord } from './types.js';

/**
 * Time of one scheduler step of one study, in prom-client's default registry: an API in the
 * same process (`autopeft serve`) serves it at `GET /metrics`.
 */
const SCHEDULER_STEP_SECONDS = new Histogram({
  name: 'autopeft_scheduler_step_seconds',
  help: 'Time of one scheduler step of one study',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

/** What the scheduler needs. */
export interface SchedulerOptions {
  store: StudyStore;
  queue: Queue<TrialJobData, TrialJobOutcome>;
  /** How often every active study is looked at, in ms. @defaultValue 1000 */
  pollMs?: number;
  /** How long a study lock lasts without renewal, in ms. @defaultValue 15000 */
  lockTtlMs?: number;
  /**
   * Where the search proposes points. @defaultValue a background thread of the scheduler's own
   * ({@link ProposalThread}), so that a GP fit does not block the API's event loop under `serve`
   */
  propose?: (request: ProposalRequest) => Promise<ProposalOutcome>;
  log?: (message: string) => void;
}

/** Job id of a trial (see {@link trialJobIdOf}). */
export const trialJobId = trialJobIdOf;

const FINISHED: ReadonlySet<TrialRecord['state']> = new Set(['complete', 'pruned', 'failed']);

/**
 * A study ends `failed` once this many of its trials in a row (in the order they finished)
 * have failed: its space or settings keep producing trials that cannot run, and spending the
 * rest of the budget on them helps no one.
 */
export const STUDY_MAX_CONSECUTIVE_FAILURES = 5;

/** The search could not propose a trial (e.g. no valid point): the study cannot go on. */
class ProposalError extends Error {
  override readonly name = 'ProposalError';
}

/** Drives studies from Redis state; start() begins the loop, stop() ends it. */
export class Scheduler {
  private readonly owner = `scheduler-${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private rerun = false;
  private queueEvents: QueueEvents | undefined;
  private readonly pollMs: number;
  private readonly lockTtlMs: number;
  private readonly log: (message: string) => void;

  private readonly proposals: ProposalThread | undefined;
  private readonly proposer: (request: ProposalRequest) => Promise<ProposalOutcome>;

  constructor(private readonly options: SchedulerOptions) {
    if (options.propose) this.proposer = options.propose;
    else {
      const thread = new ProposalThread();
      this.proposals = thread;
      this.proposer = (request) => thread.propose(request);
    }
    this.pollMs = options.pollMs ?? 1000;
    this.lockTtlMs = options.lockTtlMs ?? 15_000;
    this.log = options.log ?? (() => {});
  }

  /** Starts polling, and reacts at once to job events from the queue. */
  async start(): Promise<void> {
    const { queue, store } = this.options;
    for (const id of await store.rebuildMissingSummaries()) this.log(`study ${id}: its summary was rebuilt from its trials (stored before summaries existed)`);
    this.queueEvents = new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: queue.opts.prefix });
    for (const event of ['completed', 'failed', 'progress', 'active'] as const) {
      this.queueEvents.on(event, () => this.kick());
    }
    await this.queueEvents.waitUntilReady();
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.kick();
  }

  /** Stops the loop and lets go of every lock. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.queueEvents?.close();
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const id of await this.options.store.activeStudyIds()) await this.options.store.releaseLock(id, this.owner);
    await this.proposals?.close();
  }

  /** Runs one pass soon; passes never overlap. */
  kick(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    void this.tick()
      .catch((error: unknown) => this.log(`scheduler pass failed: ${String(error)}`))
      .finally(() => {
        this.running = false;
        if (this.rerun && this.timer) {
          this.rerun = false;
          this.kick();
        }
      });
  }

  /** One pass over every active study. */
  async tick(): Promise<void> {
    const { store } = this.options;
    for (const id of await store.activeStudyIds()) {
      if (!(await store.acquireLock(id, this.owner, this.lockTtlMs))) continue;
      const endTimer = SCHEDULER_STEP_SECONDS.startTimer();
      // A step can outlast the lock (a slow proposal): it is renewed while the step runs. If this
      // process pauses past the expiry anyway, another scheduler takes over and every write of
      // this step is refused (the writes are fenced by the lock's owner).
      const renewal = setInterval(() => void store.acquireLock(id, this.owner, this.lockTtlMs).catch(() => {}), Math.max(50, this.lockTtlMs / 3));
      try {
        await this.step(id);
      } catch (error) {
        if (error instanceof LockLostError) this.log(`study ${id}: another scheduler took it over while this one paused; this step's writes were refused`);
        else this.log(`study ${id}: ${String(error)}`);
      } finally {
        clearInterval(renewal);
        endTimer();
      }
    }
  }

  private async step(studyId: string): Promise<void> {
    const { store } = this.options;
    const study = await store.getStudy(studyId);
    if (!study) return;
    const trials = await store.getTrials(studyId);
    if (await store.cancelRequested(studyId)) {
      await this.cancel(study, trials);
      return;
    }
    if (study.state === 'queued') {
      study.state = 'running';
      await store.saveStudy(study, this.owner);
      this.log(`study ${study.id} (${study.spec.name}) started`);
    }

    for (const trial of trials) {
      if (!FINISHED.has(trial.state)) await this.reconcile(study, trial, trials);
    }

    await this.updateWarnings(study, trials);

    const failing = failureStreak(trials);
    if (failing) {
      await this.end(study, trials, 'failed', failing);
      return;
    }

    const inFlight = trials.filter((t) => !FINISHED.has(t.state)).length;
    const room = Math.min(study.spec.budget.maxParallel - inFlight, study.spec.budget.maxTrials - trials.length);
    if (room > 0) {
      try {
        trials.push(...(await this.createTrials(study, trials, room)));
      } catch (error) {
        if (!(error instanceof ProposalError)) throw error;
        await this.end(study, trials, 'failed', error.message);
        return;
      }
    }

    if (trials.length >= study.spec.budget.maxTrials && trials.every((t) => FINISHED.has(t.state))) {
      const anyComplete = trials.some((t) => t.state === 'complete');
      study.state = anyComplete ? 'completed' : 'failed';
      if (!anyComplete) study.error = `every trial failed; the last: ${lastFailure(trials) ?? 'unknown'}`;
      study.finishedAt = new Date().toISOString();
      const warnings = studyWarnings(trials, study.spec.task.metric, true);
      if (warnings.length > 0) study.warnings = warnings;
      await store.saveStudy(study, this.owner);
      await store.releaseLock(study.id, this.owner);
      this.log(`study ${study.id} ${study.state}${warnings.length > 0 ? ` (warning: ${warnings.map((w) => w.code).join(', ')})` : ''}`);
    }
  }

  /** Stores the warnings the trials call for, when they changed. */
  private async updateWarnings(study: StudyRecord, trials: TrialRecord[]): Promise<void> {
    const warnings = studyWarnings(trials, study.spec.task.metric, false);
    if (JSON.stringify(warnings) === JSON.stringify(study.warnings ?? [])) return;
    if (warnings.length > 0) study.warnings = warnings;
    else delete study.warnings;
    await this.options.store.saveStudy(study, this.owner);
  }

  /** Stops every unfinished trial and marks the study cancelled. */
  private cancel(study: StudyRecord, trials: TrialRecord[]): Promise<void> {
    return this.end(study, trials, 'cancelled');
  }

  /** Stops every unfinished trial and ends the study: cancelled, or failed for `reason`. */
  private async end(study: StudyRecord, trials: TrialRecord[], state: 'cancelled' | 'failed', reason?: string): Promise<void> {
    const { queue, store } = this.options;
    for (const trial of trials.filter((t) => !FINISHED.has(t.state))) {
      const jobId = trialJobId(study.id, trial.number);
      const job = await queue.getJob(jobId);
      const jobState = job ? await job.getState() : 'unknown';
      if (job && (jobState === 'waiting' || jobState === 'delayed' || jobState === 'prioritized')) await job.remove();
      else await store.requestStop(jobId, 'cancelled');
      trial.state = 'failed';
      trial.error = state === 'cancelled' ? 'study cancelled' : 'study failed';
      trial.finishedAt = new Date().toISOString();
      await store.saveTrial(study.id, trial, this.owner);
    }
    study.state = state;
    if (reason !== undefined) study.error = reason;
    study.finishedAt = new Date().toISOString();
    await store.saveStudy(study, this.owner);
    await store.releaseLock(study.id, this.owner);
    this.log(`study ${study.id} ${state}${reason !== undefined ? `: ${reason}` : ''}`);
  }

  /** Brings a waiting or running trial up to date with its job, and prunes it if it should stop. */
  private async reconcile(study: StudyRecord, trial: TrialRecord, trials: TrialRecord[]): Promise<void> {
    const { queue, store } = this.options;
    const jobId = trialJobId(study.id, trial.number);
    let job = await queue.getJob(jobId);
    if (!job) {
      // The trial was stored but its job never made it (a crash in between): enqueue it again.
      await this.enqueue(study, trial);
      return;
    }
    const state = await job.getState();
    // The job vanished between the two reads (removed meanwhile): look again next pass.
    if (state === 'unknown') return;
    if ((state === 'completed' || state === 'failed') && !job.finishedOn) {
      // It finished between reading the job and its state, so the copy read first lacks the
      // result (returnvalue null, no failedReason): read it again.
      job = await queue.getJob(jobId);
      if (!job?.finishedOn) return;
    }
    if (state === 'completed' && (job.returnvalue === null || job.returnvalue === undefined)) return;
    const before = JSON.stringify(trial);
    if (job.data.failures?.length) trial.failures = job.data.failures;
    // attemptsStarted also counts a start whose worker died (the job went back to the queue).
    trial.attempts = Math.max(job.attemptsStarted ?? 0, job.attemptsMade + (state === 'active' ? 1 : 0));
    const progress = job.progress as TrialProgress | number;
    const reportsBefore = trial.reports.length;
    if (typeof progress === 'object' && Array.isArray(progress.reports)) {
      trial.reports = progress.reports;
      if (progress.worker) trial.worker = progress.worker;
    }
    if (state === 'active' && trial.state === 'waiting') {
      trial.state = 'running';
      trial.startedAt = new Date(job.processedOn ?? Date.now()).toISOString();
    }
    if (state === 'active' && trial.reports.length > reportsBefore && !trial.pruneRequested && prunes(study, trial, trials)) {
      // The slot frees when the worker stops and returns the reports so far.
      trial.pruneRequested = true;
      await store.requestStop(trialJobId(study.id, trial.number), 'pruned');
    } else if (state === 'completed') {
      applyResult(trial, job);
    } else if (state === 'failed') {
      trial.state = 'failed';
      trial.error = job.failedReason;
      trial.finishedAt = new Date(job.finishedOn ?? Date.now()).toISOString();
    }
    if (JSON.stringify(trial) !== before) await store.saveTrial(study.id, trial, this.owner);
  }

  private async createTrials(study: StudyRecord, trials: TrialRecord[], count: number): Promise<TrialRecord[]> {
    const { store } = this.options;
    const { baseShape: shape, headOutputs: numLabels } = study;
    const { spec } = study;
    const preset = getPreset(spec.preset);
    const headParams = countHeadParams(shape, numLabels);
    const history: TrialObservation[] = trials.map((t) => {
      const state = t.state === 'complete' || t.state === 'pruned' || t.state === 'failed' ? t.state : 'pending';
      // A pruned trial counts with its last report, a complete one with its best evaluation.
      const metric = t.state === 'pruned' ? lastReportValue(t) : t.metric;
      // The curve lets the search observe a pruned trial at its predicted final metric.
      return { number: t.number, point: t.params, state, reports: t.reports, ...(state !== 'failed' && state !== 'pending' && metric !== undefined ? { values: [metric, t.trainableParams] } : {}) };
    });
    await this.settleReference(study, trials);
    const numbers = Array.from({ length: count }, (_, i) => trials.length + i);
    const warm = await this.warmStart(study);
    let points: SearchPoint[];
    try {
      const outcome = await this.proposer({ study, history: [...warm.priors, ...history], numbers, configurations: warm.configurations });
      if (!outcome.ok) throw new Error(outcome.message);
      points = outcome.points;
    } catch (error) {
      throw new ProposalError(`the search cannot propose a trial: ${error instanceof Error ? error.message : String(error)}`);
    }
    const created: TrialRecord[] = [];
    for (const [i, point] of points.entries()) {
      const number = numbers[i]!;
      const config = preset.toConfig(point, shape);
      const trainableParams = countPeftParams(config.peft, shape) + headParams;
      const trial: TrialRecord = {
        number,
        state: 'waiting',
        params: point,
        peft: config.peft,
        training: {
          ...study.spec.training,
          learningRate: config.learningRate ?? study.spec.training.learningRate,
          seed: study.spec.algorithm.seed * 1000 + number,
          dataSeed: study.spec.algorithm.seed,
        },
        trainableParams,
        trainablePercent: (100 * trainableParams) / study.baseParams,
        reports: [],
        attempts: 0,
        createdAt: new Date().toISOString(),
      };
      // The workers check the same schema; a trial it refuses fails here, without a round trip.
      const problem = trialTrainingProblem(trial.training);
      if (problem) {
        trial.state = 'failed';
        trial.error = `Invalid training configuration: ${problem.field}: ${problem.message}`;
        trial.finishedAt = new Date().toISOString();
        await store.saveTrial(study.id, trial, this.owner);
        created.push(trial);
        continue;
      }
      // Stored before it is enqueued: a crash in between is repaired by reconcile().
      await store.saveTrial(study.id, trial, this.owner);
      await this.enqueue(study, trial);
      created.push(trial);
    }
    return created;
  }

  /**
   * Fixes the study's reference point once it is known: the spec's, else the majority-class
   * level the first finished trial reported and the largest configuration of the space.
   */
  private async settleReference(study: StudyRecord, trials: TrialRecord[]): Promise<void> {
    if (study.reference) return;
    const { spec } = study;
    if (spec.objectives.referencePoint) {
      study.reference = { point: spec.objectives.referencePoint, source: 'spec' };
    } else {
      const majority = trials.find((t) => t.majorityBaseline !== undefined)?.majorityBaseline;
      if (majority === undefined) return;
      const preset = getPreset(spec.preset);
      // The search's own parameter objective (PEFT modules and head), so the two never disagree.
      const size = presetObjectives(preset, study.baseShape, { extraParams: countHeadParams(study.baseShape, study.headOutputs) })[1]!.compute!;
      const reference = defaultReference(majority, largestConfiguration(spec.searchSpace, size, (point) => preset.isValid(point), spec.algorithm.seed));
      if (!reference) return;
      study.reference = reference;
    }
    await this.options.store.saveStudy(study, this.owner);
  }

  /** The study's warm start: enqueued configurations, or what another study gives (warmStartFrom). */
  private async warmStart(study: StudyRecord): Promise<{ priors: TrialObservation[]; configurations: SearchPoint[] }> {
    const warm = study.spec.warmStart;
    if (!warm) return { priors: [], configurations: [] };
    if ('configurations' in warm) return { priors: [], configurations: warm.configurations };
    const { store } = this.options;
    const source = await store.getStudy(warm.fromStudy);
    if (!source) throw new ProposalError(`warmStart.fromStudy: no study "${warm.fromStudy}"`);
    const trials = await store.getTrials(warm.fromStudy);
    const preset = getPreset(study.spec.preset);
    return warmStartFrom(
      {
        space: source.spec.searchSpace,
        baseModel: source.spec.task.baseModel,
        trials: trials.map((t) => {
          const metric = t.state === 'pruned' ? lastReportValue(t) : t.metric;
          const state = t.state === 'complete' || t.state === 'pruned' ? t.state : 'failed';
          return { point: t.params, state, reports: t.reports, ...(metric !== undefined ? { values: [metric, t.trainableParams] } : {}) };
        }),
      },
      { space: study.spec.searchSpace, baseModel: study.spec.task.baseModel, isValid: (point) => preset.isValid(point) },
    );
  }

  private async enqueue(study: StudyRecord, trial: TrialRecord): Promise<void> {
    const data: TrialJobData = {
      studyId: study.id,
      trialNumber: trial.number,
      task: study.spec.task,
      peft: trial.peft,
      training: trial.training,
    };
    await this.options.queue.add(`study ${study.id} trial ${trial.number}`, data, {
      jobId: trialJobId(study.id, trial.number),
      attempts: 2,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }
}

/** Whether the study's pruner stops `trial` after its latest report. */
function prunes(study: StudyRecord, trial: TrialRecord, trials: TrialRecord[]): boolean {
  const asReports = (t: TrialRecord): TrialReports => ({
    number: t.number,
    state: t.state === 'waiting' || t.state === 'running' ? 'running' : t.state,
    reports: t.reports,
    cost: t.trainableParams,
  });
  return shouldPrune(asReports(trial), trials.map(asReports), study.spec.pruner);
}

/**
 * The reason to end a study whose last {@link STUDY_MAX_CONSECUTIVE_FAILURES} finished trials
 * all failed, or undefined.
 */
function failureStreak(trials: TrialRecord[]): string | undefined {
  const finished = trials
    .filter((t) => FINISHED.has(t.state))
    .sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? '') || a.number - b.number);
  const last = finished.slice(-STUDY_MAX_CONSECUTIVE_FAILURES);
  if (last.length < STUDY_MAX_CONSECUTIVE_FAILURES || last.some((t) => t.state !== 'failed')) return undefined;
  return `${STUDY_MAX_CONSECUTIVE_FAILURES} trials in a row failed; the last (trial ${last.at(-1)!.number}): ${last.at(-1)!.error ?? 'unknown'}`;
}

/** The error of the failed trial that finished last. */
function lastFailure(trials: TrialRecord[]): string | undefined {
  const failed = trials.filter((t) => t.state === 'failed').sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? '') || a.number - b.number);
  const last = failed.at(-1);
  return last ? `trial ${last.number}: ${last.error ?? 'unknown'}` : undefined;
}

function applyResult(trial: TrialRecord, job: Job<TrialJobData, TrialJobOutcome>): void {
  const result = job.returnvalue;
  trial.finishedAt = new Date(job.finishedOn ?? Date.now()).toISOString();
  trial.worker = result.worker;
  trial.reports = result.reports;
  if ('stopped' in result) {
    // A pruned trial keeps its last report: it is evidence for the search.
    trial.state = 'pruned';
    const last = lastReportValue(result);
    if (last !== undefined) trial.metric = last;
    return;
  }
  trial.state = 'complete';
  trial.metric = result.metric;
  trial.metrics = result.metrics;
  trial.majorityBaseline = result.majorityBaseline;
  trial.backend = result.backend;
  if (result.artifact) trial.artifact = result.artifact;
  // The closed form counts what is stored, so it is compared with the live stored count (the
  // worker has compared what trained with the training form). A mismatch is a bug worth surfacing.
  if (result.storedParams !== undefined && result.storedParams !== trial.trainableParams) {
    trial.error = `live stored parameters ${result.storedParams} differ from the closed form ${trial.trainableParams}`;
  }
}
