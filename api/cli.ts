/**
 * The `autopeft` command line: run the service (all parts or one role), and talk to a running
 * API (submit a spec, show a study, download its best configuration).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StudyView } from '../scheduler/types.js';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { ensureRedis, RedisUnavailableError } from './local-redis.js';
import { startApi, startScheduler, startWorker } from './runtime.js';
import type { Closable } from './runtime.js';

const USAGE = `usage: autopeft <command> [options]

commands:
  serve                 API + dashboard + scheduler + worker processes (AUTOPEFT_WORKERS), and the demo study
  api                   the HTTP API and dashboard only
  scheduler             the scheduler only
  worker                one trial worker (run one per core; any host that reaches REDIS_URL)
  submit <spec.json>    submit a study spec to a running API; prints the study id
  status <id>           show a study and its trials
  download <id>         save the best configuration as JSON (--out FILE, default: the server's file name)
  cancel <id>           cancel a study: waiting trials are dropped, running ones stop between steps
  delete <id>           delete a finished study with its trials and trained adapters

options for submit, status, download, cancel, delete:
  --url URL             the API (default http://HOST:PORT from the environment)

Environment variables are listed in the README.`;

const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);
const binPath = fileURLToPath(new URL('./bin/autopeft.js', import.meta.url));
const demoSpecPath = fileURLToPath(new URL('./demo-study.json', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { url: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig();
  const apiUrl = values.url ?? `http://${config.host}:${config.port}`;
  switch (command) {
    case 'serve':
      return serve(config);
    case 'api':
      await ensureRedis(config.redisUrl, log);
      return runUntilSignal([await startApi(config, log)], (api) => log(`API and dashboard at ${api[0]!.url}/`));
    case 'scheduler':
      await ensureRedis(config.redisUrl, log);
      return runUntilSignal([await startScheduler(config, log)], () => log('scheduler running'));
    case 'worker':
      return runUntilSignal([await startWorker(config, log)], () => log(`worker ${config.workerName ?? process.pid} waiting for trials`));
    case 'submit':
      return submit(apiUrl, requireArg(arg, 'submit <spec.json>'));
    case 'status':
      return status(apiUrl, requireArg(arg, 'status <id>'));
    case 'download':
      return download(apiUrl, requireArg(arg, 'download <id>'), values.out);
    case 'cancel':
      return cancel(apiUrl, requireArg(arg, 'cancel <id>'));
    case 'delete':
      return deleteStudy(apiUrl, requireArg(arg, 'delete <id>'));
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function requireArg(arg: string | undefined, usage: string): string {
  if (!arg) throw new UsageError(`missing argument: autopeft ${usage}`);
  return arg;
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function serve(config: Config): Promise<number> {
  const redisServer = await ensureRedis(config.redisUrl, log);
  const parts: Closable[] = [];
  const api = await startApi(config, log);
  parts.push(api, await startScheduler(config, log));
  parts.push(startWorkerPool(config));
  if (redisServer) parts.push({ close: async () => void redisServer.kill() });
  if (config.demo) {
    const spec = JSON.parse(await readFile(demoSpecPath, 'utf8')) as unknown;
    const response = await fetch(`${api.url}/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    const body = (await response.json()) as { id?: string; error?: { message: string } };
    if (!response.ok || !body.id) throw new Error(`the demo study was refused: ${body.error?.message ?? response.status}`);
    log(`demo study ${body.id} submitted (set AUTOPEFT_DEMO=0 to skip it)`);
  }
  return runUntilSignal(parts, () => {
    log(`${config.workers} worker process(es) started`);
    console.log(`\nDashboard: ${api.url}/\n`);
  });
}

/** Forks `config.workers` worker processes and restarts any that dies, until closed. */
function startWorkerPool(config: Config): Closable {
  const children = new Set<ChildProcess>();
  let closing = false;
  const spawnWorker = (index: number): void => {
    const child = fork(binPath, ['worker'], {
      env: { ...process.env, AUTOPEFT_WORKER_NAME: `${hostname()}:worker-${index}` },
      stdio: 'inherit',
    });
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (closing) return;
      log(`worker-${index} exited (${signal ?? code}); restarting it in 2 s`);
      setTimeout(() => !closing && spawnWorker(index), 2000);
    });
  };
  for (let i = 0; i < config.workers; i++) spawnWorker(i);
  return {
    async close() {
      closing = true;
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
              // A worker mid-trial gets a few seconds to stop, then is killed; BullMQ retries its trial.
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        ),
      );
    },
  };
}

async function runUntilSignal<T extends Closable>(parts: T[], started: (parts: T[]) => void): Promise<number> {
  started(parts);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('stopping');
  for (const part of [...parts].reverse()) await part.close().catch((error: unknown) => log(`while stopping: ${String(error)}`));
  return 0;
}

async function apiCall(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new UsageError(`cannot reach the API at ${url}: ${error instanceof Error ? error.message : String(error)} (is \`autopeft serve\` or \`autopeft api\` running? set --url)`);
  }
}

async function failure(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    return `HTTP ${response.status}: ${text.slice(0, 200)}`;
  }
}

async function submit(apiUrl: string, specPath: string): Promise<number> {
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(specPath, 'utf8'));
  } catch (error) {
    throw new UsageError(`${specPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let response: Response;
  try {
    response = await fetch(`${apiUrl}/api/studies`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  } catch (error) {
    throw new UsageError(`cannot reach the API at ${apiUrl}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!response.ok) {
    console.error(`${specPath}: ${await failure(response)}`);
    return 1;
  }
  const { id } = (await response.json()) as { id: string };
  console.log(id);
  return 0;
}

async function status(apiUrl: string, id: string): Promise<number> {
  const response = await apiCall(`${apiUrl}/api/studies/${encodeURIComponent(id)}`);
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  const study = (await response.json()) as StudyView;
  console.log(`${study.spec.name} (${study.id}): ${study.state}, ${study.trials.length}/${study.spec.budget.maxTrials} trials`);
  console.log(`task: ${study.spec.task.dataset} on ${study.spec.task.baseModel}, metric ${study.spec.task.metric}`);
  console.log(['trial', 'state', 'params', '% base', study.spec.task.metric, 'peft'].join('\t'));
  for (const t of study.trials) {
    const lora = t.peft.lora;
    const peft = lora ? `lora r=${lora.rank} alpha=${lora.alpha} ${lora.targets.join('+')} layers ${lora.layers.join(',')}` : '-';
    console.log([t.number, t.state, t.trainableParams, t.trainablePercent.toFixed(3), t.metric?.toFixed(4) ?? '-', peft].join('\t'));
  }
  if (study.bestTrial !== undefined) console.log(`best: trial ${study.bestTrial}`);
  return 0;
}

async function cancel(apiUrl: string, id: string): Promise<number> {
  const response = await apiCall(`${apiUrl}/api/studies/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  console.log(`study ${id}: cancelling`);
  return 0;
}

async function deleteStudy(apiUrl: string, id: string): Promise<number> {
  const response = await apiCall(`${apiUrl}/api/studies/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  console.log(`study ${id}: deleted`);
  return 0;
}

async function download(apiUrl: string, id: string, out: string | undefined): Promise<number> {
  const response = await apiCall(`${apiUrl}/api/studies/${encodeURIComponent(id)}/best`);
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  const fromServer = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1];
  // Only the server's base name is used: a file name from the network never picks the directory.
  const file = out ?? (fromServer ? basename(fromServer) : `autopeft-${basename(id)}-best.json`);
  await writeFile(file, await response.text());
  console.log(file);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof RedisUnavailableError || (error instanceof Error && error.message.startsWith('environment variable'))) {
      console.error(`autopeft: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  },
);
