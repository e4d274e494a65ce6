/**
 * Optimisation history: each trial's metric in trial order with the running best, and below it
 * the hypervolume of (metric ↑, trainable parameters ↓) after each trial, against the same
 * reference point the search uses. Dragging across either plot picks the trials in that range
 * of numbers; clicking a point focuses its trial.
 */

import type { TrialRecord } from '../../../scheduler/types.js';
import { h } from '../dom.js';
import type { Selection, SelectionState } from '../selection.js';
import { CanvasPlot, colours, niceTicks, paddedExtent, ringFocused, scale, SpotSet, type Gesture } from './canvas-plot.js';
import { hypervolumeHistory, runningBest, studyReference, type ObjectivePoint } from './stats.js';
import { DIM, dimmed, fmtTick, markDrawn, metricOf, stateColour, type SearchData, type SearchView } from './view-data.js';

const MARGINS = { left: 58, right: 16, top: 10, bottom: 40 };

interface Derived {
  shown: readonly TrialRecord[];
  scored: { trial: TrialRecord; value: number }[];
  best: { number: number; best: number }[];
  volume: { number: number; volume: number }[];
  referenceNote: string;
}

function derive(data: SearchData): Derived {
  const scored: { trial: TrialRecord; value: number }[] = [];
  for (const trial of data.shown) {
    const value = metricOf(trial);
    if (value !== undefined) scored.push({ trial, value });
  }
  const complete = scored.filter((s) => s.trial.state === 'complete');
  const best = runningBest(complete.map((s) => ({ number: s.trial.number, value: s.value })));
  // The reference comes from every complete trial, not only the shown ones, so the curve keeps its scale under the filter.
  const all: ObjectivePoint[] = data.study.trials.filter((t) => t.state === 'complete' && metricOf(t) !== undefined).map((t) => ({ number: t.number, metric: t.metric!, params: t.trainableParams }));
  const stored = data.study.reference;
  const specPoint = data.study.spec.objectives.referencePoint;
  const reference = studyReference(all, stored?.point, specPoint);
  const points: ObjectivePoint[] = complete.map((s) => ({ number: s.trial.number, metric: s.value, params: s.trial.trainableParams }));
  const volume = reference ? hypervolumeHistory(points, reference) : [];
  const referenceNote = reference
    ? `reference ${data.metricName} ${fmtTick(-reference[0]!)}, ${fmtTick(reference[1]!)} parameters (${
        stored?.source === 'default'
          ? 'majority-class level and largest configuration'
          : stored || specPoint
            ? 'the study’s objectives.referencePoint'
            : 'worst complete trial + 10 % of the range, until the study stores its reference'
      }), as the search uses it`
    : '';
  return { shown: data.shown, scored, best, volume, referenceNote };
}

/** The optimisation history view. */
export function historyView(selection: Selection): SearchView {
  let derived: Derived | undefined;
  let domain: [number, number] = [0, 1];
  const pickRange = (plot: CanvasPlot, g: Gesture): void => {
    if (!derived) return;
    if (g.kind === 'clear') selection.pick([]);
    else if (g.kind === 'click') selection.toggleFocus(plot.nearest(g.x, g.y));
    else {
      const lo = plot.x.invert(g.from);
      const hi = plot.x.invert(g.to);
      selection.pick(derived.shown.filter((t) => t.number >= lo && t.number <= hi).map((t) => t.number));
    }
  };
  const metricPlot: CanvasPlot = new CanvasPlot('history-plot', 230, MARGINS, (g) => pickRange(metricPlot, g), 'Metric of each trial in trial order, with the running best');
  const volumePlot: CanvasPlot = new CanvasPlot('hypervolume-plot', 150, MARGINS, (g) => pickRange(volumePlot, g), 'Hypervolume after each trial');
  const note = h('p', { class: 'panel-note', 'data-testid': 'hypervolume-note' });
  const root = h('div', { class: 'view-history' }, metricPlot.root, h('div', { class: 'view-subtitle' }, 'Hypervolume over trials'), volumePlot.root, note);

  const xTicks = (plot: CanvasPlot): { at: number; label: string }[] => niceTicks(Math.max(0, domain[0]), domain[1], 8).filter((v) => Number.isInteger(v)).map((v) => ({ at: plot.x.at(v), label: String(v) }));

  const drawMetric = (d: Derived, data: SearchData, sel: SelectionState): void => {
    const plot = metricPlot;
    const [ylo, yhi] = paddedExtent(d.scored.map((s) => s.value));
    const ctx = plot.begin();
    plot.setScales(scale(domain[0], domain[1], plot.left, plot.right), scale(ylo, yhi, plot.bottom, plot.top));
    plot.axes(ctx, xTicks(plot), niceTicks(ylo, yhi, 5).map((v) => ({ at: plot.y.at(v), label: fmtTick(v) })), 'Trial number', data.metricName);
    const p = colours();
    // Dimmed first, then by state, so the picked trials stay on top.
    const layers: [string, boolean, { trial: TrialRecord; value: number }[]][] = [];
    const dim = d.scored.filter((s) => dimmed(sel, s.trial.number));
    const lit = d.scored.filter((s) => !dimmed(sel, s.trial.number));
    layers.push([DIM, true, dim]);
    for (const state of ['pruned', 'complete'] as const) layers.push([stateColour(state), state === 'complete', lit.filter((s) => s.trial.state === state)]);
    for (const [colour, filled, items] of layers) {
      ctx.beginPath();
      const spots = new SpotSet(1);
      for (const s of items) {
        const x = plot.x.at(s.trial.number);
        const y = plot.y.at(s.value);
        plot.hits.push({ trial: s.trial.number, x, y });
        if (!spots.add(x, y)) continue;
        ctx.moveTo(x + 2.6, y);
        ctx.arc(x, y, 2.6, 0, Math.PI * 2);
      }
      if (filled) {
        ctx.fillStyle = colour;
        ctx.fill();
      } else {
        ctx.strokeStyle = colour;
        ctx.lineWidth = 1.2;
        ctx.stroke();
      }
    }
    const picked = sel.picked.size > 0 ? lit.length : 0;
    // Running best as a staircase to the last shown trial.
    if (d.best.length > 0) {
      ctx.beginPath();
      ctx.strokeStyle = p.accent;
      ctx.lineWidth = 2;
      let y = plot.y.at(d.best[0]!.best);
      ctx.moveTo(plot.x.at(d.best[0]!.number), y);
      for (const b of d.best) {
        const x = plot.x.at(b.number);
        ctx.lineTo(x, y);
        y = plot.y.at(b.best);
        ctx.lineTo(x, y);
      }
      ctx.lineTo(plot.right, y);
      ctx.stroke();
    }
    ringFocused(ctx, plot, sel.focused, p.text);
    markDrawn(plot.canvas, d.scored.length, picked, sel.focused);
  };

  const drawVolume = (d: Derived, sel: SelectionState): void => {
    const plot = volumePlot;
    const top = Math.max(1e-12, ...d.volume.map((v) => v.volume)) * 1.08;
    const ctx = plot.begin();
    plot.setScales(scale(domain[0], domain[1], plot.left, plot.right), scale(0, top, plot.bottom, plot.top));
    plot.axes(ctx, xTicks(plot), niceTicks(0, top, 3).map((v) => ({ at: plot.y.at(v), label: fmtTick(v) })), 'Trial number', 'HV');
    const p = colours();
    if (sel.picked.size > 0) {
      // Shade the picked trials' span so the link to the other views shows here too.
      const numbers = [...sel.picked];
      const lo = Math.min(...numbers);
      const hi = Math.max(...numbers);
      ctx.fillStyle = 'rgba(67, 56, 202, 0.08)';
      ctx.fillRect(plot.x.at(lo - 0.5), plot.top, Math.max(2, plot.x.at(hi + 0.5) - plot.x.at(lo - 0.5)), plot.bottom - plot.top);
    }
    if (d.volume.length > 0) {
      ctx.beginPath();
      ctx.strokeStyle = p.states['complete'] ?? p.text;
      ctx.lineWidth = 2;
      let y = plot.y.at(0);
      ctx.moveTo(plot.x.at(d.volume[0]!.number), y);
      for (const v of d.volume) {
        const x = plot.x.at(v.number);
        ctx.lineTo(x, y);
        y = plot.y.at(v.volume);
        ctx.lineTo(x, y);
        plot.hits.push({ trial: v.number, x, y });
      }
      ctx.lineTo(plot.right, y);
      ctx.stroke();
    }
    ringFocused(ctx, plot, sel.focused, p.text);
    markDrawn(plot.canvas, d.volume.length, 0, sel.focused);
    plot.canvas.dataset['finalVolume'] = String(d.volume[d.volume.length - 1]?.volume ?? 0);
  };

  return {
    root,
    draw(data, sel) {
      if (derived?.shown !== data.shown) derived = derive(data);
      const numbers = data.shown.map((t) => t.number);
      domain = numbers.length > 0 ? [Math.min(...numbers) - 0.5, Math.max(...numbers) + 0.5] : [0, 1];
      drawMetric(derived, data, sel);
      drawVolume(derived, sel);
      note.textContent = derived.referenceNote;
    },
  };
}
