/**
 * One function run in a background thread: CPU-heavy work (a GP fit, parsing an upload) leaves
 * the event loop free for requests and events. The thread starts on the first call, is kept,
 * runs calls in order, and is started again if it dies.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

type Reply<Res> = { seq: number; result: Res } | { seq: number; crash: string };

/** Calls a module's {@link serveInThread} handler in a thread of its own. */
export class BackgroundThread<Req, Res> {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (result: Res) => void; reject: (error: Error) => void }>();

  /**
   * @param moduleUrl the module that calls {@link serveInThread} (a TypeScript file: the thread
   *   registers tsx first, as the command line does).
   * @param transferOf buffers of a request to move to the thread instead of copying them.
   */
  constructor(
    private readonly moduleUrl: URL,
    private readonly transferOf: (request: Req) => ArrayBuffer[] = () => [],
  ) {}

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./thread-entry.js', import.meta.url), { workerData: { module: this.moduleUrl.href } });
    worker.on('message', (reply: Reply<Res>) => {
      const waiting = this.pending.get(reply.seq);
      if (!waiting) return;
      this.pending.delete(reply.seq);
      if ('crash' in reply) waiting.reject(new Error(reply.crash));
      else waiting.resolve(reply.result);
    });
    const fail = (error: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the background thread exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Runs the handler on `request` in the thread. */
  run(request: Req): Promise<Res> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.thread().postMessage({ seq, request }, this.transferOf(request));
    });
  }

  /** Stops the thread (a later call starts a new one). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}

/**
 * In the thread that a {@link BackgroundThread} of `moduleUrl` started, answers every request
 * with `handler`; anywhere else it does nothing, so the module can be imported as usual.
 */
export function serveInThread<Req, Res>(moduleUrl: string, handler: (request: Req) => Res, transferOf: (result: Res) => ArrayBuffer[] = () => []): void {
  const data = workerData as { module?: unknown } | null;
  if (isMainThread || !parentPort || data?.module !== moduleUrl) return;
  const port = parentPort;
  port.on('message', ({ seq, request }: { seq: number; request: Req }) => {
    let reply: Reply<Res>;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = handler(request);
      reply = { seq, result };
      transfer = transferOf(result);
    } catch (error) {
      reply = { seq, crash: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    port.postMessage(reply, transfer);
  });
}
