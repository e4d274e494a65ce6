/**
 * Parallel coordinates: one vertical axis per search parameter (categorical ones as evenly
 * spaced categories) and a last one for the metric; each trial is a line coloured by its
 * metric. Dragging along an axis brushes a range on it; the trials inside every brush are
 * picked. Lines are batched by colour into a few dozen paths, which keeps 10,000 trials fast.
 */

import type { TrialRecord } from '../../../scheduler/types.js';
import { h } from '../dom.js';
import type { Selection, SelectionState } from '../selection.js';
import { CanvasPlot, spotKey, colours, niceTicks, ramp, scale, type Gesture } from './canvas-plot.js';
import { dimmed, fmtTick, markDrawn, metricOf, type SearchData, type SearchView } from './view-data.js';

const MARGINS = { left: 36, right: 56, top: 44, bottom: 24 };
const COLOUR_BUCKETS = 24;
/** Where a trial without a value on an axis (an inactive parameter, no metric yet) is drawn. */
const ABSENT = -0.06;
/** view-data's DIM as a colour and an opacity, so copies can build up as they would drawn one by one. */
const DIM_COLOUR = 'rgb(152, 162, 179)';
const DIM_ALPHA = 0.28;

/** The parallel coordinates view. */
export function parallelView(selection: Selection): SearchView {
  /** Brushes by axis index: a range of positions in [0, 1]. */
  const brushes = new Map<number, [number, number]>();
  /** The pick this view made last; another view's pick clears the brushes. */
  let ownPick: ReadonlySet<number> | undefined;
  /** True while this view's own pick is being drawn (which must not clear its brushes). */
  let picking = false;
  let last: { data: SearchData; rows: { trial: TrialRecord; at: (number | undefined)[] }[]; xs: number[] } | undefined;

  const applyBrushes = (): void => {
    if (!last) return;
    const keep = last.rows.filter((r) => [...brushes].every(([axis, [lo, hi]]) => r.at[axis] !== undefined && r.at[axis]! >= lo && r.at[axis]! <= hi));
    picking = true;
    selection.pick(brushes.size === 0 ? [] : keep.map((r) => r.trial.number));
    picking = false;
    ownPick = selection.current.picked;
    if (brushes.size > 0 && keep.length === 0) {
      // An empty intersection still picks nothing visibly: say so in the note rather than show everything.
      note.textContent = 'No trial lies inside every brushed range.';
    }
  };

  const onGesture = (g: Gesture): void => {
    if (!last) return;
    if (g.kind === 'clear') {
      brushes.clear();
      applyBrushes();
      return;
    }
    if (g.kind !== 'brush') return;
    let axis = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (const [i, x] of last.xs.entries()) {
      if (Math.abs(x - g.at) < bestD) {
        bestD = Math.abs(x - g.at);
        axis = i;
      }
    }
    if (bestD > 30) return;
    const toPosition = (py: number): number => (plot.bottom - py) / (plot.bottom - plot.top);
    brushes.set(axis, [toPosition(g.to), toPosition(g.from)]);
    applyBrushes();
  };

  const plot = new CanvasPlot('parallel-plot', 330, MARGINS, onGesture, 'Parallel coordinates of the search parameters and the metric', 'y');
  const note = h('p', { class: 'panel-note' }, 'Drag along an axis to brush a range; click an empty spot to clear.');
  const root = h('div', { class: 'view-parallel' }, plot.root, note);

  const draw = (data: SearchData, sel: SelectionState): void => {
    if (!picking && ownPick !== undefined && sel.picked !== ownPick) {
      brushes.clear();
      ownPick = undefined;
    }
    const [mlo, mhi] = data.metricRange;
    const metricAt = (v: number | undefined): number | undefined => (v === undefined ? undefined : mhi > mlo ? (v - mlo) / (mhi - mlo) : 0.5);
    // The positions only change with the data (a pick or a focus keeps them).
    const rows = last?.data === data ? last.rows : data.shown.map((trial) => ({ trial, at: [...data.axes.map((a) => a.position(trial.params[a.name])), metricAt(metricOf(trial))] }));
    const ctx = plot.begin();
    const count = data.axes.length + 1;
    plot.setScales(scale(0, count - 1, plot.left, plot.right), scale(0, 1, plot.bottom, plot.top));
    const xs = Array.from({ length: count }, (_, i) => plot.x.at(i));
    plot.canvas.dataset['axisX'] = xs.map((x) => x.toFixed(1)).join(',');
    plot.canvas.dataset['axes'] = [...data.axes.map((a) => a.name), data.metricName].join('|');
    last = { data, rows, xs };
    const yOf = (p: number | undefined): number => plot.y.at(p ?? ABSENT);

    // Lines: one path per colour bucket; dimmed ones first, the focused one last.
    // Each distinct segment between two axes is stroked once per colour, at the opacity its
    // copies would have built up drawn one over another (1 − (1 − a)^copies): trials with the
    // same categories share most segments, so this is a few thousand segments instead of
    // 70,000 at 10,000 trials, and the same picture, dense segments darker.
    const DIMMED = COLOUR_BUCKETS + 1;
    const segments: Map<number, { x0: number; y0: number; x1: number; y1: number; copies: number }>[] = Array.from({ length: COLOUR_BUCKETS + 2 }, () => new Map());
    let picked = 0;
    for (const row of rows) {
      const m = row.at[count - 1];
      const slot = dimmed(sel, row.trial.number) ? DIMMED : m === undefined ? COLOUR_BUCKETS : Math.min(COLOUR_BUCKETS - 1, Math.floor(m * COLOUR_BUCKETS));
      if (sel.picked.size > 0 && slot !== DIMMED) picked++;
      const bucket = segments[slot]!;
      let y0 = yOf(row.at[0]);
      for (let i = 1; i < count; i++) {
        const y1 = yOf(row.at[i]);
        const key = spotKey(xs[i - 1]!, y0, xs[i]!, y1);
        const seen = bucket.get(key);
        if (seen) seen.copies++;
        else bucket.set(key, { x0: xs[i - 1]!, y0, x1: xs[i]!, y1, copies: 1 });
        y0 = y1;
      }
    }
    const p = colours();
    const alpha = rows.length > 2000 ? 0.35 : rows.length > 300 ? 0.6 : 0.9;
    /** Strokes a bucket's segments grouped by copies (powers of two), each group at its built-up opacity. */
    const strokeBucket = (slot: number, colour: string, a: number): void => {
      const groups = new Map<number, Path2D>();
      for (const seg of segments[slot]!.values()) {
        const level = Math.floor(Math.log2(seg.copies));
        let path = groups.get(level);
        if (!path) groups.set(level, (path = new Path2D()));
        path.moveTo(seg.x0, seg.y0);
        path.lineTo(seg.x1, seg.y1);
      }
      ctx.strokeStyle = colour;
      for (const [level, path] of [...groups].sort((x, y) => x[0] - y[0])) {
        // The group's typical number of copies: the geometric middle of [2^level, 2^(level+1)).
        const copies = level === 0 ? 1 : 2 ** (level + 0.5);
        ctx.globalAlpha = Math.min(1, 1 - (1 - a) ** copies);
        ctx.stroke(path);
      }
    };
    ctx.lineWidth = 1;
    // The dimmed lines: DIM's colour at DIM's opacity, built up the same way.
    strokeBucket(DIMMED, DIM_COLOUR, DIM_ALPHA);
    strokeBucket(COLOUR_BUCKETS, p.faint, alpha);
    for (let b = 0; b < COLOUR_BUCKETS; b++) strokeBucket(b, ramp((b + 0.5) / COLOUR_BUCKETS), alpha);
    ctx.globalAlpha = 1;
    const focused = rows.find((r) => r.trial.number === sel.focused);
    if (focused) {
      ctx.beginPath();
      ctx.strokeStyle = p.text;
      ctx.lineWidth = 2.5;
      for (let i = 0; i < count; i++) (i === 0 ? ctx.moveTo.bind(ctx) : ctx.lineTo.bind(ctx))(xs[i]!, yOf(focused.at[i]));
      ctx.stroke();
    }

    // Axes, their ticks and names (names alternate between two rows so long ones do not collide).
    ctx.font = '10.5px system-ui, sans-serif';
    for (let i = 0; i < count; i++) {
      const x = Math.round(xs[i]!) + 0.5;
      ctx.strokeStyle = p.muted;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, plot.top);
      ctx.lineTo(x, plot.bottom);
      ctx.stroke();
      const ticks = i < data.axes.length ? data.axes[i]!.ticks : niceTicks(mlo, mhi, 4).map((v) => ({ at: metricAt(v)!, label: fmtTick(v) }));
      const every = Math.max(1, Math.ceil(ticks.length / 9));
      ctx.fillStyle = p.text;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ticks.forEach((t, k) => {
        if (k % every !== 0 || t.at < -0.001 || t.at > 1.001) return;
        const y = plot.y.at(t.at);
        ctx.fillRect(x - 3, Math.round(y), 6, 1);
        ctx.fillText(t.label, x + 5, y);
      });
      const name = i < data.axes.length ? data.axes[i]!.name : data.metricName;
      // The end axes' names align inwards so they stay on the canvas.
      ctx.textAlign = i === 0 ? 'left' : i === count - 1 ? 'right' : 'center';
      ctx.textBaseline = 'alphabetic';
      ctx.font = i === count - 1 ? 'bold 11px system-ui, sans-serif' : '11px system-ui, sans-serif';
      ctx.fillText(name.length > 18 ? `${name.slice(0, 17)}…` : name, i === 0 ? x - 8 : i === count - 1 ? x + 8 : x, plot.top - (i % 2 === 0 ? 8 : 22));
      ctx.font = '10.5px system-ui, sans-serif';
      const brush = brushes.get(i);
      if (brush) {
        ctx.fillStyle = 'rgba(67, 56, 202, 0.18)';
        ctx.strokeStyle = p.accent;
        const y0 = plot.y.at(brush[1]);
        const y1 = plot.y.at(brush[0]);
        ctx.fillRect(x - 8, y0, 16, y1 - y0);
        ctx.strokeRect(x - 8, y0, 16, y1 - y0);
      }
    }
    markDrawn(plot.canvas, rows.length, picked, focused ? sel.focused : undefined);
    plot.canvas.dataset['brushes'] = String(brushes.size);
    if (brushes.size === 0 || picked > 0) note.textContent = 'Drag along an axis to brush a range; click an empty spot to clear. Lines below an axis: parameter inactive or no metric yet.';
  };

  return { root, draw };
}
