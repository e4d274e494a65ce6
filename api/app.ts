/**
 * The HTTP API: builds the express app from its dependencies. No process-wide state, so tests
 * start the real app in-process on port 0.
 */
import express from 'express';
import type { Router } from 'express';
import { buildTrialConfig } from '../scheduler/best-config.js';
import { parseStudySpec } from '../scheduler/spec.js';
import type { SpecContext } from '../scheduler/spec.js';
import { bestTrial } from '../scheduler/store.js';
import type { StudyEvent, StudyStore } from '../scheduler/store.js';
import { DATASET_INFO } from '../workers/data/catalog.js';
import { BASE_MODELS } from '../workers/models/catalog.js';
import { ConflictError, NotFoundError, errorHandler } from './errors.js';

/** A source of change notices (Redis pub/sub in production). */
export interface EventSource {
  /** Calls `listener` for each notice until the returned function is called. */
  subscribe(listener: (event: StudyEvent) => void): () => void;
}

/** What the app needs. */
export interface AppDeps {
  store: StudyStore;
  specContext: SpecContext;
  events: EventSource;
  /** Serves dataset uploads under `/api/datasets`, if given. */
  datasets?: Router;
  /** Serves the dashboard at `/`, if given. */
  dashboard?: Router;
  log?: (message: string) => void;
}

/** Creates the express app. */
export function createApp(deps: AppDeps): express.Express {
  const log = deps.log ?? (() => {});
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));

  app.get('/api/health', async (_req, res) => {
    // Workers that stopped taking trials after repeated failures (see AUTOPEFT_WORKER_MAX_FAILURES).
    res.json({ ok: true, stoppedWorkers: await deps.store.stoppedWorkers() });
  });

  app.get('/api/catalog', (_req, res) => {
    // Shapes and descriptions only: a model's directory is a server path, not the client's business.
    const baseModels = Object.fromEntries(Object.entries(BASE_MODELS).map(([name, entry]) => [name, { description: entry.description, shape: entry.shape }]));
    res.json({ datasets: DATASET_INFO, baseModels });
  });

  app.get('/api/studies', async (_req, res) => {
    res.json(await deps.store.listStudies());
  });

  app.post('/api/studies', async (req, res) => {
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      res.status(400).json({ error: { code: 'invalid_body', message: 'request body: expected a JSON object (Content-Type: application/json)' } });
      return;
    }
    const { spec, dataset, shape } = await parseStudySpec(req.body, deps.specContext);
    const study = await deps.store.createStudy(spec, shape, dataset.outputs);
    log(`study ${study.id} (${spec.name}) submitted`);
    res.status(201).location(`/api/studies/${study.id}`).json({ id: study.id, state: study.state });
  });

  app.get('/api/studies/:id', async (req, res) => {
    const view = await deps.store.getStudyView(req.params.id);
    if (!view) throw new NotFoundError(`no study with id "${req.params.id}"`);
    res.json(view);
  });

  app.post('/api/studies/:id/cancel', async (req, res) => {
    const study = await deps.store.getStudy(req.params.id);
    if (!study) throw new NotFoundError(`no study with id "${req.params.id}"`);
    if (!(await deps.store.requestCancel(study.id))) throw new ConflictError(`study "${study.id}" is already ${study.state}`);
    log(`study ${study.id} cancellation requested`);
    res.status(202).json({ id: study.id, state: 'cancelling' });
  });

  app.delete('/api/studies/:id', async (req, res) => {
    const study = await deps.store.getStudy(req.params.id);
    if (!study) throw new NotFoundError(`no study with id "${req.params.id}"`);
    if (!(await deps.store.deleteStudy(study.id))) throw new ConflictError(`study "${study.id}" is ${study.state}: cancel it first`);
    log(`study ${study.id} deleted`);
    res.status(204).end();
  });

  app.get('/api/studies/:id/best', async (req, res) => {
    const study = await deps.store.getStudy(req.params.id);
    if (!study) throw new NotFoundError(`no study with id "${req.params.id}"`);
    const best = bestTrial(await deps.store.getTrials(study.id));
    if (!best) throw new ConflictError(`study "${study.id}" has no complete trial yet`);
    const config = buildTrialConfig(study, best, study.baseShape);
    res.attachment(`autopeft-${safeFileName(study.spec.name)}-trial-${best.number}.json`);
    res.type('application/json').send(JSON.stringify(config, null, 2));
  });

  const sendArtifactFile = async (res: express.Response, studyId: string, trialNumber: number, file: string): Promise<void> => {
    const view = await deps.store.getStudyView(studyId);
    if (!view) throw new NotFoundError(`no study with id "${studyId}"`);
    const trial = view.trials.find((t) => t.number === trialNumber);
    if (!trial) throw new NotFoundError(`study "${studyId}" has no trial ${trialNumber}`);
    // Only names the worker listed are served: the path never reaches a file system.
    if (!trial.artifact?.files.includes(file)) {
      throw new NotFoundError(`trial ${trialNumber} has no file "${file}"; it has: ${trial.artifact?.files.join(', ') || 'none (not complete)'}`);
    }
    const content = await deps.store.getArtifactFile(studyId, trialNumber, file);
    if (!content) throw new NotFoundError(`the stored files of trial ${trialNumber} are gone`);
    res.attachment(`${safeFileName(view.spec.name)}-trial-${trialNumber}-${file.replace(/\//g, '-')}`);
    res.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(content);
  };

  app.get('/api/studies/:id/trials/:number/files/*file', async (req, res) => {
    const file = ([] as string[]).concat(req.params.file).join('/');
    await sendArtifactFile(res, req.params.id, Number(req.params.number), file);
  });

  app.get('/api/studies/:id/best/files/*file', async (req, res) => {
    const study = await deps.store.getStudy(req.params.id);
    if (!study) throw new NotFoundError(`no study with id "${req.params.id}"`);
    const best = bestTrial(await deps.store.getTrials(study.id));
    if (!best) throw new ConflictError(`study "${study.id}" has no complete trial yet`);
    await sendArtifactFile(res, study.id, best.number, ([] as string[]).concat(req.params.file).join('/'));
  });

  app.get('/api/events', (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    const unsubscribe = deps.events.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    // Proxies close idle streams; a comment line every 15 s keeps them open.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  if (deps.datasets) app.use(deps.datasets);
  app.use('/api', (req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no endpoint ${req.method} ${req.originalUrl}` } });
  });
  if (deps.dashboard) app.use(deps.dashboard);
  app.use(errorHandler(log));
  return app;
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'study';
}
