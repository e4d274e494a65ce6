/**
 * The LoRA search space: which parameter names it knows, its default ranges for a base model,
 * and how a point becomes the PEFT and training configuration a worker builds.
 */
import { loraTargetDims } from './param-count.js';
import { checkSizeDistribution } from './size-rules.js';
import type { SearchSpace } from './space.js';
import { InvalidSearchSpaceError } from './space.js';
import { trainingSettingsSchema } from './training-schema.js';
import { LORA_TARGETS } from './types.js';
import type { EncoderShape, LoraTarget, PeftConfig, SearchPoint } from './types.js';

/** Parameter names the LoRA space understands, with what each means. */
export const LORA_SPACE_PARAMETERS: Readonly<Record<string, string>> = {
  'lora.rank': 'LoRA rank r (integer >= 1)',
  'lora.alpha': 'LoRA scaling numerator alpha (the update is scaled by alpha / r)',
  'lora.dropout': 'dropout on the LoRA input, in [0, 1)',
  'lora.targets': 'comma-separated projections: query, key, value, attentionOutput, ffnIn, ffnOut',
  'lora.layers': '"all", "upper" (top half), "lower" (bottom half) or comma-separated layer indices',
  'training.learningRate': 'learning rate of the optimiser',
};

/** Values used for a LoRA setting the space leaves out (Hugging Face PEFT's defaults). */
const DEFAULTS = { rank: 8, alpha: 8, dropout: 0, targets: 'query,value', layers: 'all' } as const;

/** The default LoRA space for a base model: ranks, scalings, targets and learning rate. */
export function defaultLoraSpace(shape: EncoderShape): SearchSpace {
  const maxRank = Math.max(1, Math.min(64, shape.hiddenSize / 4));
  const ranks = [1, 2, 4, 8, 16, 32, 64].filter((r) => r <= maxRank);
  return {
    'lora.rank': { type: 'categorical', choices: ranks },
    'lora.alpha': { type: 'categorical', choices: [8, 16, 32] },
    'lora.targets': { type: 'categorical', choices: ['query,value', 'query,key,value', 'query,key,value,attentionOutput', 'ffnIn,ffnOut', 'query,key,value,attentionOutput,ffnIn,ffnOut'] },
    'lora.layers': { type: 'categorical', choices: shape.numLayers > 1 ? ['all', 'upper', 'lower'] : ['all'] },
    'training.learningRate': { type: 'float', low: 1e-4, high: 1e-2, log: true },
  };
}

/** Checks that every parameter name is known and that its values can be mapped; names the culprit. */
export function validateLoraSpace(space: SearchSpace, shape: EncoderShape): void {
  for (const [name, dist] of Object.entries(space)) {
    if (!Object.hasOwn(LORA_SPACE_PARAMETERS, name)) {
      throw new InvalidSearchSpaceError(name, `unknown parameter; known: ${Object.keys(LORA_SPACE_PARAMETERS).join(', ')}`);
    }
    if (name === 'lora.rank') {
      const max = maxLoraRank(shape);
      checkSizeDistribution(name, dist, 1, max, `the LoRA rank (at most min(d_in, d_out) = ${max} over the projections)`);
      continue;
    }
    const values = dist.type === 'categorical' ? dist.choices : [dist.low, dist.high];
    for (const value of values) checkValue(name, value, shape);
  }
}

function checkValue(name: string, value: number | string | boolean, shape: EncoderShape): void {
  const fail = (why: string): never => {
    throw new InvalidSearchSpaceError(name, `${why}, but got ${JSON.stringify(value)}`);
  };
  switch (name) {
    case 'lora.alpha':
      if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) fail('the value must be a finite number > 0');
      return;
    case 'training.learningRate': {
      // The same bounds as the spec's training.learningRate: one schema for the setting.
      const checked = trainingSettingsSchema.shape.learningRate.safeParse(value);
      if (!checked.success) fail(`the learning rate must pass the training schema (${checked.error.issues[0]?.message ?? 'invalid'})`);
      return;
    }
    case 'lora.dropout':
      if (typeof value !== 'number' || value < 0 || value >= 1) fail('the dropout must be a number in [0, 1)');
      return;
    case 'lora.targets':
      parseTargets(String(value), name);
      return;
    case 'lora.layers':
      parseLayers(String(value), shape.numLayers, name);
      return;
  }
}

function parseTargets(text: string, name: string): LoraTarget[] {
  const targets = text.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  if (targets.length === 0) throw new InvalidSearchSpaceError(name, `at least one target is needed, but got "${text}"`);
  for (const target of targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(target)) {
      throw new InvalidSearchSpaceError(name, `unknown target "${target}"; known: ${LORA_TARGETS.join(', ')}`);
    }
  }
  return LORA_TARGETS.filter((t) => targets.includes(t));
}

function parseLayers(text: string, numLayers: number, name: string): number[] {
  const all = Array.from({ length: numLayers }, (_, i) => i);
  const half = Math.ceil(numLayers / 2);
  if (text === 'all') return all;
  if (text === 'upper') return all.slice(numLayers - half);
  if (text === 'lower') return all.slice(0, half);
  const layers = text.split(',').map((t) => Number(t.trim()));
  if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 0 || l >= numLayers)) {
    throw new InvalidSearchSpaceError(name, `layers must be "all", "upper", "lower" or indices in 0..${numLayers - 1}, but got "${text}"`);
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}

/** The largest LoRA rank any projection of the model allows: min(d_in, d_out) over the targets. */
export function maxLoraRank(shape: EncoderShape): number {
  return Math.min(...LORA_TARGETS.map((target) => Math.min(loraTargetDims(target, shape).dIn, loraTargetDims(target, shape).dOut)));
}

/** The configuration a point stands for. */
export interface TrialConfiguration {
  peft: PeftConfig;
  /** Learning rate if the point sets it. */
  learningRate?: number;
}

/** Maps a point of a (validated) LoRA space to the PEFT configuration the workers build. */
export function loraPointToConfig(point: SearchPoint, shape: EncoderShape): TrialConfiguration {
  const rank = Number(point['lora.rank'] ?? DEFAULTS.rank);
  const config: TrialConfiguration = {
    peft: {
      lora: {
        rank,
        alpha: Number(point['lora.alpha'] ?? DEFAULTS.alpha),
        dropout: Number(point['lora.dropout'] ?? DEFAULTS.dropout),
        targets: parseTargets(String(point['lora.targets'] ?? DEFAULTS.targets), 'lora.targets'),
        layers: parseLayers(String(point['lora.layers'] ?? DEFAULTS.layers), shape.numLayers, 'lora.layers'),
      },
    },
  };
  if (point['training.learningRate'] !== undefined) config.learningRate = Number(point['training.learningRate']);
  return config;
}
