/** The studies list (`#/`). */

import type { StudySummary } from '../../scheduler/types.js';
import { fetchStudies, studyHash } from './api.js';
import { h, setText, syncRows } from './dom.js';
import { fmtDateTime, fmtMetric } from './format.js';
import { Coalescer } from './live.js';
import { problemText, progressBar, stateBadge, type View, type ViewContext } from './ui.js';

const COLUMNS: { label: string; numeric?: boolean }[] = [
  { label: 'Study' },
  { label: 'State' },
  { label: 'Dataset' },
  { label: 'Base model' },
  { label: 'Metric' },
  { label: 'Trials' },
  { label: 'Best', numeric: true },
  { label: 'Created' },
];

function studyRow(study: StudySummary): HTMLTableRowElement {
  const inFlight = Math.max(0, study.trialsTotal - study.trialsDone);
  // Re-evaluation trials come after the budget: the budget's progress stops at its end.
  const done = Math.min(study.trialsDone, study.maxTrials);
  return h(
    'tr',
    { class: 'clickable', 'data-testid': 'study-row', 'data-study-id': study.id },
    h(
      'td',
      { class: 'cell-name' },
      h('a', { class: 'study-link', href: studyHash(study.id), title: study.name }, study.name || '(unnamed)'),
      h('div', { class: 'sub' }, h('span', { class: 'mono' }, study.id), study.owner ? h('span', { 'data-testid': 'study-owner' }, ` · by ${study.owner}`) : null),
    ),
    h('td', null, stateBadge(study.state)),
    h('td', { class: 'nowrap' }, study.dataset),
    h('td', { class: 'nowrap' }, study.baseModel),
    h('td', { class: 'nowrap' }, study.metric),
    h(
      'td',
      { class: 'cell-progress', title: `${study.trialsDone} finished, ${inFlight} in progress, budget ${study.maxTrials}` },
      h(
        'div',
        { class: 'progress-line' },
        h('span', { class: 'num' }, `${done} / ${study.maxTrials}`),
        inFlight > 0 ? h('span', { class: 'sub' }, `+${inFlight} active`) : null,
      ),
      progressBar(done, study.maxTrials),
    ),
    h('td', { class: 'num strong' }, fmtMetric(study.bestMetric)),
    h('td', { class: 'nowrap muted' }, fmtDateTime(study.createdAt)),
  );
}

/** Builds the studies list page. */
export function createListView(ctx: ViewContext): View {
  const abort = new AbortController();
  const count = h('span', { class: 'page-count' });
  const body = h('tbody');
  const message = h('td', { colspan: COLUMNS.length, class: 'empty' }, 'Loading studies…');
  const emptyBody = h('tbody', { class: 'empty-body' }, h('tr', null, message));
  const table = h(
    'table',
    { class: 'data-table', 'data-testid': 'studies-table' },
    h('thead', null, h('tr', null, ...COLUMNS.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, c.label)))),
    body,
    emptyBody,
  );
  const root = h(
    'section',
    { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'Studies'), count, h('a', { class: 'button page-action', href: '#/new', 'data-testid': 'new-study' }, 'New study')),
    h('div', { class: 'card table-card' }, h('div', { class: 'table-wrap' }, table)),
  );
  ctx.setTitle('Studies');

  body.addEventListener('click', (event) => {
    const target = event.target as Element;
    if (target.closest('a')) return;
    const row = target.closest<HTMLTableRowElement>('tr[data-study-id]');
    const id = row?.dataset['studyId'];
    if (id !== undefined && !window.getSelection()?.toString()) location.hash = studyHash(id);
  });

  let loaded = false;
  const render = (studies: StudySummary[]): void => {
    const sorted = [...studies].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
    syncRows(body, sorted, (st) => st.id, (st) => JSON.stringify(st), studyRow);
    emptyBody.hidden = sorted.length > 0;
    setText(message, 'No studies yet. Create one with New study (or POST /api/studies) and it will appear here.');
    setText(count, sorted.length === 1 ? '1 study' : `${sorted.length} studies`);
  };

  const loader = new Coalescer(async () => {
    try {
      const studies = await fetchStudies(abort.signal);
      if (abort.signal.aborted) return;
      loaded = true;
      ctx.setProblem(null);
      render(studies);
    } catch (error) {
      if (abort.signal.aborted) return;
      ctx.setProblem(problemText(error));
      if (!loaded) setText(message, 'Studies could not be loaded. Retrying…');
    }
  });

  return {
    root,
    refresh: () => loader.request(),
    wants: () => true,
    destroy: () => abort.abort(),
  };
}
