/**
 * Parses uploads off the API's event loop: a worker thread (started on the first upload and
 * kept) runs {@link parseUpload}, so a 20 MB file does not stall other requests.
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { parseUpload } from './upload-parse.js';
import type { UploadOutcome, UploadRequest } from './upload-parse.js';

type Reply = { seq: number; outcome: UploadOutcome } | { seq: number; crash: string };

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', ({ seq, request }: { seq: number; request: UploadRequest }) => {
    let reply: Reply;
    try {
      reply = { seq, outcome: parseUpload(request) };
    } catch (error) {
      reply = { seq, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    port.postMessage(reply, 'outcome' in reply && reply.outcome.ok ? [reply.outcome.stored.buffer as ArrayBuffer] : []);
  });
}

/** Runs upload parses in one background thread, in order. */
export class UploadParser {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (outcome: UploadOutcome) => void; reject: (error: Error) => void }>();

  private thread(): Worker {
    if (this.worker) return this.worker;
    // A plain-JS entry that registers tsx first: the thread runs this TypeScript module too.
    const worker = new Worker(new URL('./upload-thread-entry.js', import.meta.url));
    worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.seq);
      if (!waiting) return;
      this.pending.delete(reply.seq);
      if ('crash' in reply) waiting.reject(new Error(`upload parser failed: ${reply.crash}`));
      else waiting.resolve(reply.outcome);
    });
    const fail = (error: Error): void => {
      this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the upload parser thread exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Parses an upload in the background thread (its bytes are moved there, not copied). */
  parse(request: UploadRequest): Promise<UploadOutcome> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      const bytes = request.bytes.byteOffset === 0 && request.bytes.byteLength === request.bytes.buffer.byteLength ? request.bytes : request.bytes.slice();
      this.thread().postMessage({ seq, request: { ...request, bytes } }, [bytes.buffer as ArrayBuffer]);
    });
  }

  /** Stops the thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
