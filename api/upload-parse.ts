/**
 * Turning an uploaded file into the stored dataset: UTF-8 decoding, parsing, the dev split and
 * serialising. Pure (no I/O), so it runs the same in the upload thread and in tests.
 */
import { DatasetError } from '../workers/data/errors.js';
import type { DataFormat } from '../workers/data/formats.js';
import { parseUserDataOptions } from '../workers/data/registry.js';
import type { UploadSummary } from '../workers/data/stored.js';
import { serialiseDataset, summarise } from '../workers/data/stored.js';
import { parseDataset } from '../workers/data/user-data.js';

/** What an upload needs parsing. */
export interface UploadRequest {
  id: string;
  createdAt: string;
  name: string;
  /** Query parameters other than `name` (format, textField, labelField, ...). */
  query: string;
  /** The format the Content-Type implies (a `format` parameter overrides it). */
  contentFormat: DataFormat;
  bytes: Uint8Array;
}

/** The parsed upload, or the first problem with it. */
export type UploadOutcome =
  | { ok: true; summary: UploadSummary; stored: Uint8Array; train: number; dev: number; kind: string }
  | { ok: false; message: string; line?: number };

/** Parses an upload; a problem with the file is an outcome, not an exception. */
export function parseUpload(request: UploadRequest): UploadOutcome {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(request.bytes);
  } catch {
    return { ok: false, message: `${request.name}: the file is not valid UTF-8 text` };
  }
  try {
    const options = parseUserDataOptions(new URLSearchParams(request.query), 'query');
    const dataset = parseDataset(request.name, text, request.name, { ...options, format: options.format ?? request.contentFormat });
    return {
      ok: true,
      summary: { ...summarise(request.id, dataset, request.createdAt), bytes: request.bytes.length },
      // As UTF-8 bytes: they move to the API thread without a copy and go to Redis as they are.
      stored: new TextEncoder().encode(serialiseDataset(request.id, dataset, request.createdAt)),
      train: dataset.train.length,
      dev: dataset.dev.length,
      kind: dataset.kind,
    };
  } catch (error) {
    if (!(error instanceof DatasetError)) throw error;
    return { ok: false, message: error.message, ...(error.line !== undefined ? { line: error.line } : {}) };
  }
}
