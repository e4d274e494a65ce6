/**
 * What the study page's plots share: the highlights, nice linear, log and step axes, label
 * placement, and the table's per-trial SVG sparklines (the Pareto and curves plots themselves
 * are canvas, see pareto-plot.ts and curves-plot.ts).
 */

import type { TrialRecord } from '../../scheduler/types.js';
import { s } from './dom.js';

/** An axis: its range and tick values. */
export interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
}

/** What the charts highlight besides the data. */
export interface Highlights {
  pareto: ReadonlySet<number>;
  best: number | undefined;
  selected: number | undefined;
}

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
}

/** Decimals that tell ticks `step` apart. */
export function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** A linear axis over `values`, padded and rounded to nice ticks; clamped to [0, 1] when the data are. */
export function linearAxis(values: readonly number[], count = 5): Axis {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const unit = lo >= 0 && hi <= 1;
  const minSpan = unit ? 0.04 : Math.max(Math.abs(hi) * 0.1, 1e-6);
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2;
    hi = mid + minSpan / 2;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  if (unit) {
    lo = Math.max(0, lo);
    hi = Math.min(1, hi);
  }
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; start + i * step <= end + step * 1e-6; i++) ticks.push(Number((start + i * step).toFixed(10)));
  return { lo: start, hi: end, ticks };
}

/** An axis of training steps from 0 to a round number at or above `last`. */
export function stepAxis(last: number): Axis {
  const step = Math.max(1, niceStep(Math.max(last, 1), 5));
  const hi = Math.ceil(Math.max(last, 1) / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= hi; v += step) ticks.push(v);
  return { lo: 0, hi, ticks };
}

/** A log10 axis over positive `values`, at least one decade wide, with 1-2-5 ticks. */
export function logAxis(values: readonly number[]): Axis {
  const positive = values.filter((v) => v > 0);
  let lo = Math.log10(Math.min(...positive)) - 0.15;
  let hi = Math.log10(Math.max(...positive)) + 0.15;
  if (hi - lo < 1) {
    const mid = (lo + hi) / 2;
    lo = mid - 0.5;
    hi = mid + 0.5;
  }
  const ticks: number[] = [];
  const decades = Math.ceil(hi) - Math.floor(lo);
  const mantissas = decades > 3 ? [1] : [1, 2, 5];
  for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
    for (const m of mantissas) {
      const v = Math.log10(m) + k;
      if (v >= lo - 1e-9 && v <= hi + 1e-9) ticks.push(m * 10 ** k);
    }
  }
  return { lo: 10 ** lo, hi: 10 ** hi, ticks };
}

/** A box in pixels. */
export interface Rect {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Whether two boxes overlap. */
export function overlaps(a: Rect, b: Rect): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** The first of four spots around a point where a label of `width` fits inside `area` clear of `taken`. */
export function placeLabel(
  px: number,
  py: number,
  width: number,
  taken: readonly Rect[],
  area: Rect,
): { x: number; y: number; anchor: 'start' | 'end'; rect: Rect } | undefined {
  const spots: [number, number, 'start' | 'end'][] = [
    [7, -7, 'start'],
    [7, 14, 'start'],
    [-7, -7, 'end'],
    [-7, 14, 'end'],
  ];
  for (const [dx, dy, anchor] of spots) {
    const x = px + dx;
    const y = py + dy;
    const rect = { x0: anchor === 'start' ? x : x - width, x1: anchor === 'start' ? x + width : x, y0: y - 9, y1: y + 2 };
    const inside = rect.x0 >= area.x0 && rect.x1 <= area.x1 && rect.y0 >= area.y0 && rect.y1 <= area.y1;
    if (inside && !taken.some((o) => overlaps(o, rect))) return { x, y, anchor, rect };
  }
  return undefined;
}

/** A trial's best intermediate report (a pruned trial's point in the Pareto plot). */
export function bestReport(trial: TrialRecord): number | undefined {
  let best: number | undefined;
  for (const r of trial.reports) if (Number.isFinite(r.value) && (best === undefined || r.value > best)) best = r.value;
  return best;
}

/** The value range of all reports, shared by the curves and the sparklines so they compare. */
export function reportAxis(trials: readonly TrialRecord[]): Axis | null {
  const values: number[] = [];
  for (const t of trials) for (const r of t.reports) if (Number.isFinite(r.value)) values.push(r.value);
  return values.length > 0 ? linearAxis(values, 4) : null;
}

/** A small inline curve of one trial's reports on the study-wide value axis. */
export function sparkline(trial: TrialRecord, axis: Axis | null, maxSteps: number): SVGSVGElement | null {
  const pts = [...trial.reports].sort((a, b) => a.step - b.step).filter((r) => Number.isFinite(r.value));
  if (!axis || pts.length === 0) return null;
  const width = 68;
  const height = 24;
  const lastStep = Math.max(maxSteps, ...pts.map((r) => r.step), 1);
  const xAt = (step: number): number => 2 + (step / lastStep) * (width - 4);
  const span = axis.hi - axis.lo || 1;
  const yAt = (v: number): number => height - 3 - ((v - axis.lo) / span) * (height - 6);
  const r1 = (v: number): string => v.toFixed(1);
  const svg = s('svg', {
    class: `spark state-${trial.state}`,
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    'aria-hidden': 'true',
  });
  svg.append(s('line', { class: 'spark-base', x1: 2, x2: width - 2, y1: height - 3, y2: height - 3 }));
  if (pts.length > 1) svg.append(s('polyline', { points: pts.map((r) => `${r1(xAt(r.step))},${r1(yAt(r.value))}`).join(' ') }));
  const last = pts[pts.length - 1];
  if (last) svg.append(s('circle', { cx: r1(xAt(last.step)), cy: r1(yAt(last.value)), r: 2 }));
  return svg;
}
