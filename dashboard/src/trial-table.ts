/**
 * The study page's trial table: sort by any column, a filter box under every header, CSV export
 * of the rows the filters keep, and virtualised rendering (only the rows in view are in the
 * DOM), so a 10,000-trial study sorts and filters as fast as a small one. A row click focuses
 * the trial in the page's {@link Selection}; rows the selection excludes are hidden.
 */

import type { TrialRecord } from '../../scheduler/types.js';
import { reportAxis, sparkline, type Highlights } from './charts.js';
import { h, setAttr, setText } from './dom.js';
import { BASELINES } from '../../search/baselines.js';
import { fmtCountFull, fmtDateTime, fmtDuration, fmtLayers, fmtLearningRate, fmtMetric, fmtPercent, peftLayers, peftModules } from './format.js';
import { ALL_TRIAL_STATES, type Selection } from './selection.js';
import { columnFilter, lastReport, queryTrials, trialColumns, trialsCsv, type ColumnFilter, type SortOrder, type TrialColumn } from './trial-query.js';
import { stateBadge } from './ui.js';

/** Height of one row in pixels; fixed, so the rows in view follow from the scroll offset alone. */
export const ROW_HEIGHT = 38;
/** Rows rendered above and below the visible ones, so a fast scroll does not show blanks. */
const OVERSCAN = 8;
/** Width of each column in pixels (the layout is fixed so columns do not jump while scrolling). */
const WIDTHS: Record<string, number> = {
  number: 56, state: 104, modules: 230, layers: 96, learningRate: 76, trainableParams: 104, trainablePercent: 80,
  metric: 130, lastReport: 110, reports: 90, worker: 130,
};

/** What the table shows of a study. */
export interface TrialTableInput {
  trials: readonly TrialRecord[];
  marks: Highlights;
  /** The study metric's name, for the column titles. */
  metric: string;
  /** Steps of one trial, for the sparklines' x axis. */
  maxSteps: number;
  /** Names of the study's search parameters (CSV columns `param.<name>`). */
  paramNames: readonly string[];
  /** The CSV's file name, without extension. */
  fileStem: string;
}

/** The mounted table. */
export interface TrialTable {
  readonly root: HTMLElement;
  /** Shows a (new or changed) study; keeps sort, filters and scroll position. */
  update(input: TrialTableInput): void;
}

function metricCell(trial: TrialRecord, marks: Highlights): HTMLTableCellElement {
  const isBest = marks.best === trial.number;
  const onFront = marks.pareto.has(trial.number);
  if (trial.metric !== undefined) {
    return h(
      'td',
      { class: 'num strong' },
      fmtMetric(trial.metric),
      isBest ? h('span', { class: 'tag tag-best', title: 'Best trial' }, 'best') : null,
      onFront && !isBest ? h('span', { class: 'tag tag-pareto', title: 'Pareto-optimal' }, 'pareto') : null,
    );
  }
  if (trial.state === 'failed' && trial.error) return h('td', { class: 'error-text truncate', title: trial.error }, trial.error);
  return h('td', { class: 'num muted' }, '—');
}

function trialRow(trial: TrialRecord, input: TrialTableInput, axis: ReturnType<typeof reportAxis>): HTMLTableRowElement {
  const modules = peftModules(trial.peft);
  const layers = peftLayers(trial.peft);
  const last = lastReport(trial);
  const timing =
    trial.finishedAt !== undefined
      ? `ran ${fmtDuration(trial.startedAt, trial.finishedAt)}`
      : trial.startedAt !== undefined
        ? `started ${fmtDateTime(trial.startedAt)}`
        : `created ${fmtDateTime(trial.createdAt)}`;
  const stateTitle = [timing, trial.attempts > 1 ? `${trial.attempts} attempts` : '', trial.error ?? ''].filter(Boolean).join(' · ');
  return h(
    'tr',
    {
      class: `clickable trial-row${input.marks.pareto.has(trial.number) ? ' is-pareto' : ''}`,
      'data-testid': 'trial-row',
      tabindex: 0,
      'data-trial-number': trial.number,
      'data-state': trial.state,
    },
    h('td', { class: 'num' }, String(trial.number)),
    h('td', { title: stateTitle || null }, stateBadge(trial.state)),
    h(
      'td',
      { class: 'nowrap clip' },
      h(
        'span',
        { class: 'chips' },
        // A baseline says so first: it is the yardstick, not a configuration the search found.
        trial.baseline !== undefined ? h('span', { class: 'tag tag-baseline', 'data-testid': 'baseline-tag', title: `Baseline: ${BASELINES[trial.baseline].settings}` }, 'baseline') : null,
        // A re-evaluation repeats a found configuration with another training seed: same chips, another trial.
        trial.reevaluation !== undefined
          ? h('span', { class: 'tag tag-reevaluation', 'data-testid': 'reevaluation-tag', title: `Re-evaluation of trial ${trial.reevaluation.of} with training seed ${trial.reevaluation.seed} (outside the budget)` }, `re-eval #${trial.reevaluation.of}`)
          : null,
        ...(modules.length > 0 ? modules.map((m) => h('span', { class: 'chip', title: m.title }, m.label)) : ['head only']),
      ),
    ),
    h('td', { class: 'nowrap clip', title: `${layers.length} layers` }, fmtLayers(layers)),
    h('td', { class: 'num' }, fmtLearningRate(trial.training.learningRate)),
    h('td', { class: 'num' }, fmtCountFull(trial.trainableParams)),
    h('td', { class: 'num' }, fmtPercent(trial.trainablePercent)),
    metricCell(trial, input.marks),
    h(
      'td',
      { class: 'nowrap' },
      last
        ? h('span', { title: `${fmtMetric(last.value)} at step ${last.step}` }, fmtMetric(last.value), h('span', { class: 'muted small' }, ` @${last.step}`))
        : h('span', { class: 'muted' }, '—'),
    ),
    h('td', { class: 'cell-spark' }, sparkline(trial, axis, input.maxSteps)),
    h('td', { class: 'mono small clip', title: [trial.worker, trial.backend].filter(Boolean).join(' · ') || null }, trial.worker ?? '—'),
  );
}

/** Saves `text` as a file named `name` (made in the page: no request, so no token needed). */
function saveText(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Builds the table; it reads and sets `selection`. */
export function createTrialTable(selection: Selection): TrialTable {
  let input: TrialTableInput | undefined;
  let columns: TrialColumn[] = trialColumns('metric');
  let order: SortOrder = { column: 'number', ascending: true };
  const filterText = new Map<string, string>();
  let filters: ColumnFilter[] = [];
  /** The trials the filters and the selection keep, in sort order. */
  let rows: TrialRecord[] = [];
  let axis: ReturnType<typeof reportAxis> = null;
  /** Rendered rows by trial number, reused while the trial (same object) and its marks do not change. */
  const built = new Map<number, { trial: TrialRecord; sig: string; row: HTMLTableRowElement }>();

  const count = h('span', { class: 'panel-note', 'data-testid': 'trial-count' });
  const exportButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'export-csv', title: 'The rows the filters keep, with full-precision values and every search parameter' }, 'Export CSV');
  const clearButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'clear-filters', hidden: true }, 'Clear filters');
  const colgroup = h('colgroup');
  const headRow = h('tr');
  const filterRow = h('tr', { class: 'filter-row' });
  const topSpacer = h('tr', { class: 'spacer', 'aria-hidden': 'true' });
  const bottomSpacer = h('tr', { class: 'spacer', 'aria-hidden': 'true' });
  const body = h('tbody', { 'data-testid': 'trials-body' });
  const emptyCell = h('td', { class: 'empty' }, 'No trials yet. They appear here as soon as the scheduler starts them.');
  const emptyBody = h('tbody', { class: 'empty-body', hidden: true }, h('tr', null, emptyCell));
  const table = h('table', { class: 'data-table trials', 'data-testid': 'trials-table' }, colgroup, h('thead', null, headRow, filterRow), body, emptyBody);
  const scroller = h('div', { class: 'table-scroll', 'data-testid': 'trials-scroll' }, table);
  const root = h(
    'section',
    { class: 'card panel table-panel' },
    h('div', { class: 'panel-head' }, h('h2', null, 'Trials'), count, h('span', { class: 'panel-actions' }, clearButton, exportButton)),
    scroller,
  );

  // ---- header, sort buttons and filter boxes (rebuilt only when the metric name changes) ----
  const sortButtons = new Map<string, HTMLElement>();
  const buildHead = (): void => {
    colgroup.replaceChildren(...columns.map((c) => h('col', { 'data-col': c.id })));
    colgroup.querySelectorAll('col').forEach((col, i) => {
      (col as HTMLElement).style.width = `${WIDTHS[columns[i]!.id] ?? 100}px`;
    });
    sortButtons.clear();
    headRow.replaceChildren(
      ...columns.map((col) => {
        const button = h('button', { type: 'button', class: 'sort', 'data-sort': col.id }, col.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
        sortButtons.set(col.id, button);
        button.addEventListener('click', () => {
          // Metrics start best first; everything else starts ascending.
          order = order.column === col.id ? { column: col.id, ascending: !order.ascending } : { column: col.id, ascending: col.id !== 'metric' && col.id !== 'lastReport' };
          refilter();
        });
        return h('th', { scope: 'col', class: col.kind === 'number' ? 'num' : null, title: col.title, 'data-col': col.id }, button);
      }),
    );
    filterRow.replaceChildren(
      ...columns.map((col) => {
        const current = filterText.get(col.id) ?? '';
        let control: HTMLInputElement | HTMLSelectElement;
        if (col.kind === 'state') {
          control = h('select', { 'data-filter': col.id, 'aria-label': `Filter ${col.label}` }, h('option', { value: '' }, 'all'), ...ALL_TRIAL_STATES.map((st) => h('option', { value: st }, st)));
          control.value = current;
          control.addEventListener('change', () => setFilter(col, control.value, control));
        } else {
          control = h('input', {
            type: 'text',
            'data-filter': col.id,
            'aria-label': `Filter ${col.label}`,
            placeholder: col.kind === 'number' ? '>0.8' : 'contains',
            title: col.kind === 'number' ? 'A comparison (>0.8, <=100, =3) or a range (0.5..0.9)' : 'Rows whose text contains this (any case)',
            autocomplete: 'off',
            spellcheck: false,
          });
          control.value = current;
          control.addEventListener('input', () => setFilter(col, control.value, control));
        }
        return h('th', { class: 'filter-cell' }, control);
      }),
    );
    emptyCell.setAttribute('colspan', String(columns.length));
  };

  const setFilter = (col: TrialColumn, text: string, control: HTMLInputElement | HTMLSelectElement): void => {
    filterText.set(col.id, text);
    const parsed = columnFilter(col, text);
    const error = parsed && 'error' in parsed ? parsed.error : null;
    setAttr(control, 'aria-invalid', error ? 'true' : null);
    setAttr(control, 'title', error ?? (control instanceof HTMLInputElement ? (col.kind === 'number' ? 'A comparison (>0.8, <=100, =3) or a range (0.5..0.9)' : 'Rows whose text contains this (any case)') : null));
    refilter();
  };

  const parseFilters = (): ColumnFilter[] => {
    const parsed: ColumnFilter[] = [];
    for (const col of columns) {
      const f = columnFilter(col, filterText.get(col.id) ?? '');
      if (f && !('error' in f)) parsed.push(f);
    }
    return parsed;
  };

  // ---- the rows in view ----
  const renderWindow = (): void => {
    // The scroller's height follows its content up to a maximum: render again while the rows
    // rendered do not fill it (the first render of a page sees the empty table's height).
    for (let pass = 0, height = -1; pass < 4 && scroller.clientHeight > height; pass++) {
      height = scroller.clientHeight;
      renderRows(height || 600);
    }
  };
  const renderRows = (viewHeight: number): void => {
    if (!input) return;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((scroller.scrollTop + viewHeight) / ROW_HEIGHT) + OVERSCAN);
    const focused = selection.current.focused;
    const visible: HTMLTableRowElement[] = [];
    for (let i = first; i < last; i++) {
      const trial = rows[i]!;
      const sig = `${input.marks.pareto.has(trial.number)}|${input.marks.best === trial.number}`;
      let entry = built.get(trial.number);
      if (!entry || entry.trial !== trial || entry.sig !== sig) {
        entry = { trial, sig, row: trialRow(trial, input, axis) };
        built.set(trial.number, entry);
      }
      entry.row.classList.toggle('is-selected', trial.number === focused);
      visible.push(entry.row);
    }
    topSpacer.style.height = `${first * ROW_HEIGHT}px`;
    bottomSpacer.style.height = `${(rows.length - last) * ROW_HEIGHT}px`;
    body.replaceChildren(topSpacer, ...visible, bottomSpacer);
  };

  let frame: number | undefined;
  scroller.addEventListener('scroll', () => {
    frame ??= window.requestAnimationFrame(() => {
      frame = undefined;
      renderWindow();
    });
  });

  const refilter = (): void => {
    if (!input) return;
    filters = parseFilters();
    rows = queryTrials(input.trials, columns, filters, order, (t) => selection.includes(t.state, t.number));
    for (const [id, button] of sortButtons) {
      const active = id === order.column;
      setAttr(button.parentElement!, 'aria-sort', active ? (order.ascending ? 'ascending' : 'descending') : null);
      const mark = button.querySelector('.sort-mark');
      if (mark) setText(mark, active ? (order.ascending ? ' ▲' : ' ▼') : '');
    }
    const total = input.trials.length;
    emptyBody.hidden = rows.length > 0;
    setText(emptyCell, total === 0 ? 'No trials yet. They appear here as soon as the scheduler starts them.' : 'No trial matches the filters.');
    setText(count, rows.length === total ? `${total} trial${total === 1 ? '' : 's'}` : `${rows.length} of ${total} trials shown`);
    clearButton.hidden = filters.length === 0 && ![...filterText.values()].some((t) => t.trim() !== '');
    exportButton.textContent = `Export CSV (${rows.length})`;
    if (built.size > 4 * rows.length + 500) built.clear();
    renderWindow();
  };

  // ---- focus: a row click focuses the trial; a focus set elsewhere scrolls its row into view ----
  body.addEventListener('click', (event) => {
    const row = (event.target as Element).closest<HTMLTableRowElement>('tr[data-trial-number]');
    if (row && !window.getSelection()?.toString()) selection.toggleFocus(Number(row.dataset['trialNumber']));
  });
  body.addEventListener('keydown', (event) => {
    const row = (event.target as Element).closest<HTMLTableRowElement>('tr[data-trial-number]');
    if (row && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      selection.toggleFocus(Number(row.dataset['trialNumber']));
    }
  });
  let lastFocus: number | undefined;
  let lastStates = selection.current.states;
  let lastPicked = selection.current.picked;
  selection.subscribe((state) => {
    if (state.states !== lastStates || state.picked !== lastPicked) {
      lastStates = state.states;
      lastPicked = state.picked;
      refilter();
    } else {
      renderWindow();
    }
    if (state.focused !== undefined && state.focused !== lastFocus) {
      const index = rows.findIndex((t) => t.number === state.focused);
      const top = index * ROW_HEIGHT;
      if (index >= 0 && (top < scroller.scrollTop || top + ROW_HEIGHT > scroller.scrollTop + scroller.clientHeight - ROW_HEIGHT * 2)) {
        scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 3);
        renderWindow();
      }
    }
    lastFocus = state.focused;
  });

  clearButton.addEventListener('click', () => {
    filterText.clear();
    buildHead();
    refilter();
  });
  exportButton.addEventListener('click', () => {
    if (input) saveText(`${input.fileStem}-trials.csv`, 'text/csv', trialsCsv(rows, input.paramNames));
  });

  let metricName: string | undefined;
  let lastAxisKey = '';
  return {
    root,
    update(next) {
      input = next;
      if (next.metric !== metricName) {
        metricName = next.metric;
        columns = trialColumns(next.metric);
        buildHead();
      }
      axis = reportAxis(next.trials);
      const axisKey = axis ? `${axis.lo},${axis.hi}` : '';
      // A new axis changes every sparkline.
      if (axisKey !== lastAxisKey) built.clear();
      lastAxisKey = axisKey;
      refilter();
    },
  };
}

