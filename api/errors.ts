/**
 * Errors the API maps to HTTP answers. Bodies are always `{ error: { code, message } }`.
 */
import type { ErrorRequestHandler } from 'express';
import { InvalidSpecError } from '../scheduler/spec.js';

/** A request that names something that does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A request the API understood but cannot satisfy in the resource's current state. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** Maps named errors to status codes; anything else is a 500 that is logged, not leaked. */
export function errorHandler(log: (message: string) => void): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    if (error instanceof InvalidSpecError) {
      res.status(400).json({ error: { code: 'invalid_spec', field: error.field, message: error.message } });
    } else if (error instanceof NotFoundError) {
      res.status(404).json({ error: { code: 'not_found', message: error.message } });
    } else if (error instanceof ConflictError) {
      res.status(409).json({ error: { code: 'conflict', message: error.message } });
    } else if (isBodyParseError(error)) {
      res.status(error.status).json({ error: { code: 'invalid_body', message: `request body: ${error.message}` } });
    } else {
      log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      res.status(500).json({ error: { code: 'internal', message: 'internal error; see the server log' } });
    }
  };
}

function isBodyParseError(error: unknown): error is { status: number; message: string; type: string } {
  return (
    typeof error === 'object' && error !== null && 'type' in error && 'status' in error &&
    typeof (error as { status: unknown }).status === 'number' && (error as { status: number }).status < 500
  );
}
