/**
 * Slice plots: one small plot per search parameter, the parameter (x) against the metric (y),
 * points coloured by trial state. Categorical parameters sit at evenly spaced categories with
 * a small fixed jitter so stacked trials stay visible. Dragging across a slice picks the trials
 * whose parameter lies in that range; clicking a point focuses its trial.
 */

import { h } from '../dom.js';
import type { Selection, SelectionState } from '../selection.js';
import { CanvasPlot, colours, niceTicks, ringFocused, scale, SpotSet, type Gesture } from './canvas-plot.js';
import type { ParamAxis } from './param-axes.js';
import { DIM, dimmed, fmtTick, markDrawn, metricOf, stateColour, type SearchData, type SearchView } from './view-data.js';

const MARGINS = { left: 44, right: 10, top: 8, bottom: 40 };

/** A deterministic offset in [-1, 1] per trial (a hash), so the jitter does not move between redraws. */
function jitter(n: number): number {
  const x = Math.sin(n * 12.9898) * 43758.5453;
  return 2 * (x - Math.floor(x)) - 1;
}

function slicePlot(axis: ParamAxis, selection: Selection, shown: () => SearchData['shown']): { plot: CanvasPlot; root: HTMLElement } {
  const onGesture = (g: Gesture): void => {
    if (g.kind === 'clear') selection.pick([]);
    else if (g.kind === 'click') selection.toggleFocus(plot.nearest(g.x, g.y));
    else {
      const lo = plot.x.invert(g.from);
      const hi = plot.x.invert(g.to);
      selection.pick(
        shown()
          .filter((t) => {
            const p = axis.position(t.params[axis.name]);
            return p !== undefined && metricOf(t) !== undefined && p >= lo && p <= hi;
          })
          .map((t) => t.number),
      );
    }
  };
  const plot: CanvasPlot = new CanvasPlot(`slice-plot`, 170, MARGINS, onGesture, `${axis.name} against the metric`);
  plot.canvas.dataset['param'] = axis.name;
  return { plot, root: h('div', { class: 'slice' }, plot.root) };
}

/** The slice plots view. */
export function sliceView(selection: Selection): SearchView {
  const grid = h('div', { class: 'slice-grid' });
  const root = h('div', { class: 'view-slices' }, grid);
  let slices: { axis: ParamAxis; plot: CanvasPlot; root: HTMLElement }[] = [];
  let axesKey = '';
  let current: SearchData['shown'] = [];

  const drawSlice = (axis: ParamAxis, plot: CanvasPlot, data: SearchData, sel: SelectionState): void => {
    const [ylo, yhi] = data.metricRange;
    const pad = (yhi - ylo) * 0.06 || 0.5;
    // Stacked categorical trials spread over a third of the gap between categories, inside the frame.
    const spread = axis.categorical ? Math.min(0.12, 0.3 / Math.max(1, axis.categories.length - 1)) : 0;
    const edge = spread + 0.05;
    const ctx = plot.begin();
    plot.setScales(scale(-edge, 1 + edge, plot.left, plot.right), scale(ylo - pad, yhi + pad, plot.bottom, plot.top));
    const every = Math.max(1, Math.ceil(axis.ticks.length / Math.max(2, Math.floor((plot.right - plot.left) / 34))));
    plot.axes(
      ctx,
      axis.ticks.filter((_, i) => i % every === 0).map((t) => ({ at: plot.x.at(t.at), label: t.label })),
      niceTicks(ylo, yhi, 3).map((v) => ({ at: plot.y.at(v), label: fmtTick(v) })),
      axis.name,
      '',
    );
    const groups = new Map<string, { x: number; y: number }[]>();
    let drawn = 0;
    let picked = 0;
    for (const t of data.shown) {
      const p = axis.position(t.params[axis.name]);
      const m = metricOf(t);
      if (p === undefined || m === undefined) continue;
      const x = plot.x.at(p + spread * jitter(t.number));
      const y = plot.y.at(m);
      plot.hits.push({ trial: t.number, x, y });
      const dim = dimmed(sel, t.number);
      const colour = dim ? DIM : stateColour(t.state);
      drawn++;
      if (!dim && sel.picked.size > 0) picked++;
      let list = groups.get(colour);
      if (!list) groups.set(colour, (list = []));
      list.push({ x, y });
    }
    // Dimmed first so the picked trials are drawn over them.
    for (const [colour, points] of [...groups].sort(([a], [b]) => Number(b === DIM) - Number(a === DIM))) {
      ctx.fillStyle = colour;
      ctx.beginPath();
      const spots = new SpotSet(1);
      for (const q of points) if (spots.add(q.x, q.y)) ctx.rect(q.x - 2, q.y - 2, 4, 4);
      ctx.fill();
    }
    ringFocused(ctx, plot, sel.focused, colours().text);
    markDrawn(plot.canvas, drawn, picked, sel.focused);
  };

  return {
    root,
    layout(data) {
      const key = data.axes.map((a) => a.name).join('|');
      if (key === axesKey) return;
      axesKey = key;
      slices = data.axes.map((axis) => ({ axis, ...slicePlot(axis, selection, () => current) }));
      grid.replaceChildren(...slices.map((s) => s.root));
    },
    draw(data, sel) {
      current = data.shown;
      for (const { axis, plot } of slices) drawSlice(axis, plot, data, sel);
    },
  };
}
