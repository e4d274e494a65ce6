/**
 * The base models a worker can build, by name: `tiny-random`, a BERT-shaped encoder whose
 * frozen weights come from a fixed seed, and any local Hugging Face model directory registered
 * with {@link registerBaseModel} (e.g. `hfDirEntry('/models/bert-base-uncased')`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readHfShape } from '../model/hf-config.js';
import type { EncoderShape } from '../../search/types.js';

/** A base model with seeded random weights and the hashed word tokenizer. */
export interface RandomBaseModelEntry {
  kind?: 'random';
  shape: EncoderShape;
  /** Seed of the random initialisation. */
  initSeed: number;
  description: string;
}

/** A local Hugging Face model directory (`config.json`, `model.safetensors`, tokenizer files). */
export interface HfDirBaseModelEntry {
  kind: 'hf-dir';
  /** Absolute path of the directory. */
  path: string;
  /** Read from `config.json` when the entry is made ({@link hfDirEntry}). */
  shape: EncoderShape;
  description: string;
  /**
   * Replace the stored weights by BERT's random initialisation from this seed, keeping the
   * directory's shape and tokenizer: the untrained twin a pre-trained model is compared with.
   */
  randomInitSeed?: number;
}

/** A base model the workers know how to build. */
export type BaseModelEntry = RandomBaseModelEntry | HfDirBaseModelEntry;

const models: Record<string, BaseModelEntry> = {
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

/** Every base model available by name (a live view: registrations appear in it). */
export const BASE_MODELS: Readonly<Record<string, BaseModelEntry>> = models;

/** The base model of that name, or undefined. */
export function findBaseModel(name: string): BaseModelEntry | undefined {
  return Object.hasOwn(models, name) ? models[name] : undefined;
}

/**
 * An entry for a local Hugging Face model directory; reads its `config.json` (synchronously)
 * for the shape. Throws an Error naming the directory and the problem if it is unusable.
 */
export function hfDirEntry(path: string, description = `Hugging Face model directory ${path}`): HfDirBaseModelEntry {
  return { kind: 'hf-dir', path, shape: readHfShape(path), description };
}

/** Directory of the bundled pre-trained encoder (made by workers/models/pretrain/pretrain.ts). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('./brown-bert-small', import.meta.url));

// The bundled model and its untrained twin (same shape and vocabulary, random weights), when present.
if (existsSync(`${BUNDLED_MODEL_DIR}/config.json`)) {
  models['brown-bert-small'] = hfDirEntry(
    BUNDLED_MODEL_DIR,
    'BERT (2 layers, d=128, WordPiece vocabulary of 8000) pre-trained by masked-language modelling on the Brown corpus',
  );
  models['brown-bert-small-random'] = {
    ...hfDirEntry(BUNDLED_MODEL_DIR, 'brown-bert-small with random weights (same shape and vocabulary), for comparison'),
    randomInitSeed: 1,
  };
}

/** Makes a base model available under `name` (replacing an earlier registration of that name). */
export function registerBaseModel(name: string, entry: BaseModelEntry): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/.test(name)) throw new RangeError(`invalid base model name "${name}"`);
  models[name] = entry;
}
