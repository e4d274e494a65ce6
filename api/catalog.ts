/**
 * What this installation offers (built-in datasets, base models) in the form the API and the
 * scheduler need, without loading any data or model.
 */
import type { SpecContext } from '../scheduler/spec.js';
import type { EncoderShape } from '../search/types.js';
import { DATASET_INFO } from '../workers/data/catalog.js';
import { BASE_MODELS, findBaseModel } from '../workers/models/catalog.js';

/** What spec validation knows about this installation. */
export const specContext: SpecContext = {
  datasets: Object.keys(DATASET_INFO),
  baseModels: Object.keys(BASE_MODELS),
  baseModelShape: (name) => findBaseModel(name)?.shape,
};

/** The shape of a known base model. @throws Error for an unknown name (specs are checked first). */
export function baseModelShape(baseModel: string): EncoderShape {
  const entry = findBaseModel(baseModel);
  if (!entry) throw new Error(`unknown base model "${baseModel}"`);
  return entry.shape;
}

/** Number of labels of a built-in dataset. @throws Error for an unknown name. */
export function datasetLabelCount(dataset: string): number {
  const info = Object.hasOwn(DATASET_INFO, dataset) ? DATASET_INFO[dataset] : undefined;
  if (!info) throw new Error(`unknown dataset "${dataset}"`);
  return info.labels.length;
}
