/** Work deferred to the page's idle time, after the frame the user is waiting for. */

/** What an idle callback learns: how long the page expects to stay idle. */
export interface IdleDeadline {
  timeRemaining(): number;
  readonly didTimeout: boolean;
}

/** Runs `work` when the page is idle (after the frame), or within `timeout` ms at the latest. */
export function whenIdle(work: (deadline: IdleDeadline) => void, timeout: number): void {
  if (typeof window.requestIdleCallback === 'function') window.requestIdleCallback(work, { timeout });
  else window.setTimeout(() => work({ timeRemaining: () => 8, didTimeout: true }), 1);
}
