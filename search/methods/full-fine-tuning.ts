/**
 * Full fine-tuning, the pure half: every weight of the chosen layers trains (the six projection
 * kernels and biases, both LayerNorms' scale and shift); the embeddings and the pooler stay
 * frozen, as the PEFT methods leave them, so that only the task head is shared with them.
 * It is the survey's reference row (its Table 2's `FT`), offered as a baseline where the base
 * model is small enough.
 */
import { countBaseParams, countLayerParams } from '../base-params.js';
import type { EncoderShape, FullFineTuningConfig, PeftConfig } from '../types.js';
import { checkLayers, failer } from './checks.js';
import type { MethodSpec } from './spec.js';

/**
 * The largest base model (parameters, {@link countBaseParams}) full fine-tuning runs on. It lets
 * the bundled `brown-bert-small` (1.5 M), `tiny-random` and Google's BERT-tiny and BERT-mini
 * (4.4 M, 11 M) through and refuses BERT-small (29 M) and bert-base (110 M): a step multiplies
 * by every layer weight twice in its forward pass (the frozen kernel and its delta) and three
 * times in its backward pass (the input's gradient through both, the delta's own), which for
 * bert-base's 85 M layer weights at a batch of 16 × 64 tokens is about 0.9 TFLOP, some 15 s a
 * step at the 40–90 GFLOP/s of sgemm on the 2 CPU cores this service is sized for
 * (BENCHMARKS.md, bench:train): one baseline of 100 steps would take half an hour, and
 * re-evaluation repeats it per seed. Memory binds later (bert-base's deltas with their gradients and AdamW
 * moments are 1.4 GB beside 0.8 GB of base weights; the trial-memory estimate still checks it).
 */
export const FULL_FINE_TUNING_MAX_BASE_PARAMS = 20_000_000;

/** Throws naming the field (or the size limit) when a full fine-tuning configuration cannot run. */
export function validateFullFineTuning(config: FullFineTuningConfig, shape: EncoderShape, peft: PeftConfig = {}): void {
  const fail = failer('full fine-tuning');
  checkLayers(fail, config.layers, shape);
  if (config.layers.length === 0) fail('layers must not be empty');
  // BitFit and LayerNorm tuning replace the LayerNorm parameters that full fine-tuning shifts by
  // its own deltas: the later module's would win in the forward pass and the merge would add both.
  for (const other of ['bitfit', 'layerNorm'] as const) {
    if (peft[other]) fail(`it already trains every bias and LayerNorm of its layers and cannot be combined with ${other}`);
  }
  const base = countBaseParams(shape);
  if (base > FULL_FINE_TUNING_MAX_BASE_PARAMS) {
    fail(
      `the base model has ${base.toLocaleString('en-US')} parameters, more than the ${FULL_FINE_TUNING_MAX_BASE_PARAMS.toLocaleString('en-US')} ` +
        'full fine-tuning runs on here (FULL_FINE_TUNING_MAX_BASE_PARAMS, search/methods/full-fine-tuning.ts: a step would take too long on a CPU service)',
    );
  }
}

export const fullFineTuningSpec: MethodSpec<FullFineTuningConfig> = {
  title: 'full fine-tuning',
  // Selective in the survey's terms: it selects every parameter of its layers.
  paradigm: 'selective',
  validate: validateFullFineTuning,
  count(config, shape) {
    // Every weight, bias and LayerNorm of each chosen layer, as a delta on the frozen base.
    const n = countLayerParams(shape) * config.layers.length;
    return { stored: n, training: n };
  },
  grid: (config) => ({ rows: [{ id: 'full', label: 'full fine-tuning', unit: '', layers: config.layers, size: 1 }], notes: ['embeddings and pooler frozen'] }),
  chips: () => [{ label: 'FT', title: 'full fine-tuning: every weight, bias and LayerNorm of the layers trains (embeddings and pooler frozen)' }],
  layers: (config) => config.layers,
  startsAtBase: true,
  example: () => ({ full: { layers: [0, 1] } }),
};
