import { describe, expect, it } from 'vitest';
import { estimateTrialMemory, formatBytes } from '../search/trial-memory.js';
import type { PeftConfig, TrainingConfig } from '../search/types.js';
import { selectBackend } from '../workers/backend.js';
import { getBaseModel } from '../workers/model/base-model.js';
import { trainTrial } from '../workers/train/train-trial.js';

describe('the memory estimate of one trial', () => {
  const cases: [string, PeftConfig, number, number][] = [
    ['LoRA, batch 8 x 32 tokens', { lora: { rank: 8, alpha: 8, dropout: 0, targets: ['query', 'value'], layers: [0, 1] } }, 8, 32],
    ['prefix of 32, batch 16 x 48 tokens', { prefix: { length: 32, layers: [0, 1], reparamSize: 128 } }, 16, 48],
    ['serial adapter, batch 96 x 24 tokens (training batch above the evaluation batch)', { serialAdapter: { placement: 'pfeiffer', size: 32, layers: [1], activation: 'relu' } }, 96, 24],
    // Methods with frozen constants or state beside what trains, large enough to matter.
    ['FourierFT with n = d^2 / 2 on four projections (bases of 2n (d_in + d_out))', { fourierft: { frequencies: 2048, scaling: 150, targets: ['query', 'value', 'ffnIn', 'ffnOut'], layers: [0, 1], locationSeed: 1 } }, 8, 32],
    ['VeRA rank 256 on the FFN (shared projections)', { vera: { rank: 256, targets: ['ffnIn', 'ffnOut'], layers: [0, 1], projectionSeed: 0 } }, 8, 32],
    ['PiSSA rank 16 on every projection (frozen initial factors)', { pissa: { rank: 16, alpha: 16, targets: ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'], layers: [0, 1] } }, 8, 32],
    ['full fine-tuning of both layers (a delta per weight)', { full: { layers: [0, 1] } }, 8, 32],
    ['AdaLoRA rank 48 on every projection (importance scores)', { adalora: { initRank: 48, targetRank: 16, alpha: 16, targets: ['query', 'key', 'value', 'attentionOutput', 'ffnIn', 'ffnOut'], layers: [0, 1] } }, 8, 32],
  ];

  it.each(cases)('bounds the measured peak of tensor memory from above, within 3x: %s', async (_what, peft, batchSize, maxSeqLength) => {
    const backend = await selectBackend({ prefer: 'wasm', log: () => {} });
    const tf = backend.tf;
    const model = getBaseModel(tf, 'tiny-random');
    const training: TrainingConfig = { steps: 2, batchSize, learningRate: 1e-3, evalEvery: 2, maxSeqLength, trainExamples: 128, devExamples: 64, seed: 1, dataSeed: 1 };
    const resident = tf.memory().numBytes;
    const profile = await tf.profile(async () => {
      await trainTrial({ studyId: 'memory', trialNumber: 0, task: { dataset: 'spam-assassin', baseModel: 'tiny-random', metric: 'accuracy' }, peft, training }, { backend });
    });
    // Resident before the trial: the base model's weights (cached per process) and its kernel copies.
    const measured = resident + profile.peakBytes;
    const estimate = estimateTrialMemory({ shape: model.shape, peft, training, headOutputs: 2 });
    // The encoded examples live in JavaScript arrays, outside the tensor count.
    const tensors = estimate.total - estimate.data;
    if (process.env.AUTOPEFT_PRINT_MEMORY) console.log(`${_what}: estimate ${formatBytes(tensors)}, measured ${formatBytes(measured)}, constants ${formatBytes(estimate.methodConstants)}`);
    expect(tensors, `estimate ${formatBytes(tensors)}, measured ${formatBytes(measured)}`).toBeGreaterThanOrEqual(measured);
    // The estimate models the projections as composed ops (a product, then its bias, then any
    // low-rank update); the native fused projection keeps none of those intermediates (LoRA: 2.7x).
    expect(tensors).toBeLessThanOrEqual(3 * measured);
  });

  it('grows with batch x sequence and stays flat in the adapter size of a bottleneck', () => {
    const shape = { vocabSize: 8192, hiddenSize: 64, numLayers: 2, numHeads: 4, intermediateSize: 256, maxPositions: 128, typeVocabSize: 2 };
    const adapter = (size: number): PeftConfig => ({ serialAdapter: { placement: 'pfeiffer', size, layers: [0, 1], activation: 'relu' } });
    const at = (batchSize: number, maxSeqLength: number, size = 8) =>
      estimateTrialMemory({ shape, peft: adapter(size), training: { batchSize, maxSeqLength, trainExamples: 512, devExamples: 1 }, headOutputs: 2 }).activations;
    expect(at(256, 64) / at(128, 64)).toBeCloseTo(2, 5);
    expect(at(128, 128) / at(128, 64)).toBeGreaterThan(2);
    expect(at(128, 64, 64) / at(128, 64, 8)).toBeLessThan(1.2);
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB');
    expect(formatBytes(512 * 2 ** 20)).toBe('512 MiB');
  });
});
