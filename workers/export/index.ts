/** Public surface of the exporters. */
export { ADAPTERS_VERSION, adapterHubConfig } from './adapterhub.js';
export type { AdapterHubExport, AdapterHubTarget } from './adapterhub.js';
export { ExportError } from './errors.js';
export { exportTrainedAdapter } from './export-adapter.js';
export type { ExportBundle, ExportInput } from './export-adapter.js';
export { hfPeftExport, hfPeftUnsupportedReason, sortedJson } from './hf-peft.js';
export type { HfPeftExport, HfPeftTarget } from './hf-peft.js';
export { ADAPTER_WEIGHTS_FILE, PROJECT_CONFIG_VERSION, parseProjectConfig, projectConfig, rebuildAdapter } from './project-config.js';
export type { ProjectConfig, ProjectConfigInput, RebuiltAdapter } from './project-config.js';
export { adapterWeightsFile, toNamedArrays } from './weights.js';
export type { NamedArray } from './weights.js';
