/**
 * `npm run bench:chaos`: the service under faults. 4 worker processes, 2 scheduler processes
 * and the API run 6 studies at once on a Redis of the bench's own with AOF on (fsync always);
 * meanwhile workers are SIGKILLed at random (and started again), schedulers likewise, and Redis
 * is killed and restarted on the same data folder. At the end it prints what a user would check:
 * trials created and completed, trials lost, trials counted twice, budget overruns, the most
 * trials in flight of any study against its maxParallel, and the training time lost to kills.
 *
 * Options: --studies 6 --trials 20 --steps 60 --workers 4 --schedulers 2 --worker-kills 50
 * --scheduler-kills 5 --redis-restarts 2 --kill-every-ms 1500 (a worker kill every interval; the
 * scheduler kills and Redis restarts are spread over the same span).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { StudyStore } from '../../scheduler/store.js';
import type { StudyView, TrialRecord } from '../../scheduler/types.js';
import { DEFAULT_QUEUE_NAME } from '../../workers/job-types.js';
import { startServiceProcess } from '../helpers/api-process.js';
import type { ServiceProcess } from '../helpers/api-process.js';
import { startOwnRedis } from '../helpers/redis-server.js';

const { values } = parseArgs({
  options: {
    studies: { type: 'string', default: '6' },
    trials: { type: 'string', default: '20' },
    steps: { type: 'string', default: '60' },
    workers: { type: 'string', default: '4' },
    schedulers: { type: 'string', default: '2' },
    'worker-kills': { type: 'string', default: '50' },
    'scheduler-kills': { type: 'string', default: '5' },
    'redis-restarts': { type: 'string', default: '2' },
    'kill-every-ms': { type: 'string', default: '1500' },
  },
});
const STUDIES = Number(values.studies);
const TRIALS = Number(values.trials);
const WORKERS = Number(values.workers);
const SCHEDULERS = Number(values.schedulers);
const WORKER_KILLS = Number(values['worker-kills']);
const SCHEDULER_KILLS = Number(values['scheduler-kills']);
const REDIS_RESTARTS = Number(values['redis-restarts']);
const KILL_EVERY_MS = Number(values['kill-every-ms']);
const MAX_PARALLEL = 2;
const bin = fileURLToPath(new URL('../../api/bin/autopeft.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const redisServer = await startOwnRedis();
const prefix = '{chaos}';
const token = `apt_${randomBytes(24).toString('base64url')}`;
const env: Record<string, string> = {
  REDIS_URL: redisServer.url,
  AUTOPEFT_KEY_PREFIX: prefix,
  AUTOPEFT_ADMIN_TOKEN: token,
  HOST: '127.0.0.1',
  PORT: '0',
  // A killed worker's trial goes to another worker after about this long.
  AUTOPEFT_TRIAL_LOCK_MS: '4000',
  AUTOPEFT_BLAS_THREADS: '1',
};
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
redis.on('error', () => {});
const store = new StudyStore(redis, prefix);

/** A worker process and the trial attempt it is training, if any (from its log). */
interface WorkerSlot {
  child: ChildProcess;
  training?: { label: string; since: number };
}
const workers: WorkerSlot[] = [];
let wastedMs = 0;
let attempts = 0;
let reused = 0;
let interrupted = 0;

function startWorker(index: number): void {
  const child = spawn(process.execPath, [bin, 'worker'], { env: { ...process.env, ...env, AUTOPEFT_WORKER_NAME: `chaos-worker-${index}`, AUTOPEFT_DEMO: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const slot: WorkerSlot = { child };
  let buffer = '';
  const onData = (chunk: Buffer): void => {
    buffer += chunk.toString();
    for (let cut = buffer.indexOf('\n'); cut >= 0; cut = buffer.indexOf('\n')) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 1);
      const start = /(trial \d+ of study \S+): training \(attempt/.exec(line);
      if (start) {
        attempts++;
        slot.training = { label: start[1]!, since: Date.now() };
      } else if (/already trained by an earlier attempt/.test(line)) reused++;
      else if (slot.training && line.includes(slot.training.label)) slot.training = undefined; // finished, pruned or failed
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  workers[index] = slot;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function killWorker(index: number): Promise<void> {
  const slot = workers[index]!;
  if (slot.training) {
    wastedMs += Date.now() - slot.training.since;
    interrupted++;
  }
  await kill(slot.child);
  startWorker(index);
}

const api = await startServiceProcess('api', env);
const schedulers: ServiceProcess[] = [];
for (let i = 0; i < SCHEDULERS; i++) schedulers.push(await startServiceProcess('scheduler', env, /(scheduler running)/));
for (let i = 0; i < WORKERS; i++) startWorker(i);

const call = async (path: string, init: RequestInit = {}): Promise<Response> => fetch(`${api.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
const ids: string[] = [];
for (let i = 0; i < STUDIES; i++) {
  const response = await call('/api/studies', {
    method: 'POST',
    body: JSON.stringify({
      name: `chaos ${i}`,
      task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' },
      algorithm: { name: 'random', seed: 100 + i },
      pruner: { type: 'none' },
      budget: { maxTrials: TRIALS, maxParallel: MAX_PARALLEL },
      training: { steps: Number(values.steps), batchSize: 8, learningRate: 0.003, evalEvery: 20, maxSeqLength: 32, trainExamples: 64, devExamples: 32 },
    }),
  });
  if (response.status !== 201) throw new Error(`submit: ${response.status} ${await response.text()}`);
  ids.push(((await response.json()) as { id: string }).id);
}
const started = Date.now();
console.log(`chaos: ${STUDIES} studies of ${TRIALS} trials, ${WORKERS} workers, ${SCHEDULERS} schedulers, Redis ${redisServer.url} (AOF, fsync always)`);

// In flight per study, sampled from the records while Redis is up.
let mostInFlight = 0;
let monitoring = true;
const monitor = (async () => {
  while (monitoring) {
    try {
      for (const id of ids) {
        const trials = await store.getTrials(id);
        mostInFlight = Math.max(mostInFlight, trials.filter((t) => t.state === 'waiting' || t.state === 'running').length);
      }
    } catch {
      // Redis is down for a moment.
    }
    await sleep(100);
  }
})();

const allFinished = async (): Promise<boolean> => {
  try {
    const states = await Promise.all(ids.map(async (id) => ((await (await call(`/api/studies/${id}`)).json()) as StudyView).state));
    return states.every((s) => s === 'completed' || s === 'failed' || s === 'cancelled');
  } catch {
    return false;
  }
};

let workerKills = 0;
let schedulerKills = 0;
let redisRestarts = 0;
const schedulerEvery = Math.max(1, Math.floor(WORKER_KILLS / Math.max(1, SCHEDULER_KILLS)));
const redisAt = new Set(Array.from({ length: REDIS_RESTARTS }, (_, k) => Math.floor(((k + 1) * WORKER_KILLS) / (REDIS_RESTARTS + 1))));
const deadline = started + 20 * 60_000;
while (Date.now() < deadline) {
  await sleep(KILL_EVERY_MS);
  if (await allFinished()) break;
  if (workerKills < WORKER_KILLS) {
    // Mostly workers that are training: a kill between trials costs nothing and shows nothing.
    const busy = workers.map((w, i) => (w.training ? i : -1)).filter((i) => i >= 0);
    const pool = busy.length > 0 && Math.random() < 0.8 ? busy : workers.map((_, i) => i);
    await killWorker(pool[Math.floor(Math.random() * pool.length)]!);
    workerKills++;
  }
  if (schedulerKills < SCHEDULER_KILLS && workerKills % schedulerEvery === 0) {
    const i = Math.floor(Math.random() * schedulers.length);
    await kill(schedulers[i]!.child);
    schedulers[i] = await startServiceProcess('scheduler', env, /(scheduler running)/);
    schedulerKills++;
  }
  if (redisRestarts < REDIS_RESTARTS && redisAt.has(workerKills)) {
    redisAt.delete(workerKills);
    await redisServer.stop(true);
    await sleep(1000);
    await redisServer.start();
    redisRestarts++;
  }
}
while (!(await allFinished()) && Date.now() < deadline) await sleep(500);
const wallSeconds = (Date.now() - started) / 1000;
monitoring = false;
await monitor;

// What a user would check, from the records, the summaries and the queue.
const queue = new Queue(DEFAULT_QUEUE_NAME, { connection: redis, prefix });
let created = 0;
let completed = 0;
let lost = 0;
let countedTwice = 0;
let overruns = 0;
const states: string[] = [];
const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized']);
for (const id of ids) {
  const study = (await store.getStudy(id))!;
  states.push(study.state);
  const trials: TrialRecord[] = await store.getTrials(id);
  const counts = await store.getCounts(id);
  created += trials.length;
  completed += trials.filter((t) => t.state === 'complete').length;
  // Lost: never finished, complete without its result and files, or failed by the faults (its
  // workers kept dying) rather than by its own doing.
  lost += trials.filter(
    (t) => !['complete', 'pruned', 'failed'].includes(t.state) || (t.state === 'complete' && (t.metric === undefined || !t.artifact)) || (t.state === 'failed' && /stalled/.test(t.error ?? '')),
  ).length;
  // Counted twice: the summary disagrees with the records, or one trial has two jobs.
  const byState = trials.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.state]: (acc[t.state] ?? 0) + 1 }), {});
  countedTwice += Math.abs(counts.total - trials.length) + Object.entries(byState).reduce((sum, [state, n]) => sum + Math.abs((counts.byState[state as TrialRecord['state']] ?? 0) - n), 0);
  const studyJobs = jobs.filter((j) => (j.id ?? '').startsWith(id));
  countedTwice += Math.max(0, studyJobs.length - trials.length);
  // Re-evaluation trials (a study of 30 trials or more) come after the budget, outside it.
  overruns += Math.max(0, trials.filter((t) => t.reevaluation === undefined).length - study.spec.budget.maxTrials);
}
const failedTrials = (await Promise.all(ids.map((id) => store.getTrials(id)))).flat().filter((t) => t.state === 'failed');

console.log(`\nCPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), load ${loadavg()[0]!.toFixed(1)} at the end; wall time ${wallSeconds.toFixed(0)} s`);
console.log('| faults | count |');
console.log('|---|---|');
console.log(`| worker SIGKILLs | ${workerKills} (${interrupted} while training) |`);
console.log(`| scheduler SIGKILLs | ${schedulerKills} |`);
console.log(`| Redis SIGKILL + restart on the same AOF | ${redisRestarts} |`);
console.log('\n| outcome | value |');
console.log('|---|---|');
console.log(`| studies | ${states.length}: ${states.join(', ')} |`);
console.log(`| trials created | ${created} (budget ${STUDIES * TRIALS}) |`);
console.log(`| trials completed | ${completed}${failedTrials.length ? ` (failed: ${failedTrials.length}: ${[...new Set(failedTrials.map((t) => t.error))].join('; ')})` : ''} |`);
console.log(`| trials lost | ${lost} |`);
console.log(`| trials counted twice | ${countedTwice} |`);
console.log(`| budget overruns | ${overruns} |`);
console.log(`| most trials in flight of a study | ${mostInFlight} (maxParallel ${MAX_PARALLEL}) |`);
console.log(`| training attempts | ${attempts} for ${created} trials; ${reused} returned a stored outcome instead of training again |`);
console.log(`| training time lost to kills | ${(wastedMs / 1000).toFixed(1)} s over ${interrupted} interrupted attempts |`);

await queue.close();
for (const slot of workers) await kill(slot.child);
for (const scheduler of schedulers) await scheduler.close();
await api.close();
redis.disconnect();
await redisServer.close();
process.exit(lost === 0 && countedTwice === 0 && overruns === 0 && mostInFlight <= MAX_PARALLEL && states.every((s) => s === 'completed') ? 0 : 1);
