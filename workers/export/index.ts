/** Public surface of the exporters. */
export { ADAPTERS_VERSION, adapterHubConfig, adapterHubExport, pythonJson } from './adapterhub.js';
export type { AdapterHubExport, AdapterHubFiles, AdapterHubHead, AdapterHubTarget } from './adapterhub.js';
export { ExportError } from './errors.js';
export { BUNDLE_FILES, baseModelPlaceholder, exportTrainedAdapter } from './export-adapter.js';
export type { ExportBundle, ExportInput } from './export-adapter.js';
export { PEFT_VERSION, hfPeftExport, hfPeftUnsupportedReason, sortedJson } from './hf-peft.js';
export type { HfPeftExport, HfPeftTarget } from './hf-peft.js';
export { ADAPTER_WEIGHTS_FILE, CONFIG_FORMAT, parseProjectConfig, projectConfig, rebuildAdapter } from './project-config.js';
export type { ProjectConfig, ProjectConfigInput, RebuiltAdapter } from './project-config.js';
export { adapterWeightsFile, toNamedArrays } from './weights.js';
export type { NamedArray } from './weights.js';
