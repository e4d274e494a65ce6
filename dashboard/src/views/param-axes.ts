/**
 * One axis per search parameter, shared by the parallel coordinates, the slice plots and the
 * importance: where a value sits on [0, 1] and how to label the axis. Pure, no DOM.
 */

import type { Distribution, ParamValue, SearchSpace } from '../../../search/space.js';
import { unitOf } from '../../../search/space.js';

/** A tick of a parameter axis at a position in [0, 1]. */
export interface AxisTick {
  at: number;
  label: string;
}

/** A search parameter laid out on [0, 1]. */
export interface ParamAxis {
  name: string;
  /** Categorical axes have evenly spaced categories; numeric ones are linear or log. */
  categorical: boolean;
  /** The categories in axis order (categorical axes only). */
  categories: readonly ParamValue[];
  ticks: readonly AxisTick[];
  /** Whether the parameter has a condition (so it can be absent from a point). */
  conditional: boolean;
  /** The position of a value in [0, 1]; undefined for a missing (inactive) or unknown value. */
  position(value: ParamValue | undefined): number | undefined;
  /** The value at a position (numeric axes) or the nearest category (categorical axes). */
  valueAt(position: number): ParamValue;
}

function label(value: ParamValue): string {
  if (typeof value !== 'number') return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-2) return value.toExponential(1).replace('e+', 'e');
  return String(Number(value.toPrecision(3)));
}

function categoricalAxis(name: string, dist: Extract<Distribution, { type: 'categorical' }>): ParamAxis {
  // Numeric choices (module sizes, ranks) read best in numeric order; others keep the space's order.
  const categories = dist.choices.every((c) => typeof c === 'number') ? [...(dist.choices as number[])].sort((a, b) => a - b) : [...dist.choices];
  const span = Math.max(1, categories.length - 1);
  const at = (i: number): number => (categories.length === 1 ? 0.5 : i / span);
  return {
    name,
    categorical: true,
    categories,
    conditional: dist.condition !== undefined,
    ticks: categories.map((c, i) => ({ at: at(i), label: label(c) })),
    position(value) {
      if (value === undefined) return undefined;
      const i = categories.indexOf(value);
      return i < 0 ? undefined : at(i);
    },
    valueAt(position) {
      const i = Math.round(Math.min(1, Math.max(0, position)) * span);
      return categories[Math.min(categories.length - 1, i)]!;
    },
  };
}

function numericAxis(name: string, dist: Extract<Distribution, { type: 'int' | 'float' }>): ParamAxis {
  const valueAt = (u: number): number => {
    const t = Math.min(1, Math.max(0, u));
    const v = dist.log ? Math.exp(Math.log(dist.low) + t * (Math.log(dist.high) - Math.log(dist.low))) : dist.low + t * (dist.high - dist.low);
    return dist.type === 'int' ? Math.round(v) : v;
  };
  return {
    name,
    categorical: false,
    categories: [],
    conditional: dist.condition !== undefined,
    ticks: [0, 0.5, 1].map((at) => ({ at, label: label(valueAt(at)) })),
    position(value) {
      if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
      return unitOf(dist, value);
    },
    valueAt,
  };
}

/** The axes of a search space, in the space's own order. */
export function paramAxes(space: SearchSpace): ParamAxis[] {
  return Object.entries(space).map(([name, dist]) => (dist.type === 'categorical' ? categoricalAxis(name, dist) : numericAxis(name, dist)));
}

/**
 * The feature of an axis for the importance forest, and its domain. Categories take equal
 * shares of the domain ((i + ½) / n), so fANOVA's uniform measure weighs every category alike
 * (the evenly spaced plot positions would give the two end categories half a share); an absent
 * value of a conditional parameter is one more region below 0, a fifth of the domain.
 */
export function importanceFeature(axis: ParamAxis): { lo: number; hi: number; encode(value: ParamValue | undefined): number } {
  const lo = axis.conditional ? -0.25 : 0;
  const n = axis.categories.length;
  return {
    lo,
    hi: 1,
    encode(value) {
      const p = axis.position(value);
      if (p === undefined) return lo / 2;
      return axis.categorical ? (axis.categories.indexOf(value!) + 0.5) / n : p;
    },
  };
}
