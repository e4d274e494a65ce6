/**
 * The HTTP API: builds the express app from its dependencies. No process-wide state, so tests
 * start the real app in-process on port 0.
 *
 * Every request passes the Host and Origin checks; every `/api` route but `GET /api/health`
 * needs a bearer token whose scope covers the route (see api/security.ts).
 */
import express from 'express';
import type { Request, Response, Router } from 'express';
import { zipSync } from 'fflate';
import { STORED_CONFIG_FILES, buildTrialConfig } from '../scheduler/best-config.js';
import { buildReport, reportCsv, reportMarkdown, reportProblem } from '../scheduler/report.js';
import type { StudyReport } from '../scheduler/report.js';
import { parseStudySpec } from '../scheduler/spec.js';
import type { SpecContext } from '../scheduler/spec.js';
import { MAX_PAGE, STUDY_ID_PATTERN } from '../scheduler/store.js';
import type { StudyEvent, StudyStore } from '../scheduler/store.js';
import type { StudyRecord, TrialFile, TrialFiles, TrialRecord } from '../scheduler/types.js';
import { PRESETS } from '../search/presets.js';
import { DATASET_INFO } from '../workers/data/catalog.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../workers/data/json-depth.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { trialBundleFiles } from '../workers/export/bundle.js';
import { BadRequestError, ConflictError, ForbiddenError, HttpError, NotFoundError, QuotaError, UnavailableError, errorHandler } from './errors.js';
import type { ServiceMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { StudyReads, type ReadAnswer } from './study-reads.js';
import { allowedHosts, authenticate, callerOf, hostCheck, originPolicy, requireScope } from './security.js';
import { DEFAULT_QUOTAS, quotasOf, tokenRequestSchema, TokenNameTakenError, TOKEN_NAME_PATTERN } from './tokens.js';
import type { DefaultQuotas, TokenStore } from './tokens.js';

/** A source of change notices (Redis pub/sub in production). */
export interface EventSource {
  /** Calls `listener` for each notice until the returned function is called. */
  subscribe(listener: (event: StudyEvent) => void): () => void;
}

/** What the app needs. */
export interface AppDeps {
  store: StudyStore;
  tokens: TokenStore;
  specContext: SpecContext;
  events: EventSource;
  /** Hosts a request's Host header may name. @defaultValue loopback names only */
  allowedHosts?: ReadonlySet<string>;
  /** Origins that get CORS headers. @defaultValue none */
  corsOrigins?: readonly string[];
  /** Limits of non-admin tokens without their own. @defaultValue {@link DEFAULT_QUOTAS} */
  quotas?: DefaultQuotas;
  /**
   * Whether Redis is connected now; while it is not, every `/api` route answers 503 at once.
   * @defaultValue always
   */
  redisReady?: () => boolean;
  /** Prometheus metrics, served at `GET /metrics` (scope read), if given. */
  metrics?: ServiceMetrics;
  /** Serves dataset uploads under `/api/datasets`, if given. */
  datasets?: Router;
  /** Serves the dashboard at `/`, if given. */
  dashboard?: Router;
  log?: (message: string) => void;
}

/** Largest JSON body (a spec, a token request). */
const MAX_JSON_BYTES = 1024 * 1024;

/** Creates the express app. */
export function createApp(deps: AppDeps): express.Express {
  const log = deps.log ?? (() => {});
  const quotas = deps.quotas ?? DEFAULT_QUOTAS;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(deps.metrics.requestTimer());
  app.use(hostCheck(deps.allowedHosts ?? allowedHosts('127.0.0.1', [])));
  app.use(originPolicy(deps.corsOrigins ?? []));

  app.use('/api', (_req, _res, next) => {
    // Nothing is queued for later: a request answered 503 has no effect when Redis returns.
    next(deps.redisReady && !deps.redisReady() ? new UnavailableError() : undefined);
  });

  app.get('/api/health', async (_req, res) => {
    // Workers that stopped taking trials after repeated failures (see AUTOPEFT_WORKER_MAX_FAILURES).
    res.json({ ok: true, stoppedWorkers: await deps.store.stoppedWorkers() });
  });

  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', authenticate(deps.tokens), requireScope('read'), async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.text());
    });
  }

  // Everything below needs a token; the body is read only after the token is checked.
  app.use('/api', authenticate(deps.tokens));
  app.use(
    '/api',
    express.json({
      limit: MAX_JSON_BYTES,
      verify: (_req, _res, buffer) => {
        if (jsonDepth(buffer.toString('utf8'), MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
          throw new BadRequestError(`request body: JSON nests deeper than ${MAX_JSON_DEPTH} levels`, 'invalid_body');
        }
      },
    }),
  );
  const reads = new StudyReads(deps.store);
  const read = requireScope('read');
  const submit = requireScope('submit');
  const admin = requireScope('admin');

  app.param('id', (_req, _res, next, id: string) => {
    // Checked before any Redis key is built from it: an id can never alias another key.
    next(STUDY_ID_PATTERN.test(id) ? undefined : new NotFoundError(`no study with id "${id.slice(0, 80)}"`));
  });

  app.get('/api/whoami', read, (_req, res) => {
    const token = callerOf(res);
    res.json({ name: token.name, scope: token.scope, quotas: quotasOf(token, quotas) ?? null });
  });

  app.get('/api/openapi.json', read, (_req, res) => {
    res.json(openApiDocument());
  });

  app.get('/api/catalog', read, (_req, res) => {
    // Shapes and descriptions only: a model's directory is a server path, not the client's business.
    const baseModels = Object.fromEntries(Object.entries(BASE_MODELS).map(([name, entry]) => [name, { description: entry.description, shape: entry.shape }]));
    const presets = Object.fromEntries(Object.entries(PRESETS).map(([name, preset]) => [name, { description: preset.description, options: preset.options ?? [] }]));
    res.json({ datasets: DATASET_INFO, baseModels, presets });
  });

  app.get('/api/studies', read, async (req, res) => {
    const limit = intParam(req, 'limit', 50, 1, 200);
    const cursor = stringParam(req, 'cursor');
    if (cursor !== undefined && !/^\d{1,16}_[0-9a-f-]{36}$/.test(cursor)) throw new BadRequestError('cursor: not a cursor this API gave out (use nextCursor of the page before)');
    sendJson(res, await reads.list(limit, cursor));
  });

  app.post('/api/studies', submit, async (req, res) => {
    requireJsonBody(req);
    const token = callerOf(res);
    const { spec, dataset, shape } = await parseStudySpec(req.body, deps.specContext);
    const limits = quotasOf(token, quotas);
    if (limits?.trialsPerStudy !== undefined && spec.budget.maxTrials > limits.trialsPerStudy) {
      throw new QuotaError('trialsPerStudy', `budget.maxTrials ${spec.budget.maxTrials} is over this token's limit of ${limits.trialsPerStudy} trials per study`);
    }
    if (limits?.runningStudies !== undefined) {
      const running = await deps.store.activeStudiesOf(token.name);
      if (running >= limits.runningStudies) {
        throw new QuotaError('runningStudies', `this token has ${running} studies queued or running, its limit; wait for one to finish or cancel one`);
      }
    }
    const study = await deps.store.createStudy(spec, shape, dataset.outputs, token.name);
    log(`study ${study.id} (${spec.name}) submitted by ${token.name}`);
    res.status(201).location(`/api/studies/${study.id}`).json({ id: study.id, state: study.state });
  });

  app.get('/api/studies/:id', read, async (req, res) => {
    const view = await reads.view(studyIdOf(req), intParam(req, 'trials', 100, 0, MAX_PAGE));
    if (view === undefined) throw notFound(studyIdOf(req));
    sendJson(res, view);
  });

  app.get('/api/studies/:id/trials', read, async (req, res) => {
    const id = studyIdOf(req);
    const after = intParam(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req, 'limit', 500, 1, MAX_PAGE);
    const page = await reads.trialsAfter(id, after, limit);
    if (page === undefined) throw notFound(id);
    sendJson(res, page);
  });

  /** The study, if the caller may change it: its creator (scope submit) or an admin. */
  const ownStudy = async (id: string, res: Response): Promise<StudyRecord> => {
    const study = await deps.store.getStudy(id);
    if (!study) throw notFound(id);
    const token = callerOf(res);
    if (token.scope !== 'admin' && study.owner !== token.name) {
      throw new ForbiddenError(`study "${id}" was created by ${study.owner ? `"${study.owner}"` : 'another user'}; token "${token.name}" may change only its own studies`);
    }
    return study;
  };

  app.post('/api/studies/:id/cancel', submit, async (req, res) => {
    const study = await ownStudy(studyIdOf(req), res);
    if (!(await deps.store.requestCancel(study.id))) throw new ConflictError(`study "${study.id}" is already ${study.state}`);
    log(`study ${study.id} cancellation requested by ${callerOf(res).name}`);
    res.status(202).json({ id: study.id, state: 'cancelling' });
  });

  app.delete('/api/studies/:id', submit, async (req, res) => {
    const study = await ownStudy(studyIdOf(req), res);
    if (!(await deps.store.deleteStudy(study.id))) throw new ConflictError(`study "${study.id}" is ${study.state}: cancel it first`);
    log(`study ${study.id} deleted by ${callerOf(res).name}`);
    res.status(204).end();
  });

  app.get('/api/studies/:id/best', read, async (req, res) => {
    const { study, best } = await bestOf(studyIdOf(req));
    const config = buildTrialConfig(study, best, study.baseShape, await storedConfigOf(study, best));
    res.attachment(`autopeft-${safeFileName(study.spec.name)}-trial-${best.number}.json`);
    res.type('application/json').send(JSON.stringify(config, null, 2));
  });

  /** A completed study's report (scheduler/report.ts): 404 for an unknown study, 409 before re-evaluation has finished or without one. */
  const reportOf = async (id: string): Promise<StudyReport> => {
    const study = await deps.store.getStudy(id);
    if (!study) throw notFound(id);
    const problem = reportProblem(study);
    if (problem) throw new ConflictError(problem);
    return buildReport(study, await deps.store.getTrials(id));
  };

  app.get('/api/studies/:id/report', read, async (req, res) => {
    res.json(await reportOf(studyIdOf(req)));
  });

  app.get('/api/studies/:id/report.md', read, async (req, res) => {
    const report = await reportOf(studyIdOf(req));
    res.attachment(`autopeft-${safeFileName(report.study.name)}-report.md`);
    res.type('text/markdown; charset=utf-8').send(reportMarkdown(report));
  });

  app.get('/api/studies/:id/report.csv', read, async (req, res) => {
    const report = await reportOf(studyIdOf(req));
    res.attachment(`autopeft-${safeFileName(report.study.name)}-report.csv`);
    res.type('text/csv; charset=utf-8').send(reportCsv(report));
  });

  /** The project configuration the worker stored with a trial's weights, if it has one. */
  const storedConfigOf = async (study: StudyRecord, trial: TrialRecord): Promise<Record<string, unknown> | undefined> => {
    const file = STORED_CONFIG_FILES.find((f) => trial.artifact?.files.includes(f));
    const content = file === undefined ? undefined : await deps.store.getArtifactFile(study.id, trial.number, file);
    if (!content) return undefined;
    try {
      const parsed: unknown = JSON.parse(content.toString('utf8'));
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  /** A study and its best complete trial (404 / 409 otherwise), from its summary. */
  const bestOf = async (id: string): Promise<{ study: StudyRecord; best: TrialRecord }> => {
    const [study, counts] = await Promise.all([deps.store.getStudy(id), deps.store.getCounts(id)]);
    if (!study) throw notFound(id);
    const best = counts.bestTrial === undefined ? undefined : await deps.store.getTrial(id, counts.bestTrial);
    if (!best) throw new ConflictError(`study "${study.id}" has no complete trial yet`);
    return { study, best };
  };

  const sendArtifactFile = async (res: express.Response, studyId: string, trialNumber: number, file: string): Promise<void> => {
    const [view, trial] = await Promise.all([deps.store.getStudy(studyId), deps.store.getTrial(studyId, trialNumber)]);
    if (!view) throw notFound(studyId);
    if (!trial) throw new NotFoundError(`study "${studyId}" has no trial ${trialNumber}`);
    // Only names the worker listed are served: the path never reaches a file system.
    if (!trial.artifact?.files.includes(file)) {
      throw new NotFoundError(`trial ${trialNumber} has no file "${file.slice(0, 120)}"; it has: ${trial.artifact?.files.join(', ') || 'none (not complete)'}`);
    }
    const content = await deps.store.getArtifactFile(studyId, trialNumber, file);
    if (!content) throw new NotFoundError(`the stored files of trial ${trialNumber} are gone`);
    res.attachment(`${safeFileName(view.spec.name)}-trial-${trialNumber}-${file.replace(/\//g, '-')}`);
    res.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(content);
  };

  /** The study and trial a `/trials/:number` route names (404 for either missing). */
  const trialOf = async (req: Request): Promise<{ study: StudyRecord; trial: TrialRecord }> => {
    const id = studyIdOf(req);
    const number = trialNumberOf(req);
    const [study, trial] = await Promise.all([deps.store.getStudy(id), deps.store.getTrial(id, number)]);
    if (!study) throw notFound(id);
    if (!trial) throw new NotFoundError(`study "${id}" has no trial ${number}`);
    return { study, trial };
  };

  app.get('/api/studies/:id/trials/:number/files', read, async (req, res) => {
    // What the trial offers for download, so a client need not know the file layout.
    const { study, trial } = await trialOf(req);
    const base = `/api/studies/${study.id}/trials/${trial.number}`;
    const artifactFiles = trial.artifact?.files ?? [];
    const sizes = await deps.store.artifactFileSizes(study.id, trial.number, artifactFiles);
    const files: TrialFile[] = artifactFiles.map((name, i) => ({ name, kind: 'artifact', path: `${base}/files/${name}`, bytes: sizes[i] ?? 0 }));
    if (trial.state === 'complete') {
      files.unshift({ name: 'configuration.json', kind: 'configuration', path: `${base}/config` });
      files.push({ name: 'bundle.zip', kind: 'bundle', path: `${base}/bundle.zip` });
    }
    res.json({ trial: trial.number, state: trial.state, files, notes: trial.artifact?.notes ?? [] } satisfies TrialFiles);
  });

  app.get('/api/studies/:id/trials/:number/config', read, async (req, res) => {
    const { study, trial } = await trialOf(req);
    if (trial.state !== 'complete') throw new ConflictError(`trial ${trial.number} is ${trial.state}; only a complete trial has a configuration to download`);
    const json = JSON.stringify(buildTrialConfig(study, trial, study.baseShape, await storedConfigOf(study, trial)), null, 2);
    res.attachment(`autopeft-${safeFileName(study.spec.name)}-trial-${trial.number}.json`);
    res.type('application/json').send(json);
  });

  /**
   * A trial's bundle: `hf-peft/`, `adapterhub/` and `autopeft/` folders and a README with the
   * lines that load each (workers/export/bundle.ts), zipped with fflate. 404 for a trial without
   * trained weights.
   */
  const sendBundle = async (res: Response, study: StudyRecord, trial: TrialRecord): Promise<void> => {
    const stored = trial.state === 'complete' ? (trial.artifact?.files ?? []) : [];
    if (stored.length === 0) {
      throw new NotFoundError(`trial ${trial.number} has no trained weights to bundle (it is ${trial.state}${trial.state === 'complete' ? ' but stored no adapter' : ''})`);
    }
    const files = new Map<string, Uint8Array>();
    for (const file of stored) {
      const content = await deps.store.getArtifactFile(study.id, trial.number, file);
      if (!content) throw new NotFoundError(`the stored files of trial ${trial.number} are gone`);
      files.set(file, content);
    }
    const config = buildTrialConfig(study, trial, study.baseShape, await storedConfigOf(study, trial));
    const bundle = trialBundleFiles({
      study: { id: study.id, name: study.spec.name, dataset: study.spec.task.dataset, metric: study.spec.task.metric },
      trial: {
        number: trial.number,
        training: trial.training,
        searchPoint: trial.params,
        ...(trial.metric !== undefined ? { metric: trial.metric } : {}),
        ...(trial.majorityBaseline !== undefined ? { majorityBaseline: trial.majorityBaseline } : {}),
        ...(trial.trainableParams !== undefined ? { trainableParams: trial.trainableParams } : {}),
        ...(trial.trainablePercent !== undefined ? { trainablePercent: trial.trainablePercent } : {}),
      },
      config,
      files,
      notes: trial.artifact?.notes ?? [],
    });
    // Dated by the trial, so the same trial always gives the same archive.
    const mtime = new Date(trial.finishedAt ?? trial.createdAt);
    const zip = zipSync(Object.fromEntries([...bundle].map(([path, data]) => [path, [data, { mtime }] as const])), { level: 6 });
    res.attachment(`autopeft-${safeFileName(study.spec.name)}-trial-${trial.number}.zip`);
    res.type('application/zip').send(Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength));
  };

  // `/bundle` is the route's name before issue 15; it serves the same archive.
  app.get(['/api/studies/:id/trials/:number/bundle.zip', '/api/studies/:id/trials/:number/bundle'], read, async (req, res) => {
    const { study, trial } = await trialOf(req);
    await sendBundle(res, study, trial);
  });

  app.get('/api/studies/:id/best/bundle.zip', read, async (req, res) => {
    const { study, best } = await bestOf(studyIdOf(req));
    await sendBundle(res, study, best);
  });

  app.get('/api/studies/:id/trials/:number/files/*file', read, async (req, res) => {
    await sendArtifactFile(res, studyIdOf(req), trialNumberOf(req), filePath(req.params.file));
  });

  app.get('/api/studies/:id/best/files/*file', read, async (req, res) => {
    const { study, best } = await bestOf(studyIdOf(req));
    await sendArtifactFile(res, study.id, best.number, filePath(req.params.file));
  });

  app.get('/api/events', read, (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write(': connected\n\n');
    const unsubscribe = deps.events.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    // Proxies close idle streams; a comment line every 15 s keeps them open.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  app.get('/api/tokens', admin, async (_req, res) => {
    res.json(await deps.tokens.list());
  });

  app.post('/api/tokens', admin, async (req, res) => {
    requireJsonBody(req);
    const parsed = tokenRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new BadRequestError(`${issue.path.join('.') || '(body)'}: ${issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message}`, 'invalid_body');
    }
    try {
      const { secret, record } = await deps.tokens.create(parsed.data.name, parsed.data.scope, parsed.data.quotas);
      log(`token "${record.name}" (${record.scope}) created by ${callerOf(res).name}`);
      res.status(201).json({ ...record, token: secret });
    } catch (error) {
      if (error instanceof TokenNameTakenError) throw new ConflictError(error.message);
      throw error;
    }
  });

  app.delete('/api/tokens/:name', admin, async (req, res) => {
    const name = String(req.params.name);
    if (!TOKEN_NAME_PATTERN.test(name) || !(await deps.tokens.revoke(name))) throw new NotFoundError(`no token named "${name.slice(0, 80)}"`);
    log(`token "${name}" revoked by ${callerOf(res).name}`);
    res.status(204).end();
  });

  if (deps.datasets) app.use(deps.datasets);
  app.use('/api', (req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no endpoint ${req.method} ${req.originalUrl.slice(0, 200)}` } });
  });
  if (deps.dashboard) app.use(deps.dashboard);
  app.use(errorHandler(log));
  return app;
}

/** The `:id` of a route (already checked against the study id format by `app.param`). */
function studyIdOf(req: Request): string {
  return String(req.params['id']);
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`no study with id "${id.slice(0, 80)}"`);
}

/** The `:number` of a trial route (a 404 naming it when it is not a trial number). */
function trialNumberOf(req: Request): number {
  const number = String(req.params['number']);
  if (!/^\d{1,6}$/.test(number)) throw new NotFoundError(`study "${studyIdOf(req)}" has no trial "${number.slice(0, 20)}"`);
  return Number(number);
}

/** A query parameter given once, or undefined. */
function stringParam(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`${name}: give it once, as a plain value`);
  return value;
}

/** An integer query parameter within [min, max], or the default. */
function intParam(req: Request, name: string, fallback: number, min: number, max: number): number {
  const value = stringParam(req, name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d{1,16}$/.test(value) || n < min || n > max) throw new BadRequestError(`${name}: expected an integer from ${min} to ${max}, got "${value.slice(0, 40)}"`);
  return n;
}

/**
 * Sends an answer that is already JSON text. Its version's entity tag, when known, spares
 * hashing the text (express does that for every answer without one) and lets `send` answer a
 * matching If-None-Match with 304.
 */
function sendJson(res: Response, answer: ReadAnswer): void {
  if (answer.etag !== undefined) res.set('ETag', answer.etag);
  res.type('application/json').send(answer.text);
}

/** Refuses a body that is not a JSON object (415 for another content type). */
function requireJsonBody(req: Request): void {
  if (!req.is('application/json')) {
    throw new HttpError(415, 'unsupported_media_type', `send the body as JSON with Content-Type: application/json; got ${String(req.headers['content-type'] ?? 'none').slice(0, 80)}`);
  }
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError('request body: expected a JSON object', 'invalid_body');
  }
}

function filePath(param: string | string[] | undefined): string {
  return ([] as string[]).concat(param ?? []).join('/');
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'study';
}
