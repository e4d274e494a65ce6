/**
 * Parameter importance as bars: each parameter's share of the metric's variance explained by
 * its main effect (fANOVA on a random forest, see importance.ts), over the shown trials that
 * have a metric. The forest is fitted after the page has drawn, one tree per slice of a few
 * milliseconds between frames (a 10,000-trial study must not wait for it, nor block a click
 * while it fits), and only again when those trials change.
 */

import { h } from '../dom.js';
import { fanovaSteps } from './importance.js';
import { importanceFeature } from './param-axes.js';
import { metricOf, type SearchData, type SearchView } from './view-data.js';

/** Longest the forest fit holds the main thread at a time, in milliseconds. */
const SLICE_MS = 8;

/** Fewest trials with a metric before a ranking means anything. */
const MIN_TRIALS = 8;

/** The importance of each axis of `data` over its shown trials with a metric (a pure computation). */
export function importanceOf(data: SearchData): { name: string; share: number }[] {
  const steps = importanceSteps(data);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** {@link importanceOf} as steps: yields after each tree of the forest, returns the ranking. */
export function* importanceSteps(data: SearchData): Generator<void, { name: string; share: number }[], void> {
  const features = data.axes.map((a) => importanceFeature(a));
  const x: number[][] = [];
  const y: number[] = [];
  for (const t of data.shown) {
    const m = metricOf(t);
    if (m === undefined) continue;
    x.push(data.axes.map((a, i) => features[i]!.encode(t.params[a.name])));
    y.push(m);
  }
  const shares = yield* fanovaSteps(x, y, features);
  return data.axes.map((a, i) => ({ name: a.name, share: shares[i]! })).sort((a, b) => b.share - a.share);
}

/** The parameter importance view. */
export function importanceView(): SearchView {
  const list = h('div', { class: 'importance-list', 'data-testid': 'importance' });
  const note = h(
    'p',
    { class: 'panel-note' },
    'Share of the metric’s variance each parameter explains alone (fANOVA on a 32-tree random forest); the rest is interactions.',
  );
  const root = h('div', { class: 'view-importance' }, list, note);
  let key = '';
  let timer: number | undefined;

  const show = (rows: { name: string; share: number }[]): void => {
    const top = Math.max(1e-9, ...rows.map((r) => r.share));
    list.replaceChildren(
      ...rows.map((r) => {
        const bar = h('span', { class: 'importance-bar' });
        bar.style.width = `${((100 * r.share) / top).toFixed(1)}%`;
        return h(
          'div',
          { class: 'importance-row', 'data-param': r.name, 'data-share': r.share.toFixed(4) },
          h('span', { class: 'importance-name mono', title: r.name }, r.name),
          h('span', { class: 'importance-track' }, bar),
          h('span', { class: 'importance-value' }, `${(100 * r.share).toFixed(1)}%`),
        );
      }),
    );
    list.dataset['state'] = 'ready';
  };

  return {
    root,
    draw(data) {
      let n = 0;
      let sum = 0;
      for (const t of data.shown) {
        const m = metricOf(t);
        if (m === undefined) continue;
        n++;
        sum += m * (t.number + 1);
      }
      // Trials with a metric only change by finishing, so their count and a weighted sum identify the set.
      const next = `${data.axes.map((a) => a.name).join('|')}#${n}#${sum}`;
      if (next === key) return;
      key = next;
      if (timer !== undefined) window.clearTimeout(timer);
      timer = undefined;
      if (n < MIN_TRIALS) {
        list.dataset['state'] = 'too-few';
        list.replaceChildren(h('div', { class: 'plot-empty' }, `Needs ${MIN_TRIALS} trials with a metric (${n} so far).`));
        return;
      }
      list.dataset['state'] = 'computing';
      list.classList.add('is-stale');
      const started = performance.now();
      let busy = 0;
      const steps = importanceSteps(data);
      // Each slice fits trees for up to SLICE_MS, then gives the page a turn (input, frames).
      const slice = (): void => {
        const t0 = performance.now();
        for (;;) {
          const step = steps.next();
          if (step.done) {
            timer = undefined;
            show(step.value);
            list.classList.remove('is-stale');
            busy += performance.now() - t0;
            list.dataset['ms'] = busy.toFixed(0);
            list.dataset['wallMs'] = (performance.now() - started).toFixed(0);
            return;
          }
          if (performance.now() - t0 >= SLICE_MS) break;
        }
        busy += performance.now() - t0;
        timer = window.setTimeout(slice, 0);
      };
      timer = window.setTimeout(slice, 30);
    },
  };
}
