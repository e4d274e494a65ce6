/**
 * Live updates: server-sent events from `/api/events`, with a 5-second poll while the event
 * stream is down. Also a small helper that coalesces refresh requests.
 */

/** One change notification from the server. */
export interface LiveEvent {
  /** The study that changed; absent when the message could not be read (treat as "anything"). */
  studyId?: string;
  type: string;
}

/** How the page currently learns about changes. */
export type LiveStatus = 'connecting' | 'live' | 'polling';

/** Fallback poll interval while the event stream is unavailable. */
export const POLL_MS = 5000;

function parseEvent(data: unknown): LiveEvent {
  if (typeof data === 'string') {
    try {
      const parsed: unknown = JSON.parse(data);
      if (typeof parsed === 'object' && parsed !== null) {
        const record = parsed as Record<string, unknown>;
        const studyId = record['studyId'];
        const type = record['type'];
        return {
          studyId: typeof studyId === 'string' ? studyId : undefined,
          type: typeof type === 'string' ? type : 'unknown',
        };
      }
    } catch {
      // Fall through: an unreadable message still means something changed.
    }
  }
  return { type: 'unknown' };
}

/**
 * Subscribes to `/api/events`. `onEvent` receives every message; `onPoll` is called every
 * {@link POLL_MS} ms while the stream is in error, and once when it comes back (to catch up on
 * what was missed). Returns a function that stops everything.
 */
export function connectLive(
  onEvent: (event: LiveEvent) => void,
  onPoll: () => void,
  onStatus: (status: LiveStatus) => void,
): () => void {
  let source: EventSource | undefined;
  let pollTimer: number | undefined;
  let reconnectTimer: number | undefined;
  let hadError = false;
  let stopped = false;

  const startPolling = (): void => {
    if (pollTimer === undefined) pollTimer = window.setInterval(onPoll, POLL_MS);
  };
  const stopPolling = (): void => {
    if (pollTimer !== undefined) window.clearInterval(pollTimer);
    pollTimer = undefined;
  };

  const open = (): void => {
    reconnectTimer = undefined;
    if (stopped) return;
    if (typeof EventSource === 'undefined') {
      onStatus('polling');
      startPolling();
      return;
    }
    const es = new EventSource('/api/events');
    source = es;
    es.onopen = () => {
      stopPolling();
      onStatus('live');
      if (hadError) onPoll();
      hadError = false;
    };
    es.onmessage = (message: MessageEvent) => onEvent(parseEvent(message.data));
    es.onerror = () => {
      hadError = true;
      onStatus('polling');
      startPolling();
      // The browser retries by itself unless the stream was refused; then retry ourselves.
      if (es.readyState === EventSource.CLOSED && reconnectTimer === undefined && !stopped) {
        es.close();
        reconnectTimer = window.setTimeout(open, POLL_MS);
      }
    };
  };

  onStatus('connecting');
  open();

  return () => {
    stopped = true;
    stopPolling();
    if (reconnectTimer !== undefined) window.clearTimeout(reconnectTimer);
    source?.close();
  };
}

/**
 * Runs an async task so that at most one run is in flight; requests made meanwhile collapse into
 * one more run after it. The task must handle its own errors.
 */
export class Coalescer {
  private running = false;
  private again = false;

  constructor(private readonly task: () => Promise<void>) {}

  /** Asks for a run: now if idle, else once the current run ends. */
  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.task();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }
}
