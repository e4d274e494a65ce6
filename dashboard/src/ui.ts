/** Pieces shared by the pages: the page contract, state badges, progress bars. */

import type { StudyState, TrialState } from '../../scheduler/types.js';
import { ApiError } from './api.js';
import { h } from './dom.js';
import type { LiveEvent } from './live.js';

/** What a page can tell the shell. */
export interface ViewContext {
  /** Shows (or with null, clears) the problem banner, e.g. when the API is unreachable. */
  setProblem(message: string | null): void;
  /** Sets the document title (the app name is appended). */
  setTitle(title: string): void;
}

/** A page: built once per route, refreshed in place while it is shown. */
export interface View {
  readonly root: HTMLElement;
  /** Fetches fresh data and updates the page; concurrent calls coalesce. Never throws. */
  refresh(): void;
  /** Whether a live event concerns this page. */
  wants(event: LiveEvent): boolean;
  /** Stops pending requests; the page is about to be removed. */
  destroy(): void;
}

/** A coloured badge showing a study or trial state; the text is exactly the state. */
export function stateBadge(state: StudyState | TrialState, testId?: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${state}`, 'data-state': state, 'data-testid': testId }, state);
}

/** A thin progress bar for `done` of `total`. */
export function progressBar(done: number, total: number): HTMLSpanElement {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const fill = h('span', { class: 'progress-fill' });
  fill.style.width = `${(fraction * 100).toFixed(1)}%`;
  return h(
    'span',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': total,
      'aria-valuenow': done,
    },
    fill,
  );
}

/** The message to show for a failed request. */
export function problemText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return 'Cannot reach the AutoPEFT API.';
    const detail = error.message.replace(/[.\s]+$/, '');
    if (error.status >= 500) return `The AutoPEFT API reported a server error (${error.status}: ${detail}).`;
    return `The request failed (${error.status}: ${detail}).`;
  }
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong while talking to the API.';
}
