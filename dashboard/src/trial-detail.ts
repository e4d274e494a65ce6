/**
 * The trial detail panel of the study page: the focused trial's parameters, its configuration
 * as a module × layer grid, every intermediate report, timings, worker and attempts, errors,
 * and a download of each file the API offers for it (`GET .../trials/:n/files`): first the bundle
 * (one ZIP with `hf-peft/`, `adapterhub/`, `autopeft/` and a README with the loading lines), then
 * the configuration and each trained file on its own.
 */

import type { StudyView, TrialFiles, TrialRecord } from '../../scheduler/types.js';
import { downloadFile, fetchTrialFiles } from './api.js';
import { trialGridView } from './config-grid.js';
import { h, setChildren, type Child } from './dom.js';
import { fmtCountFull, fmtDateTime, fmtDuration, fmtLearningRate, fmtMetric, fmtPercent } from './format.js';
import type { Selection } from './selection.js';
import { problemText, stateBadge } from './ui.js';

/** The mounted panel. */
export interface TrialDetail {
  readonly root: HTMLElement;
  /** Shows the study's focused trial (or hides the panel when none is focused). */
  update(study: StudyView): void;
}

function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

function section(title: string, testId: string, ...body: Child[]): HTMLElement {
  return h('section', { class: 'detail-section', 'data-testid': testId }, h('h3', null, title), ...body);
}

function definitionList(entries: readonly [string, Child][]): HTMLElement {
  return h('dl', { class: 'detail-list' }, ...entries.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function paramValue(value: number | string | boolean): string {
  return typeof value === 'number' && !Number.isInteger(value) ? value.toPrecision(4) : String(value);
}

/** Builds the panel for study `studyId`; it follows `selection.focused`. */
export function createTrialDetail(studyId: string, selection: Selection, onProblem: (message: string) => void): TrialDetail {
  let study: StudyView | undefined;
  const closeButton = h('button', { type: 'button', class: 'button button-quiet', 'data-testid': 'close-detail', title: 'Close (Esc)' }, 'Close');
  const heading = h('h2', { 'data-testid': 'detail-title' });
  const badgeHost = h('span');
  const body = h('div', { class: 'detail-body' });
  const filesHost = h('div', { 'data-testid': 'detail-files' });
  const root = h(
    'section',
    { class: 'card panel detail-panel', 'data-testid': 'trial-detail', hidden: true },
    h('div', { class: 'panel-head' }, h('div', { class: 'detail-head' }, heading, badgeHost), closeButton),
    body,
  );
  closeButton.addEventListener('click', () => selection.toggleFocus(undefined));
  // Only the files listing is fetched; the rest of the panel comes from the page's trial records.
  let filesKey = '';
  let filesAbort: AbortController | undefined;

  const renderFiles = (files: TrialFiles | undefined, loading: boolean): void => {
    if (loading) return setChildren(filesHost, h('p', { class: 'muted' }, 'Loading the file list…'));
    if (!files || files.files.length === 0) {
      return setChildren(filesHost, h('p', { class: 'muted' }, 'No files yet: a complete trial offers its configuration and its trained adapter.'));
    }
    // The bundle first: it is what loads as it is (each folder with one call of its library).
    const ordered = [...files.files.filter((f) => f.kind === 'bundle'), ...files.files.filter((f) => f.kind !== 'bundle')];
    const list = h(
      'ul',
      { class: 'file-list' },
      ...ordered.map((file) => {
        const bundle = file.kind === 'bundle';
        const button = h(
          'button',
          { type: 'button', class: `button ${bundle ? '' : 'button-quiet '}file-button mono`, 'data-testid': 'trial-file', 'data-file': file.name, 'data-path': file.path },
          bundle ? 'Download bundle.zip' : file.name,
        );
        button.addEventListener('click', () => {
          downloadFile(file.path).catch((error: unknown) => onProblem(problemText(error)));
        });
        const what = bundle
          ? 'hf-peft/, adapterhub/ and autopeft/ folders and a README with the Python lines that load each'
          : file.kind === 'configuration'
            ? 'configuration JSON'
            : fmtBytes(file.bytes);
        return h('li', bundle ? { 'data-testid': 'trial-bundle' } : null, button, h('span', { class: 'muted small' }, ` ${what}`));
      }),
    );
    setChildren(filesHost, list, files.notes.length > 0 ? h('ul', { class: 'notes muted small' }, ...files.notes.map((n) => h('li', null, n))) : null);
  };

  const loadFiles = (trial: TrialRecord): void => {
    const key = `${trial.number}|${trial.state}|${trial.artifact?.files.length ?? 0}`;
    if (key === filesKey) return;
    filesKey = key;
    filesAbort?.abort();
    const abort = new AbortController();
    filesAbort = abort;
    renderFiles(undefined, true);
    fetchTrialFiles(studyId, trial.number, abort.signal).then(
      (files) => {
        if (!abort.signal.aborted) renderFiles(files, false);
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        filesKey = '';
        setChildren(filesHost, h('p', { class: 'error-text' }, problemText(error)));
      },
    );
  };

  const render = (): void => {
    const focused = selection.current.focused;
    const trial = focused === undefined ? undefined : study?.trials.find((t) => t.number === focused);
    root.hidden = !trial || !study;
    if (!trial || !study) {
      filesKey = '';
      return;
    }
    heading.textContent = `Trial #${trial.number}`;
    badgeHost.replaceChildren(stateBadge(trial.state, 'detail-state'));
    const metric = study.spec.task.metric;
    const params = Object.entries(trial.params);
    const reports = [...trial.reports].sort((a, b) => a.step - b.step);
    const bestReport = reports.reduce<number | undefined>((best, r) => (best === undefined || r.value > best ? r.value : best), undefined);
    const queueWait = fmtDuration(trial.createdAt, trial.startedAt);
    const failures = trial.failures ?? [];
    setChildren(
      body,
      h(
        'div',
        { class: 'detail-columns' },
        section(
          'Result',
          'detail-result',
          definitionList([
            [`Best ${metric}`, fmtMetric(trial.metric)],
            ['Last report', reports.length > 0 ? `${fmtMetric(reports[reports.length - 1]!.value)} @ step ${reports[reports.length - 1]!.step}` : '—'],
            ...(trial.metrics ? Object.entries(trial.metrics).map(([k, v]): [string, Child] => [k, fmtMetric(v)]) : []),
            ...(trial.majorityBaseline !== undefined ? [['Majority baseline', fmtMetric(trial.majorityBaseline)] as [string, Child]] : []),
            // The two counts, named as the README names them: the objective is the stored one.
            ['Stored params', h('span', { 'data-testid': 'detail-stored-params', title: 'what the download holds (PEFT modules and head): the search objective' }, `${fmtCountFull(trial.trainableParams)} (${fmtPercent(trial.trainablePercent)} of base; the objective)`)],
            ...(trial.trainingParams !== undefined
              ? [['Training params', h('span', { 'data-testid': 'detail-training-params', title: 'what the optimiser updates (e.g. prefix-tuning’s MLP instead of its output)' }, fmtCountFull(trial.trainingParams))] as [string, Child]]
              : []),
          ]),
        ),
        section(
          'Parameters',
          'detail-params',
          params.length > 0
            ? h('dl', { class: 'detail-list mono small' }, ...params.flatMap(([k, v]) => [h('dt', null, k), h('dd', { 'data-param': k }, paramValue(v))]))
            : h('p', { class: 'muted' }, 'No search parameters.'),
        ),
        section(
          'Run',
          'detail-run',
          definitionList([
            ['Created', fmtDateTime(trial.createdAt)],
            ['Started', `${fmtDateTime(trial.startedAt)}${trial.startedAt ? ` (waited ${queueWait})` : ''}`],
            ['Finished', `${fmtDateTime(trial.finishedAt)}${trial.finishedAt ? ` (ran ${fmtDuration(trial.startedAt, trial.finishedAt)})` : ''}`],
            ['Worker', h('span', { class: 'mono', 'data-testid': 'detail-worker' }, trial.worker ?? '—')],
            ['Backend', trial.backend ?? '—'],
            ['Attempts', h('span', { 'data-testid': 'detail-attempts' }, String(trial.attempts))],
            ['Training', `${trial.training.steps} steps · batch ${trial.training.batchSize} · lr ${fmtLearningRate(trial.training.learningRate)} · seed ${trial.training.seed}`],
          ]),
        ),
      ),
      trial.error || failures.length > 0 || trial.pruneRequested
        ? section(
            'Problems',
            'detail-errors',
            trial.error ? h('p', { class: 'error-text' }, trial.error) : null,
            trial.pruneRequested && trial.state !== 'pruned' ? h('p', { class: 'muted' }, 'The scheduler asked the worker to stop this trial early.') : null,
            failures.length > 0
              ? h('ul', { class: 'failure-list' }, ...failures.map((f) => h('li', null, h('span', { class: 'mono' }, f.worker), ` ${fmtDateTime(f.at)} (${f.kind}): ${f.message}`)))
              : null,
          )
        : null,
      section('Configuration: modules × layers', 'detail-grid', trialGridView(trial.peft, study.baseShape.numLayers)),
      section(
        `Intermediate reports (${reports.length})`,
        'detail-reports',
        reports.length > 0
          ? h(
              'div',
              { class: 'reports-scroll' },
              h(
                'table',
                { class: 'data-table compact', 'data-testid': 'detail-reports-table' },
                h('thead', null, h('tr', null, h('th', { class: 'num' }, 'step'), h('th', { class: 'num' }, metric))),
                h(
                  'tbody',
                  null,
                  ...reports.map((r) => h('tr', { class: r.value === bestReport ? 'is-best-report' : null }, h('td', { class: 'num' }, String(r.step)), h('td', { class: 'num' }, fmtMetric(r.value)))),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No evaluation reported yet.'),
      ),
      section('Downloads', 'detail-downloads', filesHost),
    );
    loadFiles(trial);
  };

  let shown: number | undefined;
  selection.subscribe((state) => {
    render();
    // The panel sits under the table: bring it into view when a new trial opens in it.
    if (state.focused !== undefined && state.focused !== shown && !root.hidden) root.scrollIntoView({ block: 'nearest' });
    shown = state.focused;
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !root.hidden && root.isConnected) selection.toggleFocus(undefined);
  });

  return {
    root,
    update(next) {
      study = next;
      render();
    },
  };
}
