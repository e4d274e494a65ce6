/** One study (`#/studies/<id>`): header, Pareto scatter, learning curves and the trial table. */

import type { StudyView, TrialRecord, TrialState } from '../../scheduler/types.js';
import { ApiError, bestConfigUrl, cancelStudy, deleteStudy, downloadFile, fetchStudy, fetchTrialsAfter } from './api.js';
import { curvesPlot, reportAxis, scatterPlot, sparkline, type Highlights } from './charts.js';
import { h, setAttr, setChildren, setText, syncRows, type Child } from './dom.js';
import {
  fmtCount,
  fmtCountFull,
  fmtDateTime,
  fmtDuration,
  fmtLayers,
  fmtLearningRate,
  fmtMetric,
  fmtPercent,
  peftLayers,
  peftModules,
} from './format.js';
import { Coalescer, type LiveEvent } from './live.js';
import { bestNumber, paretoNumbers, scoredTrials } from './pareto.js';
import { problemText, progressBar, stateBadge, type View, type ViewContext } from './ui.js';

/** One parameter distribution of the study's search space. */
type Distribution = StudyView['spec']['searchSpace'][string];

type SortKey = 'number' | 'params' | 'metric';

interface Column {
  label: string;
  title?: string;
  sort?: SortKey;
  numeric?: boolean;
}

const COLUMNS: Column[] = [
  { label: '#', sort: 'number', numeric: true, title: 'Trial number' },
  { label: 'State' },
  { label: 'Modules', title: 'PEFT modules and their sizes; LoRA targets: Q, K, V, O (attention output), FFN-in, FFN-out' },
  { label: 'Layers', title: 'Layers carrying a module (zero-based)' },
  { label: 'LR', numeric: true, title: 'Learning rate' },
  { label: 'Trainable', sort: 'params', numeric: true, title: 'Trainable parameters (PEFT modules and task head)' },
  { label: '% base', sort: 'params', numeric: true, title: 'Trainable parameters as % of the base model' },
  { label: 'Metric', sort: 'metric', numeric: true, title: 'Best dev value of the study metric' },
  { label: 'Last report', title: 'Latest intermediate evaluation: value @ step' },
  { label: 'Curve', title: 'Intermediate evaluations, on the same scale for every trial' },
  { label: 'Worker' },
];

const TRIAL_STATES: TrialState[] = ['running', 'waiting', 'complete', 'pruned', 'failed'];

function lastReport(trial: TrialRecord): TrialRecord['reports'][number] | undefined {
  let last: TrialRecord['reports'][number] | undefined;
  for (const r of trial.reports) if (!last || r.step >= last.step) last = r;
  return last;
}

function describeDistribution(d: Distribution): string {
  switch (d.type) {
    case 'categorical':
      return d.choices.map((c) => String(c)).join(' | ');
    case 'int':
    case 'float':
      return `${d.type} ${d.low} … ${d.high}${d.log ? ' (log)' : ''}`;
  }
}

function card(title: string, ...body: Child[]): HTMLElement {
  return h('div', { class: 'card stat' }, h('div', { class: 'stat-title' }, title), ...body);
}

interface TrialRowContext {
  marks: Highlights;
  axis: ReturnType<typeof reportAxis>;
  maxSteps: number;
}

function trialRow(trial: TrialRecord, rc: TrialRowContext): HTMLTableRowElement {
  const modules = peftModules(trial.peft);
  const layers = peftLayers(trial.peft);
  const last = lastReport(trial);
  const onFront = rc.marks.pareto.has(trial.number);
  const isBest = rc.marks.best === trial.number;
  const timing =
    trial.finishedAt !== undefined
      ? `ran ${fmtDuration(trial.startedAt, trial.finishedAt)}`
      : trial.startedAt !== undefined
        ? `started ${fmtDateTime(trial.startedAt)}`
        : `created ${fmtDateTime(trial.createdAt)}`;
  const stateTitle = [timing, trial.attempts > 1 ? `${trial.attempts} attempts` : '', trial.error ?? '']
    .filter(Boolean)
    .join(' · ');

  let metricCell: HTMLTableCellElement;
  if (trial.metric !== undefined) {
    metricCell = h(
      'td',
      { class: 'num strong' },
      fmtMetric(trial.metric),
      isBest ? h('span', { class: 'tag tag-best', title: 'Best trial' }, 'best') : null,
      onFront && !isBest ? h('span', { class: 'tag tag-pareto', title: 'Pareto-optimal' }, 'pareto') : null,
    );
  } else if (trial.state === 'failed' && trial.error) {
    metricCell = h('td', { class: 'error-text', title: trial.error }, trial.error);
  } else {
    metricCell = h('td', { class: 'num muted' }, '—');
  }

  const classes = ['clickable'];
  if (onFront) classes.push('is-pareto');
  return h(
    'tr',
    {
      class: classes.join(' '),
      'data-testid': 'trial-row',
      'data-trial-number': trial.number,
      'data-state': trial.state,
    },
    h('td', { class: 'num' }, String(trial.number)),
    h('td', { title: stateTitle || null }, stateBadge(trial.state)),
    h(
      'td',
      { class: 'nowrap' },
      modules.length > 0 ? h('span', { class: 'chips' }, ...modules.map((m) => h('span', { class: 'chip', title: m.title }, m.label))) : 'head only',
    ),
    h('td', { class: 'nowrap', title: `${layers.length} layers` }, fmtLayers(layers)),
    h('td', { class: 'num' }, fmtLearningRate(trial.training.learningRate)),
    h('td', { class: 'num' }, fmtCountFull(trial.trainableParams)),
    h('td', { class: 'num' }, fmtPercent(trial.trainablePercent)),
    metricCell,
    h(
      'td',
      { class: 'nowrap' },
      last ? h('span', { title: `${fmtMetric(last.value)} at step ${last.step}` }, fmtMetric(last.value), h('span', { class: 'muted small' }, ` @${last.step}`)) : h('span', { class: 'muted' }, '—'),
    ),
    h('td', { class: 'cell-spark' }, sparkline(trial, rc.axis, rc.maxSteps)),
    h('td', { class: 'mono small truncate', title: [trial.worker, trial.backend].filter(Boolean).join(' · ') || null }, trial.worker ?? '—'),
  );
}

/** Builds the page of the study `id`. */
export function createStudyView(ctx: ViewContext, id: string): View {
  const abort = new AbortController();
  let study: StudyView | undefined;
  let selected: number | undefined;
  let sortKey: SortKey = 'number';
  let sortAsc = true;

  // ---- skeleton, built once and updated in place ----
  const title = h('h1', { class: 'study-name' }, 'Loading study…');
  const subline = h('div', { class: 'sub' }, h('span', { class: 'mono' }, id));
  const badgeHost = h('span', { class: 'badge-host' });
  const download = h(
    'a',
    { class: 'button disabled', 'data-testid': 'download-best', 'aria-disabled': 'true', title: 'Available once a trial completes' },
    'Download best configuration',
  );
  download.addEventListener('click', (event) => {
    // The file needs the token, which a plain link cannot send.
    event.preventDefault();
    const href = download.getAttribute('href');
    if (href) downloadFile(href).catch((error: unknown) => ctx.setProblem(error instanceof Error ? error.message : String(error)));
  });
  const cancelButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'cancel-study', hidden: true }, 'Cancel study');
  cancelButton.addEventListener('click', () => {
    if (!window.confirm('Cancel this study? Waiting trials are dropped and running ones stop.')) return;
    cancelButton.setAttribute('disabled', '');
    cancelStudy(id).then(
      () => loader.request(),
      (error: unknown) => {
        cancelButton.removeAttribute('disabled');
        ctx.setProblem(problemText(error));
      },
    );
  });
  const deleteButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'delete-study', hidden: true }, 'Delete study');
  deleteButton.addEventListener('click', () => {
    if (!window.confirm('Delete this study with its trials and trained adapters? This cannot be undone.')) return;
    deleteButton.setAttribute('disabled', '');
    deleteStudy(id).then(
      () => {
        location.hash = '#/';
      },
      (error: unknown) => {
        deleteButton.removeAttribute('disabled');
        ctx.setProblem(problemText(error));
      },
    );
  });
  const errorBox = h('div', { class: 'callout callout-error', role: 'status', hidden: true });
  const cards = h('div', { class: 'cards' });
  const spaceBox = h('details', { class: 'space', hidden: true });

  const scatterHost = h('div', { class: 'plot-host', 'data-testid': 'pareto-plot' });
  const scatterNote = h('p', { class: 'panel-note' });
  const curvesHost = h('div', { class: 'plot-host' });

  const trialCount = h('span', { class: 'panel-note' });
  const headRow = h('tr');
  const body = h('tbody');
  const emptyMessage = h(
    'td',
    { colspan: COLUMNS.length, class: 'empty' },
    'No trials yet. They appear here as soon as the scheduler starts them.',
  );
  const emptyBody = h('tbody', { class: 'empty-body', hidden: true }, h('tr', null, emptyMessage));
  const table = h('table', { class: 'data-table trials', 'data-testid': 'trials-table' }, h('thead', null, headRow), body, emptyBody);

  const legendItem = (cls: string, label: string): HTMLElement =>
    h('span', { class: 'legend-item' }, h('span', { class: `swatch ${cls}` }), label);

  const content = h(
    'div',
    { class: 'study-content' },
    errorBox,
    cards,
    spaceBox,
    h(
      'div',
      { class: 'panels' },
      h(
        'section',
        { class: 'card panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Pareto front'), scatterNote),
        scatterHost,
        h(
          'div',
          { class: 'legend' },
          legendItem('sw-pareto', 'Pareto-optimal'),
          legendItem('sw-complete', 'complete'),
          legendItem('sw-pruned', 'pruned (best report)'),
          legendItem('sw-best', 'best'),
        ),
      ),
      h(
        'section',
        { class: 'card panel' },
        h('div', { class: 'panel-head' }, h('h2', null, 'Learning curves'), h('p', { class: 'panel-note' }, 'dev metric at each evaluation')),
        curvesHost,
        h(
          'div',
          { class: 'legend' },
          legendItem('sw-running', 'running (dashed)'),
          legendItem('sw-complete', 'complete'),
          legendItem('sw-pruned', 'pruned'),
          legendItem('sw-failed', 'failed'),
          legendItem('sw-pareto', 'Pareto-optimal'),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card panel table-panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Trials'), trialCount),
      h('div', { class: 'table-wrap' }, table),
    ),
  );
  content.hidden = true;
  const notFound = h('div', { class: 'card empty-state', hidden: true });

  const root = h(
    'section',
    { class: 'page' },
    h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All studies')),
    h(
      'div',
      { class: 'study-head' },
      h('div', { class: 'study-title' }, title, subline),
      h('div', { class: 'study-actions' }, badgeHost, cancelButton, deleteButton, download),
    ),
    notFound,
    content,
  );
  ctx.setTitle('Study');

  // ---- sorting ----
  const headers = COLUMNS.map((col) => {
    const th = h('th', { scope: 'col', class: col.numeric ? 'num' : null, title: col.title ?? null });
    if (col.sort) {
      const key = col.sort;
      const button = h('button', { type: 'button', class: 'sort' }, col.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
      button.addEventListener('click', () => {
        if (sortKey === key) sortAsc = !sortAsc;
        else {
          sortKey = key;
          sortAsc = key !== 'metric';
        }
        renderTrials();
      });
      th.append(button);
    } else {
      th.append(col.label);
    }
    return { th, col };
  });
  headRow.append(...headers.map((x) => x.th));

  const updateSortMarks = (): void => {
    for (const { th, col } of headers) {
      if (!col.sort) continue;
      const active = col.sort === sortKey;
      setAttr(th, 'aria-sort', active ? (sortAsc ? 'ascending' : 'descending') : null);
      const mark = th.querySelector('.sort-mark');
      if (mark) setText(mark, active ? (sortAsc ? ' ▲' : ' ▼') : '');
    }
  };

  // ---- selection: click a row or a point ----
  const select = (n: number | undefined): void => {
    selected = selected === n ? undefined : n;
    renderCharts();
    markSelectedRow();
  };
  body.addEventListener('click', (event) => {
    const row = (event.target as Element).closest<HTMLTableRowElement>('tr[data-trial-number]');
    if (row && !window.getSelection()?.toString()) select(Number(row.dataset['trialNumber']));
  });
  const onPlotClick = (event: Event): void => {
    const hit = (event.target as Element).closest('[data-trial]');
    if (!hit) return;
    const n = Number(hit.getAttribute('data-trial'));
    select(n);
    body.querySelector(`tr[data-trial-number="${n}"]`)?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  };
  scatterHost.addEventListener('click', onPlotClick);
  curvesHost.addEventListener('click', onPlotClick);

  const markSelectedRow = (): void => {
    for (const row of Array.from(body.rows)) row.classList.toggle('is-selected', Number(row.dataset['trialNumber']) === selected);
  };

  // ---- derived data ----
  const derive = (s: StudyView): { marks: Highlights; scored: ReturnType<typeof scoredTrials> } => {
    const scored = scoredTrials(s.trials);
    return { scored, marks: { pareto: paretoNumbers(scored), best: bestNumber(scored, s.bestTrial), selected } };
  };

  const renderCharts = (): void => {
    if (!study) return;
    const { scored, marks } = derive(study);
    const metric = study.spec.task.metric;
    const scatter = scatterPlot(scored, study.trials, metric, marks);
    scatterHost.replaceChildren(
      scatter ?? h('div', { class: 'plot-empty' }, 'No finished trials yet. Points appear here as trials complete.'),
    );
    setText(
      scatterNote,
      scored.length > 0 ? `${marks.pareto.size} of ${scored.length} complete trials on the front` : 'maximize metric, minimize parameters',
    );
    const curves = curvesPlot(study.trials, metric, study.spec.training.steps, marks);
    curvesHost.replaceChildren(curves ?? h('div', { class: 'plot-empty' }, 'No evaluations reported yet.'));
  };

  const renderTrials = (): void => {
    if (!study) return;
    const { marks } = derive(study);
    const rc: TrialRowContext = { marks, axis: reportAxis(study.trials), maxSteps: study.spec.training.steps };
    const dir = sortAsc ? 1 : -1;
    const missingLast = (v: number | undefined): number => (v === undefined ? Number.POSITIVE_INFINITY * dir : v);
    const sorted = [...study.trials].sort((a, b) => {
      let d = 0;
      if (sortKey === 'params') d = a.trainablePercent - b.trainablePercent;
      else if (sortKey === 'metric') d = missingLast(a.metric) - missingLast(b.metric);
      return (d === 0 || Number.isNaN(d) ? a.number - b.number : d) * dir;
    });
    const axisKey = rc.axis ? `${rc.axis.lo},${rc.axis.hi}` : '';
    syncRows(
      body,
      sorted,
      (t) => String(t.number),
      (t) => `${JSON.stringify(t)}|${marks.pareto.has(t.number)}|${marks.best === t.number}|${axisKey}|${rc.maxSteps}`,
      (t) => trialRow(t, rc),
    );
    markSelectedRow();
    updateSortMarks();
    emptyBody.hidden = sorted.length > 0;
    const byState = new Map<TrialState, number>();
    for (const t of study.trials) byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
    const parts = TRIAL_STATES.filter((st) => (byState.get(st) ?? 0) > 0).map((st) => `${byState.get(st)} ${st}`);
    setText(trialCount, parts.length > 0 ? parts.join(' · ') : 'none yet');
  };

  const renderHeader = (s: StudyView): void => {
    const { scored, marks } = derive(s);
    setText(title, s.spec.name || '(unnamed study)');
    title.title = s.spec.name;
    ctx.setTitle(s.spec.name || 'Study');
    setChildren(
      subline,
      h('span', { class: 'mono' }, s.id),
      h('span', { class: 'dot' }, '·'),
      `created ${fmtDateTime(s.createdAt)}`,
      s.owner ? h('span', { 'data-testid': 'study-owner' }, ` by ${s.owner}`) : null,
      s.finishedAt ? h('span', { class: 'dot' }, '·') : null,
      s.finishedAt ? `finished ${fmtDateTime(s.finishedAt)} (${fmtDuration(s.createdAt, s.finishedAt)})` : null,
    );
    const current = badgeHost.firstElementChild;
    if (current?.getAttribute('data-state') !== s.state) badgeHost.replaceChildren(stateBadge(s.state, 'study-state'));

    const finished = s.state !== 'queued' && s.state !== 'running';
    cancelButton.hidden = finished;
    deleteButton.hidden = !finished;

    const hasComplete = s.trials.some((t) => t.state === 'complete');
    setAttr(download, 'href', hasComplete ? bestConfigUrl(s.id) : null);
    setAttr(download, 'download', hasComplete ? '' : null);
    setAttr(download, 'aria-disabled', hasComplete ? null : 'true');
    setAttr(download, 'title', hasComplete ? 'Best configuration as JSON' : 'Available once a trial completes');
    download.classList.toggle('disabled', !hasComplete);

    errorBox.hidden = !s.error;
    setText(errorBox, s.error ? `Study error: ${s.error}` : '');

    const done = s.trials.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length;
    const running = s.trials.filter((t) => t.state === 'running').length;
    const waiting = s.trials.filter((t) => t.state === 'waiting').length;
    const best = scored.find((p) => p.trial.number === marks.best);
    const tr = s.spec.training;
    cards.replaceChildren(
      card(
        'Task',
        h('div', { class: 'stat-main' }, s.spec.task.dataset),
        h('div', { class: 'stat-sub' }, `${s.spec.task.baseModel} · ${fmtCount(s.baseParams)} params`),
        h('div', { class: 'stat-sub' }, `metric: ${s.spec.task.metric}`),
      ),
      card(
        'Budget',
        h('div', { class: 'stat-main' }, `${done} / ${s.spec.budget.maxTrials}`, h('span', { class: 'stat-unit' }, ' trials done')),
        progressBar(done, s.spec.budget.maxTrials),
        h('div', { class: 'stat-sub' }, `${running} running · ${waiting} waiting · max ${s.spec.budget.maxParallel} in parallel`),
      ),
      card(
        'Best trial',
        best
          ? h('div', { class: 'stat-main' }, fmtMetric(best.metric), h('span', { class: 'stat-unit' }, ` ${s.spec.task.metric}`))
          : h('div', { class: 'stat-main muted' }, '—'),
        h(
          'div',
          { class: 'stat-sub' },
          best
            ? `trial #${best.trial.number} · ${fmtPercent(best.percent)} of base (${fmtCount(best.trial.trainableParams)})`
            : 'no complete trial yet',
        ),
        h('div', { class: 'stat-sub' }, `${marks.pareto.size} Pareto-optimal`),
      ),
      card(
        'Training',
        h('div', { class: 'stat-main' }, `${tr.steps}`, h('span', { class: 'stat-unit' }, ' steps')),
        h('div', { class: 'stat-sub' }, `batch ${tr.batchSize} · lr ${fmtLearningRate(tr.learningRate)} · eval every ${tr.evalEvery}`),
        h(
          'div',
          { class: 'stat-sub' },
          `${fmtCountFull(tr.trainExamples)} train / ${fmtCountFull(tr.devExamples)} dev · seq ${tr.maxSeqLength} · ${s.spec.algorithm.name} seed ${s.spec.algorithm.seed}`,
        ),
      ),
    );

    if (spaceBox.hidden) {
      const entries = Object.entries(s.spec.searchSpace);
      if (entries.length > 0) {
        spaceBox.replaceChildren(
          h('summary', null, `Search space (${entries.length} parameters)`),
          h(
            'dl',
            { class: 'space-list' },
            ...entries.flatMap(([name, d]) => [h('dt', { class: 'mono' }, name), h('dd', null, describeDistribution(d))]),
          ),
        );
        spaceBox.hidden = false;
      }
    }
  };

  const render = (s: StudyView): void => {
    study = s;
    notFound.hidden = true;
    content.hidden = false;
    renderHeader(s);
    renderCharts();
    renderTrials();
  };

  // Trials as read so far, and the change cursor: after the first load only what changed is fetched.
  const trialsByNumber = new Map<number, TrialRecord>();
  let cursor: number | undefined;
  const loader = new Coalescer(async () => {
    try {
      const s = await fetchStudy(id, cursor === undefined ? 1000 : 0, abort.signal);
      let more: boolean;
      if (cursor === undefined) {
        for (const t of s.trials) trialsByNumber.set(t.number, t);
        cursor = s.trialsCursor;
        more = !s.trialsComplete;
      } else {
        more = true;
      }
      while (more) {
        const page = await fetchTrialsAfter(id, cursor, abort.signal);
        for (const t of page.trials) trialsByNumber.set(t.number, t);
        cursor = page.cursor;
        more = page.hasMore;
      }
      if (abort.signal.aborted) return;
      ctx.setProblem(null);
      render({ ...s, trials: [...trialsByNumber.values()].sort((a, b) => a.number - b.number) });
    } catch (error) {
      if (abort.signal.aborted) return;
      if (error instanceof ApiError && error.status === 404) {
        ctx.setProblem(null);
        study = undefined;
        content.hidden = true;
        setText(title, 'Study not found');
        ctx.setTitle('Study not found');
        badgeHost.replaceChildren();
        download.hidden = true;
        notFound.replaceChildren(
          h('p', null, 'There is no study with id ', h('code', null, id), '. It may have been deleted.'),
          h('p', null, h('a', { href: '#/' }, 'Back to all studies')),
        );
        notFound.hidden = false;
        return;
      }
      ctx.setProblem(problemText(error));
      if (!study) setText(title, 'Study could not be loaded');
    }
  });

  return {
    root,
    refresh: () => loader.request(),
    wants: (event: LiveEvent) => event.studyId === undefined || event.studyId === id,
    destroy: () => abort.abort(),
  };
}
