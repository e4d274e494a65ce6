/**
 * Live updates: server-sent events from `/api/events`, with a 5-second poll while the event
 * stream is down. Also a small helper that coalesces refresh requests.
 */

import { authHeaders, tokenRefused } from './auth.js';

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

/** Delay before the event stream is opened again after it broke. */
const RECONNECT_MS = 2000;

/** The `data:` payloads of the complete server-sent events in `buffer`, and what is left over. */
export function takeEvents(buffer: string): { data: string[]; rest: string } {
  const data: string[] = [];
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const lines = block.split('\n').filter((line) => line.startsWith('data:'));
    if (lines.length > 0) data.push(lines.map((line) => line.slice(5).replace(/^ /, '')).join('\n'));
  }
  return { data, rest };
}

/**
 * Subscribes to `/api/events`. `onEvent` receives every message; `onPoll` is called every
 * {@link POLL_MS} ms while the stream is down, and once when it comes back (to catch up on
 * what was missed). The stream is read with fetch, not EventSource, because it must carry the
 * token in a header. Returns a function that stops everything.
 */
export function connectLive(
  onEvent: (event: LiveEvent) => void,
  onPoll: () => void,
  onStatus: (status: LiveStatus) => void,
): () => void {
  const abort = new AbortController();
  let pollTimer: number | undefined;
  let reconnectTimer: number | undefined;
  let hadError = false;

  const startPolling = (): void => {
    if (pollTimer === undefined) pollTimer = window.setInterval(onPoll, POLL_MS);
  };
  const stopPolling = (): void => {
    if (pollTimer !== undefined) window.clearInterval(pollTimer);
    pollTimer = undefined;
  };

  const open = async (): Promise<void> => {
    reconnectTimer = undefined;
    try {
      const response = await fetch('/api/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, cache: 'no-store', signal: abort.signal });
      if (response.status === 401) tokenRefused('The API refused the token.');
      if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
      stopPolling();
      onStatus('live');
      if (hadError) onPoll();
      hadError = false;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const { data, rest } = takeEvents(buffer + value);
        buffer = rest;
        for (const item of data) onEvent(parseEvent(item));
      }
    } catch {
      // Fall through: the stream broke or was refused.
    }
    if (abort.signal.aborted) return;
    hadError = true;
    onStatus('polling');
    startPolling();
    reconnectTimer = window.setTimeout(() => void open(), RECONNECT_MS);
  };

  onStatus('connecting');
  void open();

  return () => {
    abort.abort();
    stopPolling();
    if (reconnectTimer !== undefined) window.clearTimeout(reconnectTimer);
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
