/**
 * The search section of the study page: a state filter and picked-range bar, and the views
 * (optimisation history with hypervolume, metric distribution, parameter importance, parallel
 * coordinates, slices), all drawn from the same filtered trials and linked through the
 * page's Selection.
 *
 * Only the views in (or near) the viewport draw at once; the others are brought up to date
 * in idle time after the frame, one per idle slice, and at once when scrolled into view. At
 * 10,000 trials each view takes tens of milliseconds, and a filter or a click should cost
 * what the user can see, not the whole page.
 */

import type { StudyView, TrialState } from '../../../scheduler/types.js';
import { h, setText } from '../dom.js';
import { whenIdle } from '../idle.js';
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
  /** Milliseconds the views took to draw the current data and selection, summed (read by the benchmark). */
  readonly lastDrawMs: number;
}

/** Each view's panel, to watch which are in view. */
const PANELS = new WeakMap<Element, SearchView>();

function panel(title: string, note: string, view: SearchView, wide: boolean): HTMLElement {
  return watched(view, h(
    'section',
    { class: `card panel${wide ? ' panel-wide' : ''}` },
    h('div', { class: 'panel-head' }, h('h2', null, title), h('p', { class: 'panel-note' }, note)),
    view.root,
  ));
}

function watched(view: SearchView, el: HTMLElement): HTMLElement {
  PANELS.set(el, view);
  return el;
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
  let metricRange: [number, number] = [0, 1];
  let lastDrawMs = 0;
  /** The data the views draw, a new object only when the trials, filter, axes or range change (views cache on it). */
  let data: SearchData | undefined;
  let dataFor: { study: StudyView; states: ReadonlySet<TrialState>; axes: readonly ParamAxis[]; metricRange: [number, number] } | undefined;
  /** What each view last drew, and how long that took. */
  const drawnWith = new Map<SearchView, { data: SearchData; sel: SelectionState; ms: number }>();
  /** Views whose panel is in or near the viewport (an intersection observer keeps this). */
  const inView = new Set<SearchView>();
  let current: { data: SearchData; sel: SelectionState } | undefined;
  let idlePending = false;

  const isCurrent = (view: SearchView): boolean => {
    const d = drawnWith.get(view);
    return d !== undefined && current !== undefined && d.data === current.data && d.sel === current.sel;
  };
  const drawView = (view: SearchView): void => {
    if (!current || isCurrent(view)) return;
    const t = performance.now();
    view.draw(current.data, current.sel);
    drawnWith.set(view, { ...current, ms: performance.now() - t });
  };
  /** Publishes, once every view shows the current state, what the benchmark and tests read. */
  const settle = (): void => {
    // How many views still show an older state (drawn in idle time); 0 when all are current.
    root.dataset['pending'] = String(current ? views.filter((v) => !isCurrent(v)).length : views.length);
    if (!current || !views.every(isCurrent)) return;
    const perView = views.map((v) => drawnWith.get(v)!.ms);
    root.dataset['viewMs'] = perView.map((ms) => Math.round(ms)).join(',');
    lastDrawMs = perView.reduce((a, b) => a + b, 0);
    root.dataset['drawMs'] = lastDrawMs.toFixed(1);
    root.dataset['shown'] = String(current.data.shown.length);
  };
  const drawInIdleTime = (): void => {
    if (idlePending) return;
    idlePending = true;
    whenIdle((deadline) => {
      idlePending = false;
      // At least one view per slice, more while the frame's idle time lasts.
      for (const view of views) {
        if (isCurrent(view)) continue;
        drawView(view);
        if (deadline.timeRemaining() < 12) break;
      }
      if (views.some((v) => !isCurrent(v))) drawInIdleTime();
      settle();
    }, 500);
  };
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const view = PANELS.get(entry.target);
        if (!view) continue;
        if (entry.isIntersecting) inView.add(view);
        else inView.delete(view);
        if (entry.isIntersecting && !isCurrent(view)) drawView(view);
      }
      settle();
    },
    { rootMargin: '120px 0px' },
  );
  for (const el of root.querySelectorAll('section')) if (PANELS.has(el)) observer.observe(el);

  const draw = (sel: SelectionState): void => {
    if (!study) return;
    if (dataFor?.study !== study || dataFor.states !== sel.states || dataFor.axes !== axes || dataFor.metricRange !== metricRange) {
      const shown = study.trials.filter((t) => sel.states.has(t.state));
      data = { study, shown, axes, metricName: study.spec.task.metric, metricRange };
      dataFor = { study, states: sel.states, axes, metricRange };
    }
    for (const box of boxes) box.checked = sel.states.has(box.dataset['state'] as TrialState);
    const picked = sel.picked.size;
    setText(pickedNote, [picked > 0 ? `${picked} trials picked` : '', sel.focused !== undefined ? `trial #${sel.focused} focused` : ''].filter(Boolean).join(' · '));
    clear.hidden = picked === 0 && sel.focused === undefined;
    // Plots draw once the layout has given them a width (CanvasPlot.onResize calls back).
    for (const view of views) view.layout?.(data!);
    if (!CanvasPlot.allMeasured()) return;
    current = { data: data!, sel };
    for (const view of views) if (inView.has(view)) drawView(view);
    if (views.some((v) => !isCurrent(v))) drawInIdleTime();
    settle();
  };

  selection.subscribe(draw);
  CanvasPlot.onResize(() => {
    // A new width redraws every view (the canvases were cleared by the resize).
    drawnWith.clear();
    draw(selection.current);
  }, root);

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
      const range = paddedExtent(next.trials.map((t) => metricOf(t) ?? Number.NaN));
      if (range[0] !== metricRange[0] || range[1] !== metricRange[1]) metricRange = range;
      draw(selection.current);
    },
  };
}
