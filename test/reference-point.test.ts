/** The default hypervolume reference of a study: majority-class level and largest configuration. */
import { describe, expect, it } from 'vitest';
import { countPeftParams } from '../search/param-count.js';
import { autopeftPreset, loraPreset } from '../search/presets.js';
import { defaultReference, largestConfiguration } from '../search/reference-point.js';
import type { EncoderShape, SearchPoint } from '../search/types.js';

const bertBase: EncoderShape = { vocabSize: 30522, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, maxPositions: 512, typeVocabSize: 2 };
const sizeOf = (preset: typeof loraPreset) => (point: SearchPoint) => countPeftParams(preset.toConfig(point, bertBase).peft, bertBase);

describe('default reference point', () => {
  it('takes the largest configuration of the LoRA space: rank 64 on all six projections of all 12 layers', () => {
    const space = loraPreset.space(bertBase);
    // r·(d_in + d_out) per projection: Q, K, V, O are 768→768, FFN-in 768→3072, FFN-out 3072→768.
    const perLayer = 64 * (4 * (768 + 768) + 2 * (768 + 3072));
    expect(largestConfiguration(space, sizeOf(loraPreset), () => true, 1)).toBe(12 * perLayer);
    expect(12 * perLayer).toBe(10_616_832);
  });

  it('equals the maximum over every point of a finite space', () => {
    const space = loraPreset.space(bertBase);
    let exact = 0;
    const choices = (name: string) => (space[name] as { choices: (string | number)[] }).choices;
    for (const rank of choices('lora.rank'))
      for (const alpha of choices('lora.alpha'))
        for (const targets of choices('lora.targets'))
          for (const layers of choices('lora.layers')) exact = Math.max(exact, sizeOf(loraPreset)({ 'lora.rank': rank, 'lora.alpha': alpha, 'lora.targets': targets, 'lora.layers': layers, 'training.learningRate': 1e-3 }));
    expect(largestConfiguration(space, sizeOf(loraPreset), () => true, 7)).toBe(exact);
  });

  it('keeps to valid points of the AutoPEFT space (none valid: no reference)', () => {
    const space = autopeftPreset.space(bertBase);
    const largest = largestConfiguration(space, sizeOf(autopeftPreset), (p) => autopeftPreset.isValid(p), 3)!;
    expect(largest).toBeGreaterThan(0);
    expect(largestConfiguration(space, sizeOf(autopeftPreset), () => false, 3)).toBeUndefined();
  });

  it('waits for the majority-class level', () => {
    expect(defaultReference(undefined, 100)).toBeUndefined();
    expect(defaultReference(0.66, 100)).toEqual({ point: [0.66, 100], source: 'default' });
  });
});
