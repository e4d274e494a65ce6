/** Formatting of numbers, dates and configurations for display. */

import { TARGET_LABELS } from '../../search/methods/lora.js';
import { methodChips, methodLayers } from '../../search/methods/registry.js';
import type { TrialRecord } from '../../scheduler/types.js';
import type { ReportSplit, StudyReport } from '../../scheduler/report.js';

/** A LoRA target projection, as the trial configuration names it. */
export type LoraTarget = NonNullable<TrialRecord['peft']['lora']>['targets'][number];

const DASH = '—';

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 3 });
const full = new Intl.NumberFormat('en');

/** A metric value such as accuracy, to three decimals. */
export function fmtMetric(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : value.toFixed(3);
}

/** A parameter count in compact form: `295K`, `1.2M`. */
export function fmtCount(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : compact.format(value);
}

/** A parameter count with all digits: `294,912`. */
export function fmtCountFull(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? DASH : full.format(value);
}

/** A percentage with sensible precision across orders of magnitude: `12.5%`, `0.27%`, `0.0031%`. */
export function fmtPercent(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  if (value === 0) return '0%';
  if (value >= 10) return `${trimZeros(value.toFixed(1))}%`;
  if (value >= 1) return `${trimZeros(value.toFixed(2))}%`;
  return `${trimZeros(value.toPrecision(2))}%`;
}

/** A learning rate in short scientific notation: `2e-4`, `1.5e-3`. */
export function fmtLearningRate(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return DASH;
  const [mantissa = '', exponent = ''] = value.toExponential(2).split('e');
  return `${trimZeros(mantissa)}e${exponent.replace('+', '')}`;
}

/** Layer indices as compact ranges: `[0,1,2,3,7]` becomes `0–3, 7`. */
export function fmtLayers(layers: readonly number[] | undefined): string {
  if (!layers || layers.length === 0) return DASH;
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0] ?? 0;
  let prev = start;
  for (const n of sorted.slice(1).concat(Number.NaN)) {
    if (n === prev + 1) {
      prev = n;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}–${prev}`);
    start = n;
    prev = n;
  }
  return parts.join(', ');
}

/** A short label of a LoRA target projection (the full name goes into a tooltip). */
export function targetLabel(target: LoraTarget): string {
  return TARGET_LABELS[target] ?? String(target);
}

/** A date and time in the reader's locale, short form. */
export function fmtDateTime(iso: string | undefined): string {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The time between two instants: `42s`, `3m 05s`, `1h 02m`. */
export function fmtDuration(startIso: string | undefined, endIso: string | undefined): string {
  if (!startIso || !endIso) return DASH;
  const ms = new Date(endIso).getTime() - new Date(startIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return DASH;
  return fmtElapsed(ms);
}

/** A duration in milliseconds for people: `42s`, `3m 05s`, `1h 02m`. */
export function fmtElapsed(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** One short label per PEFT module of a configuration, with a longer description for a tooltip (from the method registry). */
export function peftModules(peft: TrialRecord['peft']): { label: string; title: string }[] {
  return methodChips(peft);
}

/** Every layer some module of the configuration sits in. */
export function peftLayers(peft: TrialRecord['peft']): number[] {
  return methodLayers(peft);
}

/** The search column's title, with the size of the dev subset it scored. */
export function searchTitle(report: StudyReport): string {
  const n = report.settings.searchDevExamples;
  return `Search (1 seed${n !== undefined ? `, dev subset of ${n}` : ''})`;
}

/** A split column's title, with what it scored: `dev (whole split, 1209)` or `dev (2000 of 5294)`. */
export function splitTitle(report: StudyReport, split: ReportSplit): string {
  if (split !== 'dev') return split;
  const { devExamples, devSplitSize } = report.settings;
  if (devExamples === undefined) return 'dev';
  return devSplitSize !== undefined && devExamples < devSplitSize ? `dev (${devExamples} of ${devSplitSize})` : `dev (whole split, ${devExamples})`;
}
