/**
 * The empirical distribution of the metric: the ECDF of the shown trials' metric (the share of
 * trials at or below each value), and the ECDF of the picked trials over it when some are
 * picked. Dragging across it picks the trials whose metric lies in that range.
 */

import type { TrialRecord } from '../../../scheduler/types.js';
import { h } from '../dom.js';
import type { Selection, SelectionState } from '../selection.js';
import { CanvasPlot, colours, niceTicks, scale, type Gesture } from './canvas-plot.js';
import { ecdf } from './stats.js';
import { fmtTick, markDrawn, metricOf, type SearchData, type SearchView } from './view-data.js';

const MARGINS = { left: 58, right: 14, top: 10, bottom: 40 };

/** The metric distribution view. */
export function distributionView(selection: Selection): SearchView {
  let shown: readonly TrialRecord[] = [];
  const onGesture = (g: Gesture): void => {
    if (g.kind === 'clear') selection.pick([]);
    else if (g.kind === 'brush') {
      const lo = plot.x.invert(g.from);
      const hi = plot.x.invert(g.to);
      selection.pick(shown.filter((t) => (metricOf(t) ?? Number.NaN) >= lo && (metricOf(t) ?? Number.NaN) <= hi).map((t) => t.number));
    }
  };
  const plot: CanvasPlot = new CanvasPlot('ecdf-plot', 260, MARGINS, onGesture, 'Empirical distribution of the metric');
  const summary = h('p', { class: 'panel-note', 'data-testid': 'ecdf-summary' });
  const root = h('div', { class: 'view-distribution' }, plot.root, summary);

  const step = (ctx: CanvasRenderingContext2D, values: number[], colour: string, width: number): void => {
    const points = ecdf(values);
    if (points.length === 0) return;
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    let y = plot.y.at(0);
    ctx.moveTo(plot.left, y);
    for (const p of points) {
      const x = plot.x.at(p.value);
      ctx.lineTo(x, y);
      y = plot.y.at(p.fraction);
      ctx.lineTo(x, y);
    }
    ctx.lineTo(plot.right, y);
    ctx.stroke();
  };

  const draw = (data: SearchData, sel: SelectionState): void => {
    shown = data.shown;
    const [lo, hi] = data.metricRange;
    const pad = (hi - lo) * 0.05 || 0.5;
    const ctx = plot.begin();
    plot.setScales(scale(lo - pad, hi + pad, plot.left, plot.right), scale(0, 1, plot.bottom, plot.top));
    plot.axes(
      ctx,
      niceTicks(lo - pad, hi + pad, 5).map((v) => ({ at: plot.x.at(v), label: fmtTick(v) })),
      [0, 0.25, 0.5, 0.75, 1].map((v) => ({ at: plot.y.at(v), label: `${v * 100}%` })),
      data.metricName,
      'share of trials ≤ x',
    );
    const values: number[] = [];
    const pickedValues: number[] = [];
    let focusedValue: number | undefined;
    for (const t of shown) {
      const m = metricOf(t);
      if (m === undefined) continue;
      values.push(m);
      if (sel.picked.has(t.number)) pickedValues.push(m);
      if (t.number === sel.focused) focusedValue = m;
    }
    const p = colours();
    step(ctx, values, sel.picked.size > 0 ? p.faint : (p.states['complete'] ?? p.text), 2);
    if (sel.picked.size > 0) step(ctx, pickedValues, p.accent, 2.2);
    if (focusedValue !== undefined) {
      ctx.strokeStyle = p.text;
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(plot.x.at(focusedValue), plot.top);
      ctx.lineTo(plot.x.at(focusedValue), plot.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    markDrawn(plot.canvas, values.length, pickedValues.length, focusedValue === undefined ? undefined : sel.focused);
    const sorted = [...values].sort((a, b) => a - b);
    const q = (f: number): string => fmtTick(sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]!);
    summary.textContent =
      sorted.length > 0
        ? `${sorted.length} trials with a metric · median ${q(0.5)} · 90th percentile ${q(0.9)} · best ${fmtTick(sorted[sorted.length - 1]!)}${pickedValues.length > 0 ? ` · ${pickedValues.length} picked (blue)` : ''}`
        : 'No trial has a metric yet.';
  };

  return { root, draw };
}
