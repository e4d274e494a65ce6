/**
 * Errors the API maps to HTTP answers. Bodies are always `{ error: { code, message } }` (plus
 * `field` for an invalid spec and `quota` for a quota). Client input never causes a 500: what
 * the client sent is a 4xx, an unreachable Redis a 503, and only our own bugs a 500.
 */
import type { ErrorRequestHandler } from 'express';
import { InvalidSpecError } from '../scheduler/spec.js';
import type { QuotaName } from './tokens.js';

/** An error with an HTTP status and a machine-readable code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request that names something that does not exist. */
export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** A request the API understood but cannot satisfy in the resource's current state. */
export class ConflictError extends HttpError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

/** A request without a valid token. */
export class UnauthorizedError extends HttpError {
  override readonly name = 'UnauthorizedError';
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/** A valid token whose scope or ownership does not allow the action. */
export class ForbiddenError extends HttpError {
  override readonly name = 'ForbiddenError';
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

/** A malformed request (path, query or body) outside a study spec. */
export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError';
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

/**
 * A request over one of its token's quotas: 429 for a quota that frees up by itself (running
 * studies, stored uploads), 403 for one that never will (trials per study).
 */
export class QuotaError extends HttpError {
  override readonly name = 'QuotaError';
  constructor(
    readonly quota: QuotaName,
    message: string,
  ) {
    super(quota === 'trialsPerStudy' ? 403 : 429, 'quota_exceeded', `quota ${quota}: ${message}`);
  }
}

/** Redis (or another service the API needs) is unreachable. */
export class UnavailableError extends HttpError {
  override readonly name = 'UnavailableError';
  constructor(message = 'the service store (Redis) is unreachable; try again shortly') {
    super(503, 'unavailable', message);
  }
}

/** Messages of ioredis errors that mean "Redis is not reachable now", not a bug. */
const REDIS_OUTAGE = /Stream isn't writeable|Command timed out|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|^LOADING|^READONLY|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN/;

/** Whether an error says Redis is unreachable (so the answer is a 503, not a 500). */
export function isRedisOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'MaxRetriesPerRequestError' || REDIS_OUTAGE.test(error.message);
}

/** Maps named errors to status codes; anything else is a 500 that is logged, not leaked. */
export function errorHandler(log: (message: string) => void): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof InvalidSpecError) {
      res.status(400).json({ error: { code: 'invalid_spec', field: error.field, message: error.message } });
    } else if (error instanceof QuotaError) {
      res.status(error.status).json({ error: { code: error.code, quota: error.quota, message: error.message } });
    } else if (error instanceof HttpError) {
      if (error.status === 503) res.set('Retry-After', '2');
      res.status(error.status).json({ error: { code: error.code, message: error.message } });
    } else if (isRedisOutage(error)) {
      res.status(503).set('Retry-After', '2').json({ error: { code: 'unavailable', message: new UnavailableError().message } });
    } else if (clientStatusOf(error) !== undefined) {
      // body-parser and the router: bad JSON, bad encodings, bad escapes, sizes.
      const status = clientStatusOf(error)!;
      // body-parser's errors carry a `type` (entity.parse.failed, encoding.unsupported, ...).
      const ofBody = typeof (error as { type?: unknown }).type === 'string';
      const code = status === 413 ? 'too_large' : status === 415 ? 'unsupported_media_type' : ofBody ? 'invalid_body' : 'invalid_request';
      res.status(status).json({ error: { code, message: `${ofBody ? 'request body' : 'request'}: ${error instanceof Error ? error.message : 'malformed'}` } });
    } else {
      log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      res.status(500).json({ error: { code: 'internal', message: 'internal error; see the server log' } });
    }
  };
}

/** The 4xx status of an http-errors style error (express, body-parser, the router), or undefined. */
function clientStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = status ?? statusCode;
  return typeof value === 'number' && value >= 400 && value < 500 ? value : undefined;
}
