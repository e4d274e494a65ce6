/**
 * bert-base (d 768, d_ff 3072, 12 layers) counts of the registry's methods against the numbers
 * Hugging Face PEFT's formulas give (written out by hand here, as in the README's table):
 * LoRA r (d_in + d_out) per module; DoRA adds d_out; AdaLoRA init_r (d_in + d_out + 1); VeRA r + d_out per module (the shared
 * projections are a seed); FourierFT n per module; LN tuning 2 x 2d per layer.
 */
import { describe, expect, it } from 'vitest';
import { countPeftParams } from '../search/param-count.js';
import type { EncoderShape, LoraTarget, PeftConfig } from '../search/types.js';

const BERT_BASE: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
const ALL = Array.from({ length: 12 }, (_, i) => i);
const QV: LoraTarget[] = ['query', 'value'];

const CASES: [string, PeftConfig, { stored: number; training: number }][] = [
  ['LoRA r8 q,v', { lora: { rank: 8, alpha: 16, dropout: 0, targets: QV, layers: ALL } }, { stored: 294_912, training: 294_912 }],
  // 24 modules x 8 x 768 for B alone while training; A is kept in the download.
  ['LoRA-FA r8 q,v', { loraFa: { rank: 8, alpha: 16, dropout: 0, targets: QV, layers: ALL } }, { stored: 294_912, training: 147_456 }],
  ['DoRA r8 q,v', { dora: { rank: 8, alpha: 16, dropout: 0, targets: QV, layers: ALL } }, { stored: 313_344, training: 313_344 }],
  // Stored as PEFT's converted LoRA of rank 2r relative to the original weights.
  ['PiSSA r8 q,v', { pissa: { rank: 8, alpha: 8, targets: QV, layers: ALL } }, { stored: 589_824, training: 294_912 }],
  ['VeRA r256 q,v', { vera: { rank: 256, targets: QV, layers: ALL, projectionSeed: 0 } }, { stored: 24_576, training: 24_576 }],
  ['VeRA r256 q,v,ffnIn', { vera: { rank: 256, targets: [...QV, 'ffnIn'], layers: ALL, projectionSeed: 0 } }, { stored: 64_512, training: 64_512 }],
  ['FourierFT n1000 q,v', { fourierft: { frequencies: 1000, scaling: 150, targets: QV, layers: ALL, locationSeed: 777 } }, { stored: 24_000, training: 24_000 }],
  ['RoCoFT 1-row q,v', { rocoft: { k: 1, mode: 'row', targets: QV, layers: ALL } }, { stored: 18_432, training: 18_432 }],
  [
    'RoCoFT 3-row, all six projections',
    { rocoft: { k: 3, mode: 'row', targets: ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'], layers: ALL } },
    { stored: 248_832, training: 248_832 },
  ],
  ['RoCoFT 3-column q,v', { rocoft: { k: 3, mode: 'column', targets: QV, layers: ALL } }, { stored: 55_296, training: 55_296 }],
  // PEFT's defaults init_r 12, target_r 8: lora_A [12, in], lora_E [12, 1], lora_B [out, 12] per module, trained and
  // kept in the project's download at init_r (PEFT's own download keeps the unmasked ranks).
  ['AdaLoRA r12 -> 8 q,v', { adalora: { initRank: 12, targetRank: 8, alpha: 32, targets: QV, layers: ALL } }, { stored: 442_656, training: 442_656 }],
  ['LayerNorm tuning, every layer', { layerNorm: { layers: ALL } }, { stored: 36_864, training: 36_864 }],
  // Every layer's 4 d^2 + 2 d d_ff kernels, 5 d + d_ff biases and 4 d LayerNorm values (the limit refuses bert-base; the count is still closed form).
  ['full fine-tuning, every layer', { full: { layers: ALL } }, { stored: 85_054_464, training: 85_054_464 }],
];

describe('bert-base counts of the registry methods', () => {
  it.each(CASES)('%s', (_name, peft, expected) => {
    expect(countPeftParams(peft, BERT_BASE, 'stored')).toBe(expected.stored);
    expect(countPeftParams(peft, BERT_BASE, 'training')).toBe(expected.training);
  });
});
