/**
 * The base models a worker can build, by name. Until the bundled pretrained encoder exists,
 * `tiny-random` is a BERT-shaped encoder whose frozen weights come from a fixed seed.
 */
import type { EncoderShape } from '../../search/types.js';

/** A base model the workers know how to build. */
export interface BaseModelEntry {
  shape: EncoderShape;
  /** Seed of the random initialisation (models without stored weights). */
  initSeed: number;
  description: string;
}

/** Every base model available by name. */
export const BASE_MODELS: Readonly<Record<string, BaseModelEntry>> = {
  'tiny-random': {
    shape: {
      vocabSize: 8192,
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      intermediateSize: 256,
      maxPositions: 128,
      typeVocabSize: 2,
    },
    initSeed: 20261128,
    description: 'BERT-shaped encoder (2 layers, d=64) with random frozen weights and hashed word tokens',
  },
};

/** The base model of that name, or undefined. */
export function findBaseModel(name: string): BaseModelEntry | undefined {
  return Object.hasOwn(BASE_MODELS, name) ? BASE_MODELS[name] : undefined;
}
