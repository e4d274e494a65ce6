/**
 * A BullMQ worker that trains one trial at a time. Each worker process runs one of these, so
 * a host runs as many trials at once as it has worker processes.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker } from 'bullmq';
import type { ConnectionOptions, Job } from 'bullmq';
import type { TrialJobData, TrialJobResult, TrialProgress } from './job-types.js';
import { InvalidTrialError } from './errors.js';
import { trainTrial } from './train/train-trial.js';

/** What a trial worker needs. */
export interface TrialWorkerOptions {
  connection: ConnectionOptions;
  queueName: string;
  /** Redis key prefix of the queue. */
  prefix: string;
  /** Name reported with each result. @defaultValue `${hostname}:${pid}` */
  name?: string;
  log?: (message: string) => void;
}

/** Starts a worker pulling trial jobs; close() it to stop after the current trial. */
export function startTrialWorker(options: TrialWorkerOptions): Worker<TrialJobData, TrialJobResult> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const log = options.log ?? (() => {});
  const processor = async (job: Job<TrialJobData, TrialJobResult>): Promise<TrialJobResult> => {
    const { studyId, trialNumber } = job.data;
    log(`trial ${trialNumber} of study ${studyId}: training (attempt ${job.attemptsMade + 1})`);
    try {
      const result = await trainTrial(job.data, {
        workerName: name,
        onReport: async (reports) => {
          await job.updateProgress({ reports } satisfies TrialProgress);
        },
      });
      log(`trial ${trialNumber} of study ${studyId}: ${job.data.task.metric} ${result.metric.toFixed(4)} in ${result.trainSeconds.toFixed(1)} s`);
      return result;
    } catch (error) {
      log(`trial ${trialNumber} of study ${studyId} failed: ${error instanceof Error ? error.message : String(error)}`);
      // Bad input fails the same way on every attempt: do not retry it.
      if (error instanceof InvalidTrialError) throw new UnrecoverableError(error.message);
      throw error;
    }
  };
  return new Worker<TrialJobData, TrialJobResult>(options.queueName, processor, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: 1,
    // Training keeps the event loop busy between steps; a generous lock avoids false stalls.
    lockDuration: 120_000,
    name,
  });
}
