/**
 * Parses uploads off the API's event loop: a background thread runs {@link parseUpload}, so a
 * 20 MB file does not stall other requests. The file's bytes move to the thread and the stored
 * JSON moves back as bytes, neither copied.
 */
import { BackgroundThread, serveInThread } from '../scheduler/background-thread.js';
import { parseUpload } from './upload-parse.js';
import type { UploadOutcome, UploadRequest } from './upload-parse.js';

serveInThread<UploadRequest, UploadOutcome>(import.meta.url, parseUpload, (outcome) => (outcome.ok ? [outcome.stored.buffer as ArrayBuffer] : []));

/** Parses uploads in one background thread, in order. */
export class UploadParser {
  private readonly thread = new BackgroundThread<UploadRequest, UploadOutcome>(new URL(import.meta.url), (request) => [request.bytes.buffer as ArrayBuffer]);

  /** Parses an upload in the background thread (its bytes are moved there, not copied). */
  parse(request: UploadRequest): Promise<UploadOutcome> {
    const whole = request.bytes.byteOffset === 0 && request.bytes.byteLength === request.bytes.buffer.byteLength;
    return this.thread.run(whole ? request : { ...request, bytes: request.bytes.slice() });
  }

  /** Stops the thread. */
  close(): Promise<void> {
    return this.thread.close();
  }
}
