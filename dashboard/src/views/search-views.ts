/**
 * The search section of the study page: a state filter and picked-range bar, and the views
 * (optimisation history with hypervolume, metric distribution, parameter importance, parallel
 * coordinates, slices), all drawn from the same filtered trials and linked through the
 * page's Selection.
 */

import type { StudyView, TrialRecord, TrialState } from '../../../scheduler/types.js';
import { h, setText } from '../dom.js';
import { ALL_TRIAL_STATES, type Selection, type SelectionState } from '../selection.js';
import { CanvasPlot, paddedExtent } from './canvas-plot.js';
import { distributionView } from './distribution-view.js';
import { historyView } from './history-view.js';
import { importanceView } from './importance-view.js';
import { parallelView } from './parallel-view.js';
import { paramAxes, type ParamAxis } from './param-axes.js';
import { sliceView } from './slice-view.js';
import { metricOf, type SearchData, type SearchView } from './view-data.js';

/** The search section: `filterBar` goes above every plot of the page, `root` below the Pareto plot. */
export interface SearchViews {
  readonly filterBar: HTMLElement;
  readonly root: HTMLElement;
  /** Draws the study's (new) trials. */
  update(study: StudyView): void;
  /** Milliseconds the last full redraw took (read by the benchmark). */
  readonly lastDrawMs: number;
}

function panel(title: string, note: string, view: SearchView, wide: boolean): HTMLElement {
  return h(
    'section',
    { class: `card panel${wide ? ' panel-wide' : ''}` },
    h('div', { class: 'panel-head' }, h('h2', null, title), h('p', { class: 'panel-note' }, note)),
    view.root,
  );
}

/** Builds the search section, subscribed to `selection`. */
export function createSearchViews(selection: Selection): SearchViews {
  const history = historyView(selection);
  const distribution = distributionView(selection);
  const importance = importanceView();
  const parallel = parallelView(selection);
  const slices = sliceView(selection);
  const views = [history, distribution, importance, parallel, slices];

  // ---- the filter bar ----
  const counts = new Map<TrialState, HTMLElement>();
  const chips = h('span', { class: 'filter-chips' });
  const boxes = ALL_TRIAL_STATES.map((state) => {
    const input = h('input', { type: 'checkbox', checked: true, 'data-state': state });
    input.addEventListener('change', () => selection.showStates(boxes.filter((b) => b.checked).map((b) => b.dataset['state'] as TrialState)));
    const count = h('span', { class: 'filter-count' }, '0');
    counts.set(state, count);
    chips.append(h('label', { class: `filter-chip chip-${state}` }, input, h('span', { class: `dot-state state-${state}` }), state, count));
    return input;
  });
  const pickedNote = h('span', { class: 'picked-note', 'data-testid': 'picked-note' });
  const clear = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'clear-selection', hidden: true }, 'Clear selection');
  clear.addEventListener('click', () => {
    selection.pick([]);
    if (selection.current.focused !== undefined) selection.toggleFocus(selection.current.focused);
  });
  const filterBar = h('div', { class: 'card filter-bar', 'data-testid': 'state-filter' }, h('span', { class: 'filter-title' }, 'Show'), chips, pickedNote, clear);

  const root = h(
    'div',
    { class: 'search-views', 'data-testid': 'search-views' },
    h(
      'div',
      { class: 'panels' },
      panel('Optimisation history', 'metric by trial, running best (blue) · drag to pick a range', history, false),
      panel('Metric distribution', 'empirical CDF · drag to pick a range', distribution, false),
    ),
    h('div', { class: 'panels' }, panel('Parallel coordinates', 'search parameters and the metric, coloured by metric', parallel, true)),
    h(
      'div',
      { class: 'panels panels-importance' },
      panel('Parameter importance', 'main effects', importance, false),
      panel('Slices', 'each parameter against the metric · drag to pick', slices, false),
    ),
  );

  let study: StudyView | undefined;
  let axes: readonly ParamAxis[] = [];
  let axesKey = '';
  let shown: readonly TrialRecord[] = [];
  let shownFor: { trials: readonly TrialRecord[]; states: ReadonlySet<TrialState> } | undefined;
  let metricRange: [number, number] = [0, 1];
  let lastDrawMs = 0;

  const draw = (sel: SelectionState): void => {
    if (!study) return;
    const started = performance.now();
    if (shownFor?.trials !== study.trials || shownFor.states !== sel.states) {
      shown = study.trials.filter((t) => sel.states.has(t.state));
      shownFor = { trials: study.trials, states: sel.states };
    }
    for (const box of boxes) box.checked = sel.states.has(box.dataset['state'] as TrialState);
    const data: SearchData = { study, shown, axes, metricName: study.spec.task.metric, metricRange };
    // Plots draw once the layout has given them a width (CanvasPlot.onResize calls back).
    for (const view of views) view.layout?.(data);
    if (!CanvasPlot.allMeasured()) return;
    const perView: number[] = [];
    for (const view of views) {
      const t = performance.now();
      view.draw(data, sel);
      perView.push(Math.round(performance.now() - t));
    }
    root.dataset['viewMs'] = perView.join(',');
    const picked = sel.picked.size;
    setText(pickedNote, [picked > 0 ? `${picked} trials picked` : '', sel.focused !== undefined ? `trial #${sel.focused} focused` : ''].filter(Boolean).join(' · '));
    clear.hidden = picked === 0 && sel.focused === undefined;
    lastDrawMs = performance.now() - started;
    root.dataset['drawMs'] = lastDrawMs.toFixed(1);
    root.dataset['shown'] = String(shown.length);
  };

  selection.subscribe(draw);
  CanvasPlot.onResize(() => draw(selection.current));

  return {
    filterBar,
    root,
    get lastDrawMs() {
      return lastDrawMs;
    },
    update(next) {
      study = next;
      const key = JSON.stringify(next.spec.searchSpace);
      if (key !== axesKey) {
        axesKey = key;
        axes = paramAxes(next.spec.searchSpace);
      }
      const byState = new Map<TrialState, number>();
      for (const t of next.trials) byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
      for (const [state, el] of counts) setText(el, String(byState.get(state) ?? 0));
      metricRange = paddedExtent(next.trials.map((t) => metricOf(t) ?? Number.NaN));
      draw(selection.current);
    },
  };
}
