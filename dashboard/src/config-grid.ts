/**
 * A PEFT configuration as a module × layer grid: one row per module placement (each LoRA target
 * its own row, with its own rank), one column per layer, each cell the module's size or rank in
 * that layer. The same grid over many trials (the Pareto front) gives, per cell, the share of
 * trials with the module there and their median size. Pure functions first, then the DOM.
 */

import { METHOD_KEYS, presentSpecs } from '../../search/methods/registry.js';
import type { MethodSpec } from '../../search/methods/spec.js';
import type { PeftConfig } from '../../search/types.js';
import type { TrialRecord } from '../../scheduler/types.js';
import { h, type Child } from './dom.js';

/** One row of a trial's grid: a module placement and its size in each layer it sits in. */
export interface GridRow {
  /** Stable id (`lora.query`, `serial.ffn`, ...), so rows of different trials line up. */
  id: string;
  label: string;
  /** What the size means: `rank`, `bottleneck`, `vectors`; empty for an on/off module. */
  unit: string;
  /** Layer → size (for an on/off module, 1). */
  cells: Map<number, number>;
  /** Its place among all rows: the method's registry position, then its own order. */
  order: number;
}

/** A trial's grid, and the modules that have no layers (prompt tuning, gates). */
export interface ConfigGrid {
  rows: GridRow[];
  /** Modules applying to the whole model, as short descriptions. */
  global: string[];
}

/**
 * The grid of one configuration, rows in registry order: each method's spec gives its rows
 * (search/methods/), so a method added to the registry shows here with no code of its own.
 */
export function configGrid(peft: PeftConfig): ConfigGrid {
  const rows: GridRow[] = [];
  const global: string[] = [];
  for (const { key, spec, config } of presentSpecs(peft)) {
    const part = (spec as MethodSpec<typeof config>).grid(config);
    part.rows.forEach((r, i) => rows.push({ id: r.id, label: r.label, unit: r.unit, cells: new Map(r.layers.map((l, j) => [l, r.sizes?.[j] ?? r.size])), order: METHOD_KEYS.indexOf(key) * 100 + i }));
    global.push(...part.notes);
  }
  return { rows, global };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One cell of the grid summarised over several trials. */
export interface SummaryCell {
  /** Trials with the module in this layer. */
  count: number;
  /** count over the number of trials summarised. */
  share: number;
  /** Median size among those trials. */
  medianSize: number;
}

/** One row of a summary grid. */
export interface SummaryRow {
  id: string;
  label: string;
  unit: string;
  cells: Map<number, SummaryCell>;
}

/** The grids of `trials` summarised cell by cell: which modules in which layers they share. */
export function summaryGrid(trials: readonly TrialRecord[]): SummaryRow[] {
  const rows = new Map<string, { label: string; unit: string; order: number; sizes: Map<number, number[]> }>();
  const order: string[] = [];
  for (const trial of trials) {
    for (const r of configGrid(trial.peft).rows) {
      let entry = rows.get(r.id);
      if (!entry) {
        entry = { label: r.label, unit: r.unit, order: r.order, sizes: new Map() };
        rows.set(r.id, entry);
        order.push(r.id);
      }
      for (const [layer, size] of r.cells) {
        const list = entry.sizes.get(layer) ?? [];
        list.push(size);
        entry.sizes.set(layer, list);
      }
    }
  }
  return order
    .sort((a, b) => rows.get(a)!.order - rows.get(b)!.order)
    .map((id) => {
      const entry = rows.get(id)!;
      const cells = new Map<number, SummaryCell>();
      for (const [layer, sizes] of entry.sizes) cells.set(layer, { count: sizes.length, share: sizes.length / trials.length, medianSize: median(sizes) });
      return { id, label: entry.label, unit: entry.unit, cells };
    });
}

// ---------- DOM ----------

function fmtSize(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** A grid table: layers across, one row per module; `cell` builds each cell's content. */
function gridTable<R extends { id: string; label: string }>(
  rows: readonly R[],
  numLayers: number,
  cell: (row: R, layer: number) => { text: Child; title: string; level: number } | undefined,
  testId: string,
): HTMLTableElement {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  return h(
    'table',
    { class: 'grid-table', 'data-testid': testId },
    h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'grid-corner' }, 'module \\ layer'), ...layers.map((l) => h('th', { scope: 'col', class: 'num' }, String(l))))),
    h(
      'tbody',
      null,
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-row': r.id },
          h('th', { scope: 'row', class: 'nowrap' }, r.label),
          ...layers.map((layer) => {
            const c = cell(r, layer);
            if (!c) return h('td', { class: 'grid-cell empty-cell', 'data-layer': layer });
            const td = h('td', { class: 'grid-cell on', 'data-layer': layer, title: c.title }, c.text);
            // Darker for larger (a trial's grid) or more shared (a summary) cells.
            td.style.setProperty('--level', c.level.toFixed(3));
            // Light cells carry dark text, so every number stays readable.
            if (c.level < 0.45) td.classList.add('light');
            return td;
          }),
        ),
      ),
    ),
  );
}

/** The grid of one trial's configuration, with the whole-model modules beneath it. */
export function trialGridView(peft: PeftConfig, numLayers: number): HTMLElement {
  const grid = configGrid(peft);
  if (grid.rows.length === 0) {
    return h('div', { class: 'grid-host', 'data-testid': 'config-grid' }, h('p', { class: 'muted' }, grid.global.length > 0 ? grid.global.join(' · ') : 'No PEFT module: only the task head trains.'));
  }
  const max = Math.max(...grid.rows.flatMap((r) => [...r.cells.values()]));
  const table = gridTable(
    grid.rows,
    numLayers,
    (r, layer) => {
      const size = r.cells.get(layer);
      if (size === undefined) return undefined;
      // Log scale: ranks and bottlenecks span powers of two.
      const level = r.unit === '' ? 0.5 : 0.25 + 0.75 * (Math.log2(size + 1) / Math.log2(max + 1));
      return { text: r.unit === '' ? '✓' : String(size), title: `${r.label}, layer ${layer}${r.unit ? `: ${r.unit} ${size}` : ''}`, level };
    },
    'config-grid-table',
  );
  return h(
    'div',
    { class: 'grid-host', 'data-testid': 'config-grid' },
    h('div', { class: 'grid-scroll' }, table),
    grid.global.length > 0 ? h('p', { class: 'panel-note' }, grid.global.join(' · ')) : null,
  );
}

/** The grid summarised over `trials` (the Pareto front): share of trials per cell, with the median size. */
export function summaryGridView(trials: readonly TrialRecord[], numLayers: number): HTMLElement {
  const rows = summaryGrid(trials);
  if (trials.length === 0) return h('div', { class: 'plot-empty', 'data-testid': 'pareto-grid' }, 'No complete trial yet: the grid fills in as trials reach the front.');
  const table = gridTable(
    rows,
    numLayers,
    (r, layer) => {
      const c = r.cells.get(layer);
      if (!c) return undefined;
      const pct = `${Math.round(c.share * 100)}%`;
      const title = `${r.label}, layer ${layer}: ${c.count} of ${trials.length} Pareto trials${r.unit ? `, median ${r.unit} ${fmtSize(c.medianSize)}` : ''}`;
      return { text: h('span', { class: 'grid-share' }, pct, r.unit ? h('span', { class: 'grid-size' }, fmtSize(c.medianSize)) : null), title, level: c.share };
    },
    'pareto-grid-table',
  );
  return h('div', { class: 'grid-host', 'data-testid': 'pareto-grid' }, h('div', { class: 'grid-scroll' }, table));
}
