/**
 * Learning curves on a canvas: each drawn trial's intermediate reports (step, value), coloured
 * by state (running dashed), the Pareto-optimal ones in the accent colour on top. The focused
 * trial is drawn dark on the plot's highlight layer, so selecting a trial that is already drawn
 * does not redraw the others.
 */

import type { TrialRecord } from '../../scheduler/types.js';
import { decimalsFor, reportAxis, stepAxis, type Highlights } from './charts.js';
import { fmtMetric } from './format.js';
import { CanvasPlot, colours, scale } from './views/canvas-plot.js';

const MARGINS = { left: 58, right: 18, top: 14, bottom: 46 };
const HEIGHT = 320;

/** What the plot draws. */
export interface CurvesInput {
  /** The trials whose curves are drawn (the page caps how many). */
  trials: readonly TrialRecord[];
  metricName: string;
  maxSteps: number;
  marks: Highlights;
  /** Trials picked in a view (empty: none); the others are dimmed. */
  picked: ReadonlySet<number>;
}

/** The mounted plot. */
export interface CurvesPlot {
  readonly root: HTMLElement;
  /** Whether the last input had no report to draw. */
  readonly empty: boolean;
  draw(input: CurvesInput): void;
}

/** Finite reports of a trial in step order. */
function curveOf(t: TrialRecord): { step: number; value: number }[] {
  return [...t.reports].sort((a, b) => a.step - b.step).filter((r) => Number.isFinite(r.value));
}

/** Whether `input` has no report to draw. */
function isEmpty(input: CurvesInput): boolean {
  return !input.trials.some((t) => t.reports.some((r) => Number.isFinite(r.value)));
}

/** Builds the plot; a click on a curve's point calls `onFocus` with its trial. */
export function createCurvesPlot(onFocus: (trial: number) => void): CurvesPlot {
  let last: CurvesInput | undefined;
  let base: { input: CurvesInput; drawn: ReadonlySet<number> } | undefined;
  const curves = new Map<number, { trial: TrialRecord; points: { step: number; value: number }[] }>();
  const describe = (n: number): string => {
    const c = curves.get(n);
    const end = c?.points[c.points.length - 1];
    return c ? `Trial #${n} (${c.trial.state})${end ? `: ${fmtMetric(end.value)} at step ${end.step}` : ''}` : `Trial #${n}`;
  };
  const plot: CanvasPlot = new CanvasPlot(
    'curves-plot',
    HEIGHT,
    MARGINS,
    (g) => {
      if (g.kind === 'click') {
        const n = plot.nearest(g.x, g.y);
        if (n !== undefined) onFocus(n);
      }
    },
    'Learning curves: dev metric by training step',
    'x',
    { brush: false, describe },
  );

  const line = (ctx: CanvasRenderingContext2D, points: readonly { step: number; value: number }[], hits: boolean, trial: number): void => {
    for (let i = 0; i < points.length; i++) {
      const x = plot.x.at(points[i]!.step);
      const y = plot.y.at(points[i]!.value);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
      if (hits) plot.hits.push({ trial, x, y });
    }
  };
  const ends = (ctx: CanvasRenderingContext2D, items: readonly { points: { step: number; value: number }[] }[]): void => {
    ctx.beginPath();
    for (const { points } of items) {
      const end = points[points.length - 1];
      if (!end) continue;
      const r = points.length > 1 ? 2.5 : 3.5;
      const x = plot.x.at(end.step);
      const y = plot.y.at(end.value);
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, Math.PI * 2);
    }
    ctx.fill();
  };

  const drawBase = (input: CurvesInput): void => {
    curves.clear();
    for (const t of input.trials) {
      const points = curveOf(t);
      if (points.length > 0) curves.set(t.number, { trial: t, points });
    }
    const ctx = plot.begin();
    const yAxis = reportAxis(input.trials) ?? { lo: 0, hi: 1, ticks: [0, 1] };
    let lastStep = input.maxSteps;
    for (const c of curves.values()) for (const r of c.points) lastStep = Math.max(lastStep, r.step);
    const xAxis = stepAxis(lastStep);
    plot.setScales(scale(xAxis.lo, xAxis.hi, plot.left, plot.right), scale(yAxis.lo, yAxis.hi, plot.bottom, plot.top));
    const yDecimals = decimalsFor(yAxis.ticks.length > 1 ? (yAxis.ticks[1] ?? 1) - (yAxis.ticks[0] ?? 0) : 0.1);
    plot.axes(
      ctx,
      xAxis.ticks.map((v) => ({ at: plot.x.at(v), label: String(v) })),
      yAxis.ticks.map((v) => ({ at: plot.y.at(v), label: v.toFixed(yDecimals) })),
      'Training step',
      `dev ${input.metricName}`,
    );
    const c = colours();
    const { marks, picked } = input;
    const dimmed = (n: number): boolean => picked.size > 0 && !picked.has(n);
    // Groups drawn in order: dimmed, then by state, running (dashed), then the front on top.
    const groups: { items: { trial: TrialRecord; points: { step: number; value: number }[] }[]; colour: string; width: number; alpha: number; dash: number[] }[] = [];
    const all = [...curves.values()].sort((a, b) => a.trial.number - b.trial.number);
    const lit = all.filter((x) => !dimmed(x.trial.number));
    groups.push({ items: all.filter((x) => dimmed(x.trial.number)), colour: c.faint, width: 1.2, alpha: 0.18, dash: [] });
    for (const state of ['waiting', 'failed', 'pruned', 'complete'] as const) {
      groups.push({ items: lit.filter((x) => x.trial.state === state && !marks.pareto.has(x.trial.number)), colour: c.states[state] ?? c.muted, width: 1.4, alpha: 0.5, dash: [] });
    }
    groups.push({ items: lit.filter((x) => x.trial.state === 'running' && !marks.pareto.has(x.trial.number)), colour: c.states['running'] ?? c.muted, width: 1.4, alpha: 0.85, dash: [4, 3] });
    groups.push({ items: lit.filter((x) => marks.pareto.has(x.trial.number)), colour: c.accent, width: 2, alpha: 0.9, dash: [] });
    for (const g of groups) {
      if (g.items.length === 0) continue;
      ctx.save();
      ctx.beginPath();
      for (const x of g.items) line(ctx, x.points, true, x.trial.number);
      ctx.setLineDash(g.dash);
      ctx.globalAlpha = g.alpha;
      ctx.strokeStyle = g.colour;
      ctx.fillStyle = g.colour;
      ctx.lineWidth = g.width;
      ctx.lineJoin = 'round';
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.globalAlpha = Math.min(1, g.alpha + 0.2);
      ends(ctx, g.items);
      ctx.restore();
    }
    plot.canvas.dataset['drawn'] = String(curves.size);
    plot.canvas.dataset['picked'] = String(picked.size > 0 ? lit.length : 0);
  };

  /** The focused trial's curve, dark and thick, over the others. */
  const drawFocus = (ctx: CanvasRenderingContext2D, selected: number | undefined): void => {
    const c = selected !== undefined ? curves.get(selected) : undefined;
    plot.canvas.dataset['focused'] = c ? String(selected) : '';
    if (!c) return;
    ctx.save();
    ctx.beginPath();
    line(ctx, c.points, false, c.trial.number);
    ctx.strokeStyle = colours().text;
    ctx.fillStyle = colours().text;
    ctx.lineWidth = 2.6;
    ctx.lineJoin = 'round';
    ctx.stroke();
    ends(ctx, [c]);
    ctx.restore();
  };

  const render = (): void => {
    const input = last;
    if (!input || plot.measuredWidth === 0 || !plot.root.isConnected || isEmpty(input)) return;
    const numbers = new Set(input.trials.map((t) => t.number));
    const same =
      base !== undefined &&
      plot.sized &&
      base.input.marks.pareto === input.marks.pareto &&
      base.input.picked === input.picked &&
      base.input.metricName === input.metricName &&
      base.input.maxSteps === input.maxSteps &&
      base.input.trials.length === input.trials.length &&
      input.trials.every((t, i) => t === base!.input.trials[i] || (base!.drawn.has(t.number) && curves.get(t.number)?.trial === t));
    if (!same) drawBase(input);
    base = { input, drawn: numbers };
    drawFocus(plot.overlay(), input.marks.selected);
  };
  CanvasPlot.onResize(render, plot.root);

  return {
    root: plot.root,
    get empty() {
      return !last || isEmpty(last);
    },
    draw(input) {
      last = input;
      render();
    },
  };
}
