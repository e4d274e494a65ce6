/**
 * The scheduler drives each active study: it reconciles trials with their BullMQ jobs, asks
 * the search for new trials while slots are free, and finishes the study when the budget is
 * spent. Everything it needs is in Redis, so a restarted scheduler continues where another
 * left off.
 *
 * Several schedulers share the studies: each holds the locks of its own share (the active
 * studies divided by the schedulers alive, see {@link StudyStore.heartbeatScheduler}), renews
 * them on a timer at half their lifetime and gives back what exceeds its share when another
 * scheduler joins. Every write carries the lock's owner as a fencing token, so a scheduler that
 * lost a lock cannot write. A job event marks its study for a step at once; a sweep every
 * `pollMs` steps every held study. Up to `concurrency` studies step at once, each one at a time.
 */
import { randomUUID } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { Histogram } from 'prom-client';
import type { Job, Queue } from 'bullmq';
import { BASELINES } from '../search/baselines.js';
import { getPreset, presetObjectives } from '../search/presets.js';
import { lastReportValue, shouldPrune } from '../search/pruners.js';
import type { TrialReports } from '../search/pruners.js';
import { countHeadParams, countPeftParams } from '../search/param-count.js';
import type { TrialObservation } from '../search/sampler.js';
import { defaultReference, largestConfiguration } from '../search/reference-point.js';
import { warmStartFrom } from '../search/warm-start.js';
import { trialTrainingProblem } from '../search/training-schema.js';
import type { SearchPoint } from '../search/types.js';
import { studyIdOfJob } from '../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome, TrialProgress } from '../workers/job-types.js';
import { ProposalThread } from './propose.js';
import { applyTrialOutcome } from './trial-outcome.js';
import { isSearchTrial, reevaluationPlan, reevaluationTraining } from './reevaluation.js';
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
  /** Most studies stepped at once. @defaultValue 8 */
  concurrency?: number;
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

/** Time of one pass of a scheduler over the studies it looks at. */
const SCHEDULER_PASS_SECONDS = new Histogram({
  name: 'autopeft_scheduler_pass_seconds',
  help: 'Time of one scheduler pass over the studies it looks at (a sweep or the studies an event named)',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});

/** A study's trials as this scheduler last read them, and the change cursor they are current to. */
interface TrialCache {
  seq: number;
  byNumber: Map<number, TrialRecord>;
}

/** Drives studies from Redis state; start() begins the loop, stop() ends it. */
export class Scheduler {
  private readonly owner = `scheduler-${randomUUID()}`;
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private sweepPending = false;
  /** Studies a job event named since the last pass. */
  private readonly pending = new Set<string>();
  /** Studies whose lock this scheduler holds. */
  private readonly held = new Set<string>();
  /** Studies being stepped now (a study never steps twice at once). */
  private readonly stepping = new Set<string>();
  private readonly trialCache = new Map<string, TrialCache>();
  /** This scheduler's share of the active studies, from the last sweep. */
  private share = Number.POSITIVE_INFINITY;
  private queueEvents: QueueEvents | undefined;
  private readonly pollMs: number;
  private readonly lockTtlMs: number;
  private readonly concurrency: number;
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
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.log = options.log ?? (() => {});
  }

  /** This scheduler's id: the owner its locks name. */
  get id(): string {
    return this.owner;
  }

  /** Starts polling, and reacts at once to job events from the queue. */
  async start(): Promise<void> {
    const { queue, store } = this.options;
    for (const id of await store.rebuildMissingSummaries()) this.log(`study ${id}: its summary was rebuilt from its trials (stored before summaries existed)`);
    this.queueEvents = new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: queue.opts.prefix });
    for (const event of ['completed', 'failed', 'progress', 'active'] as const) {
      // A trial's job id starts with its study's id: only that study needs a step.
      this.queueEvents.on(event, ({ jobId }: { jobId: string }) => this.kick(studyIdOfJob(jobId)));
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
    while (this.draining || this.stepping.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    const { store } = this.options;
    await Promise.all([...this.held].map((id) => store.releaseLock(id, this.owner)));
    this.held.clear();
    await store.leaveSchedulers(this.owner);
    await this.proposals?.close();
  }

  /**
   * Steps `studyId` soon, or with no id sweeps every active study soon. Passes run one after
   * another; what is asked for during a pass runs in the next.
   */
  kick(studyId?: string): void {
    if (studyId === undefined) this.sweepPending = true;
    else this.pending.add(studyId);
    if (this.draining) return;
    this.draining = true;
    void this.drain()
      .catch((error: unknown) => this.log(`scheduler pass failed: ${String(error)}`))
      .finally(() => {
        this.draining = false;
        // Asked for while the last pass was finishing.
        if (this.timer && (this.sweepPending || this.pending.size > 0)) this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.sweepPending || this.pending.size > 0) {
      if (this.sweepPending) {
        this.sweepPending = false;
        this.pending.clear();
        await this.tick();
      } else {
        const ids = [...this.pending];
        this.pending.clear();
        await this.pass(ids);
      }
    }
  }

  /**
   * One sweep: renews this scheduler's membership, works out its share of the active studies,
   * steps every active study it holds or can take within its share, and gives back what
   * exceeds the share (a scheduler joined).
   */
  async tick(): Promise<void> {
    const { store } = this.options;
    const [ids, alive] = await Promise.all([store.activeStudyIds(), store.heartbeatScheduler(this.owner, this.lockTtlMs)]);
    this.share = Math.ceil(ids.length / Math.max(1, alive));
    const active = new Set(ids);
    // Finished or deleted elsewhere: nothing left to hold.
    for (const id of this.held) {
      if (!active.has(id) && !this.stepping.has(id)) await this.letGo(id);
    }
    // Studies already held first, so that a full share never blocks its own studies.
    await this.pass([...ids.filter((id) => this.held.has(id)), ...ids.filter((id) => !this.held.has(id))]);
    let excess = this.held.size - this.share;
    for (const id of [...this.held]) {
      if (excess <= 0) break;
      if (this.stepping.has(id)) continue;
      await this.letGo(id);
      excess--;
    }
  }

  /** Steps each of `ids` this scheduler holds or can take, `concurrency` at a time. */
  private async pass(ids: readonly string[]): Promise<void> {
    const endTimer = SCHEDULER_PASS_SECONDS.startTimer();
    this.startRenewals();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < ids.length) await this.visit(ids[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, ids.length) }, lane));
    endTimer();
  }

  /** Steps one study if this scheduler holds its lock or can take it within its share. */
  private async visit(id: string): Promise<void> {
    const { store } = this.options;
    if (this.stepping.has(id)) {
      this.pending.add(id); // it changed again while stepping: once more afterwards
      return;
    }
    this.stepping.add(id);
    try {
      if (!this.held.has(id)) {
        if (this.held.size >= this.share || !(await store.acquireLock(id, this.owner, this.lockTtlMs))) return;
        this.held.add(id);
        this.trialCache.delete(id); // another scheduler may have written since
      }
      const endTimer = SCHEDULER_STEP_SECONDS.startTimer();
      try {
        await this.step(id);
      } catch (error) {
        this.trialCache.delete(id);
        if (error instanceof LockLostError) {
          this.held.delete(id);
          this.log(`study ${id}: another scheduler took it over while this one paused; this step's writes were refused`);
        } else this.log(`study ${id}: ${String(error)}`);
      } finally {
        endTimer();
      }
    } finally {
      this.stepping.delete(id);
    }
  }

  /**
   * Renews every held lock at half its lifetime, during steps too (a slow proposal). A lock
   * found lost is dropped; if this process paused past an expiry, another scheduler has taken
   * the study and every write this one still tries is refused by the fence.
   */
  private startRenewals(): void {
    if (this.renewTimer) return;
    const { store } = this.options;
    this.renewTimer = setInterval(() => {
      for (const id of this.held) {
        store.acquireLock(id, this.owner, this.lockTtlMs).then(
          (kept) => {
            if (!kept) {
              this.held.delete(id);
              this.trialCache.delete(id);
            }
          },
          () => {},
        );
      }
    }, Math.max(25, this.lockTtlMs / 2));
  }

  /** Gives up a study's lock (its study finished, or it is beyond this scheduler's share). */
  private async letGo(id: string): Promise<void> {
    this.held.delete(id);
    this.trialCache.delete(id);
    await this.options.store.releaseLock(id, this.owner);
  }

  /**
   * The study's trials by number, read incrementally: after the first read only the trials
   * changed since the cursor (this scheduler's own writes included) come from Redis.
   */
  private async trialsOf(studyId: string): Promise<TrialRecord[]> {
    const { store } = this.options;
    let cache = this.trialCache.get(studyId);
    if (!cache) {
      // The cursor first: a write between the two reads then comes again as a change.
      const seq = (await store.getCounts(studyId)).seq;
      cache = { seq, byNumber: new Map((await store.getTrials(studyId)).map((t) => [t.number, t])) };
      this.trialCache.set(studyId, cache);
    }
    for (let more = true; more; ) {
      const page = await store.trialsChangedAfter(studyId, cache.seq, 1000);
      for (const trial of page.trials) cache.byNumber.set(trial.number, trial);
      cache.seq = page.cursor;
      more = page.hasMore;
    }
    // Unfinished trials are copies: a step changes them before writing, and a refused write must
    // not stay in the cache. Finished trials are never changed by a step, so they are shared.
    const trials = [...cache.byNumber.values()].map((t) => (FINISHED.has(t.state) ? t : structuredClone(t)));
    // Numbers are dense (0, 1, ...) and mostly in order already: a cheap check before sorting.
    if (trials.some((t, i) => t.number !== i)) trials.sort((a, b) => a.number - b.number);
    return trials;
  }

  private async step(studyId: string): Promise<void> {
    const { store } = this.options;
    const study = await store.getStudy(studyId);
    if (!study) return;
    if (study.state === 'completed' || study.state === 'failed' || study.state === 'cancelled') {
      // Finished by an earlier step (a job event can still name it): nothing more to do.
      await this.letGo(studyId);
      return;
    }
    const trials = await this.trialsOf(studyId);
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

    if (study.state === 're-evaluating') {
      await this.reevaluate(study, trials);
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
      // The search is over: retrain what it found (and the baselines) with other seeds first, if asked.
      if (reevaluationPlan(trials, study.spec.reevaluation).length > 0) {
        study.state = 're-evaluating';
        await store.saveStudy(study, this.owner);
        this.log(`study ${study.id} re-evaluating`);
        await this.reevaluate(study, trials);
        return;
      }
      await this.complete(study, trials);
    }
  }

  /**
   * One step of the re-evaluation phase: creates the planned re-evaluation trials not created yet,
   * at most `maxParallel` in flight, and completes the study once every one has finished.
   */
  private async reevaluate(study: StudyRecord, trials: TrialRecord[]): Promise<void> {
    const { store } = this.options;
    const created = new Set(trials.flatMap((t) => (t.reevaluation ? [`${t.reevaluation.of}:${t.reevaluation.seed}`] : [])));
    const todo = reevaluationPlan(trials, study.spec.reevaluation).filter((p) => !created.has(`${p.of}:${p.seed}`));
    if (todo.length === 0 && trials.every((t) => FINISHED.has(t.state))) {
      await this.complete(study, trials);
      return;
    }
    const room = study.spec.budget.maxParallel - trials.filter((t) => !FINISHED.has(t.state)).length;
    for (const { of, seed } of todo.slice(0, Math.max(0, room))) {
      const original = trials[of]!;
      const number = trials.length;
      const trial: TrialRecord = {
        number,
        state: 'waiting',
        params: original.params,
        reevaluation: { of, seed },
        peft: original.peft,
        // The same settings and training data, the whole dev split; the training seed is the one a
        // trial of this number gets, so it differs from the original's and from every other re-evaluation's.
        training: reevaluationTraining(original.training, study.spec.algorithm.seed * 1000 + number),
        trainableParams: original.trainableParams,
        ...(original.trainingParams !== undefined ? { trainingParams: original.trainingParams } : {}),
        trainablePercent: original.trainablePercent,
        reports: [],
        attempts: 0,
        createdAt: new Date().toISOString(),
      };
      // Stored before it is enqueued: a crash in between is repaired by reconcile().
      await store.saveTrial(study.id, trial, this.owner);
      await this.enqueue(study, trial);
      trials.push(trial);
    }
  }

  /** Ends a study whose trials (and re-evaluations) all finished: completed, or failed if none completed. */
  private async complete(study: StudyRecord, trials: TrialRecord[]): Promise<void> {
    const { store } = this.options;
    const anyComplete = trials.some((t) => t.state === 'complete');
    study.state = anyComplete ? 'completed' : 'failed';
    if (!anyComplete) study.error = `every trial failed; the last: ${lastFailure(trials) ?? 'unknown'}`;
    study.finishedAt = new Date().toISOString();
    const warnings = studyWarnings(trials, study.spec.task.metric, true);
    if (warnings.length > 0) study.warnings = warnings;
    await store.saveStudy(study, this.owner);
    await this.letGo(study.id);
    this.log(`study ${study.id} ${study.state}${warnings.length > 0 ? ` (warning: ${warnings.map((w) => w.code).join(', ')})` : ''}`);
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
    await this.letGo(study.id);
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
    // Baselines come first and are no points of the space: the search neither sees them nor
    // counts them, so it numbers its own trials from the first after the baselines.
    const baselines = spec.baselines ?? [];
    const offset = baselines.length;
    const history: TrialObservation[] = trials.filter(isSearchTrial).map((t) => {
      const state = t.state === 'complete' || t.state === 'pruned' || t.state === 'failed' ? t.state : 'pending';
      // A pruned trial counts with its last report, a complete one with its best evaluation.
      const metric = t.state === 'pruned' ? lastReportValue(t) : t.metric;
      // The curve lets the search observe a pruned trial at its predicted final metric.
      return { number: t.number - offset, point: t.params, state, reports: t.reports, ...(state !== 'failed' && state !== 'pending' && metric !== undefined ? { values: [metric, t.trainableParams] } : {}) };
    });
    await this.settleReference(study, trials);
    const numbers = Array.from({ length: count }, (_, i) => trials.length + i);
    const baselineNumbers = numbers.filter((n) => n < offset);
    const searchNumbers = numbers.filter((n) => n >= offset);
    let points: SearchPoint[] = [];
    if (searchNumbers.length > 0) {
      const warm = await this.warmStart(study);
      try {
        const outcome = await this.proposer({ study, history: [...warm.priors, ...history], numbers: searchNumbers.map((n) => n - offset), configurations: warm.configurations });
        if (!outcome.ok) throw new Error(outcome.message);
        points = outcome.points;
      } catch (error) {
        throw new ProposalError(`the search cannot propose a trial: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const planned = [
      ...baselineNumbers.map((number) => ({ number, point: {} as SearchPoint, peft: BASELINES[baselines[number]!].config(shape), baseline: baselines[number]! })),
      ...searchNumbers.map((number, i) => {
        const config = preset.toConfig(points[i]!, shape);
        return { number, point: points[i]!, peft: config.peft, learningRate: config.learningRate };
      }),
    ];
    const created: TrialRecord[] = [];
    for (const { number, point, peft, ...rest } of planned) {
      const baseline = 'baseline' in rest ? rest.baseline : undefined;
      const learningRate = 'learningRate' in rest ? rest.learningRate : undefined;
      const trainableParams = countPeftParams(peft, shape) + headParams;
      const trial: TrialRecord = {
        number,
        state: 'waiting',
        params: point,
        ...(baseline !== undefined ? { baseline } : {}),
        peft,
        training: {
          ...study.spec.training,
          learningRate: learningRate ?? study.spec.training.learningRate,
          seed: study.spec.algorithm.seed * 1000 + number,
          dataSeed: study.spec.algorithm.seed,
        },
        trainableParams,
        trainingParams: countPeftParams(peft, shape, 'training') + headParams,
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
    // Its baselines are no points of its space, and its re-evaluations repeat trials: they warm nothing.
    const trials = (await store.getTrials(warm.fromStudy)).filter(isSearchTrial);
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
  // A baseline is the yardstick, a re-evaluation a repeat measurement: both train to the end.
  if (trial.baseline !== undefined || trial.reevaluation !== undefined) return false;
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
  const last = lastFinished(trials.filter((t) => FINISHED.has(t.state)), STUDY_MAX_CONSECUTIVE_FAILURES);
  if (last.length < STUDY_MAX_CONSECUTIVE_FAILURES || last.some((t) => t.state !== 'failed')) return undefined;
  return `${STUDY_MAX_CONSECUTIVE_FAILURES} trials in a row failed; the last (trial ${last.at(-1)!.number}): ${last.at(-1)!.error ?? 'unknown'}`;
}

/** The error of the failed trial that finished last. */
function lastFailure(trials: TrialRecord[]): string | undefined {
  const last = lastFinished(trials.filter((t) => t.state === 'failed'), 1).at(-1);
  return last ? `trial ${last.number}: ${last.error ?? 'unknown'}` : undefined;
}

/** Whether `a` finished before `b` (ISO times compare as text; ties by number). */
function finishedBefore(a: TrialRecord, b: TrialRecord): boolean {
  const at = a.finishedAt ?? '';
  const bt = b.finishedAt ?? '';
  return at < bt || (at === bt && a.number < b.number);
}

/**
 * The `count` trials of `trials` that finished last, in the order they finished: one pass,
 * not a sort, since every step of every study asks and a study may have thousands of trials.
 */
function lastFinished(trials: readonly TrialRecord[], count: number): TrialRecord[] {
  const last: TrialRecord[] = [];
  for (const trial of trials) {
    if (last.length === count && !finishedBefore(last[0]!, trial)) continue;
    let i = last.length;
    while (i > 0 && finishedBefore(trial, last[i - 1]!)) i--;
    last.splice(i, 0, trial);
    if (last.length > count) last.shift();
  }
  return last;
}

function applyResult(trial: TrialRecord, job: Job<TrialJobData, TrialJobOutcome>): void {
  applyTrialOutcome(trial, job.returnvalue, new Date(job.finishedOn ?? Date.now()));
}
