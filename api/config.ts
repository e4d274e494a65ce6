/**
 * Configuration: every environment variable the service reads, checked once at boot.
 * Nothing else reads `process.env`.
 */
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_TRIAL_MAX_MEMORY } from '../search/trial-memory.js';
import { DEFAULT_WORKER_MAX_RSS } from '../workers/memory-limit.js';
import { parseClusterNodes } from '../workers/redis-connection.js';
import type { RedisTarget } from '../workers/redis-connection.js';

const configSchema = z.object({
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  AUTOPEFT_REDIS_CLUSTER: z.string().default(''),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  AUTOPEFT_WORKERS: z.coerce.number().int().min(0).max(256).default(availableParallelism()),
  AUTOPEFT_BACKEND: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  AUTOPEFT_DEMO: z.enum(['0', '1']).default('1'),
  AUTOPEFT_NATIVE_KERNELS: z.enum(['0', '1']).default('1'),
  AUTOPEFT_BLAS_THREADS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default('auto'),
  AUTOPEFT_BLAS_CORETYPE: z.string().regex(/^[A-Za-z0-9]+$/).default('auto'),
  AUTOPEFT_KEY_PREFIX: z.string().min(1).default('{autopeft}'),
  AUTOPEFT_WORKER_NAME: z.string().min(1).optional(),
  AUTOPEFT_DATA_ROOT: z.string().min(1).optional(),
  AUTOPEFT_MODEL_ROOT: z.string().min(1).optional(),
  AUTOPEFT_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(20 * 1024 * 1024),
  AUTOPEFT_TRIAL_LOCK_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  AUTOPEFT_WORKER_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(3),
  AUTOPEFT_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').max(256).regex(/^\S+$/, 'must not contain spaces').optional(),
  AUTOPEFT_TOKEN: z.string().min(1).max(256).optional(),
  AUTOPEFT_TOKEN_FILE: z.string().min(1).optional(),
  XDG_CONFIG_HOME: z.string().optional(),
  AUTOPEFT_ALLOWED_HOSTS: z.string().default(''),
  AUTOPEFT_CORS_ORIGINS: z.string().default(''),
  AUTOPEFT_QUOTA_RUNNING_STUDIES: z.coerce.number().int().min(0).default(10),
  AUTOPEFT_QUOTA_TRIALS_PER_STUDY: z.coerce.number().int().min(1).max(10_000).default(1000),
  AUTOPEFT_QUOTA_UPLOAD_BYTES: z.coerce.number().int().min(0).default(200 * 1024 * 1024),
  AUTOPEFT_TRIAL_MAX_MEMORY: z.coerce.number().int().min(1024 * 1024).default(DEFAULT_TRIAL_MAX_MEMORY),
  AUTOPEFT_WORKER_MAX_RSS: z.coerce.number().int().min(1024 * 1024).default(DEFAULT_WORKER_MAX_RSS),
});

/** The service's settings. */
export interface Config {
  redisUrl: string;
  /** Where Redis is: REDIS_URL, or the cluster's seed nodes (AUTOPEFT_REDIS_CLUSTER). */
  redis: RedisTarget;
  host: string;
  port: number;
  /** Worker processes `serve` starts (0: none, e.g. when workers run on other hosts). */
  workers: number;
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  /** Whether `serve` submits the demo study. */
  demo: boolean;
  /** Whether wasm workers use the OpenBLAS kernels of workers/native when they are built. */
  nativeKernels: boolean;
  /**
   * BLAS threads per worker process, or `auto`: the cores shared among the trials running
   * (one each while every worker trains, more while some workers are idle).
   */
  blasThreads: number | 'auto';
  /** OpenBLAS kernels: `auto` (fastest for the CPU's instruction sets), `library` (OpenBLAS decides), or a core name. */
  blasCore: string;
  /** Prefix of every Redis key (a hash tag, for Redis Cluster). */
  keyPrefix: string;
  /** Name a worker reports itself by; defaults to host:pid. */
  workerName?: string;
  /** Folder that `file:` dataset references are resolved under (nothing outside it is read). */
  dataRoot?: string;
  /** Folder of the user's base models, by name. */
  modelRoot?: string;
  /** Largest dataset upload accepted, in bytes. */
  maxUploadBytes: number;
  /**
   * How long a worker's hold on its trial lasts without renewal, in ms (renewed while it
   * trains): the trial of a worker that died goes to another worker after about this long.
   */
  trialLockMs: number;
  /** Trials in a row that may fail on a worker (not by their own fault) before it stops taking trials. */
  workerMaxFailures: number;
  /** A secret the API accepts as the admin token `admin-env` (set at boot). */
  adminToken?: string;
  /** The token the CLI sends (`--token` overrides it; without either, the local token file's). */
  clientToken?: string;
  /** The file of the local admin token that `serve` creates (mode 0600). */
  tokenFile: string;
  /** Host names accepted in the Host header besides the bound host and the loopback names. */
  allowedHosts: string[];
  /** Origins that get CORS headers (none: no cross-origin access). */
  corsOrigins: string[];
  /** Limits of non-admin tokens that set none of their own. */
  quotas: { runningStudies: number; trialsPerStudy: number; uploadBytes: number };
  /**
   * Largest estimated memory of one trial, in bytes: the API refuses specs whose largest
   * configuration needs more, and a worker refuses trials that need more (search/trial-memory.ts).
   */
  trialMaxMemory: number;
  /** A worker whose resident memory exceeds this many bytes after a failed trial exits, to be started afresh. */
  workerMaxRss: number;
}

/** Names and defaults of every variable, for the README and `--help`. */
export const CONFIG_VARIABLES = Object.keys(configSchema.shape).filter((name) => name !== 'XDG_CONFIG_HOME');

/**
 * Reads the configuration from an environment.
 * @throws Error naming the variable and the problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`environment variable ${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
  let clusterNodes: RedisTarget['clusterNodes'];
  try {
    clusterNodes = c.AUTOPEFT_REDIS_CLUSTER ? parseClusterNodes(c.AUTOPEFT_REDIS_CLUSTER) : undefined;
  } catch (error) {
    throw new Error(`environment variable AUTOPEFT_REDIS_CLUSTER: ${(error as Error).message} (give the seed nodes as host:port,host:port)`);
  }
  // BullMQ keeps a queue's keys together by this hash tag; the studies get their own (store.ts).
  if (clusterNodes && !/^[^{]*\{[^{}]+\}/.test(c.AUTOPEFT_KEY_PREFIX)) {
    throw new Error(`environment variable AUTOPEFT_KEY_PREFIX: on a Redis Cluster it must contain a hash tag such as {autopeft}; got "${c.AUTOPEFT_KEY_PREFIX}"`);
  }
  return {
    redisUrl: c.REDIS_URL,
    redis: { url: c.REDIS_URL, ...(clusterNodes && clusterNodes.length > 0 ? { clusterNodes } : {}) },
    host: c.HOST,
    port: c.PORT,
    workers: c.AUTOPEFT_WORKERS,
    backend: c.AUTOPEFT_BACKEND,
    demo: c.AUTOPEFT_DEMO === '1',
    nativeKernels: c.AUTOPEFT_NATIVE_KERNELS === '1',
    blasThreads: c.AUTOPEFT_BLAS_THREADS,
    blasCore: c.AUTOPEFT_BLAS_CORETYPE,
    keyPrefix: c.AUTOPEFT_KEY_PREFIX,
    ...(c.AUTOPEFT_WORKER_NAME ? { workerName: c.AUTOPEFT_WORKER_NAME } : {}),
    ...(c.AUTOPEFT_DATA_ROOT ? { dataRoot: c.AUTOPEFT_DATA_ROOT } : {}),
    ...(c.AUTOPEFT_MODEL_ROOT ? { modelRoot: c.AUTOPEFT_MODEL_ROOT } : {}),
    maxUploadBytes: c.AUTOPEFT_MAX_UPLOAD_BYTES,
    trialLockMs: c.AUTOPEFT_TRIAL_LOCK_MS,
    workerMaxFailures: c.AUTOPEFT_WORKER_MAX_FAILURES,
    ...(c.AUTOPEFT_ADMIN_TOKEN ? { adminToken: c.AUTOPEFT_ADMIN_TOKEN } : {}),
    ...(c.AUTOPEFT_TOKEN ? { clientToken: c.AUTOPEFT_TOKEN } : {}),
    tokenFile: c.AUTOPEFT_TOKEN_FILE ?? join(c.XDG_CONFIG_HOME || join(homedir(), '.config'), 'autopeft', 'token'),
    allowedHosts: list(c.AUTOPEFT_ALLOWED_HOSTS),
    corsOrigins: list(c.AUTOPEFT_CORS_ORIGINS),
    quotas: { runningStudies: c.AUTOPEFT_QUOTA_RUNNING_STUDIES, trialsPerStudy: c.AUTOPEFT_QUOTA_TRIALS_PER_STUDY, uploadBytes: c.AUTOPEFT_QUOTA_UPLOAD_BYTES },
    trialMaxMemory: c.AUTOPEFT_TRIAL_MAX_MEMORY,
    workerMaxRss: c.AUTOPEFT_WORKER_MAX_RSS,
  };
}

/** A comma-separated list, trimmed, without empty items. */
function list(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter(Boolean);
}
