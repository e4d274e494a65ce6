/** Public surface of the workers' datasets. */
export type { Dataset, Example } from './dataset.js';
export { splitTrainDev, takeSubset } from './dataset.js';
export { knownDatasets, loadDataset } from './registry.js';
export { SPAM_ASSASSIN, stripMailHeaders } from './spam-assassin.js';
