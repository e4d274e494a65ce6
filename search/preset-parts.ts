/**
 * Pieces the presets share: module sizes, per-layer switches, and the checks of a user-given
 * space's parameters.
 */
import type { SearchSpace } from './space.js';
import { InvalidSearchSpaceError } from './space.js';
import { checkSizeDistribution } from './size-rules.js';
import type { EncoderShape, SearchPoint } from './types.js';

/** Width of the prefix reparameterising MLP: AutoPEFT's 800, but at most 4d for small models. */
export function prefixReparamSize(shape: EncoderShape): number {
  return Math.min(800, 4 * shape.hiddenSize);
}

/** Bottleneck sizes d, d/2, ..., 1 (AutoPEFT: k = 0..⌊log2 d⌋, d / 2^k rounded down, at least 1). */
export function halvingSizes(hiddenSize: number): number[] {
  const sizes: number[] = [];
  for (let k = 0; k <= Math.floor(Math.log2(hiddenSize)); k++) sizes.push(Math.max(1, Math.floor(hiddenSize / 2 ** k)));
  return [...new Set(sizes)];
}

/** Parameter name of layer i's switch. */
export function layerParam(i: number): string {
  return `layer.${i}`;
}

/** The layers whose switch is on in a point, ascending. */
export function activeLayers(point: SearchPoint): number[] {
  return Object.keys(point)
    .filter((k) => k.startsWith('layer.') && point[k] === true)
    .map((k) => Number(k.slice(6)))
    .sort((a, b) => a - b);
}

/** One on/off switch per layer of the model. */
export function layerSwitches(shape: EncoderShape): SearchSpace {
  const space: SearchSpace = {};
  for (let i = 0; i < shape.numLayers; i++) space[layerParam(i)] = { type: 'categorical', choices: [true, false] };
  return space;
}

/** How a user-given parameter of a preset's space is checked: its kind and its bounds. */
export type ParameterRule = { kind: 'switch' } | { kind: 'size'; max: number; min: number; what: string };

/**
 * Checks every parameter of a space against the preset's rules: a name the preset knows, a
 * switch with boolean choices, a size with integer values in [min, max]. Names the culprit.
 */
export function checkParameters(space: SearchSpace, rules: (name: string) => ParameterRule | undefined, known: string): void {
  for (const [name, dist] of Object.entries(space)) {
    const rule = rules(name);
    if (!rule) throw new InvalidSearchSpaceError(name, `unknown parameter for this preset; known: ${known}`);
    if (rule.kind === 'switch') {
      if (dist.type !== 'categorical' || dist.choices.some((c) => typeof c !== 'boolean')) {
        throw new InvalidSearchSpaceError(name, 'a switch must be categorical with choices true and/or false');
      }
      continue;
    }
    checkSizeDistribution(name, dist, rule.min, rule.max, rule.what);
  }
}

/** The rule of a layer switch `layer.i`: only for layers the model has. */
export function layerRule(name: string, shape: EncoderShape): ParameterRule | undefined {
  const match = /^layer\.(\d+)$/.exec(name);
  if (!match) return undefined;
  const index = Number(match[1]);
  if (index >= shape.numLayers || String(index) !== match[1]) {
    throw new InvalidSearchSpaceError(name, `the base model has layers 0..${shape.numLayers - 1}, so there is no layer ${match[1]}`);
  }
  return { kind: 'switch' };
}

/** LoRA ranks searched per target: 1..64, at most d/4. */
export function loraRanks(shape: EncoderShape): number[] {
  return [1, 2, 4, 8, 16, 32, 64].filter((r) => r <= Math.max(1, shape.hiddenSize / 4));
}

