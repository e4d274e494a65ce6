/**
 * The `autopeft` command line: run the service (all parts or one role), and talk to a running
 * API (submit a spec, show or watch a study, download its best configuration, cancel, delete).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cancel, deleteStudy, download, normaliseApiUrl, status, submit, watch } from './cli-client.js';
import type { Client } from './cli-client.js';
import { CliError, createOutput, EXIT, reportError, UnreachableError, UsageError } from './cli-output.js';
import type { Output } from './cli-output.js';
import { loadConfig } from './config.js';
import type { Config } from './config.js';
import { ensureRedis, RedisUnavailableError } from './local-redis.js';
import { createRedisClient, describeTarget } from '../workers/redis-connection.js';
import { ensureLocalToken, readLocalToken } from './local-token.js';
import { TokenNameTakenError, TokenStore, tokenRequestSchema } from './tokens.js';
import type { Quotas } from './tokens.js';
import type * as RuntimeModule from './runtime.js';
import type { Closable } from './runtime.js';

type Runtime = typeof RuntimeModule;

const USAGE = `usage: autopeft <command> [options]

commands:
  serve                 API + dashboard + scheduler + worker processes (AUTOPEFT_WORKERS), and the demo study
  api                   the HTTP API and dashboard only
  scheduler             the scheduler only
  worker                one trial worker (run one per core; any host that reaches REDIS_URL)
  submit <spec.json>    submit a study spec to a running API; prints the study id
  status <id>           show a study's progress and its trials
  watch <id>            follow a study until it ends: a progress bar with trials done, running, best so far,
                        elapsed and an estimate of what is left (--interval SECONDS, default 1)
  download <id>         save the best configuration as JSON, or with --bundle its trial bundle as a ZIP
                        (hf-peft/, adapterhub/, autopeft/, README.md); --trial N for trial N instead of
                        the best (--out FILE, default: the server's file name)
  cancel <id>           cancel a study: waiting trials are dropped, running ones stop between steps
  delete <id>           delete a finished study with its trials and trained adapters
  token create --name NAME --scope read|submit|admin [--max-running-studies N]
        [--max-trials-per-study N] [--max-upload-bytes N]
                        create an API token (prints its secret once; works on REDIS_URL directly)
  token list            list tokens: name, scope, created, last used (never a secret)
  token revoke <name>   revoke a token

options:
  --url URL             the API (default http://HOST:PORT from the environment; the dashboard link works too)
  --token TOKEN         the API token (default AUTOPEFT_TOKEN, else the local token of \`serve\`)
  --json                results as JSON on stdout (watch: one JSON line per change; serve, api, scheduler,
                        worker: JSON log lines); errors as one JSON line on stderr
exit codes: 0 done, 1 refused or the watched study failed, 2 bad usage, 3 API or Redis unreachable.

Environment variables are listed in the README.`;

const binPath = fileURLToPath(new URL('./bin/autopeft.js', import.meta.url));
const demoSpecPath = fileURLToPath(new URL('./demo-study.json', import.meta.url));

/** A timestamped log line: text for people, or one JSON object per line with --json. */
function logger(json: boolean): (message: string) => void {
  return json
    ? (message) => console.log(JSON.stringify({ time: new Date().toISOString(), message }))
    : (message) => console.log(`[${new Date().toISOString()}] ${message}`);
}

let log = logger(false);

const OPTIONS = {
  url: { type: 'string' },
  out: { type: 'string' },
  token: { type: 'string' },
  name: { type: 'string' },
  scope: { type: 'string' },
  interval: { type: 'string' },
  trial: { type: 'string' },
  bundle: { type: 'boolean' },
  json: { type: 'boolean' },
  'max-running-studies': { type: 'string' },
  'max-trials-per-study': { type: 'string' },
  'max-upload-bytes': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseCommandLine(argv: string[]): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>> {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // node:util's messages go on with a hint about '--'; the first sentence says what is wrong.
    const first = (error instanceof Error ? error.message : String(error)).split(/\.(\s|$)/)[0]!;
    throw new UsageError(`${first} (see autopeft --help)`);
  }
}

async function main(argv: string[], out: Output): Promise<number> {
  const { positionals, values } = parseCommandLine(argv);
  const [command, arg, arg2] = positionals;
  if (values.help || !command) {
    if (!command && !values.help) throw new UsageError('no command given (see autopeft --help)');
    out.result({ usage: USAGE }, () => console.log(USAGE));
    return EXIT.ok;
  }
  const config = loadConfig();
  const client = async (): Promise<Client> => {
    const target = normaliseApiUrl(values.url ?? `http://${config.host}:${config.port}`);
    return { url: target.url, token: values.token ?? target.token ?? config.clientToken ?? (await readLocalToken(config.tokenFile)) };
  };
  // The service's parts (TensorFlow.js, BullMQ, the API) load only for the commands that run
  // them, so that the client commands start in a fraction of the time.
  const runtime = (): Promise<Runtime> => import('./runtime.js');
  switch (command) {
    case 'serve':
      return serve(config, out);
    case 'api':
      await ensureLocalRedis(config);
      return runUntilSignal([await (await runtime()).startApi(config, log)], (api) => log(`API and dashboard at ${api[0]!.url}/`));
    case 'scheduler':
      await ensureLocalRedis(config);
      return runUntilSignal([await (await runtime()).startScheduler(config, log)], () => log('scheduler running'));
    case 'worker':
      return runUntilSignal([await (await runtime()).startWorker(config, log)], () => log(`worker ${config.workerName ?? process.pid} waiting for trials`));
    case 'submit':
      return submit(await client(), out, requireArg(arg, 'submit <spec.json>'));
    case 'status':
      return status(await client(), out, requireArg(arg, 'status <id>'));
    case 'watch':
      return watch(await client(), out, requireArg(arg, 'watch <id>'), intervalOf(values.interval));
    case 'download':
      return download(await client(), out, requireArg(arg, 'download <id>'), { outFile: values.out, trial: trialOf(values.trial), bundle: values.bundle === true });
    case 'cancel':
      return cancel(await client(), out, requireArg(arg, 'cancel <id>'));
    case 'delete':
      return deleteStudy(await client(), out, requireArg(arg, 'delete <id>'));
    case 'token':
      return tokenCommand(config, out, requireArg(arg, 'token create|list|revoke'), arg2, values);
    default:
      throw new UsageError(`unknown command "${command}" (see autopeft --help)`);
  }
}

function requireArg(arg: string | undefined, usage: string): string {
  if (!arg) throw new UsageError(`missing argument: autopeft ${usage}`);
  return arg;
}

/** `--interval SECONDS` of watch, in milliseconds. */
/** `--trial N`: a trial number (a non-negative integer), or undefined for the best trial. */
function trialOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text.trim())) throw new UsageError(`--trial "${text}": a trial number (0, 1, 2, ...)`);
  return Number(text.trim());
}

function intervalOf(text: string | undefined): number {
  if (text === undefined) return 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) throw new UsageError(`--interval "${text}": a number of seconds from 0.1 to 3600`);
  return seconds * 1000;
}

/** Starts a local redis-server when REDIS_URL names this host and none answers; never for a cluster. */
function ensureLocalRedis(config: Config): ReturnType<typeof ensureRedis> | Promise<undefined> {
  return config.redis.clusterNodes ? Promise.resolve(undefined) : ensureRedis(config.redisUrl, log);
}

async function serve(config: Config, out: Output): Promise<number> {
  const redisServer = await ensureLocalRedis(config);
  const { startApi, startScheduler, WORKER_RESTART_EXIT_CODE } = await import('./runtime.js');
  const parts: Closable[] = [];
  // The printed URL carries an admin token: AUTOPEFT_ADMIN_TOKEN, else the local token file's.
  const localToken = config.adminToken ? undefined : await ensureLocalToken(config.tokenFile);
  const token = config.adminToken ?? localToken!;
  const api = await startApi(config, log, localToken);
  parts.push(api, await startScheduler(config, log));
  parts.push(startWorkerPool(config, out.json, WORKER_RESTART_EXIT_CODE));
  if (redisServer) parts.push({ close: async () => void redisServer.kill() });
  if (config.demo) {
    const spec = JSON.parse(await readFile(demoSpecPath, 'utf8')) as unknown;
    const response = await fetch(`${api.url}/api/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(spec),
    });
    const body = (await response.json()) as { id?: string; error?: { message: string } };
    if (!response.ok || !body.id) throw new CliError(`the demo study was refused: ${body.error?.message ?? response.status}`);
    log(`demo study ${body.id} submitted (set AUTOPEFT_DEMO=0 to skip it)`);
  }
  return runUntilSignal(parts, () => {
    log(`${config.workers} worker process(es) started`);
    const dashboard = `${api.url}/?token=${encodeURIComponent(token)}`;
    out.result({ dashboard, ...(localToken ? { tokenFile: config.tokenFile } : {}) }, () => {
      console.log(`\nDashboard: ${dashboard}\n`);
      if (localToken) console.log(`(admin token kept in ${config.tokenFile}; the CLI on this machine uses it)\n`);
    });
  });
}

/** Forks `config.workers` worker processes and restarts any that dies, until closed. */
function startWorkerPool(config: Config, json: boolean, restartExitCode: number): Closable {
  const children = new Set<ChildProcess>();
  let closing = false;
  const spawnWorker = (index: number): void => {
    const child = fork(binPath, json ? ['worker', '--json'] : ['worker'], {
      env: { ...process.env, AUTOPEFT_WORKER_NAME: `${hostname()}:worker-${index}` },
      stdio: 'inherit',
    });
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (closing) return;
      log(`worker-${index} exited (${signal ?? code}${code === restartExitCode ? ': it restarts itself to give back memory' : ''}); restarting it in 2 s`);
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

type TokenOptions = Partial<Record<'name' | 'scope' | 'max-running-studies' | 'max-trials-per-study' | 'max-upload-bytes', string>>;

/** `autopeft token create|list|revoke`: on Redis directly, for the operator of the service. */
async function tokenCommand(config: Config, out: Output, action: string, name: string | undefined, options: TokenOptions): Promise<number> {
  const redis = createRedisClient(config.redis, { maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: (times) => (times > 2 ? null : 200) });
  redis.on('error', () => {});
  const tokens = new TokenStore(redis, config.keyPrefix);
  try {
    if (action === 'list') {
      const all = await tokens.list();
      out.result(all, () => {
        console.log(['name', 'scope', 'created', 'last used'].join('\t'));
        for (const t of all) console.log([t.name, t.scope, t.createdAt, t.lastUsedAt ?? '-'].join('\t'));
      });
      return EXIT.ok;
    }
    if (action === 'revoke') {
      const target = requireArg(name, 'token revoke <name>');
      if (!(await tokens.revoke(target))) throw new CliError(`no token named "${target}"`);
      out.result({ name: target, revoked: true }, () => console.log(`token ${target}: revoked`));
      return EXIT.ok;
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
    out.result({ name: record.name, scope: record.scope, token: secret }, () => {
      console.error(`token "${record.name}" (${record.scope}) created; it is shown only now:`);
      console.log(secret);
    });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TokenNameTakenError) throw new CliError(error.message);
    if (error instanceof CliError) throw error;
    throw new UnreachableError(`cannot reach ${describeTarget(config.redis)}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    redis.disconnect();
  }
}

/** Errors of the configuration and of the local Redis, as the command line's own. */
function asCliError(error: unknown): unknown {
  if (error instanceof RedisUnavailableError) return new UnreachableError(error.message);
  if (error instanceof Error && !(error instanceof CliError) && error.message.startsWith('environment variable')) return new UsageError(error.message);
  return error;
}

// --json is read before the arguments are parsed, so that a parse error is JSON too.
const argv = process.argv.slice(2);
const json = argv.includes('--json');
log = logger(json);
main(argv, createOutput(json)).then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportError(asCliError(error), json)),
);
