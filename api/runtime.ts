/**
 * Wires the parts together from a Config: the API server, the scheduler and trial workers.
 * Each start function returns a handle with `close()`, so `serve`, the single-role commands
 * and the tests all run the same code.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { Queue } from 'bullmq';
import { buildDashboardAssets, dashboardRouter } from '../dashboard/assets.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { StudyStore } from '../scheduler/store.js';
import type { StudyEvent } from '../scheduler/store.js';
import { DEFAULT_QUEUE_NAME } from '../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome } from '../workers/job-types.js';
import { selectBackend } from '../workers/backend.js';
import { followRunningTrials } from '../workers/native/blas-threads.js';
import { loadNativeAddon } from '../workers/native/index.js';
import { startTrialWorker } from '../workers/trial-worker.js';
import { createRedisClient } from '../workers/redis-connection.js';
import type { RedisClient, RedisTarget } from '../workers/redis-connection.js';
import { createApp } from './app.js';
import { createSpecContext } from './catalog.js';
import { datasetsRouter } from './datasets.js';
import { ServiceMetrics } from './metrics.js';
import { allowedHosts } from './security.js';
import { TokenStore } from './tokens.js';
import { UploadParser } from './upload-thread.js';
import type { Config } from './config.js';

/** Name of the admin token that AUTOPEFT_ADMIN_TOKEN sets. */
export const ENV_ADMIN_TOKEN_NAME = 'admin-env';
/** Name of the admin token `serve` keeps in the local token file. */
export const LOCAL_ADMIN_TOKEN_NAME = 'local-admin';

/** Something running that can be stopped. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * A Redis connection as BullMQ needs it (commands wait for reconnection instead of failing).
 * With `log`, an outage is logged once when it starts and once when it ends, not per command.
 */
export function connectRedis(target: RedisTarget, log?: (message: string) => void, role = 'redis'): RedisClient {
  return watchOutages(createRedisClient(target, { maxRetriesPerRequest: null }), log, role);
}

/**
 * A Redis connection for answering requests: while Redis is unreachable a command fails at
 * once (no offline queue, so nothing is replayed later for a request already answered 503) or
 * after {@link API_COMMAND_TIMEOUT_MS}.
 */
export function connectApiRedis(target: RedisTarget, log?: (message: string) => void): RedisClient {
  return watchOutages(
    createRedisClient(target, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: API_COMMAND_TIMEOUT_MS, retryStrategy: (times) => Math.min(100 * times, 1000) }),
    log,
    'api',
  );
}

/** How long an API request waits for one Redis command before it answers 503. */
export const API_COMMAND_TIMEOUT_MS = 1500;

/** Logs the first error of an outage and the recovery; every error needs a listener or Node logs it. */
function watchOutages(redis: RedisClient, log: ((message: string) => void) | undefined, role: string): RedisClient {
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log?.(`${role}: Redis unreachable (${error.message}); retrying until it is back`);
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log?.(`${role}: Redis is back`);
  });
  return redis;
}

/** Resolves once the connection is ready (commands fail before then without an offline queue). */
async function ready(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Redis did not become ready within 10 s')), 10_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts the HTTP API (with the dashboard) and returns its URL. */
export async function startApi(config: Config, log: (message: string) => void, localAdminToken?: string): Promise<Closable & { url: string }> {
  const redis = connectApiRedis(config.redis, log);
  const subscriber = connectRedis(config.redis, log, 'api events');
  await ready(redis);
  const store = new StudyStore(redis, config.keyPrefix);
  const tokens = new TokenStore(redis, config.keyPrefix);
  const uploadParser = new UploadParser();
  if (config.adminToken) await tokens.ensure(ENV_ADMIN_TOKEN_NAME, 'admin', config.adminToken);
  if (localAdminToken) await tokens.ensure(LOCAL_ADMIN_TOKEN_NAME, 'admin', localAdminToken);
  const queueConnection = connectRedis(config.redis, log, 'api queue');
  const queue = new Queue<TrialJobData, TrialJobOutcome>(DEFAULT_QUEUE_NAME, { connection: queueConnection, prefix: config.keyPrefix });
  const metrics = new ServiceMetrics({
    store,
    queueCounts: () => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    workersAlive: () => queue.getWorkersCount(),
  });
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  await subscriber.subscribe(store.eventsChannel);
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      const event = JSON.parse(message) as StudyEvent;
      metrics.observe(event);
      emitter.emit('event', event);
    } catch {
      log(`ignored a malformed event: ${message.slice(0, 200)}`);
    }
  });
  const app = createApp({
    store,
    tokens,
    metrics,
    redisReady: () => redis.status === 'ready',
    allowedHosts: allowedHosts(config.host, config.allowedHosts),
    corsOrigins: config.corsOrigins,
    quotas: config.quotas,
    specContext: createSpecContext({
      redis,
      keyPrefix: config.keyPrefix,
      ...(config.dataRoot ? { dataRoot: config.dataRoot } : {}),
      ...(config.modelRoot ? { modelRoot: config.modelRoot } : {}),
      trialMaxMemoryBytes: config.trialMaxMemory,
    }),
    datasets: datasetsRouter({ redis, keyPrefix: config.keyPrefix, maxUploadBytes: config.maxUploadBytes, quotas: config.quotas, parser: uploadParser, log }),
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
  // A slow or stuck client cannot hold a connection open for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 5_000;
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
      await uploadParser.close();
      await queue.close();
      await queueConnection.quit();
      await redis.quit();
    },
  };
}

/** Starts a scheduler driving every active study. */
export async function startScheduler(config: Config, log: (message: string) => void): Promise<Closable> {
  const redis = connectRedis(config.redis, log, 'scheduler');
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

/**
 * `AUTOPEFT_BLAS_THREADS=auto`: this worker's BLAS threads follow the trials running (the trial
 * queue's active jobs, over every host, so a multi-host setup errs towards fewer threads).
 */
function followTrialCount(config: Config, redis: RedisClient, log: (message: string) => void): () => void {
  const load = loadNativeAddon();
  if (!load.ok) return () => {};
  const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: redis, prefix: config.keyPrefix });
  let warned = false;
  const stop = followRunningTrials({
    cores: availableParallelism(),
    running: () => queue.getActiveCount(),
    apply: (threads) => {
      load.addon.setBlasThreads(threads);
      log(`BLAS threads: ${threads} (AUTOPEFT_BLAS_THREADS=auto)`);
    },
    onError: (error) => {
      if (!warned) log(`BLAS threads stay as they are: cannot count running trials (${error instanceof Error ? error.message : String(error)})`);
      warned = true;
    },
  });
  return () => {
    stop();
    void queue.close();
  };
}

/** Exit code of a worker process that ends itself to be started afresh (EX_TEMPFAIL). */
export const WORKER_RESTART_EXIT_CODE = 75;

/**
 * Chooses the TensorFlow.js backend (logged), then starts one trial worker in this process.
 * The process exits with {@link WORKER_RESTART_EXIT_CODE} when a failed trial left it above
 * AUTOPEFT_WORKER_MAX_RSS.
 */
export async function startWorker(config: Config, log: (message: string) => void): Promise<Closable> {
  const selected = await selectBackend({
    prefer: config.backend,
    nativeKernels: config.nativeKernels ? { enabled: true, blasThreads: config.blasThreads === 'auto' ? 1 : config.blasThreads, blasCore: config.blasCore } : false,
    log,
  });
  const redis = connectRedis(config.redis, log, 'worker');
  const worker = startTrialWorker({
    connection: redis,
    queueName: DEFAULT_QUEUE_NAME,
    prefix: config.keyPrefix,
    ...(config.workerName ? { name: config.workerName } : {}),
    ...(config.dataRoot ? { dataRoot: config.dataRoot } : {}),
    ...(config.modelRoot ? { modelRoot: config.modelRoot } : {}),
    lockDurationMs: config.trialLockMs,
    maxConsecutiveFailures: config.workerMaxFailures,
    maxTrialMemoryBytes: config.trialMaxMemory,
    maxRssBytes: config.workerMaxRss,
    // A fresh process is the only way to give back a grown wasm heap; `serve`'s pool re-forks it.
    onRestartNeeded: () => void redis.quit().finally(() => process.exit(WORKER_RESTART_EXIT_CODE)),
    log,
  });
  worker.on('error', (error) => log(`worker error: ${error.message}`));
  const stopFollowing = config.blasThreads === 'auto' && selected.nativeKernels?.length ? followTrialCount(config, redis, log) : undefined;
  return {
    async close() {
      stopFollowing?.();
      await worker.close();
      await redis.quit();
    },
  };
}
