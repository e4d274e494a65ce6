/**
 * The commands of `autopeft` that talk to a running API: submit, status, watch, download,
 * cancel and delete. Each prints for people or, with `--json`, JSON; each error is a CliError.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { peftModules } from '../dashboard/src/format.js';
import type { StudyView, TrialPage } from '../scheduler/types.js';
import { CliError, oneLine, UnreachableError, UsageError } from './cli-output.js';
import type { Output } from './cli-output.js';
import { progressDetails, progressLine, watchProgress } from './watch-progress.js';
import type { WatchProgress } from './watch-progress.js';

/** Where the API is and the token to send it. */
export interface Client {
  url: string;
  token: string | undefined;
}

/**
 * The API's base URL from what a user typed: a scheme is added when missing (`host:8080`),
 * trailing slashes and a trailing `/api` are dropped, and a dashboard link's `?token=` is
 * returned as the token, so the URL `npm start` prints works as `--url` too.
 */
export function normaliseApiUrl(raw: string): { url: string; token?: string } {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim()) ? raw.trim() : `http://${raw.trim()}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url "${raw}" is not a URL (for example http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url "${raw}": only http and https are supported`);
  const token = url.searchParams.get('token') ?? undefined;
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  return { url: `${url.origin}${path}`, ...(token ? { token } : {}) };
}

async function apiCall(client: Client, path: string, init: RequestInit = {}): Promise<Response> {
  const url = `${client.url}${path}`;
  const headers = new Headers(init.headers);
  if (client.token) headers.set('authorization', `Bearer ${client.token}`);
  try {
    return await fetch(url, { ...init, headers });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    throw new UnreachableError(`cannot reach the API at ${client.url} (${reason}); is \`autopeft serve\` or \`autopeft api\` running? set --url`);
  }
}

/** The API's error message, or a line saying the answer did not come from the API. */
async function failureOf(client: Client, response: Response): Promise<CliError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error: { message: string } };
    if (typeof error.message === 'string') return new CliError(oneLine(error.message, 1000));
  } catch {
    // Not the API's JSON error shape: said below.
  }
  return new CliError(`HTTP ${response.status} from ${client.url}, not an AutoPEFT API answer (is --url the API?): ${oneLine(text, 120, true)}`);
}

async function call(client: Client, path: string, init: RequestInit = {}): Promise<Response> {
  const response = await apiCall(client, path, init);
  if (!response.ok) throw await failureOf(client, response);
  return response;
}

async function getJson<T>(client: Client, path: string): Promise<T> {
  const response = await call(client, path);
  try {
    return (await response.json()) as T;
  } catch {
    throw new CliError(`${client.url}${path} did not answer JSON (is --url the API?)`);
  }
}

const studyPath = (id: string): string => `/api/studies/${encodeURIComponent(id)}`;

/** `autopeft submit <spec.json>`: prints the new study's id (`{"id", "state"}` with --json). */
export async function submit(client: Client, out: Output, specPath: string): Promise<number> {
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(specPath, 'utf8'));
  } catch (error) {
    throw new UsageError(`${specPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const response = await apiCall(client, '/api/studies', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (!response.ok) {
    const failure = await failureOf(client, response);
    throw new CliError(`${specPath}: ${failure.message}`);
  }
  const body = (await response.json()) as { id: string; state: string };
  out.result(body, () => console.log(body.id));
  return 0;
}

/** The study with every trial: the first page, then the trials changed after its cursor. */
async function fullStudy(client: Client, id: string): Promise<StudyView> {
  const study = await getJson<StudyView>(client, `${studyPath(id)}?trials=1000`);
  const byNumber = new Map(study.trials.map((t) => [t.number, t]));
  for (let cursor = study.trialsCursor, more = !study.trialsComplete; more; ) {
    const page = await getJson<TrialPage>(client, `${studyPath(id)}/trials?after=${cursor}&limit=1000`);
    for (const t of page.trials) byNumber.set(t.number, t);
    cursor = page.cursor;
    more = page.hasMore;
  }
  study.trials = [...byNumber.values()].sort((a, b) => a.number - b.number);
  study.trialsComplete = true;
  return study;
}

/** `autopeft status <id>`: the study's counts (the dashboard's) and a line per trial. */
export async function status(client: Client, out: Output, id: string): Promise<number> {
  const study = await fullStudy(client, id);
  out.result(study, () => {
    const progress = watchProgress(study.summary, Date.now());
    console.log(progressLine(progress));
    const reevaluations = study.trials.filter((t) => t.reevaluation !== undefined);
    if (study.state === 're-evaluating' || reevaluations.length > 0) {
      const done = reevaluations.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length;
      console.log(`re-evaluation: ${done}/${reevaluations.length} retrained so far${study.state === 're-evaluating' ? ' (the search is over; the report follows)' : ''}`);
    }
    console.log(`task: ${study.spec.task.dataset} on ${study.spec.task.baseModel}, metric ${study.spec.task.metric}`);
    printWarnings(study);
    console.log(['trial', 'state', 'stored params (objective)', 'training params', '% base', `best ${study.spec.task.metric}`, 'peft'].join('\t'));
    for (const t of study.trials) {
      const modules = peftModules(t.peft).map((m) => m.label);
      const state = t.reevaluation ? `${t.state} (re-evaluates ${t.reevaluation.of}, seed ${t.reevaluation.seed})` : t.state;
      console.log([t.number, state, t.trainableParams, t.trainingParams ?? '-', t.trainablePercent.toFixed(3), t.metric?.toFixed(4) ?? '-', modules.join(', ') || 'head only'].join('\t'));
    }
  });
  return 0;
}

/** The study's warnings (scheduler/study-warnings.ts), a line each, on stderr so a pipe of the table stays clean. */
function printWarnings(study: StudyView): void {
  for (const w of study.warnings ?? []) console.error(`warning: ${w.message}. What usually helps: ${w.advice}.`);
}

/** Whether two snapshots differ in anything but the clock. */
function changed(a: WatchProgress | undefined, b: WatchProgress): boolean {
  if (!a) return true;
  return a.state !== b.state || a.done !== b.done || a.running !== b.running || a.waiting !== b.waiting || a.best?.trial !== b.best?.trial || a.best?.metric !== b.best?.metric;
}

/** How long `watch` keeps trying while the API cannot be reached before it gives up. */
const WATCH_UNREACHABLE_MS = 60_000;

/**
 * `autopeft watch <id>`: a live progress bar on a terminal, a line per change otherwise, JSON
 * lines with `--json`; returns when the study ends (0 completed, 1 failed or cancelled).
 */
export async function watch(client: Client, out: Output, id: string, intervalMs: number): Promise<number> {
  const onTerminal = !out.json && process.stdout.isTTY === true;
  let bar: SingleBar | undefined;
  let last: WatchProgress | undefined;
  let unreachableSince: number | undefined;
  const stopBar = (): void => bar?.stop();
  process.once('SIGINT', () => {
    stopBar();
    process.exit(130);
  });
  for (;;) {
    let view: StudyView;
    try {
      view = await getJson<StudyView>(client, `${studyPath(id)}?trials=0`);
      unreachableSince = undefined;
    } catch (error) {
      // A restarting API is waited for; a refusal (unknown study, bad token) ends the watch.
      if (!(error instanceof UnreachableError) || last === undefined) throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > WATCH_UNREACHABLE_MS) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      continue;
    }
    const progress = watchProgress(view.summary, Date.now());
    if (onTerminal) {
      bar ??= new SingleBar({ ...Presets.shades_classic, format: '{name} [{bar}] {value}/{total} trials | {details}', barsize: 24, hideCursor: true, clearOnComplete: false, stopOnComplete: false });
      const payload = { name: progress.name, details: progressDetails(progress) };
      if (!last) bar.start(progress.budget, progress.done, payload);
      else {
        bar.setTotal(progress.budget);
        bar.update(progress.done, payload);
      }
    } else if (changed(last, progress) || progress.finished) {
      out.result(progress, () => console.log(progressLine(progress)));
    }
    last = progress;
    if (progress.finished) {
      stopBar();
      if (!out.json) printWarnings(view);
      return progress.state === 'completed' ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** What `download` fetches. */
export interface DownloadOptions {
  /** Where to write; default the server's file name in the working directory. */
  outFile?: string | undefined;
  /** A trial number; default the study's best trial. */
  trial?: number | undefined;
  /** The trial's bundle ZIP instead of its configuration JSON. */
  bundle?: boolean;
}

/**
 * `autopeft download <id> [--trial N] [--bundle] [--out FILE]`: saves the best (or trial N's)
 * configuration, or with `--bundle` its bundle ZIP.
 */
export async function download(client: Client, out: Output, id: string, options: DownloadOptions = {}): Promise<number> {
  const trialPath = options.trial === undefined ? `${studyPath(id)}/best` : `${studyPath(id)}/trials/${options.trial}`;
  const route = options.bundle ? `${trialPath}/bundle.zip` : options.trial === undefined ? trialPath : `${trialPath}/config`;
  const response = await call(client, route);
  const fromServer = /filename="?([^";]+)"?/.exec(response.headers.get('content-disposition') ?? '')?.[1];
  // Only the server's base name is used: a file name from the network never picks the directory.
  const fallback = `autopeft-${basename(id)}-${options.trial === undefined ? 'best' : `trial-${options.trial}`}.${options.bundle ? 'zip' : 'json'}`;
  const file = options.outFile ?? (fromServer ? basename(fromServer) : fallback);
  const body = Buffer.from(await response.arrayBuffer());
  try {
    await writeFile(file, body);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : error instanceof Error ? error.message : String(error);
    throw new CliError(`cannot write ${file}: ${reason}`);
  }
  const what = { kind: options.bundle ? 'bundle' : 'configuration', ...(options.trial === undefined ? {} : { trial: options.trial }) };
  out.result({ id, file, bytes: body.length, ...what }, () => console.log(file));
  return 0;
}

/** `autopeft cancel <id>`. */
export async function cancel(client: Client, out: Output, id: string): Promise<number> {
  const response = await call(client, `${studyPath(id)}/cancel`, { method: 'POST' });
  const body = (await response.json()) as { id: string; state: string };
  out.result(body, () => console.log(`study ${id}: cancelling`));
  return 0;
}

/** `autopeft delete <id>`. */
export async function deleteStudy(client: Client, out: Output, id: string): Promise<number> {
  await call(client, studyPath(id), { method: 'DELETE' });
  out.result({ id, deleted: true }, () => console.log(`study ${id}: deleted`));
  return 0;
}
