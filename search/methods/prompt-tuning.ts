/** Prompt tuning (Lester et al. 2021), the pure half: learned input embeddings prepended to every sequence. */
import type { PromptTuningConfig } from '../types.js';
import { checkPositiveInt, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/** Throws naming the field when a prompt-tuning configuration cannot be built. */
export function validatePrompt(config: PromptTuningConfig): void {
  checkPositiveInt(failer('prompt-tuning'), 'length', config.length);
}

export const promptTuningSpec: MethodSpec<PromptTuningConfig> = {
  title: 'prompt tuning',
  paradigm: 'additive',
  validate: (config) => validatePrompt(config),
  count(config, shape) {
    const n = config.length * shape.hiddenSize;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [], notes: [`prompt tuning: ${config.length} virtual tokens`] }),
  chips: (config) => [{ label: `Prompt ${config.length}`, title: `prompt tuning, ${config.length} virtual tokens` }],
  layers: () => [],
  startsAtBase: false,
  example: () => ({ promptTuning: { length: 3 } }),
};
