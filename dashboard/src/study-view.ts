/** One study (`#/studies/<id>`): header, Pareto scatter, learning curves, the trial table and detail, the Pareto module grid. */

import type { StudyView, TrialPage, TrialRecord, TrialState } from '../../scheduler/types.js';
import { ApiError, bestConfigUrl, cancelStudy, deleteStudy, downloadFile, fetchStudy, fetchTrialsAfter } from './api.js';
import type { Highlights } from './charts.js';
import { createCurvesPlot } from './curves-plot.js';
import { summaryGridView } from './config-grid.js';
import { h, setAttr, setChildren, setText, type Child } from './dom.js';
import { whenIdle } from './idle.js';
import { fmtCount, fmtCountFull, fmtDateTime, fmtDuration, fmtLearningRate, fmtMetric, fmtPercent } from './format.js';
import { Coalescer, type LiveEvent } from './live.js';
import { bestNumber, paretoNumbers, scoredTrials, type ScoredTrial } from './pareto.js';
import { createParetoPlot } from './pareto-plot.js';
import { Selection } from './selection.js';
import { createReportView } from './report-view.js';
import { createTrialDetail } from './trial-detail.js';
import { loadTrials } from './trial-loader.js';
import { createTrialTable } from './trial-table.js';
import { createSearchViews } from './views/search-views.js';
import { problemText, progressBar, stateBadge, type View, type ViewContext } from './ui.js';

/** One parameter distribution of the study's search space. */
type Distribution = StudyView['spec']['searchSpace'][string];

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

/** Most learning curves drawn at once: thousands of overlapping lines say nothing and cost seconds. */
const MAX_CURVES = 300;

/**
 * The trials whose learning curves are drawn: all of them up to {@link MAX_CURVES}, else the
 * running ones, the Pareto front and then the best by metric, with the focused trial in place
 * of the last when it is not among them. The ranking is cached per trial list (sorting 10,000
 * trials on every focus costs more than drawing the curves).
 */
function curvesWorthDrawing(trials: readonly TrialRecord[], marks: Highlights, cache: { trials?: readonly TrialRecord[]; pareto?: ReadonlySet<number>; top?: TrialRecord[] }): TrialRecord[] {
  if (trials.length <= MAX_CURVES) return [...trials];
  if (cache.trials !== trials || cache.pareto !== marks.pareto || !cache.top) {
    const rank = (t: TrialRecord): number => (t.state === 'running' ? 1 : marks.pareto.has(t.number) ? 2 : 3);
    cache.top = [...trials].sort((a, b) => rank(a) - rank(b) || (b.metric ?? -Infinity) - (a.metric ?? -Infinity)).slice(0, MAX_CURVES);
    cache.trials = trials;
    cache.pareto = marks.pareto;
  }
  const top = cache.top;
  if (marks.selected === undefined || top.some((t) => t.number === marks.selected)) return top;
  const focused = trials.find((t) => t.number === marks.selected);
  return focused ? [focused, ...top.slice(0, MAX_CURVES - 1)] : top;
}

/** Builds the page of the study `id`. */
export function createStudyView(ctx: ViewContext, id: string): View {
  const abort = new AbortController();
  let study: StudyView | undefined;
  // Which trial is focused (the detail panel shows it), shared by the table, the plots and the panel.
  const selection = new Selection();
  const trialTable = createTrialTable(selection);
  // The search views (history, distribution, importance, parallel coordinates, slices) and the state filter.
  const searchViews = createSearchViews(selection);
  const detail = createTrialDetail(id, selection, (message) => ctx.setProblem(message));
  const paretoGridHost = h('div', { class: 'plot-host' });
  const paretoGridNote = h('p', { class: 'panel-note' });

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
  // What the results do not support (scheduler/study-warnings.ts): said above everything else.
  const warningBox = h('div', { class: 'callout callout-warning', role: 'status', 'data-testid': 'study-warnings', hidden: true });
  const cards = h('div', { class: 'cards' });
  const spaceBox = h('details', { class: 'space', hidden: true });

  const scatterHost = h('div', { class: 'plot-host', 'data-testid': 'pareto-host' });
  const scatterNote = h('p', { class: 'panel-note' });
  const curvesHost = h('div', { class: 'plot-host' });
  const curvesNote = h('p', { class: 'panel-note' }, 'dev metric at each evaluation');

  const legendItem = (cls: string, label: string): HTMLElement =>
    h('span', { class: 'legend-item' }, h('span', { class: `swatch ${cls}` }), label);

  const content = h(
    'div',
    { class: 'study-content' },
    errorBox,
    warningBox,
    cards,
    spaceBox,
    searchViews.filterBar,
    h(
      'div',
      { class: 'panels', 'data-testid': 'study-plots' },
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
        h('div', { class: 'panel-head' }, h('h2', null, 'Learning curves'), curvesNote),
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
    searchViews.root,
    trialTable.root,
    detail.root,
    h(
      'section',
      { class: 'card panel', 'data-testid': 'pareto-grid-panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Modules × layers on the Pareto front'), paretoGridNote),
      paretoGridHost,
    ),
  );
  content.hidden = true;
  const notFound = h('div', { class: 'card empty-state', hidden: true });

  // ---- tabs: the search (everything above) and, for a study that re-evaluates, its report ----
  const report = createReportView(id, (message) => ctx.setProblem(message));
  report.root.hidden = true;
  let activeTab: 'search' | 'report' = 'search';
  const tabButton = (tab: 'search' | 'report', label: string): HTMLButtonElement => {
    const button = h('button', { type: 'button', role: 'tab', class: 'tab', 'data-testid': `${tab}-tab`, 'aria-selected': tab === activeTab ? 'true' : 'false' }, label);
    button.addEventListener('click', () => showTab(tab));
    return button;
  };
  const searchTab = tabButton('search', 'Search');
  const reportTab = tabButton('report', 'Report');
  const tabs = h('div', { class: 'tabs', role: 'tablist', hidden: true }, searchTab, reportTab);
  const showTab = (tab: 'search' | 'report'): void => {
    activeTab = tab;
    searchTab.setAttribute('aria-selected', String(tab === 'search'));
    reportTab.setAttribute('aria-selected', String(tab === 'report'));
    content.hidden = tab !== 'search' || study === undefined;
    report.root.hidden = tab !== 'report';
    if (tab === 'report') report.load();
    else if (study) renderCharts();
  };

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
    tabs,
    notFound,
    content,
    report.root,
  );
  ctx.setTitle('Study');

  // ---- the Pareto and curves plots (canvas); a click on a point focuses its trial ----
  const scatter = createParetoPlot((n) => selection.toggleFocus(n));
  const curves = createCurvesPlot((n) => selection.toggleFocus(n));
  const scatterEmpty = h('div', { class: 'plot-empty' }, 'No finished trials yet. Points appear here as trials complete.');
  const curvesEmpty = h('div', { class: 'plot-empty' }, 'No evaluations reported yet.');
  /** Shows the plot or its empty state, moving nodes only when that changes (a move restarts the plot's layout). */
  const mount = (host: HTMLElement, plot: HTMLElement, empty: HTMLElement, isEmpty: boolean): void => {
    const want = isEmpty ? empty : plot;
    if (host.firstChild !== want) host.replaceChildren(want);
  };
  selection.subscribe(() => renderCharts());
  // Out of view, the two plots are brought up to date in idle time (a click in a view further
  // down must not wait for thousands of points nobody sees), and at once when they come back.
  const plots = content.querySelector<HTMLElement>('[data-testid="study-plots"]')!;
  let plotsInView = true;
  let plotsStale = false;
  let plotsIdle = false;
  const markPlots = (stale: boolean): void => {
    plotsStale = stale;
    plots.dataset['pending'] = stale ? '1' : '0';
  };
  new IntersectionObserver(
    ([entry]) => {
      plotsInView = entry?.isIntersecting ?? true;
      if (plotsInView && plotsStale) renderCharts();
    },
    { rootMargin: '120px 0px' },
  ).observe(plots);
  const renderChartsLater = (): void => {
    markPlots(true);
    if (plotsIdle) return;
    plotsIdle = true;
    whenIdle(() => {
      plotsIdle = false;
      if (plotsStale) renderCharts(true);
    }, 500);
  };

  // ---- derived data, cached per trial list (a focus or a pick must not recompute the front) ----
  let derived: { trials: readonly TrialRecord[]; bestTrial: number | undefined; scored: ScoredTrial[]; pareto: Set<number>; best: number | undefined } | undefined;
  const derive = (s: StudyView): { marks: Highlights; scored: ScoredTrial[] } => {
    if (derived?.trials !== s.trials || derived.bestTrial !== s.bestTrial) {
      // A re-evaluation repeats a trial's configuration: it is no further point of the search's front.
      const scored = scoredTrials(s.trials.filter((t) => t.reevaluation === undefined));
      derived = { trials: s.trials, bestTrial: s.bestTrial, scored, pareto: paretoNumbers(scored), best: bestNumber(scored, s.bestTrial) };
    }
    return { scored: derived.scored, marks: { pareto: derived.pareto, best: derived.best, selected: selection.current.focused } };
  };

  let filtered: { trials: readonly TrialRecord[]; states: ReadonlySet<TrialState>; shown: TrialRecord[]; scored: ScoredTrial[] } | undefined;
  /**
   * What the Pareto plot draws: complete trials and pruned ones (at their best report). Kept as
   * the same arrays while the filter keeps those two states as they were, so hiding failed,
   * running or waiting trials (none of which it draws) does not redraw its points.
   */
  let paretoSet: { trials: readonly TrialRecord[]; key: string; scored: ScoredTrial[]; pruned: TrialRecord[] } | undefined;
  const curvesCache: Parameters<typeof curvesWorthDrawing>[2] = {};
  const renderCharts = (now = plotsInView): void => {
    if (!study) return;
    if (!now) {
      renderChartsLater();
      return;
    }
    markPlots(false);
    const { scored: all, marks } = derive(study);
    const { states, picked } = selection.current;
    if (filtered?.trials !== study.trials || filtered.states !== states) {
      filtered = { trials: study.trials, states, shown: study.trials.filter((t) => states.has(t.state)), scored: all.filter((p) => states.has(p.trial.state)) };
    }
    const { shown, scored } = filtered;
    const paretoKey = `${states.has('complete')}|${states.has('pruned')}`;
    if (paretoSet?.trials !== study.trials || paretoSet.key !== paretoKey) {
      paretoSet = { trials: study.trials, key: paretoKey, scored, pruned: shown.filter((t) => t.state === 'pruned') };
    }
    const metric = study.spec.task.metric;
    const scatterInput = { scored: paretoSet.scored, trials: paretoSet.pruned, metricName: metric, marks, picked };
    scatter.draw(scatterInput);
    mount(scatterHost, scatter.root, scatterEmpty, scatter.empty);
    setText(
      scatterNote,
      scored.length > 0 ? `${marks.pareto.size} of ${scored.length} complete trials on the front` : 'maximize metric, minimize parameters',
    );
    const curveTrials = curvesWorthDrawing(shown, marks, curvesCache);
    setText(curvesNote, curveTrials.length < shown.length ? `dev metric at each evaluation · ${curveTrials.length} of ${shown.length} trials: the focused, the running, the front and the best` : 'dev metric at each evaluation');
    curves.draw({ trials: curveTrials, metricName: metric, maxSteps: study.spec.training.steps, marks, picked });
    mount(curvesHost, curves.root, curvesEmpty, curves.empty);
  };

  const renderTrials = (): void => {
    if (!study) return;
    const { marks } = derive(study);
    trialTable.update({
      trials: study.trials,
      marks,
      metric: study.spec.task.metric,
      maxSteps: study.spec.training.steps,
      paramNames: Object.keys(study.spec.searchSpace),
      fileStem: (study.spec.name || 'study').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60),
    });
    detail.update(study);
    const front = study.trials.filter((t) => marks.pareto.has(t.number));
    paretoGridHost.replaceChildren(summaryGridView(front, study.baseShape.numLayers));
    setText(paretoGridNote, front.length > 0 ? `share of the ${front.length} Pareto-optimal trials with each module in each layer, and their median size` : '');
  };

  /** The Report tab: shown for a study that re-evaluates, usable once that has finished. */
  const renderTabs = (s: StudyView): void => {
    const reevaluates = (s.spec.reevaluation?.configurations ?? 0) > 0;
    tabs.hidden = !reevaluates;
    const ready = reevaluates && s.state === 'completed';
    const repeats = s.trials.filter((t) => t.reevaluation !== undefined);
    const done = repeats.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length;
    setText(reportTab, s.state === 're-evaluating' ? `Report (re-evaluating ${done}/${repeats.length})` : 'Report');
    if (ready) reportTab.removeAttribute('disabled');
    else reportTab.setAttribute('disabled', '');
    reportTab.title = ready ? 'The report of the re-evaluated configurations' : 'Ready once the search and the re-evaluation have finished';
    if (ready && activeTab === 'report') report.load();
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

    const finished = s.state !== 'queued' && s.state !== 'running' && s.state !== 're-evaluating';
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
    const warnings = s.warnings ?? [];
    warningBox.hidden = warnings.length === 0;
    warningBox.replaceChildren(...warnings.map((w) => h('p', { 'data-code': w.code }, h('strong', null, 'Warning: '), `${w.message}. `, h('span', { class: 'muted' }, `What usually helps: ${w.advice}.`))));

    // The budget counts the search's trials; re-evaluations come after it (see the Report tab).
    const budgeted = s.trials.filter((t) => t.reevaluation === undefined);
    const repeats = s.trials.length - budgeted.length;
    const done = budgeted.filter((t) => t.state === 'complete' || t.state === 'pruned' || t.state === 'failed').length;
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
        h('div', { class: 'stat-main', 'data-testid': 'budget-done' }, `${done} / ${s.spec.budget.maxTrials}`, h('span', { class: 'stat-unit' }, ' trials done')),
        progressBar(done, s.spec.budget.maxTrials),
        h('div', { class: 'stat-sub' }, `${running} running · ${waiting} waiting · max ${s.spec.budget.maxParallel} in parallel`),
        repeats > 0 ? h('div', { class: 'stat-sub', 'data-testid': 'reevaluation-count' }, `+ ${repeats} re-evaluation trials (outside the budget)`) : null,
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
        s.reference
          ? h(
              'div',
              {
                class: 'stat-sub',
                'data-testid': 'reference-point',
                title: s.reference.source === 'default' ? 'Hypervolume reference: the majority-class level of the dataset and the largest configuration of the space' : 'Hypervolume reference from the spec (objectives.referencePoint)',
              },
              `reference: ${s.spec.task.metric} ${fmtMetric(s.reference.point[0])}${s.reference.source === 'default' ? ' (majority class)' : ''} · ${fmtCount(s.reference.point[1])} params${s.reference.source === 'default' ? ' (largest)' : ''}`,
            )
          : null,
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
    content.hidden = activeTab !== 'search';
    renderTabs(s);
    const t0 = performance.now();
    renderHeader(s);
    renderCharts();
    const t1 = performance.now();
    // The search views draw once the layout has sized their plots (a resize observer), so this only hands them the trials.
    searchViews.update(s);
    const t2 = performance.now();
    renderTrials();
    // User timings of each part, read by the browser benchmark (test/bench/bench-dashboard.ts).
    performance.measure('study:header-pareto-curves', { start: t0, end: t1 });
    performance.measure('study:table', { start: t2, end: performance.now() });
  };

  // Trials as read so far, and the change cursor: after the first load only what changed is fetched.
  /** Trials per request: the API's largest page. */
  const PAGE = 1000;
  /** Trials in the first answer, with the study. */
  const FIRST_PAGE = 200;
  const trialsByNumber = new Map<number, TrialRecord>();
  let cursor: number | undefined;
  const loader = new Coalescer(async () => {
    try {
      // The first load asks for a small first page: it answers fast, and its cursor is enough to
      // split the rest into ranges that are then read side by side (trial-loader.ts).
      const s = await fetchStudy(id, cursor === undefined ? FIRST_PAGE : 0, abort.signal);
      const read = (after: number, limit: number): Promise<TrialPage> => fetchTrialsAfter(id, after, limit, abort.signal);
      if (cursor === undefined) {
        const loaded = await loadTrials({ trials: s.trials, cursor: s.trialsCursor, complete: s.trialsComplete, total: s.summary.trialsTotal }, read, PAGE);
        for (const [n, t] of loaded.trials) trialsByNumber.set(n, t);
        cursor = loaded.cursor;
      } else {
        // Later: the changes since the cursor, usually a few trials, one page after another.
        for (let more = true; more; ) {
          const page = await read(cursor, PAGE);
          for (const t of page.trials) trialsByNumber.set(t.number, t);
          cursor = page.cursor;
          more = page.hasMore;
        }
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
    destroy: () => {
      abort.abort();
      report.destroy();
    },
  };
}
