/** What every search view draws from, and the highlight rules they share. */

import type { StudyView, TrialRecord } from '../../../scheduler/types.js';
import type { Selection, SelectionState } from '../selection.js';
import { colours } from './canvas-plot.js';
import type { ParamAxis } from './param-axes.js';

/** The study as the views see it. */
export interface SearchData {
  study: StudyView;
  /** Trials of the states the filter keeps, by number. A new array whenever it changes, so views may cache on it. */
  shown: readonly TrialRecord[];
  /** One axis per search parameter. */
  axes: readonly ParamAxis[];
  /** The study metric's name. */
  metricName: string;
  /** Range of the metric over every trial that has one, so colours do not shift with the filter. */
  metricRange: [number, number];
}

/** A view of the search section: redrawn whenever the data or the selection change. */
export interface SearchView {
  readonly root: HTMLElement;
  /** Builds whatever DOM the data needs before drawing (new plots are laid out first); optional. */
  layout?(data: SearchData): void;
  /** Draws; must not read layout (plots know their widths from the resize observer). */
  draw(data: SearchData, selection: SelectionState): void;
}

/** A view's constructor: it gets the shared Selection to report clicks and brushes to. */
export type SearchViewFactory = (selection: Selection) => SearchView;

/** The metric of a trial that has one (complete, or pruned at its best report). */
export function metricOf(trial: TrialRecord): number | undefined {
  return trial.metric !== undefined && Number.isFinite(trial.metric) ? trial.metric : undefined;
}

/** Whether a trial is drawn dimmed: some trials are picked and this is not one of them. */
export function dimmed(selection: SelectionState, n: number): boolean {
  return selection.picked.size > 0 && !selection.picked.has(n);
}

/** A faint colour for trials outside the picked range. */
export const DIM = 'rgba(152, 162, 179, 0.28)';

/** A trial state's colour. */
export function stateColour(state: TrialRecord['state']): string {
  return colours().states[state] ?? colours().muted;
}

/** Compact figures for axis labels: 0.873, 12.5k, 3.2e-4. */
export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Sets the counts a test reads off a canvas view: trials drawn, picked among them, the focused one. */
export function markDrawn(el: HTMLElement, drawn: number, picked: number, focused: number | undefined): void {
  el.dataset['drawn'] = String(drawn);
  el.dataset['picked'] = String(picked);
  el.dataset['focused'] = focused === undefined ? '' : String(focused);
}
