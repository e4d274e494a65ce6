/**
 * The Pareto scatter on a canvas: metric (y) against trainable parameters in % of the base model
 * (x, log scale). Complete trials are dots, the Pareto-optimal ones are emphasised, labelled and
 * joined by the front's staircase; pruned trials are hollow at their best intermediate value.
 * A 10,000-trial study is thousands of points: as SVG nodes they cost seconds to build and lay
 * out, here one path per kind. The focus ring is drawn on the plot's highlight layer above the
 * points, so selecting a trial does not redraw them.
 */

import type { TrialRecord } from '../../scheduler/types.js';
import { BASELINES } from '../../search/baselines.js';
import { bestReport, decimalsFor, linearAxis, logAxis, placeLabel, type Highlights, type Rect } from './charts.js';
import { fmtCountFull, fmtMetric, fmtPercent } from './format.js';
import type { ScoredTrial } from './pareto.js';
import { CanvasPlot, colours, scale, SpotSet } from './views/canvas-plot.js';

const MARGINS = { left: 58, right: 18, top: 14, bottom: 46 };
const HEIGHT = 320;

/** What the plot draws. */
export interface ParetoInput {
  /** Complete trials with a metric, of the states shown. */
  scored: readonly ScoredTrial[];
  /** Trials of the states shown; the pruned ones among them are drawn at their best report, the others not at all. */
  trials: readonly TrialRecord[];
  metricName: string;
  marks: Highlights;
  /** Trials picked in a view (empty: none); the others are dimmed. */
  picked: ReadonlySet<number>;
}

/** The mounted plot. */
export interface ParetoPlot {
  /** The canvas's host; put it in the page once. */
  readonly root: HTMLElement;
  /** Whether the last input had anything to draw (else the page shows an empty state). */
  readonly empty: boolean;
  /** Draws `input`; only the focus ring when nothing else changed since the last call. */
  draw(input: ParetoInput): void;
}

interface Point {
  trial: TrialRecord;
  x: number;
  y: number;
  kind: 'pruned' | 'complete' | 'front';
}

/** Whether `input` has no point to draw. */
function isEmpty(input: ParetoInput): boolean {
  return !input.scored.some((p) => p.percent > 0) && !input.trials.some((t) => t.state === 'pruned' && t.trainablePercent > 0 && bestReport(t) !== undefined);
}

/** Builds the plot; a click on a point calls `onFocus` with its trial. */
export function createParetoPlot(onFocus: (trial: number) => void): ParetoPlot {
  let last: ParetoInput | undefined;
  let base: { input: ParetoInput } | undefined;
  let points: Point[] = [];
  const byNumber = new Map<number, Point>();
  const describe = (n: number): string => {
    const p = byNumber.get(n);
    if (!p || !last) return `Trial #${n}`;
    const t = p.trial;
    if (p.kind === 'pruned') return `Trial #${n} (pruned): best intermediate ${last.metricName} ${fmtMetric(p.y)}, ${fmtPercent(t.trainablePercent)} of base parameters`;
    const baseline = t.baseline !== undefined ? ` · baseline: ${BASELINES[t.baseline].label}` : '';
    return `Trial #${n}${n === last.marks.best ? ' (best)' : ''}${p.kind === 'front' ? ' · Pareto-optimal' : ''}${baseline}\n${last.metricName} ${fmtMetric(p.y)} · ${fmtPercent(p.x)} of base (${fmtCountFull(t.trainableParams)} parameters)`;
  };
  const plot: CanvasPlot = new CanvasPlot(
    'pareto-plot',
    HEIGHT,
    MARGINS,
    (g) => {
      if (g.kind === 'click') {
        const n = plot.nearest(g.x, g.y);
        if (n !== undefined) onFocus(n);
      }
    },
    'Metric against trainable parameters; Pareto-optimal trials highlighted',
    'x',
    { brush: false, describe },
  );

  /** Points, front line, best ring and labels: everything but the focus. */
  const drawBase = (input: ParetoInput): void => {
    const { scored, trials, marks, picked } = input;
    points = [];
    for (const t of trials) {
      const value = t.state === 'pruned' ? bestReport(t) : undefined;
      if (value !== undefined && t.trainablePercent > 0) points.push({ trial: t, x: t.trainablePercent, y: value, kind: 'pruned' });
    }
    for (const p of scored) if (p.percent > 0) points.push({ trial: p.trial, x: p.percent, y: p.metric, kind: marks.pareto.has(p.trial.number) ? 'front' : 'complete' });
    byNumber.clear();
    for (const p of points) byNumber.set(p.trial.number, p);
    const ctx = plot.begin();
    const xAxis = logAxis(points.map((p) => p.x));
    const yAxis = linearAxis(points.map((p) => p.y));
    plot.setScales(scale(xAxis.lo, xAxis.hi, plot.left, plot.right, true), scale(yAxis.lo, yAxis.hi, plot.bottom, plot.top));
    const yDecimals = decimalsFor(yAxis.ticks.length > 1 ? (yAxis.ticks[1] ?? 1) - (yAxis.ticks[0] ?? 0) : 0.1);
    plot.axes(
      ctx,
      xAxis.ticks.map((v) => ({ at: plot.x.at(v), label: fmtPercent(v) })),
      yAxis.ticks.map((v) => ({ at: plot.y.at(v), label: v.toFixed(yDecimals) })),
      'Trainable parameters (% of base model, log scale)',
      input.metricName,
    );
    const c = colours();
    const px = (p: Point): number => plot.x.at(p.x);
    const py = (p: Point): number => plot.y.at(p.y);

    // The front as a staircase: the best metric reachable at each parameter budget.
    const front = points.filter((p) => p.kind === 'front').sort((a, b) => a.x - b.x);
    if (front.length > 0) {
      ctx.save();
      ctx.beginPath();
      ctx.setLineDash([5, 3]);
      ctx.globalAlpha = 0.75;
      ctx.strokeStyle = c.accent;
      ctx.lineWidth = 1.5;
      let y = py(front[0]!);
      ctx.moveTo(px(front[0]!), y);
      for (const p of front.slice(1)) {
        ctx.lineTo(px(p), y);
        y = py(p);
        ctx.lineTo(px(p), y);
      }
      ctx.lineTo(plot.right, y);
      ctx.stroke();
      ctx.restore();
    }

    // One path per kind and highlight, drawn dominated first so the front stays on top.
    const dimmed = (p: Point): boolean => picked.size > 0 && !picked.has(p.trial.number);
    const circles = (items: readonly Point[], radius: number): void => {
      ctx.beginPath();
      const spots = new SpotSet(1);
      for (const p of items) {
        const x = px(p);
        const y = py(p);
        plot.hits.push({ trial: p.trial.number, x, y });
        if (!spots.add(x, y)) continue;
        ctx.moveTo(x + radius, y);
        ctx.arc(x, y, radius, 0, Math.PI * 2);
      }
    };
    for (const faded of [true, false]) {
      const of = (kind: Point['kind']): Point[] => points.filter((p) => p.kind === kind && dimmed(p) === faded);
      ctx.globalAlpha = faded ? 0.18 : 1;
      circles(of('pruned'), 4);
      ctx.fillStyle = '#fff';
      ctx.fill();
      ctx.globalAlpha = faded ? 0.18 : 0.85;
      ctx.strokeStyle = c.states['pruned'] ?? c.muted;
      ctx.lineWidth = 1.5;
      ctx.stroke();
      const complete = c.states['complete'] ?? c.muted;
      circles(of('complete'), 4.5);
      ctx.globalAlpha = faded ? 0.1 : 0.55;
      ctx.fillStyle = complete;
      ctx.fill();
      ctx.globalAlpha = faded ? 0.18 : 1;
      ctx.strokeStyle = complete;
      ctx.lineWidth = 1;
      ctx.stroke();
      circles(of('front'), 5.5);
      ctx.fillStyle = c.accent;
      ctx.fill();
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // The picked points get an accent outline, as the other views mark them.
    if (picked.size > 0) {
      circles(
        points.filter((p) => picked.has(p.trial.number)),
        5,
      );
      ctx.strokeStyle = c.accent;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    const best = marks.best !== undefined ? byNumber.get(marks.best) : undefined;
    if (best) {
      ctx.beginPath();
      ctx.arc(px(best), py(best), 9.5, 0, Math.PI * 2);
      ctx.strokeStyle = c.accent;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }

    // Baselines: a dark diamond each, named, so the found configurations read against them.
    const baselinePoints = points.filter((p) => p.trial.baseline !== undefined && p.kind !== 'pruned');
    if (baselinePoints.length > 0) {
      ctx.beginPath();
      for (const p of baselinePoints) {
        const [x, y, r] = [px(p), py(p), 6.5];
        ctx.moveTo(x, y - r);
        ctx.lineTo(x + r, y);
        ctx.lineTo(x, y + r);
        ctx.lineTo(x - r, y);
        ctx.closePath();
      }
      ctx.globalAlpha = 1;
      ctx.fillStyle = c.text;
      ctx.fill();
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }

    // Label the baselines with their names and the front's points with their trial numbers, where the labels fit without overlap.
    const obstacles: Rect[] = points.map((p) => ({ x0: px(p) - 5, x1: px(p) + 5, y0: py(p) - 5, y1: py(p) + 5 }));
    const area: Rect = { x0: plot.left, x1: plot.right, y0: plot.top, y1: plot.bottom };
    /** Draws each label that fits beside its point without overlap (a white halo under it); returns those drawn. */
    const drawLabels = (font: string, color: string, charWidth: number, items: readonly { p: Point; text: string }[]): string[] => {
      ctx.font = font;
      ctx.textBaseline = 'alphabetic';
      ctx.lineWidth = 3;
      ctx.strokeStyle = '#fff';
      ctx.fillStyle = color;
      const drawn: string[] = [];
      for (const { p, text } of items) {
        const spot = placeLabel(px(p), py(p), text.length * charWidth, obstacles, area);
        if (!spot) continue;
        obstacles.push(spot.rect);
        ctx.textAlign = spot.anchor === 'start' ? 'left' : 'right';
        ctx.strokeText(text, spot.x, spot.y);
        ctx.fillText(text, spot.x, spot.y);
        drawn.push(text);
      }
      return drawn;
    };
    const baselineLabels = drawLabels('500 10.5px system-ui, sans-serif', c.text, 6, baselinePoints.map((p) => ({ p, text: BASELINES[p.trial.baseline!].label })));
    const labelled = drawLabels('600 10.5px system-ui, sans-serif', c.accent, 6.4, front.map((p) => ({ p, text: `#${p.trial.number}` }))).length;
    const d = plot.canvas.dataset;
    d['drawn'] = String(points.length);
    d['pruned'] = String(points.filter((p) => p.kind === 'pruned').length);
    d['complete'] = String(points.length - Number(d['pruned']));
    d['front'] = String(front.length);
    d['labels'] = String(labelled);
    d['baselines'] = String(baselinePoints.length);
    d['baselineLabels'] = baselineLabels.join('|');
    d['picked'] = String(picked.size > 0 ? points.filter((p) => picked.has(p.trial.number)).length : 0);
    d['best'] = best ? String(best.trial.number) : '';
  };

  /** The focused trial's dashed ring, on the highlight layer. */
  const drawFocus = (ctx: CanvasRenderingContext2D, selected: number | undefined): void => {
    const p = selected !== undefined ? byNumber.get(selected) : undefined;
    plot.canvas.dataset['focused'] = p ? String(selected) : '';
    if (!p) return;
    const x = plot.x.at(p.x);
    const y = plot.y.at(p.y);
    ctx.save();
    ctx.beginPath();
    ctx.setLineDash([3, 2]);
    ctx.strokeStyle = colours().text;
    ctx.lineWidth = 1.5;
    ctx.arc(x, y, 12, 0, Math.PI * 2);
    ctx.stroke();
    ctx.restore();
  };

  const render = (): void => {
    const input = last;
    // Drawn once the layout has given the plot its width (see CanvasPlot.onResize), never at a guess.
    if (!input || plot.measuredWidth === 0 || !plot.root.isConnected || isEmpty(input)) return;
    const same =
      base !== undefined &&
      plot.sized &&
      base.input.scored === input.scored &&
      base.input.trials === input.trials &&
      base.input.marks.pareto === input.marks.pareto &&
      base.input.marks.best === input.marks.best &&
      base.input.picked === input.picked &&
      base.input.metricName === input.metricName;
    if (!same) drawBase(input);
    base = { input };
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
