/**
 * The study page's linked selection: which trials the user picked (a click in the table, a point
 * or a brushed range in any plot) and which trial states are shown. Every view of the page reads
 * it and subscribes to it, so a selection made in one view shows in all of them.
 */

import type { TrialState } from '../../scheduler/types.js';

/** What the user has picked on the study page. */
export interface SelectionState {
  /** The one trial whose detail is open, if any. */
  focused: number | undefined;
  /** Trials picked by a brush or range (empty: no range selection). */
  picked: ReadonlySet<number>;
  /** Trial states shown; a trial of another state is hidden from every view. */
  states: ReadonlySet<TrialState>;
}

/** Every trial state, in display order. */
export const ALL_TRIAL_STATES: readonly TrialState[] = ['running', 'waiting', 'complete', 'pruned', 'failed'];

type Listener = (state: SelectionState) => void;

/** An observable selection; views call the setters and re-render in their listener. */
export class Selection {
  private state: SelectionState = { focused: undefined, picked: new Set(), states: new Set(ALL_TRIAL_STATES) };
  private readonly listeners = new Set<Listener>();

  /** The current selection. */
  get current(): SelectionState {
    return this.state;
  }

  /** Calls `listener` on every change; returns the function that unsubscribes it. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Focuses trial `n` (a second call with the same trial clears the focus). */
  toggleFocus(n: number | undefined): void {
    this.set({ focused: this.state.focused === n ? undefined : n });
  }

  /** Replaces the range selection (an empty set clears it). */
  pick(numbers: Iterable<number>): void {
    this.set({ picked: new Set(numbers) });
  }

  /** Shows only trials in `states`. */
  showStates(states: Iterable<TrialState>): void {
    this.set({ states: new Set(states) });
  }

  /** Whether a trial of this state and number passes the state filter and the range selection. */
  includes(state: TrialState, n: number): boolean {
    return this.state.states.has(state) && (this.state.picked.size === 0 || this.state.picked.has(n));
  }

  private set(change: Partial<SelectionState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener(this.state);
  }
}
