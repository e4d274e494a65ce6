/**
 * A BullMQ worker that trains one trial at a time. Each worker process runs one of these, so
 * a host runs as many trials at once as it has worker processes.
 */
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { RedisClient } from './redis-connection.js';
import type { IntermediateReport } from '../search/types.js';
import { formatBytes } from '../search/trial-memory.js';
import { failureKind, HostFaultError, TrialAbortedError } from './errors.js';
import { stopRequestKey, stoppedWorkersKey } from './job-types.js';
import type { StopReason, StoppedWorker, TrialAttemptFailure, TrialJobData, TrialJobOutcome, TrialProgress } from './job-types.js';
import type { DatasetContext } from './data/registry.js';
import { uploadKey } from './data/stored.js';
import { exportTrainedAdapter } from './export/index.js';
import type { ExportInput } from './export/index.js';
import { toNamedArrays } from './export/weights.js';
import { artifactKey, RESULT_TTL_SECONDS, resultKey } from './job-types.js';
import { resolveBaseModel } from './models/resolve.js';
import { trainTrial } from './train/train-trial.js';
import { DEFAULT_WORKER_MAX_RSS } from './memory-limit.js';
import { StudyStore } from '../scheduler/store.js';
import { applyTrialOutcome } from '../scheduler/trial-outcome.js';

/** What a trial worker needs. */
export interface TrialWorkerOptions {
  /** Connection for the queue and for stop requests. */
  connection: RedisClient;
  queueName: string;
  /** RedisClient key prefix of the queue. */
  prefix: string;
  /** Name reported with each result. @defaultValue `${hostname}:${pid}` */
  name?: string;
  /** Root of `file:` datasets on this host. */
  dataRoot?: string;
  /** Root of users' model directories on this host. */
  modelRoot?: string;
  /** How often a running trial checks for a stop request, in ms. @defaultValue 1000 */
  stopPollMs?: number;
  /**
   * How long a job's lock lasts without renewal, in ms: a worker that dies loses its trial to
   * another worker after about this long (the other workers also look for such trials this
   * often). Training yields between steps so renewals run.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /**
   * After this many trials in a row fail on this worker by what may be the host's fault (a
   * missing model directory on this host, a broken backend, an error of unknown cause), the
   * worker stops taking trials and records itself under {@link stoppedWorkersKey}; those
   * trials go back to the queue for other workers instead of failing. A trial's own fault (an
   * invalid configuration, running out of memory) never counts. @defaultValue 3
   */
  maxConsecutiveFailures?: number;
  /** Refuse trials whose estimated memory exceeds this many bytes (see trainTrial). @defaultValue no limit */
  maxTrialMemoryBytes?: number;
  /**
   * When a trial fails and this process's resident memory is above this many bytes, the worker
   * finishes recording the failure, closes and calls {@link onRestartNeeded}: a wasm heap never
   * shrinks, so only a fresh process gives the memory back. @defaultValue DEFAULT_WORKER_MAX_RSS
   */
  maxRssBytes?: number;
  /** Called once the worker has closed for a restart (see {@link maxRssBytes}); the caller ends the process. */
  onRestartNeeded?: (reason: string) => void;
  log?: (message: string) => void;
}


/**
 * How often one trial may be handed back by failing workers before it fails like any other
 * (so that a trial that breaks every worker cannot circulate forever).
 */
const MAX_HANDBACKS = 4;

/** Starts a worker pulling trial jobs; close() it to stop after the current trial. */
export function startTrialWorker(options: TrialWorkerOptions): Worker<TrialJobData, TrialJobOutcome> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const log = options.log ?? (() => {});
  const redis = options.connection;
  const datasetContext: DatasetContext = {
    ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
    fetchUpload: async (id) => (await redis.get(uploadKey(options.prefix, id))) ?? undefined,
  };

  const maxFailures = options.maxConsecutiveFailures ?? 3;
  let consecutiveFailures = 0;
  let stopped = false;
  let restarting = false;
  // Set once the BullMQ worker exists; the processor only runs after that.
  let stopTakingTrials: (reason: string) => void = () => {};
  let restart: (reason: string) => void = () => {};
  const maxRss = options.maxRssBytes ?? DEFAULT_WORKER_MAX_RSS;
  // The trial's record follows its job here, not a scheduler pass later (see updateTrialFromWorker).
  const store = new StudyStore(redis, options.prefix);

  const processor = async (job: Job<TrialJobData, TrialJobOutcome>, token?: string): Promise<TrialJobOutcome> => {
    const { studyId, trialNumber } = job.data;
    const label = `trial ${trialNumber} of study ${studyId}`;
    const storedKey = resultKey(options.prefix, job.id ?? '');
    /** Records the outcome on the trial before the job completes, then returns it. */
    const finish = async (outcome: TrialJobOutcome): Promise<TrialJobOutcome> => {
      await store.updateTrialFromWorker(studyId, trialNumber, ['waiting', 'running'], (trial) => applyTrialOutcome(trial, outcome, new Date()));
      return outcome;
    };
    const stored = await redis.get(storedKey);
    if (stored !== null) {
      // An earlier attempt trained it, but the job did not complete (Redis restarted, its lock
      // was lost): its outcome is returned, not trained again.
      log(`${label}: already trained by an earlier attempt; its stored result is returned`);
      return finish(JSON.parse(stored) as TrialJobOutcome);
    }
    await store.updateTrialFromWorker(studyId, trialNumber, ['waiting', 'running'], (trial) => {
      trial.state = 'running';
      trial.startedAt = new Date(job.processedOn ?? Date.now()).toISOString();
      trial.worker = name;
      trial.attempts = Math.max(trial.attempts, job.attemptsStarted ?? job.attemptsMade + 1);
    });
    log(`${label}: training (attempt ${job.attemptsMade + 1})`);
    const stopKey = stopRequestKey(options.prefix, job.id ?? '');
    const controller = new AbortController();
    const poll = setInterval(() => {
      redis.get(stopKey).then(
        (reason) => reason && !controller.signal.aborted && controller.abort(reason as StopReason),
        () => {},
      );
    }, options.stopPollMs ?? 1000);
    let reports: IntermediateReport[] = [];
    let trained: Omit<ExportInput, 'metrics'> | undefined;
    try {
      await job.updateProgress({ reports, worker: name } satisfies TrialProgress);
      try {
        await resolveBaseModel(job.data.task.baseModel, options.modelRoot);
      } catch (error) {
        // The API found this model, so this host lacks it: the worker's problem, not the trial's.
        throw new HostFaultError(`this worker cannot load base model "${job.data.task.baseModel}": ${error instanceof Error ? error.message : String(error)}`);
      }
      const result = await trainTrial(job.data, {
        workerName: name,
        signal: controller.signal,
        ...(options.maxTrialMemoryBytes !== undefined ? { maxMemoryBytes: options.maxTrialMemoryBytes } : {}),
        datasetContext,
        onTrainedWeights: (weights, info) => {
          // Copied now: the tensors are freed when this returns.
          trained = {
            adapterName: `study-${studyId}-trial-${trialNumber}`,
            baseModel: {
              name: info.baseModel.name,
              modelType: info.baseModel.modelType,
              shape: info.baseModel.shape,
              baseParams: info.baseModel.baseParams,
              ...(info.baseModel.huggingFace ? { huggingFace: info.baseModel.huggingFace } : {}),
            },
            peft: job.data.peft,
            head: { kind: info.headKind, task: info.dataset.kind, outputs: info.outputs, labels: info.dataset.labels },
            training: job.data.training,
            weights: toNamedArrays(weights),
          };
        },
        onReport: async (latest) => {
          reports = latest;
          await job.updateProgress({ reports, worker: name } satisfies TrialProgress);
        },
      });
      consecutiveFailures = 0;
      log(`${label}: ${job.data.task.metric} ${result.metric.toFixed(4)} in ${result.trainSeconds.toFixed(1)} s`);
      if (!trained) {
        await redis.set(storedKey, JSON.stringify(result), 'EX', RESULT_TTL_SECONDS);
        return finish(result);
      }
      const bundle = exportTrainedAdapter({ ...trained, metrics: result.metrics });
      const key = artifactKey(options.prefix, job.id ?? '');
      const fields = Object.entries(bundle.files).flatMap(([file, content]) => [file, typeof content === 'string' ? content : Buffer.from(content)]);
      const outcome: TrialJobOutcome = { ...result, artifact: { files: Object.keys(bundle.files).sort(), notes: bundle.notes } };
      // The files and the outcome in one step, before the job completes (see resultKey).
      await redis.multi().del(key).hset(key, ...fields).set(storedKey, JSON.stringify(outcome), 'EX', RESULT_TTL_SECONDS).exec();
      return finish(outcome);
    } catch (error) {
      if (error instanceof TrialAbortedError && controller.signal.reason === 'pruned') {
        log(`${label}: pruned after ${reports.length} evaluation(s)`);
        const pruned: TrialJobOutcome = { stopped: 'pruned', reports, worker: name };
        await redis.set(storedKey, JSON.stringify(pruned), 'EX', RESULT_TTL_SECONDS);
        return finish(pruned);
      }
      const message = error instanceof Error ? error.message : String(error);
      const kind = failureKind(error);
      log(`${label} failed (${kind === 'unknown' ? 'cause unknown' : `${kind} fault`}): ${message}`);
      const rss = process.memoryUsage.rss();
      // Scheduled now, run after BullMQ has recorded this failure (close() waits for it).
      if (rss > maxRss) restart(`resident memory ${formatBytes(rss)} after a failed trial is above AUTOPEFT_WORKER_MAX_RSS (${formatBytes(maxRss)})`);
      /** The trial's record as the job leaves this worker: failed for good, or waiting for another try. */
      const leave = async (final: boolean, failures?: TrialAttemptFailure[]): Promise<void> => {
        await store
          .updateTrialFromWorker(studyId, trialNumber, ['running'], (trial) => {
            if (failures) trial.failures = failures;
            // This attempt counts whether or not the scheduler saw it running: a repeat can start
            // and fail between two of its passes, and a trial failed here is not reconciled again.
            trial.attempts = Math.max(trial.attempts, job.attemptsStarted ?? 0);
            if (!final) {
              trial.state = 'waiting';
              return;
            }
            trial.state = 'failed';
            trial.error = message;
            trial.finishedAt = new Date().toISOString();
          })
          .catch(() => {}); // the scheduler records it from the job in any case
      };
      // Bad input fails the same way on every attempt, and a cancelled trial must not come back.
      if (error instanceof TrialAbortedError || kind === 'invalid') {
        await leave(true);
        throw new UnrecoverableError(message);
      }
      const earlier = job.data.failures ?? [];
      // The same message again, from another worker (or, for a resource fault, from any): the
      // trial's own doing, so it fails instead of going round.
      const repeated = earlier.some((f) => f.message === message && (f.worker !== name || kind === 'resource'));
      const failure: TrialAttemptFailure = { worker: name, message, kind, at: new Date().toISOString() };
      await job.updateData({ ...job.data, failures: [...earlier, failure] });
      if (kind === 'host' || (kind === 'unknown' && !repeated)) {
        consecutiveFailures++;
        if (consecutiveFailures >= maxFailures) {
          const trials = consecutiveFailures === 1 ? 'a trial failed here' : `${consecutiveFailures} trials in a row failed here`;
          stopTakingTrials(`${trials}; the last: ${message}`);
        }
      }
      const failures = [...earlier, failure];
      if (repeated && kind !== 'host') {
        await leave(true, failures);
        throw new UnrecoverableError(message);
      }
      if (token && job.attemptsStarted <= MAX_HANDBACKS) {
        // Hand the trial back without spending one of its attempts: another worker (or this
        // one, if the problem was passing) takes it.
        await leave(false, failures);
        await job.moveToDelayed(Date.now() + 200, token);
        throw new DelayedError();
      }
      await leave(job.attemptsMade + 1 >= (job.opts.attempts ?? 1), failures);
      throw error;
    } finally {
      clearInterval(poll);
    }
  };

  const worker = new Worker<TrialJobData, TrialJobOutcome>(options.queueName, processor, {
    connection: redis,
    prefix: options.prefix,
    concurrency: 1,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.lockDurationMs ?? 30_000,
    // A worker that died mid-trial is the host's fault, not the trial's: its trial goes to another
    // worker up to this many times (BullMQ's default, 1, fails a trial whose worker died twice).
    maxStalledCount: MAX_HANDBACKS,
    name,
  });
  // A restarted worker starts with a clean record.
  redis.hdel(stoppedWorkersKey(options.prefix), name).catch(() => {});
  stopTakingTrials = (reason) => {
    if (stopped) return;
    stopped = true;
    log(`worker ${name} stops taking trials: ${reason}`);
    const record: StoppedWorker = { name, reason, at: new Date().toISOString() };
    redis.hset(stoppedWorkersKey(options.prefix), name, JSON.stringify(record)).catch(() => {});
    // Not awaited here: close() waits for the current trial, whose handler is running now.
    setImmediate(() => void worker.close().catch(() => {}));
  };
  restart = (reason) => {
    if (restarting) return;
    restarting = true;
    stopped = true;
    log(`worker ${name} restarts: ${reason}`);
    setImmediate(() => void worker.close().catch(() => {}).finally(() => options.onRestartNeeded?.(reason)));
  };
  return worker;
}
