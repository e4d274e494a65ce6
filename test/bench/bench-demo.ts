/**
 * Wall time of the demo study, as a user sees it after `npm start`: starts `autopeft serve`
 * (API, scheduler and one worker process per core) under a fresh Redis key prefix, waits for
 * the demo study to finish, and prints its wall time (submit to completed), each trial's time,
 * backend and metric. Extra arguments are `NAME=value` environment settings for the service,
 * e.g. `AUTOPEFT_NATIVE_KERNELS=0` to time plain wasm.
 *
 * Usage: `npm run bench:demo [-- AUTOPEFT_NATIVE_KERNELS=0]`. Needs Redis at REDIS_URL.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StudySummary, StudyView } from '../../scheduler/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const overrides: Record<string, string> = {};
for (const arg of process.argv.slice(2)) {
  const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(arg);
  if (!match) throw new Error(`expected NAME=value, got "${arg}"`);
  overrides[match[1]!] = match[2]!;
}

const port = await freePort();
// The API wants a token on every route but the health check: the service gets an admin token of this run's own.
const token = randomBytes(24).toString('hex');
const env = { ...process.env, PORT: String(port), AUTOPEFT_KEY_PREFIX: `{bench-demo-${Date.now()}}`, AUTOPEFT_ADMIN_TOKEN: token, ...overrides };
const service = spawn(process.execPath, [path.join(root, 'api', 'bin', 'autopeft.js'), 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
const log: string[] = [];
service.stdout.on('data', (chunk: Buffer) => log.push(chunk.toString()));
service.stderr.on('data', (chunk: Buffer) => log.push(chunk.toString()));
const base = `http://127.0.0.1:${port}`;

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    return response.ok ? ((await response.json()) as T) : undefined;
  } catch {
    return undefined; // not listening yet
  }
}

const deadline = Date.now() + 60 * 60 * 1000;
let study: StudyView | undefined;
try {
  while (Date.now() < deadline) {
    if (service.exitCode !== null) throw new Error(`autopeft serve exited with ${service.exitCode}:\n${log.join('')}`);
    const list = await getJson<{ studies: StudySummary[] }>(`${base}/api/studies`);
    const demo = list?.studies[0];
    if (demo && ['completed', 'failed', 'cancelled'].includes(demo.state)) {
      study = await getJson<StudyView>(`${base}/api/studies/${demo.id}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
} finally {
  service.kill('SIGTERM');
}
if (!study) throw new Error('the demo study did not finish within an hour');

const seconds = (from: string | undefined, to: string | undefined): number =>
  from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : Number.NaN;
const minutes = (s: number): string => `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
const settings = Object.entries(overrides).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults';
console.log(`demo study "${study.spec.name}" (${settings}): ${study.state}, wall time ${minutes(seconds(study.createdAt, study.finishedAt))}`);
console.log('| trial | state | seconds | backend | metric |');
console.log('| --- | --- | --- | --- | --- |');
for (const trial of study.trials) {
  const metric = trial.metric === undefined ? 'n/a' : trial.metric.toFixed(3);
  console.log(`| ${trial.number} | ${trial.state} | ${seconds(trial.startedAt, trial.finishedAt).toFixed(0)} | ${trial.backend ?? '?'} | ${metric} |`);
}
