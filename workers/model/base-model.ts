/**
 * Base models by catalog name, built once per process and backend: the frozen weights are the
 * same for every trial, and creating them for each trial would cost time and memory churn.
 */
import type { EncoderShape } from '../../search/types.js';
import type { Tf } from '../backend.js';
import { InvalidTrialError } from '../errors.js';
import { BASE_MODELS, findBaseModel } from '../models/catalog.js';
import { BertEncoder } from './encoder.js';
import { HashedWordTokenizer } from './tokenizer.js';
import { countWeights, createRandomWeights, disposeWeights } from './weights.js';

/** A ready base model: frozen encoder plus the tokenizer that matches it. */
export interface BaseModel {
  name: string;
  shape: EncoderShape;
  encoder: BertEncoder;
  tokenizer: HashedWordTokenizer;
  /** Scalars in the frozen weights, counted from the tensors. */
  baseParams: number;
}

const cache = new Map<string, BaseModel>();

/**
 * The base model of that name, built on first use for the active backend and cached. Throws
 * {@link InvalidTrialError} naming an unknown model and listing the known ones.
 */
export function getBaseModel(tf: Tf, name: string): BaseModel {
  const entry = findBaseModel(name);
  if (!entry) {
    throw new InvalidTrialError(`Unknown base model "${name}"; known base models: ${Object.keys(BASE_MODELS).join(', ')}`);
  }
  // Tensors belong to a backend; a process that switches backend gets its own copy.
  const key = `${tf.getBackend()}:${name}`;
  let model = cache.get(key);
  if (!model) {
    const weights = createRandomWeights(tf, entry.shape, entry.initSeed);
    model = {
      name,
      shape: entry.shape,
      encoder: new BertEncoder(tf, entry.shape, weights),
      tokenizer: new HashedWordTokenizer(entry.shape.vocabSize),
      baseParams: countWeights(weights),
    };
    cache.set(key, model);
  }
  return model;
}

/** Disposes every cached base model (for tests and shutdown). */
export function clearBaseModelCache(): void {
  for (const model of cache.values()) {
    model.encoder.dispose();
    disposeWeights(model.encoder.weights);
  }
  cache.clear();
}
