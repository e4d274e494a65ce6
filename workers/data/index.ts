/** Public surface of the workers' datasets. */
export type { Dataset, Example, TaskKind } from './dataset.js';
export { labelCounts, metricsFor, outputCount, splitTrainDev, takeFraction, takeSubset } from './dataset.js';
export type { DatasetContext, DatasetRef } from './registry.js';
export { knownDatasets, loadDataset, parseDatasetRef, parseUserDataOptions } from './registry.js';
export type { DatasetInfo } from './catalog.js';
export { DATASET_INFO } from './catalog.js';
export { DataPathError, DatasetError } from './errors.js';
export type { DataFormat, GlueTask, ParseOptions } from './formats.js';
export { DATA_FORMATS, GLUE_LAYOUTS, normaliseFormat, parseDataFile } from './formats.js';
export { resolveModelDir, resolveUnderRoot } from './paths.js';
export type { UploadSummary } from './stored.js';
export { parseStoredDataset, serialiseDataset, summarise, uploadIndexKey, uploadKey, UPLOAD_ID_PATTERN } from './stored.js';
export type { UserDataOptions } from './user-data.js';
export { buildDataset, DEFAULT_DEV_FRACTION, DEFAULT_SPLIT_SEED, loadDatasetFromPath, parseDataset } from './user-data.js';
export { BROWN_GENRE, BROWN_NEXT_SENTENCE, BROWN_GENRES } from './brown.js';
export { SPAM_ASSASSIN, stripMailHeaders } from './spam-assassin.js';
