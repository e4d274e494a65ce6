/** Hand-written SVG charts: the Pareto scatter, the learning curves and per-trial sparklines. */

import type { TrialRecord } from '../../scheduler/types.js';
import { s } from './dom.js';
import { fmtCountFull, fmtMetric, fmtPercent } from './format.js';
import type { ScoredTrial } from './pareto.js';

interface Box {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

interface Axis {
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

const SCATTER_BOX: Box = { width: 560, height: 320, left: 58, right: 18, top: 14, bottom: 46 };
const CURVES_BOX: Box = { width: 560, height: 320, left: 58, right: 18, top: 14, bottom: 46 };

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
}

function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** A linear axis over `values`, padded and rounded to nice ticks; clamped to [0, 1] when the data are. */
function linearAxis(values: readonly number[], count = 5): Axis {
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
function stepAxis(last: number): Axis {
  const step = Math.max(1, niceStep(Math.max(last, 1), 5));
  const hi = Math.ceil(Math.max(last, 1) / step) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= hi; v += step) ticks.push(v);
  return { lo: 0, hi, ticks };
}

/** A log10 axis over positive `values`, at least one decade wide, with 1-2-5 ticks. */
function logAxis(values: readonly number[]): Axis {
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

function scaleLinear(axis: Axis, from: number, to: number): (v: number) => number {
  const span = axis.hi - axis.lo || 1;
  return (v) => from + ((v - axis.lo) / span) * (to - from);
}

function scaleLog(axis: Axis, from: number, to: number): (v: number) => number {
  const lo = Math.log10(axis.lo);
  const span = Math.log10(axis.hi) - lo || 1;
  return (v) => from + ((Math.log10(v) - lo) / span) * (to - from);
}

interface Rect {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/** The first of four spots around a point where a label of `width` fits inside `area` clear of `taken`. */
function placeLabel(
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

function r1(v: number): string {
  return v.toFixed(1);
}

function frame(box: Box, label: string): SVGSVGElement {
  return s('svg', {
    viewBox: `0 0 ${box.width} ${box.height}`,
    class: 'chart',
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMidYMid meet',
  });
}

function axes(
  svg: SVGSVGElement,
  box: Box,
  x: { axis: Axis; at: (v: number) => number; label: (v: number) => string; title: string },
  y: { axis: Axis; at: (v: number) => number; label: (v: number) => string; title: string },
): void {
  const grid = s('g', { class: 'grid' });
  const labels = s('g', { class: 'tick-labels' });
  const x0 = box.left;
  const x1 = box.width - box.right;
  const y0 = box.height - box.bottom;
  const y1 = box.top;
  for (const t of y.axis.ticks) {
    const py = r1(y.at(t));
    grid.append(s('line', { x1: x0, x2: x1, y1: py, y2: py }));
    labels.append(s('text', { x: x0 - 8, y: py, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, y.label(t)));
  }
  for (const t of x.axis.ticks) {
    const px = r1(x.at(t));
    grid.append(s('line', { x1: px, x2: px, y1: y0, y2: y1 }));
    labels.append(s('text', { x: px, y: y0 + 16, 'text-anchor': 'middle' }, x.label(t)));
  }
  svg.append(
    grid,
    s('rect', { class: 'plot-frame', x: x0, y: y1, width: x1 - x0, height: y0 - y1 }),
    labels,
    s('text', { class: 'axis-title', x: (x0 + x1) / 2, y: box.height - 6, 'text-anchor': 'middle' }, x.title),
    s(
      'text',
      {
        class: 'axis-title',
        x: 0,
        y: 0,
        transform: `translate(14 ${(y0 + y1) / 2}) rotate(-90)`,
        'text-anchor': 'middle',
      },
      y.title,
    ),
  );
}

function bestReport(trial: TrialRecord): number | undefined {
  let best: number | undefined;
  for (const r of trial.reports) if (Number.isFinite(r.value) && (best === undefined || r.value > best)) best = r.value;
  return best;
}

/**
 * The Pareto scatter: metric (y) against trainable parameters in % of the base model (x, log
 * scale). Complete trials are dots, Pareto-optimal ones are emphasised and joined by the front's
 * staircase; pruned trials appear hollow at their best intermediate value. Returns null when
 * there is nothing to plot.
 */
export function scatterPlot(
  scored: readonly ScoredTrial[],
  trials: readonly TrialRecord[],
  metricName: string,
  marks: Highlights,
): SVGSVGElement | null {
  const pruned: { trial: TrialRecord; value: number }[] = [];
  for (const trial of trials) {
    const value = trial.state === 'pruned' ? bestReport(trial) : undefined;
    if (value !== undefined && trial.trainablePercent > 0) pruned.push({ trial, value });
  }
  const points = scored.filter((p) => p.percent > 0);
  if (points.length === 0 && pruned.length === 0) return null;

  const box = SCATTER_BOX;
  const xAxis = logAxis([...points.map((p) => p.percent), ...pruned.map((p) => p.trial.trainablePercent)]);
  const yAxis = linearAxis([...points.map((p) => p.metric), ...pruned.map((p) => p.value)]);
  const xAt = scaleLog(xAxis, box.left, box.width - box.right);
  const yAt = scaleLinear(yAxis, box.height - box.bottom, box.top);
  const yDecimals = decimalsFor(yAxis.ticks.length > 1 ? (yAxis.ticks[1] ?? 1) - (yAxis.ticks[0] ?? 0) : 0.1);

  const svg = frame(box, `${metricName} against trainable parameters; Pareto-optimal trials highlighted`);
  axes(
    svg,
    box,
    { axis: xAxis, at: xAt, label: (v) => fmtPercent(v), title: 'Trainable parameters (% of base model, log scale)' },
    { axis: yAxis, at: yAt, label: (v) => v.toFixed(yDecimals), title: metricName },
  );

  // The front as a staircase: the best metric reachable at each parameter budget.
  const front = points.filter((p) => marks.pareto.has(p.trial.number)).sort((a, b) => a.percent - b.percent);
  if (front.length > 0) {
    const first = front[0] as ScoredTrial;
    let d = `M${r1(xAt(first.percent))},${r1(yAt(first.metric))}`;
    for (const p of front.slice(1)) d += `H${r1(xAt(p.percent))}V${r1(yAt(p.metric))}`;
    d += `H${r1(box.width - box.right)}`;
    svg.append(s('path', { class: 'front-line', d }));
  }

  const dots = s('g', { class: 'points' });
  for (const p of pruned) {
    dots.append(
      s(
        'circle',
        {
          class: 'pt pt-pruned',
          cx: r1(xAt(p.trial.trainablePercent)),
          cy: r1(yAt(p.value)),
          r: 4,
          'data-trial': p.trial.number,
        },
        s(
          'title',
          null,
          `Trial #${p.trial.number} (pruned): best intermediate ${metricName} ${fmtMetric(p.value)}, ` +
            `${fmtPercent(p.trial.trainablePercent)} of base parameters`,
        ),
      ),
    );
  }
  // Draw dominated points first so the front stays on top.
  const ordered = [...points].sort((a, b) => Number(marks.pareto.has(a.trial.number)) - Number(marks.pareto.has(b.trial.number)));
  for (const p of ordered) {
    const n = p.trial.number;
    const onFront = marks.pareto.has(n);
    const cx = r1(xAt(p.percent));
    const cy = r1(yAt(p.metric));
    const tip =
      `Trial #${n}${n === marks.best ? ' (best)' : ''}${onFront ? ' · Pareto-optimal' : ''}\n` +
      `${metricName} ${fmtMetric(p.metric)} · ${fmtPercent(p.percent)} of base ` +
      `(${fmtCountFull(p.trial.trainableParams)} parameters)`;
    const g = s('g', { class: `pt-group${n === marks.selected ? ' is-selected' : ''}`, 'data-trial': n });
    if (n === marks.best) g.append(s('circle', { class: 'pt-best-ring', cx, cy, r: 9.5 }));
    if (n === marks.selected) g.append(s('circle', { class: 'pt-selected-ring', cx, cy, r: 12 }));
    g.append(s('circle', { class: onFront ? 'pt pt-pareto' : 'pt pt-complete', cx, cy, r: onFront ? 5.5 : 4.5 }, s('title', null, tip)));
    dots.append(g);
  }
  svg.append(dots);

  // Label the front's points with their trial numbers where the labels fit without overlap.
  const obstacles: Rect[] = [...points.map((p) => ({ x: p.percent, y: p.metric })), ...pruned.map((p) => ({ x: p.trial.trainablePercent, y: p.value }))].map(
    ({ x, y }) => ({ x0: xAt(x) - 5, x1: xAt(x) + 5, y0: yAt(y) - 5, y1: yAt(y) + 5 }),
  );
  const area: Rect = { x0: box.left, x1: box.width - box.right, y0: box.top, y1: box.height - box.bottom };
  const labels = s('g', { class: 'pt-labels', 'aria-hidden': 'true' });
  for (const p of front) {
    const text = `#${p.trial.number}`;
    const spot = placeLabel(xAt(p.percent), yAt(p.metric), text.length * 6.4, obstacles, area);
    if (!spot) continue;
    obstacles.push(spot.rect);
    labels.append(s('text', { class: 'pt-label', x: r1(spot.x), y: r1(spot.y), 'text-anchor': spot.anchor }, text));
  }
  svg.append(labels);
  return svg;
}

/** The value range of all reports, shared by the curves and the sparklines so they compare. */
export function reportAxis(trials: readonly TrialRecord[]): Axis | null {
  const values: number[] = [];
  for (const t of trials) for (const r of t.reports) if (Number.isFinite(r.value)) values.push(r.value);
  return values.length > 0 ? linearAxis(values, 4) : null;
}

/**
 * Learning curves: every trial's intermediate reports (step, value), coloured by state, with the
 * Pareto-optimal and the selected trial drawn on top. Returns null before the first report.
 */
export function curvesPlot(
  trials: readonly TrialRecord[],
  metricName: string,
  maxSteps: number,
  marks: Highlights,
): SVGSVGElement | null {
  const yAxis = reportAxis(trials);
  if (!yAxis) return null;
  const box = CURVES_BOX;
  let lastStep = maxSteps;
  for (const t of trials) for (const r of t.reports) lastStep = Math.max(lastStep, r.step);
  const xAxis = stepAxis(lastStep);
  const xAt = scaleLinear(xAxis, box.left, box.width - box.right);
  const yAt = scaleLinear(yAxis, box.height - box.bottom, box.top);
  const yDecimals = decimalsFor(yAxis.ticks.length > 1 ? (yAxis.ticks[1] ?? 1) - (yAxis.ticks[0] ?? 0) : 0.1);

  const svg = frame(box, `Learning curves: dev ${metricName} by training step for every trial`);
  axes(
    svg,
    box,
    { axis: xAxis, at: xAt, label: (v) => String(v), title: 'Training step' },
    { axis: yAxis, at: yAt, label: (v) => v.toFixed(yDecimals), title: `dev ${metricName}` },
  );

  const rank = (t: TrialRecord): number =>
    t.number === marks.selected ? 3 : marks.pareto.has(t.number) ? 2 : t.state === 'running' ? 1 : 0;
  const ordered = trials.filter((t) => t.reports.length > 0).sort((a, b) => rank(a) - rank(b) || a.number - b.number);
  const lines = s('g', { class: 'curves' });
  for (const t of ordered) {
    const pts = [...t.reports].sort((a, b) => a.step - b.step).filter((r) => Number.isFinite(r.value));
    const classes = ['curve', `state-${t.state}`];
    if (marks.pareto.has(t.number)) classes.push('is-pareto');
    if (t.number === marks.selected) classes.push('is-selected');
    const last = pts[pts.length - 1];
    const tip = `Trial #${t.number} (${t.state})${last ? `: ${fmtMetric(last.value)} at step ${last.step}` : ''}`;
    const g = s('g', { class: classes.join(' '), 'data-trial': t.number }, s('title', null, tip));
    if (pts.length > 1) {
      g.append(s('polyline', { points: pts.map((r) => `${r1(xAt(r.step))},${r1(yAt(r.value))}`).join(' ') }));
    }
    if (last) g.append(s('circle', { cx: r1(xAt(last.step)), cy: r1(yAt(last.value)), r: pts.length > 1 ? 2.5 : 3.5 }));
    lines.append(g);
  }
  svg.append(lines);
  return svg;
}

/** A small inline curve of one trial's reports on the study-wide value axis. */
export function sparkline(trial: TrialRecord, axis: Axis | null, maxSteps: number): SVGSVGElement | null {
  const pts = [...trial.reports].sort((a, b) => a.step - b.step).filter((r) => Number.isFinite(r.value));
  if (!axis || pts.length === 0) return null;
  const width = 68;
  const height = 24;
  const lastStep = Math.max(maxSteps, ...pts.map((r) => r.step), 1);
  const xAt = (step: number): number => 2 + (step / lastStep) * (width - 4);
  const yAt = scaleLinear(axis, height - 3, 3);
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
