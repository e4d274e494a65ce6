/**
 * Every download of a trained adapter at once, in the folders of a trial bundle: `autopeft/`
 * (the project configuration and weights), `adapterhub/` (where `adapters` can hold the
 * configuration) and `hf-peft/` (where it is a single method PEFT has). Each folder loads with
 * one call of its library; the API adds the READMEs (workers/export/bundle.ts).
 */
import { adapterHubExport } from './adapterhub.js';
import { ExportError } from './errors.js';
import { hfPeftExport } from './hf-peft.js';
import type { ProjectConfigInput } from './project-config.js';
import { ADAPTER_WEIGHTS_FILE, projectConfig } from './project-config.js';
import { adapterWeightsFile } from './weights.js';

/** What {@link exportTrainedAdapter} needs: the project configuration input plus a name. */
export interface ExportInput extends ProjectConfigInput {
  /** Adapter name (AdapterHub `name`, the key of its module dictionaries). */
  adapterName: string;
}

/** Files by relative path, plus notes on formats left out or approximated. */
export interface ExportBundle {
  files: Record<string, string | Uint8Array>;
  notes: string[];
}

/** The file paths of a bundle's folders. */
export const BUNDLE_FILES = {
  projectConfig: 'autopeft/autopeft_config.json',
  projectWeights: `autopeft/${ADAPTER_WEIGHTS_FILE}`,
  hubConfig: 'adapterhub/adapter_config.json',
  hubWeights: 'adapterhub/adapter.safetensors',
  hubHeadConfig: 'adapterhub/head_config.json',
  hubHeadWeights: 'adapterhub/model_head.safetensors',
  peftConfig: 'hf-peft/adapter_config.json',
  peftWeights: 'hf-peft/adapter_model.safetensors',
} as const;

/**
 * What `base_model_name_or_path` says when the base model's Hugging Face name is unknown: a
 * placeholder no hub lookup can mistake for a model, naming the model to pass instead.
 */
export function baseModelPlaceholder(name: string): string {
  return `<pass the base model yourself: AutoPEFT's "${name}">`;
}

/**
 * The project folder always; `adapterhub/` when AdapterHub can hold the configuration; `hf-peft/`
 * when it is a single method PEFT has. Each left-out folder gets a note saying why.
 */
export function exportTrainedAdapter(input: ExportInput): ExportBundle {
  const files: Record<string, string | Uint8Array> = {
    [BUNDLE_FILES.projectConfig]: JSON.stringify(projectConfig(input), null, 2),
    [BUNDLE_FILES.projectWeights]: adapterWeightsFile(input.weights),
  };
  const notes: string[] = [];
  const { modelType, name, shape } = input.baseModel;
  const hfName = input.baseModel.huggingFace?.nameOrPath ?? baseModelPlaceholder(name);
  try {
    const head = { kind: input.head.kind, outputs: input.head.outputs, labels: input.head.labels };
    const hub = adapterHubExport(input.peft, input.weights, shape, { modelType, modelName: hfName, name: input.adapterName }, head);
    files[BUNDLE_FILES.hubConfig] = hub.config;
    files[BUNDLE_FILES.hubWeights] = hub.weights;
    files[BUNDLE_FILES.hubHeadConfig] = hub.headConfig;
    files[BUNDLE_FILES.hubHeadWeights] = hub.headWeights;
    notes.push(...hub.warnings.map((w) => `AdapterHub: ${w}`));
  } catch (error) {
    if (!(error instanceof ExportError)) throw error;
    notes.push(`No AdapterHub export: ${error.message}`);
  }
  try {
    const peft = hfPeftExport(input.peft, input.weights, { modelType, baseModelName: hfName, shape, headKind: input.head.kind, trainingSteps: input.training?.steps });
    files[BUNDLE_FILES.peftConfig] = peft.adapterConfig;
    files[BUNDLE_FILES.peftWeights] = peft.weights;
  } catch (error) {
    if (!(error instanceof ExportError)) throw error;
    notes.push(error.message);
  }
  return { files, notes };
}
