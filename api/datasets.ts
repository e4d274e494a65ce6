/**
 * Dataset uploads: a user POSTs a CSV, TSV (GLUE layouts included) or JSON Lines file as the raw
 * request body; the API validates all of it, splits off a dev set if needed, and stores the
 * normalised dataset in RedisClient, where workers on any host read it as `upload:<id>`.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Request, Response, Router } from 'express';
import type { RedisClient } from '../workers/redis-connection.js';
import type { DataFormat } from '../workers/data/formats.js';
import type { UploadSummary } from '../workers/data/stored.js';
import { uploadIndexKey, uploadKey, UPLOAD_ID_PATTERN } from '../workers/data/stored.js';
import { QuotaError } from './errors.js';
import { UploadParser } from './upload-thread.js';
import { callerOf, requireScope } from './security.js';
import { DEFAULT_QUOTAS, quotasOf } from './tokens.js';
import type { DefaultQuotas } from './tokens.js';

/** What the datasets router needs. */
export interface DatasetsRouterDeps {
  redis: RedisClient;
  /** Prefix of every RedisClient key (the service's hash tag, e.g. `{autopeft}`). */
  keyPrefix: string;
  /** Largest accepted upload. @defaultValue 20 MB ({@link DEFAULT_MAX_UPLOAD_BYTES}) */
  maxUploadBytes?: number;
  /** Limits of non-admin tokens without their own. @defaultValue {@link DEFAULT_QUOTAS} */
  quotas?: DefaultQuotas;
  /** Where uploads are parsed. @defaultValue a background thread of its own */
  parser?: UploadParser;
  log?: (message: string) => void;
}

/** Default upload size limit: 20 MB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

/** Content types accepted for uploads and the format each implies. */
export const UPLOAD_CONTENT_TYPES: Readonly<Record<string, DataFormat>> = {
  'text/csv': 'csv',
  'text/tab-separated-values': 'tsv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/x-jsonlines': 'jsonl',
};

/** The stored JSON of an upload, or undefined: the `fetchUpload` of a worker's dataset context. */
export function redisUploadFetcher(redis: RedisClient, keyPrefix: string): (id: string) => Promise<string | undefined> {
  return async (id) => (UPLOAD_ID_PATTERN.test(id) ? ((await redis.get(uploadKey(keyPrefix, id))) ?? undefined) : undefined);
}

/** Every upload's summary, oldest first. */
export async function listUploads(redis: RedisClient, keyPrefix: string): Promise<UploadSummary[]> {
  const all = await redis.hvals(uploadIndexKey(keyPrefix));
  return all.map((json) => JSON.parse(json) as UploadSummary).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB (${bytes} bytes)` : `${bytes} bytes`;
}

function sendError(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ error: { code, message, ...extra } });
}

/** The format a request's Content-Type implies, or undefined for an unsupported type. */
function contentFormat(req: Request): DataFormat | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return Object.hasOwn(UPLOAD_CONTENT_TYPES, type) ? UPLOAD_CONTENT_TYPES[type] : undefined;
}

/** Query parameters as URLSearchParams (repeated parameters and arrays are rejected later as strings). */
function queryParams(req: Request): URLSearchParams {
  const q = req.originalUrl.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : req.originalUrl.slice(q + 1));
}

/**
 * Routes under `/api/datasets`: `POST` uploads a file (raw body, Content-Type text/csv,
 * text/tab-separated-values or application/x-ndjson; query parameters name, format, textField,
 * textPairField, labelField, kind, labels, devFraction, splitSeed), `GET` lists uploads,
 * `GET /:id` describes one. Errors are `{ error: { code, message } }`: 400 for invalid data
 * (naming the first bad line), 413 over the size limit, 415 for other content types.
 */
export function datasetsRouter(deps: DatasetsRouterDeps): Router {
  const maxBytes = deps.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new RangeError(`maxUploadBytes must be a positive integer, got ${maxBytes}`);
  const log = deps.log ?? (() => {});
  const router = express.Router();
  const rawBody = express.raw({ type: () => true, limit: maxBytes });
  const parser = deps.parser ?? new UploadParser();

  router.post(
    '/api/datasets',
    requireScope('submit'),
    async (req, res, next) => {
      // Checked from Content-Length before the body is read: a refused upload costs nothing.
      const limits = quotasOf(callerOf(res), deps.quotas ?? DEFAULT_QUOTAS);
      if (limits?.uploadBytes !== undefined) {
        const owner = callerOf(res).name;
        const used = (await listUploads(deps.redis, deps.keyPrefix)).filter((u) => u.owner === owner).reduce((sum, u) => sum + (u.bytes ?? 0), 0);
        const size = Number(req.headers['content-length'] ?? 0);
        if (used + size > limits.uploadBytes) {
          throw new QuotaError('uploadBytes', `this token's uploads would take ${formatBytes(used + size)}, over its limit of ${formatBytes(limits.uploadBytes)}; delete a study's upload or ask an admin`);
        }
      }
      next();
    },
    (req, res, next) => {
      if (!contentFormat(req)) {
        sendError(
          res,
          415,
          'unsupported_media_type',
          `upload the file as the request body with Content-Type ${Object.keys(UPLOAD_CONTENT_TYPES).join(', ')}; got ${req.headers['content-type'] ?? 'none'}`,
        );
        return;
      }
      next();
    },
    (req, res, next) => {
      rawBody(req, res, (error?: unknown) => {
        if (isTooLarge(error)) sendError(res, 413, 'too_large', `the upload is larger than the limit of ${formatBytes(maxBytes)}`);
        else next(error);
      });
    },
    async (req, res) => {
      const params = queryParams(req);
      const name = params.get('name') ?? 'upload';
      params.delete('name');
      if (name.trim() === '' || name.length > 200 || /\p{Cc}/u.test(name)) {
        sendError(res, 400, 'invalid_dataset', 'name must be 1 to 200 printable characters');
        return;
      }
      const body: unknown = req.body;
      const bytes = Buffer.isBuffer(body) ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : new Uint8Array(0);
      const id = randomUUID();
      const outcome = await parser.parse({ id, createdAt: new Date().toISOString(), name, query: params.toString(), contentFormat: contentFormat(req)!, bytes });
      if (!outcome.ok) {
        sendError(res, 400, 'invalid_dataset', outcome.message, outcome.line !== undefined ? { line: outcome.line } : {});
        return;
      }
      const summary: UploadSummary = { ...outcome.summary, owner: callerOf(res).name };
      await deps.redis
        .multi()
        .set(uploadKey(deps.keyPrefix, id), Buffer.from(outcome.stored.buffer, outcome.stored.byteOffset, outcome.stored.byteLength))
        .hset(uploadIndexKey(deps.keyPrefix), id, JSON.stringify(summary))
        .exec();
      log(`dataset upload ${id} (${name}): ${outcome.kind}, ${outcome.train} train / ${outcome.dev} dev`);
      res.status(201).location(`/api/datasets/${id}`).json(summary);
    },
  );

  router.get('/api/datasets', requireScope('read'), async (_req, res) => {
    res.json(await listUploads(deps.redis, deps.keyPrefix));
  });

  router.get('/api/datasets/:id', requireScope('read'), async (req, res) => {
    const id = String(req.params['id']);
    const json = UPLOAD_ID_PATTERN.test(id) ? await deps.redis.hget(uploadIndexKey(deps.keyPrefix), id) : null;
    if (json === null) {
      sendError(res, 404, 'not_found', `no uploaded dataset with id "${id.slice(0, 80)}"`);
      return;
    }
    res.json(JSON.parse(json) as UploadSummary);
  });

  return router;
}

function isTooLarge(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'type' in error && (error as { type: unknown }).type === 'entity.too.large';
}
