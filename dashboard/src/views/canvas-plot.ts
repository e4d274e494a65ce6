/**
 * A plot drawn on a canvas: thousands of trials as points or lines cost one draw call each,
 * where SVG would build as many DOM nodes. Handles the device pixel ratio, linear and log
 * scales, axes, a click on the nearest point and a horizontal brush. The scales and the plot
 * box are mirrored in data attributes so a test can aim at a value.
 */

import { h } from '../dom.js';

/** Margins of the plot area inside the canvas, in CSS pixels. */
export interface Margins {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** A scale from values to CSS pixels. */
export interface Scale {
  lo: number;
  hi: number;
  log: boolean;
  at(v: number): number;
  invert(px: number): number;
}

/** A linear (or log10) scale from [lo, hi] to [from, to]. */
export function scale(lo: number, hi: number, from: number, to: number, log = false): Scale {
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const a = f(lo);
  const span = f(hi) - a || 1;
  return {
    lo,
    hi,
    log,
    at: (v) => from + ((f(v) - a) / span) * (to - from),
    invert: (px) => {
      const u = a + ((px - from) / (to - from)) * span;
      return log ? 10 ** u : u;
    },
  };
}

/** Round tick values across [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** [lo, hi] of finite values, padded by 5 % (or ±0.5 when they are all equal). */
export function paddedExtent(values: Iterable<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** The page's colours, read once from the CSS variables so canvas and SVG agree. */
export interface Palette {
  text: string;
  muted: string;
  faint: string;
  grid: string;
  accent: string;
  states: Record<string, string>;
}

let palette: Palette | undefined;

/** The colours of the stylesheet's variables. */
export function colours(): Palette {
  if (palette) return palette;
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  palette = {
    text: v('--text', '#1d2230'),
    muted: v('--muted', '#667085'),
    faint: v('--faint', '#98a2b3'),
    grid: v('--border', '#e2e5ea'),
    accent: v('--accent', '#4338ca'),
    states: {
      waiting: v('--waiting', '#6b7280'),
      running: v('--running', '#1d60d8'),
      complete: v('--complete', '#16803c'),
      pruned: v('--pruned', '#b45309'),
      failed: v('--failed', '#c0262d'),
    },
  };
  return palette;
}

const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** A colour for t in [0, 1] on a viridis-like ramp (dark: low metric, yellow: high). */
export function ramp(t: number): string {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const [a, b] = [VIRIDIS[i]!, VIRIDIS[i + 1]!];
  return `rgb(${a.map((c, k) => Math.round(c + (b[k]! - c) * f)).join(',')})`;
}

/** Every plot built (a plot whose root left the page stops counting). */
const LIVE = new Set<CanvasPlot>();
const BY_ROOT = new WeakMap<Element, CanvasPlot>();
/** Resize listeners by the element they draw into: dropped once it left the page. */
const resizeListeners = new Map<() => void, Element>();
const seenOnPage = new WeakSet<Element>();

/**
 * Whether an element that was on the page has left it (its study page was navigated away
 * from): its plot and listeners are then forgotten, so they do not pile up visit after visit.
 * An element not attached yet is not gone.
 */
function gone(element: Element): boolean {
  if (element.isConnected) {
    seenOnPage.add(element);
    return false;
  }
  return seenOnPage.has(element);
}

/**
 * Widths come from one resize observer, never from reading layout while drawing: a read after
 * another canvas was drawn forces the browser to lay out the whole page again, once per plot,
 * which with thousands of table rows and SVG points below costs seconds. The observer reports
 * after the browser's own layout, before paint, so a plot still shows in its first frame.
 */
let observer: ResizeObserver | undefined;

function onLayout(entries: ResizeObserverEntry[]): void {
  let changed = false;
  for (const entry of entries) {
    const plot = BY_ROOT.get(entry.target);
    const width = Math.floor(entry.contentRect.width);
    if (!plot || width === 0 || width === plot.measuredWidth) continue;
    plot.measuredWidth = width;
    changed = true;
  }
  for (const [listener, owner] of resizeListeners) {
    if (gone(owner)) resizeListeners.delete(listener);
    else if (changed) listener();
  }
}

/** A drawn point a click can hit. */
export interface HitPoint {
  trial: number;
  x: number;
  y: number;
}

/** What a pointer gesture on the plot area did. */
export type Gesture =
  | { kind: 'click'; x: number; y: number }
  /** A drag along the brush direction from `from` to `to` (sorted), started at `at` across it. */
  | { kind: 'brush'; from: number; to: number; at: number }
  | { kind: 'clear' };

/** What a plot offers besides clicks: a brush (default on) and a tooltip for the point under the pointer. */
export interface PlotOptions {
  /** Whether a drag brushes a range (else a drag does nothing). */
  brush?: boolean;
  /** The tooltip text of a drawn trial (hovered within 8 px), if the plot has tooltips. */
  describe?: (trial: number) => string;
}

/** A canvas with a plot area, scales, and pointer gestures. */
export class CanvasPlot {
  readonly canvas: HTMLCanvasElement;
  readonly root: HTMLElement;
  private readonly brushBox: HTMLElement;
  private readonly tip: HTMLElement;
  /** The highlight layer over the canvas, made on first use (see {@link overlay}). */
  private top_: HTMLCanvasElement | undefined;
  width = 0;
  x: Scale = scale(0, 1, 0, 1);
  y: Scale = scale(0, 1, 0, 1);
  /** Points drawn last, for hit-testing. */
  hits: HitPoint[] = [];

  constructor(
    testId: string,
    readonly height: number,
    readonly margins: Margins,
    onGesture: (gesture: Gesture) => void,
    label: string,
    /** The direction a drag brushes: along x (most plots) or y (parallel coordinates). */
    private readonly along: 'x' | 'y' = 'x',
    private readonly options: PlotOptions = {},
  ) {
    this.canvas = h('canvas', { class: 'view-canvas', 'data-testid': testId, role: 'img', 'aria-label': label });
    this.brushBox = h('div', { class: 'brush-box', hidden: true });
    this.tip = h('div', { class: 'plot-tip', role: 'tooltip', hidden: true });
    this.root = h('div', { class: 'canvas-host' }, this.canvas, this.brushBox, this.tip);
    // The CSS height is fixed from the start, so drawing never changes the page's layout.
    this.canvas.style.height = `${height}px`;
    this.listen(onGesture);
    LIVE.add(this);
    BY_ROOT.set(this.root, this);
    (observer ??= new ResizeObserver(onLayout)).observe(this.root);
  }

  /** Width the layout gave the plot, as the resize observer reported it (0: not laid out yet). */
  measuredWidth = 0;

  /** Whether every plot on the page has been laid out (so drawing needs no layout read). */
  static allMeasured(): boolean {
    for (const plot of LIVE) {
      if (gone(plot.root)) {
        LIVE.delete(plot);
        observer?.unobserve(plot.root);
      } else if (plot.root.isConnected && plot.measuredWidth === 0) return false;
    }
    return true;
  }

  /**
   * Calls `listener` after the layout changed some plot's width (and on each plot's first
   * layout), until `owner` (the element it draws into) has left the page.
   */
  static onResize(listener: () => void, owner: Element): void {
    resizeListeners.set(listener, owner);
  }

  /** Sizes the canvas to its host and clears it; returns the context in CSS pixels. Set the scales next. */
  begin(): CanvasRenderingContext2D {
    const ratio = window.devicePixelRatio || 1;
    this.width = Math.max(200, this.measuredWidth || 400);
    const w = Math.round(this.width * ratio);
    const hgt = Math.round(this.height * ratio);
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
    }
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    this.hits = [];
    return ctx;
  }

  /**
   * The highlight layer: a second canvas over the plot, cleared and sized like it, for what
   * changes alone (a focus ring, a focused curve). Drawing there leaves the points below as
   * they are, so a focus costs a ring, not a redraw of thousands of points.
   */
  overlay(): CanvasRenderingContext2D {
    if (!this.top_) {
      this.top_ = h('canvas', { class: 'view-canvas-overlay', 'aria-hidden': 'true' });
      this.top_.style.height = `${this.height}px`;
      this.root.insertBefore(this.top_, this.brushBox);
    }
    const layer = this.top_;
    if (layer.width !== this.canvas.width || layer.height !== this.canvas.height) {
      layer.width = this.canvas.width;
      layer.height = this.canvas.height;
    }
    const ctx = layer.getContext('2d')!;
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, layer.width, layer.height);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }

  /** Whether the plot's width is still the one it was last drawn at (else it must be drawn again). */
  get sized(): boolean {
    return Math.max(200, this.measuredWidth || 400) === this.width;
  }

  /** Sets the scales (from the plot area's edges, known after begin) and mirrors them for tests. */
  setScales(x: Scale, y: Scale): void {
    this.x = x;
    this.y = y;
    const d = this.canvas.dataset;
    d['xLo'] = String(x.lo);
    d['xHi'] = String(x.hi);
    d['xLog'] = String(x.log);
    d['yLo'] = String(y.lo);
    d['yHi'] = String(y.hi);
    d['box'] = [this.left, this.top, this.right, this.bottom].join(',');
  }

  /** Left edge of the plot area. */
  get left(): number {
    return this.margins.left;
  }

  /** Right edge of the plot area. */
  get right(): number {
    return this.width - this.margins.right;
  }

  /** Top edge of the plot area. */
  get top(): number {
    return this.margins.top;
  }

  /** Bottom edge of the plot area. */
  get bottom(): number {
    return this.height - this.margins.bottom;
  }

  /** Grid, frame, tick labels and axis titles. */
  axes(ctx: CanvasRenderingContext2D, xTicks: readonly { at: number; label: string }[], yTicks: readonly { at: number; label: string }[], xTitle: string, yTitle: string): void {
    const p = colours();
    ctx.strokeStyle = p.grid;
    ctx.lineWidth = 1;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = p.muted;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of yTicks) {
      const py = Math.round(t.at) + 0.5;
      ctx.beginPath();
      ctx.moveTo(this.left, py);
      ctx.lineTo(this.right, py);
      ctx.stroke();
      ctx.fillText(t.label, this.left - 6, py);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) {
      const px = Math.round(t.at) + 0.5;
      ctx.beginPath();
      ctx.moveTo(px, this.top);
      ctx.lineTo(px, this.bottom);
      ctx.stroke();
      ctx.fillText(t.label, px, this.bottom + 5);
    }
    ctx.strokeStyle = p.faint;
    ctx.strokeRect(this.left + 0.5, this.top + 0.5, this.right - this.left, this.bottom - this.top);
    ctx.fillStyle = p.text;
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText(xTitle, (this.left + this.right) / 2, this.height - 16);
    if (yTitle) {
      ctx.save();
      ctx.translate(12, (this.top + this.bottom) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = 'middle';
      ctx.fillText(yTitle, 0, 0);
      ctx.restore();
    }
  }

  /** The drawn trial nearest to (x, y), within 8 px. */
  nearest(x: number, y: number): number | undefined {
    let best: HitPoint | undefined;
    let bestD = 64;
    for (const p of this.hits) {
      const d = (p.x - x) ** 2 + (p.y - y) ** 2;
      if (d <= bestD) {
        bestD = d;
        best = p;
      }
    }
    return best?.trial;
  }

  /** Shows the band being dragged from `from` to `to` (CSS px) across `at`, or hides it. */
  private showBrush(band: { from: number; to: number; at: number } | undefined): void {
    this.brushBox.hidden = band === undefined;
    if (!band) return;
    const [a, b] = band.from < band.to ? [band.from, band.to] : [band.to, band.from];
    const style =
      this.along === 'x'
        ? { left: `${a}px`, width: `${b - a}px`, top: `${this.top}px`, height: `${this.bottom - this.top}px` }
        : { left: `${band.at - 9}px`, width: '18px', top: `${a}px`, height: `${b - a}px` };
    Object.assign(this.brushBox.style, style);
  }

  /** Shows the tooltip of the trial under the pointer (nearest within 8 px), or hides it. */
  private hover(p: { x: number; y: number } | undefined): void {
    const describe = this.options.describe;
    if (!describe) return;
    const trial = p ? this.nearest(p.x, p.y) : undefined;
    this.canvas.style.cursor = trial === undefined ? '' : 'pointer';
    if (trial === undefined || !p) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = describe(trial);
    this.tip.hidden = false;
    // Beside the pointer, flipped to its left in the right half so it stays inside the plot.
    const leftHalf = p.x < this.width / 2;
    Object.assign(this.tip.style, leftHalf ? { left: `${p.x + 14}px`, right: '' } : { left: '', right: `${this.width - p.x + 14}px` }, { top: `${Math.max(0, p.y - 10)}px` });
    this.tip.dataset['trial'] = String(trial);
  }

  /** The coordinate a drag brushes along, clamped to the plot area. */
  private brushCoordinate(p: { x: number; y: number }): number {
    return this.along === 'x' ? Math.min(this.right, Math.max(this.left, p.x)) : Math.min(this.bottom, Math.max(this.top, p.y));
  }

  private listen(onGesture: (gesture: Gesture) => void): void {
    let start: { x: number; y: number } | undefined;
    const local = (event: PointerEvent): { x: number; y: number } => {
      const r = this.canvas.getBoundingClientRect();
      return { x: event.clientX - r.left, y: event.clientY - r.top };
    };
    const band = (from: { x: number; y: number }, to: { x: number; y: number }): { from: number; to: number; at: number } | undefined => {
      if (this.options.brush === false) return undefined;
      const moved = this.along === 'x' ? Math.abs(to.x - from.x) : Math.abs(to.y - from.y);
      if (moved <= 3) return undefined;
      const [a, b] = [this.brushCoordinate(from), this.brushCoordinate(to)].sort((u, v) => u - v) as [number, number];
      return { from: a, to: b, at: this.along === 'x' ? from.y : from.x };
    };
    this.canvas.addEventListener('pointerdown', (event) => {
      start = local(event);
      this.canvas.setPointerCapture(event.pointerId);
    });
    this.canvas.addEventListener('pointermove', (event) => {
      if (start) this.showBrush(band(start, local(event)));
      else this.hover(local(event));
    });
    this.canvas.addEventListener('pointerleave', () => this.hover(undefined));
    this.canvas.addEventListener('pointerup', (event) => {
      if (!start) return;
      const p = local(event);
      const dragged = band(start, p);
      start = undefined;
      this.showBrush(undefined);
      if (dragged) onGesture({ kind: 'brush', ...dragged });
      else if (this.nearest(p.x, p.y) !== undefined) onGesture({ kind: 'click', x: p.x, y: p.y });
      else if (p.x >= this.left && p.x <= this.right && p.y >= this.top && p.y <= this.bottom) onGesture({ kind: 'clear' });
    });
  }
}

/** A ring around the focused trial's point, if the plot drew it. */
export function ringFocused(ctx: CanvasRenderingContext2D, plot: CanvasPlot, focused: number | undefined, colour: string): void {
  if (focused === undefined) return;
  const hit = plot.hits.find((p) => p.trial === focused);
  if (!hit) return;
  ctx.beginPath();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.arc(hit.x, hit.y, 6.5, 0, Math.PI * 2);
  ctx.stroke();
}

/** The cell (`1 / perPixel` px wide) of up to four coordinates in [0, 8192 / perPixel) px, packed exactly in one number (4 × 13 bits). */
export function spotKey(x: number, y: number, x2 = 0, y2 = 0, perPixel = 4): number {
  const q = (v: number): number => Math.min(8191, Math.max(0, Math.round(v * perPixel)));
  return ((q(x) * 8192 + q(y)) * 8192 + q(x2)) * 8192 + q(y2);
}

/**
 * Marks that fall on the same spot once: at 10,000 trials many points share a spot, and one
 * fill of a path covers a spot the same however often the path passes it, so drawing the spot
 * once gives the same picture for a fraction of the rasterising (a software canvas without a
 * GPU spends most of a redraw there). A spot is a quarter pixel by default; for dots a few
 * pixels wide a whole pixel (a skipped dot is then drawn at most half a pixel from where it
 * belongs, under another dot). `add` returns whether the spot is new.
 */
export class SpotSet {
  private readonly seen = new Set<number>();

  /** Spots of `1 / perPixel` CSS px. */
  constructor(private readonly perPixel = 4) {}

  /** Whether (x, y) (and, for a segment, (x2, y2)) was not added before; adds it. */
  add(x: number, y: number, x2 = 0, y2 = 0): boolean {
    const key = spotKey(x, y, x2, y2, this.perPixel);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}
