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
import { Redis } from 'ioredis';
import type { StudyView, TrialPage } from '../scheduler/types.js';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { ensureRedis, RedisUnavailableError } from './local-redis.js';
import { ensureLocalToken, readLocalToken } from './local-token.js';
import { TokenNameTakenError, TokenStore, tokenRequestSchema } from './tokens.js';
import type { Quotas } from './tokens.js';
import { startApi, startScheduler, startWorker, WORKER_RESTART_EXIT_CODE } from './runtime.js';
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
  token create --name NAME --scope read|submit|admin [--max-running-studies N]
        [--max-trials-per-study N] [--max-upload-bytes N]
                        create an API token (prints its secret once; works on REDIS_URL directly)
  token list            list tokens: name, scope, created, last used (never a secret)
  token revoke <name>   revoke a token

options for submit, status, download, cancel, delete:
  --url URL             the API (default http://HOST:PORT from the environment)
  --token TOKEN         the API token (default AUTOPEFT_TOKEN, else the local token of \`serve\`)

Environment variables are listed in the README.`;

const log = (message: string): void => console.log(`[${new Date().toISOString()}] ${message}`);
const binPath = fileURLToPath(new URL('./bin/autopeft.js', import.meta.url));
const demoSpecPath = fileURLToPath(new URL('./demo-study.json', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      out: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string' },
      'max-running-studies': { type: 'string' },
      'max-trials-per-study': { type: 'string' },
      'max-upload-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg, arg2] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig();
  const apiUrl = (values.url ?? `http://${config.host}:${config.port}`).replace(/\/+$/, '');
  const client = async (): Promise<Client> => ({ url: apiUrl, token: values.token ?? config.clientToken ?? (await readLocalToken(config.tokenFile)) });
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
      return submit(await client(), requireArg(arg, 'submit <spec.json>'));
    case 'status':
      return status(await client(), requireArg(arg, 'status <id>'));
    case 'download':
      return download(await client(), requireArg(arg, 'download <id>'), values.out);
    case 'cancel':
      return cancel(await client(), requireArg(arg, 'cancel <id>'));
    case 'delete':
      return deleteStudy(await client(), requireArg(arg, 'delete <id>'));
    case 'token':
      return tokenCommand(config, requireArg(arg, 'token create|list|revoke'), arg2, values);
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
  // The printed URL carries an admin token: AUTOPEFT_ADMIN_TOKEN, else the local token file's.
  const localToken = config.adminToken ? undefined : await ensureLocalToken(config.tokenFile);
  const token = config.adminToken ?? localToken!;
  const api = await startApi(config, log, localToken);
  parts.push(api, await startScheduler(config, log));
  parts.push(startWorkerPool(config));
  if (redisServer) parts.push({ close: async () => void redisServer.kill() });
  if (config.demo) {
    const spec = JSON.parse(await readFile(demoSpecPath, 'utf8')) as unknown;
    const response = await fetch(`${api.url}/api/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(spec),
    });
    const body = (await response.json()) as { id?: string; error?: { message: string } };
    if (!response.ok || !body.id) throw new Error(`the demo study was refused: ${body.error?.message ?? response.status}`);
    log(`demo study ${body.id} submitted (set AUTOPEFT_DEMO=0 to skip it)`);
  }
  return runUntilSignal(parts, () => {
    log(`${config.workers} worker process(es) started`);
    console.log(`\nDashboard: ${api.url}/?token=${encodeURIComponent(token)}\n`);
    if (localToken) console.log(`(admin token kept in ${config.tokenFile}; the CLI on this machine uses it)\n`);
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
      log(`worker-${index} exited (${signal ?? code}${code === WORKER_RESTART_EXIT_CODE ? ': it restarts itself to give back memory' : ''}); restarting it in 2 s`);
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

/** Where the API is and the token to send it. */
interface Client {
  url: string;
  token: string | undefined;
}

async function apiCall(client: Client, path: string, init: RequestInit = {}): Promise<Response> {
  const url = `${client.url}${path}`;
  const headers = new Headers(init.headers);
  if (client.token) headers.set('authorization', `Bearer ${client.token}`);
  try {
    return await fetch(url, { ...init, headers });
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

async function submit(client: Client, specPath: string): Promise<number> {
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(specPath, 'utf8'));
  } catch (error) {
    throw new UsageError(`${specPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const response = await apiCall(client, '/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (!response.ok) {
    console.error(`${specPath}: ${await failure(response)}`);
    return 1;
  }
  const { id } = (await response.json()) as { id: string };
  console.log(id);
  return 0;
}

async function status(client: Client, id: string): Promise<number> {
  const response = await apiCall(client, `/api/studies/${encodeURIComponent(id)}?trials=1000`);
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  const study = (await response.json()) as StudyView;
  // Pages past the first: the trials changed after the cursor, merged by number.
  const byNumber = new Map(study.trials.map((t) => [t.number, t]));
  for (let cursor = study.trialsCursor, more = !study.trialsComplete; more; ) {
    const page = await apiCall(client, `/api/studies/${encodeURIComponent(id)}/trials?after=${cursor}&limit=1000`);
    if (!page.ok) throw new UsageError(await failure(page));
    const body = (await page.json()) as TrialPage;
    for (const t of body.trials) byNumber.set(t.number, t);
    cursor = body.cursor;
    more = body.hasMore;
  }
  study.trials = [...byNumber.values()].sort((a, b) => a.number - b.number);
  const { summary } = study;
  const running = summary.trialsByState.running ?? 0;
  const waiting = summary.trialsByState.waiting ?? 0;
  console.log(`${study.spec.name} (${study.id}): ${study.state}, ${summary.trialsDone}/${study.spec.budget.maxTrials} trials done, ${running} running, ${waiting} waiting`);
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

async function cancel(client: Client, id: string): Promise<number> {
  const response = await apiCall(client, `/api/studies/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  console.log(`study ${id}: cancelling`);
  return 0;
}

async function deleteStudy(client: Client, id: string): Promise<number> {
  const response = await apiCall(client, `/api/studies/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  console.log(`study ${id}: deleted`);
  return 0;
}

async function download(client: Client, id: string, out: string | undefined): Promise<number> {
  const response = await apiCall(client, `/api/studies/${encodeURIComponent(id)}/best`);
  if (!response.ok) {
    console.error(await failure(response));
    return 1;
  }
  const fromServer = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1];
  // Only the server's base name is used: a file name from the network never picks the directory.
  const file = out ?? (fromServer ? basename(fromServer) : `autopeft-${basename(id)}-best.json`);
  try {
    await writeFile(file, await response.text());
  } catch (error) {
    throw new UsageError(`cannot write ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  console.log(file);
  return 0;
}

type TokenOptions = Partial<Record<'name' | 'scope' | 'max-running-studies' | 'max-trials-per-study' | 'max-upload-bytes', string>>;

/** `autopeft token create|list|revoke`: on Redis directly, for the operator of the service. */
async function tokenCommand(config: Config, action: string, name: string | undefined, options: TokenOptions): Promise<number> {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: (times) => (times > 2 ? null : 200) });
  redis.on('error', () => {});
  const tokens = new TokenStore(redis, config.keyPrefix);
  try {
    if (action === 'list') {
      const all = await tokens.list();
      console.log(['name', 'scope', 'created', 'last used'].join('\t'));
      for (const t of all) console.log([t.name, t.scope, t.createdAt, t.lastUsedAt ?? '-'].join('\t'));
      return 0;
    }
    if (action === 'revoke') {
      const target = requireArg(name, 'token revoke <name>');
      if (!(await tokens.revoke(target))) {
        console.error(`autopeft: no token named "${target}"`);
        return 1;
      }
      console.log(`token ${target}: revoked`);
      return 0;
    }
    if (action !== 'create') throw new UsageError(`unknown token action "${action}": use create, list or revoke`);
    const quotaFlags: [keyof TokenOptions, keyof Quotas][] = [
      ['max-running-studies', 'runningStudies'],
      ['max-trials-per-study', 'trialsPerStudy'],
      ['max-upload-bytes', 'uploadBytes'],
    ];
    const quotas = Object.fromEntries(quotaFlags.filter(([flag]) => options[flag] !== undefined).map(([flag, key]) => [key, Number(options[flag])]));
    const request = tokenRequestSchema.safeParse({ name: options.name, scope: options.scope, ...(Object.keys(quotas).length > 0 ? { quotas } : {}) });
    if (!request.success) {
      const issue = request.error.issues[0]!;
      const field = String(issue.path[issue.path.length - 1] ?? '');
      const flag = quotaFlags.find(([, key]) => key === field)?.[0] ?? field;
      throw new UsageError(`token create --${flag}: ${issue.message}`);
    }
    const { secret, record } = await tokens.create(request.data.name, request.data.scope, request.data.quotas);
    console.error(`token "${record.name}" (${record.scope}) created; it is shown only now:`);
    console.log(secret);
    return 0;
  } catch (error) {
    if (error instanceof TokenNameTakenError) throw new UsageError(error.message);
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot reach Redis at ${config.redisUrl}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    if (
      error instanceof UsageError ||
      error instanceof RedisUnavailableError ||
      (error instanceof Error && (error.message.startsWith('environment variable') || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))))
    ) {
      console.error(`autopeft: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  },
);
