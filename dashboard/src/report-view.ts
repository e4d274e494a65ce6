/**
 * The Report tab of a study page: the report's table (like a survey's comparison table), the
 * Pareto plot of each re-evaluated configuration's mean metric with its 95 % interval as an error
 * bar and the baselines marked and named, the majority-class and chance levels, the comparisons
 * the intervals support, the settings and the downloads. It reads `GET /api/studies/:id/report`.
 */

import type { ReportHypervolume, ReportRow, StudyReport } from '../../scheduler/report.js';
import { ApiError, downloadFile, fetchReport, reportUrl } from './api.js';
import { linearAxis, logAxis, type Axis } from './charts.js';
import { h, s, setText } from './dom.js';
import { fmtCountFull, fmtMetric, fmtPercent, searchTitle, splitTitle } from './format.js';
import { problemText } from './ui.js';
import { REFERENCE_SOURCES } from './views/stats.js';
import { fmtTick } from './views/view-data.js';

/** The tab's content and how to (re)load it. */
export interface ReportView {
  root: HTMLElement;
  /** Fetches and draws the report (once it is ready; later calls redraw only when asked to). */
  load(force?: boolean): void;
  destroy(): void;
}

const W = 640;
const H = 340;
const M = { left: 56, right: 20, top: 14, bottom: 44 };

/** Pixel position of `v` on an axis drawn from `a` to `b`. */
function place(axis: Axis, v: number, a: number, b: number, log: boolean): number {
  const t = log ? (Math.log10(v) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo)) : (v - axis.lo) / (axis.hi - axis.lo);
  return a + t * (b - a);
}

/** The Pareto plot: trainable % (log) against the mean metric, each with its interval; baselines as diamonds with their names. */
function reportPlot(report: StudyReport): SVGSVGElement {
  const rows = report.rows.filter((r) => r.splits.dev !== undefined);
  const ys = rows.flatMap((r) => [r.splits.dev!.mean, ...(r.splits.dev!.interval ?? [])]);
  if (report.levels.majorityClass !== undefined) ys.push(report.levels.majorityClass);
  const xAxis = logAxis(rows.map((r) => r.trainablePercent));
  const yAxis = linearAxis(ys);
  const x = (v: number): number => place(xAxis, v, M.left, W - M.right, true);
  const y = (v: number): number => place(yAxis, v, H - M.bottom, M.top, false);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'report-plot', 'data-testid': 'report-plot', role: 'img', 'aria-label': 'mean metric against trainable share, with 95 % intervals' });
  for (const t of yAxis.ticks) {
    svg.append(s('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: 'grid' }), s('text', { x: M.left - 6, y: y(t) + 4, class: 'tick', 'text-anchor': 'end' }, fmtMetric(t)));
  }
  for (const t of xAxis.ticks) svg.append(s('text', { x: x(t), y: H - M.bottom + 16, class: 'tick', 'text-anchor': 'middle' }, `${t}%`));
  svg.append(
    s('text', { x: (M.left + W - M.right) / 2, y: H - 8, class: 'axis-title', 'text-anchor': 'middle' }, 'trainable parameters, % of the base model (log)'),
    s('text', { x: 14, y: (M.top + H - M.bottom) / 2, class: 'axis-title', 'text-anchor': 'middle', transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})` }, `${report.metric}, mean over seeds`),
  );
  const majority = report.levels.majorityClass;
  if (majority !== undefined) {
    svg.append(
      s('line', { x1: M.left, x2: W - M.right, y1: y(majority), y2: y(majority), class: 'majority' }),
      s('text', { x: W - M.right - 4, y: y(majority) - 4, class: 'tick', 'text-anchor': 'end' }, 'majority class'),
    );
  }
  let bars = 0;
  for (const row of rows) {
    const stats = row.splits.dev!;
    const cx = x(row.trainablePercent);
    const cy = y(stats.mean);
    const g = s('g', { class: `report-point ${row.kind}`, 'data-label': row.label });
    if (stats.interval) {
      bars++;
      const [lo, hi] = stats.interval;
      g.append(
        s('line', { x1: cx, x2: cx, y1: y(lo), y2: y(hi), class: 'error-bar' }),
        s('line', { x1: cx - 5, x2: cx + 5, y1: y(lo), y2: y(lo), class: 'error-bar' }),
        s('line', { x1: cx - 5, x2: cx + 5, y1: y(hi), y2: y(hi), class: 'error-bar' }),
      );
    }
    const mark = row.kind === 'baseline' ? s('rect', { x: cx - 5, y: cy - 5, width: 10, height: 10, transform: `rotate(45 ${cx} ${cy})` }) : s('circle', { cx, cy, r: 5 });
    mark.append(s('title', null, `${row.label}: ${fmtMetric(stats.mean)}${stats.std !== undefined ? ` ± ${fmtMetric(stats.std)}` : ''} (n ${stats.n}) · ${fmtPercent(row.trainablePercent)}`));
    g.append(mark, s('text', { x: cx + 8, y: cy - 6, class: 'point-label' }, row.label));
    svg.append(g);
  }
  svg.dataset['points'] = String(rows.length);
  svg.dataset['errorBars'] = String(bars);
  svg.dataset['baselines'] = String(rows.filter((r) => r.kind === 'baseline').length);
  return svg;
}

const HV_H = 190;
const HV_M = { left: 56, right: 20, top: 12, bottom: 40 };

/** The search's hypervolume after each finished search trial, as a step line (it changes only when a trial joins the front). */
function hypervolumePlot(hv: ReportHypervolume): SVGSVGElement {
  const volumes = hv.steps.map((st) => st.volume);
  const trials = hv.steps.map((st) => st.trial);
  // Trial numbers and volumes start at 0: the padded axes are cut there.
  const clamp = (axis: Axis): Axis => ({ lo: Math.max(0, axis.lo), hi: axis.hi, ticks: axis.ticks.filter((t) => t >= 0) });
  const xAxis = clamp(linearAxis(trials, 8));
  const yAxis = clamp(linearAxis([0, ...volumes]));
  const x = (v: number): number => place(xAxis, v, HV_M.left, W - HV_M.right, false);
  const y = (v: number): number => place(yAxis, v, HV_H - HV_M.bottom, HV_M.top, false);
  const svg = s('svg', { viewBox: `0 0 ${W} ${HV_H}`, class: 'report-plot report-hypervolume', 'data-testid': 'report-hypervolume', role: 'img', 'aria-label': 'hypervolume of the search after each finished search trial' });
  for (const t of yAxis.ticks) {
    svg.append(s('line', { x1: HV_M.left, x2: W - HV_M.right, y1: y(t), y2: y(t), class: 'grid' }), s('text', { x: HV_M.left - 6, y: y(t) + 4, class: 'tick', 'text-anchor': 'end' }, fmtTick(t)));
  }
  for (const t of xAxis.ticks.filter((v) => Number.isInteger(v))) svg.append(s('text', { x: x(t), y: HV_H - HV_M.bottom + 16, class: 'tick', 'text-anchor': 'middle' }, String(t)));
  svg.append(
    s('text', { x: (HV_M.left + W - HV_M.right) / 2, y: HV_H - 8, class: 'axis-title', 'text-anchor': 'middle' }, 'search trial number'),
    s('text', { x: 14, y: (HV_M.top + HV_H - HV_M.bottom) / 2, class: 'axis-title', 'text-anchor': 'middle', transform: `rotate(-90 14 ${(HV_M.top + HV_H - HV_M.bottom) / 2})` }, 'hypervolume'),
  );
  let d = '';
  hv.steps.forEach((st, i) => {
    d += i === 0 ? `M${x(st.trial)},${y(st.volume)}` : `H${x(st.trial)}V${y(st.volume)}`;
  });
  svg.append(s('path', { d, class: 'hv-line' }));
  for (const st of hv.steps) {
    const dot = s('circle', { cx: x(st.trial), cy: y(st.volume), r: 2.5, class: `hv-point ${st.state}` });
    dot.append(s('title', null, `after trial ${st.trial} (${st.state}): ${fmtTick(st.volume)}`));
    svg.append(dot);
  }
  svg.dataset['points'] = String(hv.steps.length);
  svg.dataset['last'] = String(volumes.at(-1) ?? 0);
  return svg;
}

/** One row of the table. */
function tableRow(report: StudyReport, row: ReportRow): HTMLTableRowElement {
  const cells = report.splits.flatMap((split) => {
    const st = row.splits[split];
    return [
      h('td', { class: 'num', 'data-testid': `report-${split}-mean` }, st ? `${fmtMetric(st.mean)}${st.std !== undefined ? ` ± ${fmtMetric(st.std)}` : ''}` : '—'),
      h('td', { class: 'num' }, st?.interval ? `[${fmtMetric(st.interval[0])}, ${fmtMetric(st.interval[1])}]` : '—'),
      h('td', { class: 'num' }, String(st?.n ?? 0)),
    ];
  });
  return h(
    'tr',
    { 'data-kind': row.kind },
    h('td', null, row.label, row.kind === 'baseline' ? h('span', { class: 'tag tag-baseline', title: row.baselineSettings ?? '' }, 'baseline') : null),
    h('td', null, row.where),
    h('td', { class: 'num' }, fmtCountFull(row.storedParams)),
    h('td', { class: 'num' }, fmtPercent(row.trainablePercent)),
    h('td', { class: 'num' }, row.searchMetric !== undefined ? fmtMetric(row.searchMetric) : '—'),
    ...cells,
  );
}

/** The report's content. */
function renderReport(report: StudyReport, onDownload: (path: string) => void): HTMLElement[] {
  const splitHeads = report.splits.flatMap((split) => [
    h('th', { class: 'num', 'data-testid': `report-${split}-head`, title: 'mean ± sample std of the re-evaluation seeds, on these examples' }, `${splitTitle(report, split)} mean ± std`),
    h('th', { class: 'num' }, `${split} 95 % interval`),
    h('th', { class: 'num', title: 're-evaluation seeds that completed' }, 'n (seeds)'),
  ]);
  const table = h(
    'table',
    { class: 'data-table report-table', 'data-testid': 'report-table' },
    h('thead', null, h('tr', null, h('th', null, 'Configuration'), h('th', null, 'Where it acts'), h('th', { class: 'num' }, 'Stored params'), h('th', { class: 'num' }, 'Trainable'), h('th', { class: 'num', 'data-testid': 'report-search-head', title: 'the single-seed metric of the search trial on the study’s dev subset (the best of many: biased upwards)' }, searchTitle(report)), ...splitHeads)),
    h('tbody', null, ...report.rows.map((row) => tableRow(report, row))),
  );
  const levels = [
    report.levels.majorityClass !== undefined ? `majority class ${fmtMetric(report.levels.majorityClass)}` : null,
    report.levels.chance !== undefined ? `chance (1/classes) ${fmtMetric(report.levels.chance)}` : null,
  ].filter((x): x is string => x !== null);
  const t = report.settings.training;
  const download = (format: 'md' | 'csv', label: string): HTMLElement => {
    const button = h('button', { type: 'button', class: 'button', 'data-testid': `report-download-${format}` }, label);
    button.addEventListener('click', () => onDownload(reportUrl(report.study.id, format)));
    return button;
  };
  return [
    h('div', { class: 'panel-head' }, h('h2', null, 'Report'), h('div', { class: 'report-downloads' }, download('md', 'Markdown'), download('csv', 'CSV'))),
    h('p', { class: 'panel-note' }, `${report.dataset} on ${report.baseModel} · ${report.metric}: mean ± sample std over ${report.settings.reevaluation.seeds} training seeds, 95 % Student-t interval · ${levels.join(' · ')}`),
    // The study's warnings, as its page says them: the numbers below do not support a conclusion.
    ...report.warnings.map((w) =>
      h('div', { class: 'callout callout-warning', role: 'status', 'data-testid': 'report-warning', 'data-code': w.code }, h('strong', null, 'Warning: '), `${w.message}. `, h('span', { class: 'muted' }, `What usually helps: ${w.advice}.`)),
    ),
    h('div', { class: 'table-scroll' }, table),
    h('div', { class: 'plot-host report-plot-host' }, reportPlot(report)),
    h('div', { class: 'legend' }, h('span', { class: 'legend-item' }, '● found configuration'), h('span', { class: 'legend-item' }, '◆ baseline'), h('span', { class: 'legend-item' }, '| 95 % interval'), h('span', { class: 'legend-item' }, '– – majority class')),
    ...(report.hypervolume
      ? [
          h('h3', null, 'Hypervolume of the search'),
          h(
            'p',
            { class: 'panel-note', 'data-testid': 'report-reference' },
            `after each finished search trial; reference point ${report.metric} ${fmtMetric(report.hypervolume.reference[0])}, ${fmtCountFull(report.hypervolume.reference[1])} stored parameters (${REFERENCE_SOURCES[report.hypervolume.source]}); ${report.metric} ↑, stored parameters ↓, as the Pareto front`,
          ),
          h('div', { class: 'plot-host report-plot-host' }, hypervolumePlot(report.hypervolume)),
        ]
      : []),
    h('h3', null, 'Comparisons'),
    report.comparisons.length > 0
      ? h('ul', { 'data-testid': 'report-comparisons' }, ...report.comparisons.map((c) => h('li', null, `${c.configuration} beats baseline ${c.baseline} on ${c.split} (${fmtMetric(c.lower)} > ${fmtMetric(c.upper)})`)))
      : h('p', { class: 'muted', 'data-testid': 'report-comparisons' }, 'No found configuration beats a baseline: no interval lies wholly above a baseline’s.'),
    h('h3', null, 'Settings'),
    h(
      'ul',
      { class: 'muted' },
      h('li', null, `training: ${t.steps} steps, batch ${t.batchSize}, lr ${t.learningRate}, eval every ${t.evalEvery}, seq ${t.maxSeqLength}, ${t.trainExamples} train / ${t.devExamples} dev examples in the search`),
      h('li', null, `re-evaluation: ${report.settings.reevaluation.configurations} configurations (K), ${report.settings.reevaluation.seeds} seeds (S)${report.settings.dataSeed !== undefined ? `, data seed ${report.settings.dataSeed}` : ''}`),
      ...report.notes.map((n) => h('li', null, n)),
    ),
  ];
}

/** The Report tab of study `id`. */
export function createReportView(id: string, setProblem: (message: string | null) => void): ReportView {
  const abort = new AbortController();
  const root = h('section', { class: 'card panel report', 'data-testid': 'report-panel' });
  const status = h('p', { class: 'panel-note' }, 'Loading the report…');
  root.append(status);
  let loaded = false;
  let loading = false;
  const onDownload = (path: string): void => {
    downloadFile(path).catch((error: unknown) => setProblem(problemText(error)));
  };
  return {
    root,
    load(force = false) {
      if (loading || (loaded && !force)) return;
      loading = true;
      fetchReport(id, abort.signal).then(
        (report) => {
          loading = false;
          loaded = true;
          root.replaceChildren(...renderReport(report, onDownload));
          root.dataset['ready'] = '1';
        },
        (error: unknown) => {
          loading = false;
          if (abort.signal.aborted) return;
          // 409: not ready yet (or no re-evaluation): said in the tab, not as a page problem.
          if (error instanceof ApiError && error.status === 409) setText(status, error.message);
          else setProblem(problemText(error));
          root.replaceChildren(status);
        },
      );
    },
    destroy: () => abort.abort(),
  };
}
