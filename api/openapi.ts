/**
 * The OpenAPI 3.1 document of the API (`GET /api/openapi.json`), generated from the zod schemas
 * the API validates with (the study spec, token requests) and from zod schemas of its answers,
 * which the compiler holds to the record types they describe. OpenAPI 3.1 uses JSON Schema
 * 2020-12, which zod writes natively.
 */
import { z } from 'zod';
import { studySpecSchema } from '../scheduler/spec.js';
import type { PeftConfig, TrainingConfig } from '../search/types.js';
import type { StudyPage, StudySpec, StudySummary, StudyView, TrialFiles, TrialPage, TrialRecord } from '../scheduler/types.js';
import type { UploadSummary } from '../workers/data/stored.js';
import type { StudyReport } from '../scheduler/report.js';
import type { StoppedWorker } from '../workers/job-types.js';
import { quotasSchema, SCOPES, tokenRequestSchema } from './tokens.js';
import type { TokenRecord } from './tokens.js';

const paramValue = z.union([z.number(), z.string(), z.boolean()]);
const studyState = z.enum(['queued', 'running', 're-evaluating', 'completed', 'failed', 'cancelled']);
const trialState = z.enum(['waiting', 'running', 'complete', 'pruned', 'failed']);
const report = z.object({ step: z.number(), value: z.number() });
const shape = z.object({
  vocabSize: z.number(),
  hiddenSize: z.number(),
  numLayers: z.number(),
  numHeads: z.number(),
  intermediateSize: z.number(),
  maxPositions: z.number(),
  typeVocabSize: z.number(),
  headKind: z.string().optional(),
});
/** An object documented elsewhere (the README): module configurations, training settings. */
function documentedObject<T extends object>(description: string): z.ZodType<T> {
  return z.custom<T>((value) => typeof value === 'object' && value !== null && !Array.isArray(value)).meta({ type: 'object', description });
}
const peft = documentedObject<PeftConfig>('the PEFT configuration by module name (see the README)');

const errorBody = z
  .object({
    error: z.looseObject({
      code: z.string(),
      message: z.string(),
      field: z.string().optional(),
      quota: z.string().optional(),
      line: z.number().optional(),
    }),
  });

const trialRecord = z
  .object({
    number: z.number().int(),
    state: trialState,
    params: z.record(z.string(), paramValue),
    peft,
    training: documentedObject<TrainingConfig>('training settings, the seeds included'),
    trainableParams: z.number().describe('closed-form stored parameters (PEFT modules and head): what the download holds, the search objective'),
    trainingParams: z.number().optional().describe('closed-form parameters the optimiser updates (prefix-tuning counts its MLP)'),
    trainablePercent: z.number(),
    reports: z.array(report),
    metric: z.number().optional(),
    metrics: z.record(z.string(), z.number()).optional(),
    majorityBaseline: z.number().optional(),
    dev: z.object({ examples: z.number().int(), splitSize: z.number().int() }).optional().describe('what its evaluations scored: examples of the dev split of splitSize'),
    reevaluation: z.object({ of: z.number().int(), seed: z.number().int() }).optional().describe('set on a re-evaluation trial: the trial it retrains and its seed number'),
    worker: z.string().optional(),
    backend: z.string().optional(),
    attempts: z.number(),
    artifact: z.object({ files: z.array(z.string()), notes: z.array(z.string()) }).optional(),
    pruneRequested: z.boolean().optional(),
    error: z.string().optional(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
  });

const studySummary = z
  .object({
    id: z.string(),
    name: z.string(),
    owner: z.string().optional(),
    state: studyState,
    createdAt: z.string(),
    dataset: z.string(),
    baseModel: z.string(),
    metric: z.string(),
    updatedAt: z.string(),
    trialsTotal: z.number(),
    trialsDone: z.number(),
    trialsByState: z.record(z.string(), z.number()),
    maxTrials: z.number(),
    paretoFrontSize: z.number(),
    bestTrial: z.number().optional(),
    bestMetric: z.number().optional(),
  });

const studyView = z
  .object({
    id: z.string(),
    owner: z.string().optional(),
    spec: documentedObject<StudySpec>('the spec as submitted, defaults filled'),
    state: studyState,
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    error: z.string().optional(),
    reference: z
      .object({ point: z.tuple([z.number(), z.number()]), source: z.enum(['spec', 'default']) })
      .optional()
      .describe('the hypervolume reference point (metric, trainable parameters): the spec\'s, else the majority-class level and the largest configuration'),
    warnings: z
      .array(z.object({ code: z.enum(['no-learning', 'equal-metrics']), message: z.string(), advice: z.string() }))
      .optional()
      .describe('what the results do not support: every trial within noise of the majority-class baseline, or all equal'),
    baseShape: shape,
    baseParams: z.number(),
    headOutputs: z.number(),
    summary: studySummary,
    trials: z.array(trialRecord),
    trialsCursor: z.number(),
    trialsComplete: z.boolean(),
    bestTrial: z.number().optional(),
  });

const studyPage = z.object({ studies: z.array(studySummary), nextCursor: z.string().optional() });
const trialPage = z.object({ trials: z.array(trialRecord), cursor: z.number(), hasMore: z.boolean() });
const trialFiles = z.object({
  trial: z.number().int(),
  state: trialState,
  files: z.array(z.object({ name: z.string(), kind: z.enum(['configuration', 'artifact', 'bundle']), path: z.string(), bytes: z.number().optional() })),
  notes: z.array(z.string()),
});

const uploadSummary = z
  .object({
    id: z.string(),
    ref: z.string(),
    name: z.string(),
    kind: z.enum(['classification', 'regression']),
    labels: z.array(z.string()),
    defaultMetric: z.string(),
    metrics: z.array(z.string()),
    train: z.number(),
    dev: z.number(),
    createdAt: z.string(),
    owner: z.string().optional(),
    bytes: z.number().optional(),
  });

const tokenRecord = z
  .object({
    name: z.string(),
    scope: z.enum(SCOPES),
    createdAt: z.string(),
    lastUsedAt: z.string().optional(),
    quotas: quotasSchema.optional(),
  });

const stoppedWorker = z.object({ name: z.string(), reason: z.string(), at: z.string() });
const health = z.object({ ok: z.boolean(), stoppedWorkers: z.array(stoppedWorker) });
const whoami = z.object({ name: z.string(), scope: z.enum(SCOPES), quotas: quotasSchema.nullable() });
const catalog = z.object({
  datasets: z.record(z.string(), z.unknown()),
  baseModels: z.record(z.string(), z.object({ description: z.string(), shape })),
  presets: z.record(z.string(), z.object({ description: z.string(), options: z.array(z.string()) })),
});
const seedStats = z.object({
  n: z.number().int(),
  values: z.array(z.number()),
  mean: z.number(),
  std: z.number().optional().describe('sample standard deviation; absent for n < 2'),
  interval: z.tuple([z.number(), z.number()]).optional().describe('95 % Student-t interval of the mean; absent for n < 2'),
});
const reportSplit = z.enum(['dev', 'test']);
const studyReport = z.object({
  study: z.object({ id: z.string(), name: z.string(), state: studyState }),
  dataset: z.string(),
  baseModel: z.string(),
  metric: z.string(),
  splits: z.array(reportSplit).describe('the splits the rows carry: dev; test only for datasets with labelled test data'),
  notes: z.array(z.string()),
  levels: z.object({ majorityClass: z.number().optional(), chance: z.number().optional() }),
  settings: z.object({
    training: documentedObject<StudySpec['training']>('the study training settings'),
    dataSeed: z.number().optional(),
    reevaluation: z.object({ configurations: z.number().int(), seeds: z.number().int() }),
    searchDevExamples: z.number().optional().describe("dev examples each search trial scored (the study's dev subset): the search column's"),
    devExamples: z.number().optional().describe("dev examples each re-evaluation scored: the dataset's whole dev split, at most maxDevExamples"),
    devSplitSize: z.number().optional(),
    maxDevExamples: z.number(),
    confidence: z.literal(0.95),
  }),
  rows: z.array(
    z.object({
      label: z.string(),
      kind: z.enum(['found', 'baseline']),
      trial: z.number().int(),
      baseline: z.string().optional(),
      baselineSettings: z.string().optional(),
      modules: z.array(z.string()),
      layers: z.array(z.number().int()),
      where: z.string(),
      storedParams: z.number(),
      trainablePercent: z.number(),
      searchMetric: z.number().optional(),
      reevaluationTrials: z.array(z.number().int()),
      splits: z.object({ dev: seedStats.optional(), test: seedStats.optional() }),
    }),
  ),
  comparisons: z.array(z.object({ configuration: z.string(), baseline: z.string(), split: reportSplit, lower: z.number(), upper: z.number() })),
  hypervolume: z
    .object({
      reference: z.tuple([z.number(), z.number()]).describe('[metric, stored parameters]'),
      source: z.enum(['spec', 'default', 'fallback']),
      steps: z.array(z.object({ trial: z.number().int(), state: trialState, volume: z.number() })),
    })
    .optional()
    .describe("the search's hypervolume after each finished search trial, in trial order, against the study's reference point"),
  warnings: z.array(z.object({ code: z.enum(['no-learning', 'equal-metrics']), message: z.string(), advice: z.string() })).describe("the study's warnings, as on its page"),
});
const created = z.object({ id: z.string(), state: studyState });
const cancelling = z.object({ id: z.string(), state: z.literal('cancelling') });
const createdToken = tokenRecord.extend({ token: z.string().describe('the secret: shown once, stored only as a hash') });

/** Compiles only if every value of type T is described by schema S (T assignable to S's type). */
type Describes<S extends z.ZodType, T extends z.input<S>> = [S, T];
// The answers' schemas against the records they describe: a new field in a record fails here.
export type AnswerSchemasCheck = [
  Describes<typeof trialRecord, TrialRecord>,
  Describes<typeof studyView, StudyView>,
  Describes<typeof studyPage, StudyPage>,
  Describes<typeof trialPage, TrialPage>,
  Describes<typeof trialFiles, TrialFiles>,
  Describes<typeof studySummary, StudySummary>,
  Describes<typeof uploadSummary, UploadSummary>,
  Describes<typeof tokenRecord, TokenRecord>,
  Describes<typeof stoppedWorker, StoppedWorker>,
  Describes<typeof studyReport, StudyReport>,
];

type Scope = (typeof SCOPES)[number];

/** One documented operation. */
interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  /** Scope needed; undefined: no token needed. */
  scope?: Scope;
  body?: { type: string; schema?: z.ZodType };
  /** Status to answer: a schema for JSON, a media type for other bodies, null for none. */
  responses: Record<number, z.ZodType | string | null>;
}

const studyId = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const ERRORS_OF: Record<number, string> = {
  400: 'invalid request (the error names the field, row or file)',
  401: 'no valid token',
  403: 'the token may not do this (scope, ownership, quota) or a foreign Host/Origin',
  404: 'not found',
  409: 'conflict with the resource state',
  413: 'body too large',
  415: 'unsupported content type',
  429: 'a quota that frees up by itself',
  503: 'Redis unreachable; retry',
};

const OPERATIONS: Operation[] = [
  { method: 'get', path: '/api/health', summary: 'Liveness and workers that stopped taking trials', responses: { 200: health } },
  { method: 'get', path: '/api/whoami', summary: 'The calling token', scope: 'read', responses: { 200: whoami } },
  { method: 'get', path: '/api/openapi.json', summary: 'This document', scope: 'read', responses: { 200: z.record(z.string(), z.unknown()) } },
  { method: 'get', path: '/api/catalog', summary: 'Built-in datasets, base models and search presets', scope: 'read', responses: { 200: catalog } },
  { method: 'get', path: '/api/studies', summary: 'A page of study summaries, newest first (`?limit=` 1-200, default 50; `?cursor=` the nextCursor of the page before)', scope: 'read', responses: { 200: studyPage, 400: null } },
  {
    method: 'post',
    path: '/api/studies',
    summary: 'Submit a study spec',
    scope: 'submit',
    body: { type: 'application/json', schema: studySpecSchema },
    responses: { 201: created, 400: null, 403: null, 415: null, 429: null },
  },
  { method: 'get', path: '/api/studies/{id}', summary: 'A study, its summary and its first page of trials (`?trials=` 0-1000, default 100)', scope: 'read', responses: { 200: studyView, 400: null, 404: null } },
  {
    method: 'get',
    path: '/api/studies/{id}/trials',
    summary: 'Trials changed after a cursor (`?after=`, 0 for all; `?limit=` 1-1000, default 500), in the order of their latest change',
    scope: 'read',
    responses: { 200: trialPage, 400: null, 404: null },
  },
  { method: 'delete', path: '/api/studies/{id}', summary: 'Delete a finished study (creator or admin)', scope: 'submit', responses: { 204: null, 403: null, 404: null, 409: null } },
  { method: 'post', path: '/api/studies/{id}/cancel', summary: 'Cancel a study (creator or admin)', scope: 'submit', responses: { 202: cancelling, 403: null, 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/best', summary: "The best trial's configuration (attachment)", scope: 'read', responses: { 200: z.record(z.string(), z.unknown()), 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/best/files/{file}', summary: "A file of the best trial's trained adapter", scope: 'read', responses: { 200: 'application/octet-stream', 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/report', summary: 'The study report: each re-evaluated configuration (found or baseline) with where it acts, stored parameters, trainable %, its search metric and mean, sample std and 95 % Student-t interval over the re-evaluation seeds per split; majority-class and chance levels; settings; "X beats baseline Y" only when the intervals are disjoint. 409 until re-evaluation has finished, or for a study without one', scope: 'read', responses: { 200: studyReport, 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/report.md', summary: 'The report as Markdown (attachment)', scope: 'read', responses: { 200: 'text/markdown', 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/report.csv', summary: 'The report table as CSV, one line per configuration (attachment)', scope: 'read', responses: { 200: 'text/csv', 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/trials/{number}/files', summary: "The files a trial offers for download: its configuration and a ZIP of everything (complete trials) and its trained adapter's files, each with its API path", scope: 'read', responses: { 200: trialFiles, 404: null } },
  { method: 'get', path: '/api/studies/{id}/trials/{number}/config', summary: "A complete trial's configuration (attachment), in the format of /best", scope: 'read', responses: { 200: z.record(z.string(), z.unknown()), 404: null, 409: null } },
  {
    method: 'get',
    path: '/api/studies/{id}/trials/{number}/bundle.zip',
    summary:
      "A complete trial's bundle (ZIP attachment): hf-peft/ (Hugging Face PEFT adapter and model card), adapterhub/ (adapters' adapter and head, where adapters can hold the configuration), autopeft/ (the project configuration and weights) and a README.md with the Python lines that load each folder, the labels and the base model; 404 for a trial without trained weights",
    scope: 'read',
    responses: { 200: 'application/zip', 404: null },
  },
  { method: 'get', path: '/api/studies/{id}/trials/{number}/bundle', summary: 'The same bundle as /bundle.zip (the route before issue 15)', scope: 'read', responses: { 200: 'application/zip', 404: null } },
  { method: 'get', path: '/api/studies/{id}/best/bundle.zip', summary: "The best trial's bundle (as /trials/{number}/bundle.zip); 409 until a trial is complete", scope: 'read', responses: { 200: 'application/zip', 404: null, 409: null } },
  { method: 'get', path: '/api/studies/{id}/trials/{number}/files/{file}', summary: "A file of a complete trial's trained adapter", scope: 'read', responses: { 200: 'application/octet-stream', 404: null } },
  { method: 'get', path: '/api/events', summary: 'Server-sent change notices `{studyId, type}`', scope: 'read', responses: { 200: 'text/event-stream' } },
  {
    method: 'post',
    path: '/api/datasets',
    summary: 'Upload a dataset (CSV, TSV or JSON Lines as the raw body)',
    scope: 'submit',
    body: { type: 'text/csv' },
    responses: { 201: uploadSummary, 400: null, 413: null, 415: null, 429: null },
  },
  { method: 'get', path: '/api/datasets', summary: 'Uploaded datasets', scope: 'read', responses: { 200: z.array(uploadSummary) } },
  { method: 'get', path: '/api/datasets/{id}', summary: 'One uploaded dataset', scope: 'read', responses: { 200: uploadSummary, 404: null } },
  { method: 'get', path: '/api/tokens', summary: 'Every token (never its secret)', scope: 'admin', responses: { 200: z.array(tokenRecord) } },
  { method: 'post', path: '/api/tokens', summary: 'Create a token; the secret is in this answer only', scope: 'admin', body: { type: 'application/json', schema: tokenRequestSchema }, responses: { 201: createdToken, 400: null, 409: null } },
  { method: 'delete', path: '/api/tokens/{name}', summary: 'Revoke a token', scope: 'admin', responses: { 204: null, 404: null } },
];

function pathParameters(path: string): object[] {
  const params: object[] = [];
  if (path.includes('{id}')) params.push(studyId);
  if (path.includes('{number}')) params.push({ name: 'number', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } });
  if (path.includes('{file}')) params.push({ name: 'file', in: 'path', required: true, schema: { type: 'string' }, description: 'a path such as hf-peft/adapter_model.safetensors' });
  if (path.includes('{name}')) params.push({ name: 'name', in: 'path', required: true, schema: { type: 'string' } });
  return params;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' });
}

let cached: object | undefined;

/** The OpenAPI 3.1 document (built once). */
export function openApiDocument(): object {
  if (cached) return cached;
  const paths: Record<string, Record<string, object>> = {};
  for (const op of OPERATIONS) {
    const responses: Record<string, object> = {};
    const statuses = new Set([...Object.keys(op.responses).map(Number), ...(op.scope ? [401, 403] : []), 503]);
    for (const status of [...statuses].sort()) {
      const answer = op.responses[status];
      if (answer instanceof z.ZodType) responses[status] = { description: 'OK', content: { 'application/json': { schema: jsonSchema(answer, 'input') } } };
      else if (typeof answer === 'string') responses[status] = { description: 'OK', content: { [answer]: {} } };
      else if (status >= 400) responses[status] = { description: ERRORS_OF[status] ?? 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      else responses[status] = { description: 'no content' };
    }
    const operation: Record<string, unknown> = {
      summary: op.summary,
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[/.](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      parameters: pathParameters(op.path),
      responses,
      security: op.scope ? [{ bearer: [] }] : [],
      ...(op.scope ? { 'x-scope': op.scope } : {}),
    };
    if (op.body) {
      operation['requestBody'] = {
        required: true,
        content: op.body.schema
          ? { [op.body.type]: { schema: jsonSchema(op.body.schema, 'input') } }
          : Object.fromEntries(['text/csv', 'text/tab-separated-values', 'application/x-ndjson'].map((type) => [type, { schema: { type: 'string' } }])),
      };
    }
    (paths[op.path] ??= {})[op.method] = operation;
  }
  cached = {
    openapi: '3.1.0',
    info: {
      title: 'AutoPEFT',
      version: '0.1.0',
      description: 'Search service for parameter-efficient fine-tuning. Every route but GET /api/health needs `Authorization: Bearer <token>`; `x-scope` names the scope it needs (read < submit < admin).',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `autopeft token create` or AUTOPEFT_ADMIN_TOKEN' } },
      schemas: { Error: jsonSchema(errorBody, 'output') },
    },
  };
  return cached;
}

/** The documented operations (method and OpenAPI path), for tests that cover every route. */
export function documentedOperations(): { method: string; path: string; scope?: Scope }[] {
  return OPERATIONS.map(({ method, path, scope }) => ({ method, path, ...(scope ? { scope } : {}) }));
}
