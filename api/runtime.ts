/**
 * Wires the parts together from a Config: the API server, the scheduler and trial workers.
 * Each start function returns a handle with `close()`, so `serve`, the single-role commands
 * and the tests all run the same code.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildDashboardAssets, dashboardRouter } from '../dashboard/assets.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { StudyStore } from '../scheduler/store.js';
import type { StudyEvent } from '../scheduler/store.js';
import { DEFAULT_QUEUE_NAME } from '../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome } from '../workers/job-types.js';
import { selectBackend } from '../workers/backend.js';
import { startTrialWorker } from '../workers/trial-worker.js';
import { createApp } from './app.js';
import { createSpecContext } from './catalog.js';
import { datasetsRouter } from './datasets.js';
import type { Config } from './config.js';

/** Something running that can be stopped. */
export interface Closable {
  close(): Promise<void>;
}

/** A Redis connection as BullMQ needs it (commands wait for reconnection instead of failing). */
export function connectRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

/** Starts the HTTP API (with the dashboard) and returns its URL. */
export async function startApi(config: Config, log: (message: string) => void): Promise<Closable & { url: string }> {
  const redis = connectRedis(config.redisUrl);
  const subscriber = redis.duplicate();
  const store = new StudyStore(redis, config.keyPrefix);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  await subscriber.subscribe(store.eventsChannel);
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      emitter.emit('event', JSON.parse(message) as StudyEvent);
    } catch {
      log(`ignored a malformed event: ${message.slice(0, 200)}`);
    }
  });
  const app = createApp({
    store,
    specContext: createSpecContext({
      redis,
      keyPrefix: config.keyPrefix,
      ...(config.dataRoot ? { dataRoot: config.dataRoot } : {}),
      ...(config.modelRoot ? { modelRoot: config.modelRoot } : {}),
    }),
    datasets: datasetsRouter({ redis, keyPrefix: config.keyPrefix, maxUploadBytes: config.maxUploadBytes, log }),
    events: {
      subscribe(listener) {
        emitter.on('event', listener);
        return () => emitter.off('event', listener);
      },
    },
    dashboard: dashboardRouter(await buildDashboardAssets()),
    log,
  });
  const server = app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      subscriber.disconnect();
      await redis.quit();
    },
  };
}

/** Starts a scheduler driving every active study. */
export async function startScheduler(config: Config, log: (message: string) => void): Promise<Closable> {
  const redis = connectRedis(config.redisUrl);
  const queue = new Queue<TrialJobData, TrialJobOutcome>(DEFAULT_QUEUE_NAME, { connection: redis, prefix: config.keyPrefix });
  const scheduler = new Scheduler({
    store: new StudyStore(redis, config.keyPrefix),
    queue,
    log,
  });
  await scheduler.start();
  return {
    async close() {
      await scheduler.stop();
      await queue.close();
      await redis.quit();
    },
  };
}

/** Chooses the TensorFlow.js backend (logged), then starts one trial worker in this process. */
export async function startWorker(config: Config, log: (message: string) => void): Promise<Closable> {
  await selectBackend({
    prefer: config.backend,
    nativeKernels: config.nativeKernels ? { enabled: true, blasThreads: config.blasThreads } : false,
    log,
  });
  const redis = connectRedis(config.redisUrl);
  const worker = startTrialWorker({
    connection: redis,
    queueName: DEFAULT_QUEUE_NAME,
    prefix: config.keyPrefix,
    ...(config.workerName ? { name: config.workerName } : {}),
    ...(config.dataRoot ? { dataRoot: config.dataRoot } : {}),
    ...(config.modelRoot ? { modelRoot: config.modelRoot } : {}),
    lockDurationMs: config.trialLockMs,
    maxConsecutiveFailures: config.workerMaxFailures,
    log,
  });
  worker.on('error', (error) => log(`worker error: ${error.message}`));
  return {
    async close() {
      await worker.close();
      await redis.quit();
    },
  };
}
