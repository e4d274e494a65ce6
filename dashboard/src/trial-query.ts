/**
 * What the trial table shows, as pure functions: its columns (the value each sorts and filters
 * by), the filter expressions a user types, sorting, and the CSV of the rows a filter keeps.
 * No DOM here, so the rules are the same whether 10 or 10,000 trials are on the page.
 */

import type { TrialRecord } from '../../scheduler/types.js';
import { fmtLayers, peftLayers, peftModules } from './format.js';

/** How a column filters: by a number comparison or range, by substring, or by one state. */
export type ColumnKind = 'number' | 'text' | 'state';

/** One column of the trial table. */
export interface TrialColumn {
  id: string;
  label: string;
  /** What the column holds, for the header's tooltip. */
  title: string;
  kind: ColumnKind;
  /** The value the column sorts and filters by (undefined: no value, sorted last). */
  value: (trial: TrialRecord) => number | string | undefined;
}

/** The latest intermediate evaluation of a trial (highest step), if it reported any. */
export function lastReport(trial: TrialRecord): TrialRecord['reports'][number] | undefined {
  let last: TrialRecord['reports'][number] | undefined;
  for (const r of trial.reports) if (!last || r.step >= last.step) last = r;
  return last;
}

/** The text of the Modules column: each module's short label, or `head only`. */
export function modulesText(trial: TrialRecord): string {
  const modules = peftModules(trial.peft);
  return modules.length > 0 ? modules.map((m) => m.label).join(' ') : 'head only';
}

/** The table's columns for a study scored by `metric`. */
export function trialColumns(metric: string): TrialColumn[] {
  return [
    { id: 'number', label: '#', title: 'Trial number', kind: 'number', value: (t) => t.number },
    { id: 'state', label: 'State', title: 'Trial state', kind: 'state', value: (t) => t.state },
    {
      id: 'modules',
      label: 'Modules',
      title: 'PEFT modules and their sizes; LoRA targets: Q, K, V, O (attention output), FFN-in, FFN-out. Filter: substring',
      kind: 'text',
      value: modulesText,
    },
    {
      id: 'layers',
      label: 'Layers',
      title: 'Layers carrying a module (zero-based). Sorts by how many; filter: substring of the ranges shown',
      kind: 'text',
      value: (t) => fmtLayers(peftLayers(t.peft)),
    },
    { id: 'learningRate', label: 'LR', title: 'Learning rate', kind: 'number', value: (t) => t.training.learningRate },
    { id: 'trainableParams', label: 'Trainable', title: 'Trainable parameters (PEFT modules and task head)', kind: 'number', value: (t) => t.trainableParams },
    { id: 'trainablePercent', label: '% base', title: 'Trainable parameters as % of the base model', kind: 'number', value: (t) => t.trainablePercent },
    {
      id: 'metric',
      label: 'Best metric',
      title: `The best dev ${metric} over the trial's evaluations: the trial's result when complete; for a pruned trial, its best report before it was stopped`,
      kind: 'number',
      value: (t) => t.metric,
    },
    {
      id: 'lastReport',
      label: 'Last report',
      title: `The latest intermediate evaluation of dev ${metric} (value @ step): where the trial stands now, not necessarily its best`,
      kind: 'number',
      value: (t) => lastReport(t)?.value,
    },
    { id: 'reports', label: 'Curve', title: 'Intermediate evaluations on one scale for every trial; sorts and filters by their count', kind: 'number', value: (t) => t.reports.length },
    { id: 'worker', label: 'Worker', title: 'The worker that ran the trial (its last attempt)', kind: 'text', value: (t) => t.worker },
  ];
}

/** A parsed filter of one column; `test` says whether a value passes. */
export interface ColumnFilter {
  column: string;
  test: (value: number | string | undefined) => boolean;
}

const COMPARISON = /^(>=|<=|>|<|=)?\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i;
const RANGE = /^(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*\.\.\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i;

/**
 * Parses a number filter: `>0.8`, `>=3`, `<1e-3`, `<=10`, `=4` or `4` (equal), or a range
 * `0.5..0.9` (both ends included). Returns the test, or an error message for anything else.
 */
export function parseNumberFilter(text: string): ((value: number) => boolean) | { error: string } {
  const input = text.trim();
  const range = RANGE.exec(input);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    return (v) => v >= Math.min(lo, hi) && v <= Math.max(lo, hi);
  }
  const cmp = COMPARISON.exec(input);
  if (!cmp) return { error: `"${input}" is not a number filter: use >0.8, <=100, =3 or 0.5..0.9` };
  const x = Number(cmp[2]);
  switch (cmp[1]) {
    case '>':
      return (v) => v > x;
    case '>=':
      return (v) => v >= x;
    case '<':
      return (v) => v < x;
    case '<=':
      return (v) => v <= x;
    default:
      return (v) => v === x;
  }
}

/**
 * The filter a user typed into a column's box: empty text filters nothing (undefined); a bad
 * number filter is an `{ error }` to show at the box.
 */
export function columnFilter(column: TrialColumn, text: string): ColumnFilter | { error: string } | undefined {
  const input = text.trim();
  if (input === '') return undefined;
  if (column.kind === 'state') return { column: column.id, test: (v) => v === input };
  if (column.kind === 'text') {
    const needle = input.toLowerCase();
    return { column: column.id, test: (v) => v !== undefined && String(v).toLowerCase().includes(needle) };
  }
  const parsed = parseNumberFilter(input);
  if ('error' in parsed) return parsed;
  return { column: column.id, test: (v) => typeof v === 'number' && Number.isFinite(v) && parsed(v) };
}

/** A sort order: a column and its direction. */
export interface SortOrder {
  column: string;
  ascending: boolean;
}

/** Text order (one collator: much faster than `localeCompare` over 10,000 rows). */
const COLLATOR = new Intl.Collator('en', { numeric: true });

/** Sort value of the Layers column: how many layers (the text is for filtering). */
function sortValue(column: TrialColumn, trial: TrialRecord): number | string | undefined {
  if (column.id === 'layers') return peftLayers(trial.peft).length;
  return column.value(trial);
}

/**
 * The trials that pass every filter and `keep`, sorted by `order` (ties and trials without a
 * value: by number, the latter always last). Each value is computed once per trial.
 */
export function queryTrials(
  trials: readonly TrialRecord[],
  columns: readonly TrialColumn[],
  filters: readonly ColumnFilter[],
  order: SortOrder,
  keep: (trial: TrialRecord) => boolean = () => true,
): TrialRecord[] {
  const byId = new Map(columns.map((c) => [c.id, c]));
  const active = filters.map((f) => ({ f, column: byId.get(f.column) })).filter((x): x is { f: ColumnFilter; column: TrialColumn } => x.column !== undefined);
  const sortColumn = byId.get(order.column) ?? columns[0]!;
  const rows: { trial: TrialRecord; key: number | string | undefined }[] = [];
  for (const trial of trials) {
    if (!keep(trial)) continue;
    if (!active.every(({ f, column }) => f.test(column.value(trial)))) continue;
    rows.push({ trial, key: sortValue(sortColumn, trial) });
  }
  const dir = order.ascending ? 1 : -1;
  rows.sort((a, b) => {
    const missingA = a.key === undefined || (typeof a.key === 'number' && Number.isNaN(a.key));
    const missingB = b.key === undefined || (typeof b.key === 'number' && Number.isNaN(b.key));
    if (missingA !== missingB) return missingA ? 1 : -1;
    let d = 0;
    if (!missingA) {
      if (typeof a.key === 'number' && typeof b.key === 'number') d = a.key - b.key;
      else d = COLLATOR.compare(String(a.key), String(b.key));
    }
    return d !== 0 ? d * dir : a.trial.number - b.trial.number;
  });
  return rows.map((r) => r.trial);
}

/** One CSV field: quoted when it holds a comma, a quote or a line break. */
function csvField(value: number | string | boolean | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The CSV of `trials`: the values the API holds (full precision, not the rounded display), one
 * column per table column plus timings, attempts, error and each search parameter
 * (`param.<name>`).
 */
export function trialsCsv(trials: readonly TrialRecord[], paramNames: readonly string[]): string {
  const header = [
    'number', 'state', 'modules', 'layers', 'learningRate', 'trainableParams', 'trainablePercent', 'bestMetric',
    'lastReportValue', 'lastReportStep', 'reports', 'worker', 'attempts', 'createdAt', 'startedAt', 'finishedAt', 'error',
    ...paramNames.map((p) => `param.${p}`),
  ];
  const lines = [header.map(csvField).join(',')];
  for (const t of trials) {
    const last = lastReport(t);
    const fields: (number | string | boolean | undefined)[] = [
      t.number, t.state, modulesText(t), [...peftLayers(t.peft)].sort((a, b) => a - b).join(' '), t.training.learningRate, t.trainableParams,
      t.trainablePercent, t.metric, last?.value, last?.step, t.reports.length, t.worker, t.attempts, t.createdAt, t.startedAt,
      t.finishedAt, t.error, ...paramNames.map((p) => t.params[p]),
    ];
    lines.push(fields.map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

