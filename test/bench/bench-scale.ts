/**
 * Reads at scale: writes synthetic studies through the store's own write path (StudyStore
 * createStudy and saveTrial, the same Lua step the scheduler uses), then drives the API (a
 * process of its own) with concurrent clients and prints p50/p99 and throughput of each read,
 * the incremental read of 100 changed trials at 10,000 trials, and the largest response.
 *
 * Uses wrk for the load when it is installed (`apt-get install wrk`).
 *
 * Usage: `npm run bench:scale [-- --studies 100 --trials 100000 --big 10000 --clients 50 --seconds 10]`.
 * Needs Redis at REDIS_URL (a key prefix of its own, deleted afterwards).
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Scheduler } from '../../scheduler/scheduler.js';
import { StudyStore, trialJobIdOf } from '../../scheduler/store.js';
import { DEFAULT_QUEUE_NAME } from '../../workers/job-types.js';
import type { TrialJobData, TrialJobOutcome } from '../../workers/job-types.js';
import type { StudySpec, TrialRecord } from '../../scheduler/types.js';
import { BASE_MODELS } from '../../workers/models/catalog.js';
import { startServiceProcess } from '../helpers/api-process.js';
import { deleteUnder } from '../helpers/redis.js';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '100' },
    trials: { type: 'string', default: '100000' },
    big: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    /** Only the scheduler passes (no API reads, no ask()). */
    'scheduler-only': { type: 'boolean', default: false },
  },
});
const STUDIES = Number(values.studies);
const TRIALS = Number(values.trials);
const BIG = Number(values.big);
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `{bench-scale-${Date.now()}}`;
const token = `apt_${randomBytes(24).toString('base64url')}`;

const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const store = new StudyStore(redis, prefix);
const shape = BASE_MODELS['brown-bert-small']!.shape;

function spec(i: number, maxTrials: number): StudySpec {
  return {
    name: `scale ${i}`,
    task: { dataset: 'spam-assassin', baseModel: 'brown-bert-small', metric: 'f1' },
    preset: 'autopeft',
    searchSpace: { 'serialAdapter.size': { type: 'categorical', choices: [1, 2, 4, 8, 16, 32, 64, 128, 0] } },
    algorithm: { name: 'auto', seed: i },
    objectives: {},
    pruner: { type: 'none' },
    budget: { maxTrials, maxParallel: 4 },
    training: { steps: 100, batchSize: 16, learningRate: 0.001, evalEvery: 25, maxSeqLength: 64, trainExamples: 512, devExamples: 256 },
  };
}

/** A finished trial as the scheduler records one: configuration, four reports, metrics, artifact list. */
function trial(number: number): TrialRecord {
  const size = [1, 2, 4, 8, 16, 32, 64, 128][number % 8]!;
  const metric = 0.5 + 0.4 * ((Math.sin(number * 12.9898) + 1) / 2);
  const states: TrialRecord['state'][] = ['complete', 'complete', 'complete', 'pruned', 'failed'];
  const state = states[number % states.length]!;
  const params = 2 * 2 * size * 128 + 258;
  return {
    number,
    state,
    params: { 'serialAdapter.size': size, 'layer.0': true, 'layer.1': number % 2 === 0 },
    peft: { serialAdapter: { placement: 'pfeiffer', size, layers: [0, 1], activation: 'relu' } },
    training: { steps: 100, batchSize: 16, learningRate: 0.001, evalEvery: 25, maxSeqLength: 64, trainExamples: 512, devExamples: 256, seed: number, dataSeed: 0 },
    trainableParams: params,
    trainablePercent: (100 * params) / 1_450_000,
    reports: [25, 50, 75, 100].map((step) => ({ step, value: metric * (step / 100) })),
    ...(state === 'failed' ? { error: 'synthetic failure' } : { metric, metrics: { f1: metric, accuracy: metric } }),
    majorityBaseline: 0.5,
    worker: `host-${number % 24}:worker-0`,
    backend: 'wasm+native',
    attempts: 1,
    ...(state === 'complete' ? { artifact: { files: ['autopeft_config.json', 'adapter_weights.safetensors', 'adapterhub/adapter_config.json'], notes: [] } } : {}),
    createdAt: new Date().toISOString(),
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

/** Trials written per study (for the scheduler passes). */
const trialCounts = new Map<string, number>();

async function writeStudies(): Promise<{ ids: string[]; bigId: string }> {
  const started = performance.now();
  const ids: string[] = [];
  const perSmall = Math.floor((TRIALS - BIG) / (STUDIES - 1));
  let written = 0;
  for (let i = 0; i < STUDIES; i++) {
    const count = i === 0 ? BIG : perSmall;
    const study = await store.createStudy(spec(i, count + 10), shape, 2, 'bench');
    ids.push(study.id);
    trialCounts.set(study.id, count);
    for (let n = 0; n < count; n += 500) {
      await Promise.all(Array.from({ length: Math.min(500, count - n) }, (_, k) => store.saveTrial(study.id, trial(n + k))));
    }
    written += count;
  }
  console.log(`wrote ${STUDIES} studies, ${written} trials through StudyStore.saveTrial in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { ids, bigId: ids[0]! };
}

interface Result {
  read: string;
  p50: number;
  p99: number;
  perSecond: number;
  bytes: number;
}

/** A wrk duration ("24.30ms", "512.00us", "1.20s") in ms. */
function wrkMs(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

const run = promisify(execFile);
const haveWrk = spawnSync('wrk', ['--version']).error === undefined;

/**
 * `clients` connections on `path` for `seconds`. With wrk (Debian's package, a benchmark tool
 * only) the load costs little CPU, which matters on a 2-core machine where client and API share
 * the cores; without it, fetch loops in this process.
 */
async function load(read: string, url: string, path: () => string, clients: number, seconds: number): Promise<Result> {
  if (!haveWrk) return loadWithFetch(read, url, path, clients, seconds);
  const args = ['-t1', `-c${clients}`, '--latency', '-H', `authorization: Bearer ${token}`, `${url}${path()}`];
  // Not spawnSync: a writer may run on this event loop meanwhile.
  await run('wrk', ['-d2s', ...args]); // warm-up
  const out = (await run('wrk', [`-d${seconds}s`, ...args])).stdout;
  if (/Non-2xx/.test(out)) throw new Error(`${read}: wrk saw errors:\n${out}`);
  const size = await (await fetch(`${url}${path()}`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer();
  return {
    read,
    p50: wrkMs(/50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: wrkMs(/99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    bytes: size.byteLength,
  };
}

/** `clients` loops calling `path()` for `seconds`; latencies in ms. */
async function loadWithFetch(read: string, url: string, path: () => string, clients: number, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  let bytes = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const response = await fetch(`${url}${path()}`, { headers: { authorization: `Bearer ${token}` } });
        const body = await response.arrayBuffer();
        if (!response.ok) throw new Error(`${read}: HTTP ${response.status}`);
        latencies.push(performance.now() - started);
        bytes = Math.max(bytes, body.byteLength);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { read, p50: at(0.5), p99: at(0.99), perSecond: latencies.length / seconds, bytes };
}

/**
 * Scheduler passes over every study, each at full parallelism (4 trials waiting for a worker,
 * their jobs in a queue of no worker) with its finished history behind it: the steady state of
 * a busy service. The first pass takes the locks and reads every trial; later passes read only
 * what changed and reconcile the 4 waiting trials with their jobs.
 */
async function schedulerPasses(ids: string[], counts: Map<string, number>): Promise<{ first: number; median: number; max: number }> {
  const queue = new Queue<TrialJobData, TrialJobOutcome>(DEFAULT_QUEUE_NAME, { connection: redis, prefix });
  for (const id of ids) {
    const study = (await store.getStudy(id))!;
    await store.saveStudy({ ...study, state: 'running', spec: { ...study.spec, budget: { maxTrials: counts.get(id)! + 10, maxParallel: 4 } } });
    for (let k = 0; k < 4; k++) {
      const number = counts.get(id)! + k;
      const waiting: TrialRecord = { ...trial(number), state: 'waiting', reports: [] };
      delete waiting.metric;
      delete waiting.metrics;
      delete waiting.artifact;
      delete waiting.finishedAt;
      await store.saveTrial(id, waiting);
      await queue.add('bench', { studyId: id, trialNumber: number, task: study.spec.task, peft: waiting.peft, training: waiting.training }, { jobId: trialJobIdOf(id, number) });
    }
  }
  const scheduler = new Scheduler({
    store,
    queue,
    pollMs: 3_600_000,
    lockTtlMs: 60_000,
    propose: () => Promise.reject(new Error('every study is at its parallelism: nothing to propose')),
    log: (message) => console.log(`scheduler: ${message}`),
  });
  const times: number[] = [];
  for (let pass = 0; pass < 11; pass++) {
    const started = performance.now();
    await scheduler.tick();
    times.push(performance.now() - started);
  }
  await scheduler.stop();
  await queue.obliterate({ force: true });
  await queue.close();
  const later = times.slice(1).sort((a, b) => a - b);
  return { first: times[0]!, median: later[Math.floor(later.length / 2)]!, max: later.at(-1)! };
}

const { ids, bigId } = await writeStudies();
if (values['scheduler-only']) {
  const passes = await schedulerPasses(ids, trialCounts);
  console.log(`scheduler pass over ${ids.length} active studies: first ${passes.first.toFixed(0)} ms, then median ${passes.median.toFixed(0)} ms, max ${passes.max.toFixed(0)} ms`);
  await deleteBenchKeys();
  process.exit(0);
}
const api = await startServiceProcess('api', { REDIS_URL: redisUrl, AUTOPEFT_KEY_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1', AUTOPEFT_ADMIN_TOKEN: token });
try {
  // The change cursor of the big study, then 100 of its trials change (as a running study's would).
  const before = (await store.getCounts(bigId)).seq;
  for (let n = 0; n < 100; n++) await store.saveTrial(bigId, { ...trial(n * 97), state: 'complete', metric: 0.99 });
  const mid = ids[Math.floor(ids.length / 2)]!;
  /** Rewrites trials of the big study at `perSecond` (as a busy study's workers would) until stopped. */
  const writeWhileReading = (perSecond: number): (() => void) => {
    let n = 0;
    const timer = setInterval(() => void store.saveTrial(bigId, { ...trial((n++ * 31) % BIG), attempts: 2 }), 1000 / perSecond);
    return () => clearInterval(timer);
  };
  const results = [
    // What every request costs before its own work: the token check (whoami) and no token at all (health).
    await load('GET /api/health (no token; the floor)', api.url, () => '/api/health', CLIENTS, SECONDS),
    await load('GET /api/whoami (the token check only)', api.url, () => '/api/whoami', CLIENTS, SECONDS),
    await load(`GET /api/studies (${STUDIES} studies, ${TRIALS} trials)`, api.url, () => '/api/studies', CLIENTS, SECONDS),
    await load(`GET /api/studies/:id (${BIG} trials)`, api.url, () => `/api/studies/${bigId}`, CLIENTS, SECONDS),
    await load(`GET /api/studies/:id (${Math.floor((TRIALS - BIG) / (STUDIES - 1))} trials)`, api.url, () => `/api/studies/${mid}`, CLIENTS, SECONDS),
    await load(`GET /api/studies/:id/trials?after= (100 changed of ${BIG})`, api.url, () => `/api/studies/${bigId}/trials?after=${before}`, CLIENTS, SECONDS),
  ];
  // A new answer (this cursor was never asked for): nothing cached.
  const single = performance.now();
  const incremental = (await (await fetch(`${api.url}/api/studies/${bigId}/trials?after=${before}&limit=101`, { headers: { authorization: `Bearer ${token}` } })).json()) as { trials: unknown[] };
  const singleMs = performance.now() - single;
  // The same reads while the big study's trials change 20 times a second: answers are rebuilt.
  for (const [read, path] of [
    ['GET /api/studies', () => '/api/studies'],
    [`GET /api/studies/:id (${BIG} trials)`, () => `/api/studies/${bigId}`],
  ] as const) {
    const stop = writeWhileReading(20);
    try {
      results.push(await load(`${read}, 20 trial writes/s`, api.url, path, CLIENTS, SECONDS));
    } finally {
      stop();
    }
  }
  console.log(`\nCPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores); API in its own process, ${CLIENTS} concurrent clients (${haveWrk ? 'wrk' : 'fetch loops; install wrk for a lighter client'}), ${SECONDS} s per read`);
  console.log('| read | p50 ms | p99 ms | req/s | largest response |');
  console.log('|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.read} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.perSecond.toFixed(0)} | ${(r.bytes / 1024).toFixed(1)} KiB |`);
  console.log(`\nincremental read alone: ${incremental.trials.length} changed trials in ${singleMs.toFixed(1)} ms`);

  await api.close();
  const passes = await schedulerPasses(ids, trialCounts);
  console.log(`\nscheduler pass over ${ids.length} active studies (4 waiting trials each, ${TRIALS} finished trials behind them):`);
  console.log(`first ${passes.first.toFixed(0)} ms (takes the locks, reads every trial); then median ${passes.median.toFixed(0)} ms, max ${passes.max.toFixed(0)} ms over 10 passes`);

  // ask() at 300 and 1,000 observations: bench:ask's own measurement, at those sizes only.
  console.log('');
  const ask = spawnSync(process.execPath, ['--import', 'tsx', 'search/bench/bench-ask.ts', '--sizes', '300,1000', '--asks', '5', '--no-full'], { encoding: 'utf8' });
  console.log(ask.stdout.split('\n## ')[0]!.trim());
} finally {
  await api.close();
  await deleteBenchKeys();
}

/** Deletes the bench's keys: the global ones and the studies' own (which carry the prefix untagged). */
async function deleteBenchKeys(): Promise<void> {
  await deleteUnder(redis, prefix);
  await redis.quit();
}
